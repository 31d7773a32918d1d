//! Moving the alias `live` to a published version, step by step, watching.
//!
//! Each step sets the new version's share in the alias's routing config
//! (`AdditionalVersionWeights`, a fraction) and records the step in the
//! alias's description, then holds it for the step's minutes while [`watch`]
//! looks every half minute at the gate alarms and at the two versions' own
//! invocations and errors (`ExecutedVersion`). An alarm in ALARM, or the new
//! version failing more often than the old, moves all traffic back at once.
//! Otherwise the last step puts the alias on the new version with an empty
//! routing config, and versions beyond `keep_versions` are deleted.
//!
//! Everything a later run needs is in the alias, so a deploy killed mid-shift
//! is resumed by the next `claw deploy` or `claw rollout promote`, and undone
//! by `claw rollout abort`.

mod watch;

use watch::now;
pub use watch::{GateState, Say, gate_states};

use std::time::Duration;

use serde::Serialize;

use super::Aws;
use super::resources::function::versions::{self, Alias, Pending, Shift};
use super::target::Target;

/// How long a rollout minute lasts: 60 s, or `CLAW_ROLLOUT_MINUTE_MS` (claw's
/// own tests run whole rollouts in seconds with it).
pub fn minute() -> Duration {
    std::env::var("CLAW_ROLLOUT_MINUTE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(60))
}

/// How a rollout ended (or where it was left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Result {
    /// The alias is on the new version, all traffic.
    Promoted,
    /// A gate fired: the alias is back on the old version.
    RolledBack,
    /// The first step is set and claw did not wait (`--no-wait`).
    Started,
    /// Not enough traffic reached the new version to promote; the alias is
    /// left mid-shift.
    Held,
    /// Nothing to move (only old versions deleted, or none).
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub from: u64,
    pub to: u64,
    pub result: Result,
    /// The new version's share of traffic now.
    pub percent: u32,
    /// What stopped the rollout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deleted_versions: Vec<u64>,
}

/// Runs (or resumes) the rollout of `p`. With `wait: false` it sets the first
/// step and returns.
pub async fn run(
    aws: &Aws,
    t: &Target,
    p: Pending,
    wait: bool,
    say: Say<'_>,
) -> anyhow::Result<Outcome> {
    let Some(rollout) = &t.config.rollout else {
        anyhow::bail!("agent.yaml has no `rollout:` for stage {}", t.config.stage);
    };
    let outcome = |result, percent, reason| Outcome {
        from: p.from,
        to: p.to,
        result,
        percent,
        reason,
        deleted_versions: Vec::new(),
    };
    if p.to == p.from {
        let deleted = cleanup(aws, t, say).await?;
        return Ok(Outcome {
            deleted_versions: deleted,
            ..outcome(Result::Unchanged, 100, None)
        });
    }
    let steps = rollout.steps();
    let alias = read_alias(aws, t).await?;
    let (mut index, mut since, mut revision) = match Shift::parse(&alias.description) {
        Some(s) if p.resumed && s.to == p.to && s.step < steps.len() => {
            say(format!(
                "rollout  resuming version {}: step {} of {} ({}%)",
                p.to,
                s.step + 1,
                steps.len(),
                steps[s.step].percent
            ));
            (s.step, s.since, alias.revision_id.clone())
        }
        _ => (usize::MAX, 0, alias.revision_id.clone()),
    };
    if index == usize::MAX {
        if steps.is_empty() {
            return promote(aws, t, p, &revision, say).await;
        }
        index = 0;
        since = now();
        revision = set_step(aws, t, p, 0, since, &revision).await?;
        say(format!(
            "rollout  version {} takes {}% of traffic for {} min (version {} the rest); gate: {}",
            p.to,
            steps[0].percent,
            steps[0].minutes,
            p.from,
            gate_list(t)
        ));
    }
    if !wait {
        return Ok(outcome(Result::Started, steps[index].percent, None));
    }
    let m = minute();
    loop {
        let step = steps[index];
        match watch::hold(aws, t, p, step, since, m, say).await? {
            watch::Verdict::Pass => {}
            watch::Verdict::Fail(reason) => {
                versions::publish::move_alias(
                    aws,
                    t,
                    p.from,
                    None,
                    &versions::idle_description(None),
                    &revision,
                )
                .await?;
                say(format!(
                    "rollout  rolled back: version {} takes all traffic again; {reason}",
                    p.from
                ));
                return Ok(outcome(Result::RolledBack, 0, Some(reason)));
            }
            watch::Verdict::Starved(reason) => {
                say(format!("rollout  held at {}%: {reason}", step.percent));
                return Ok(outcome(Result::Held, step.percent, Some(reason)));
            }
        }
        index += 1;
        if index == steps.len() {
            return promote(aws, t, p, &revision, say).await;
        }
        since = now();
        revision = set_step(aws, t, p, index, since, &revision).await?;
        say(format!(
            "rollout  version {} takes {}% of traffic for {} min",
            p.to, steps[index].percent, steps[index].minutes
        ));
    }
}

/// The stage's rollout steps (none without `rollout:`).
pub fn steps(t: &Target) -> Vec<claw_spec::rollout::Step> {
    t.config
        .rollout
        .as_ref()
        .map(|r| r.steps())
        .unwrap_or_default()
}

fn gate_list(t: &Target) -> String {
    let gate: Vec<&str> = t
        .config
        .rollout
        .iter()
        .flat_map(|r| r.gate.iter().map(|g| g.key()))
        .collect();
    if gate.is_empty() {
        "(none)".into()
    } else {
        gate.join(", ")
    }
}

async fn set_step(
    aws: &Aws,
    t: &Target,
    p: Pending,
    index: usize,
    since: u64,
    revision: &str,
) -> anyhow::Result<String> {
    let steps = steps(t);
    let percent = steps.get(index).map(|s| s.percent).unwrap_or(100);
    let shift = Shift {
        from: p.from,
        to: p.to,
        step: index,
        since,
    };
    versions::publish::move_alias(
        aws,
        t,
        p.from,
        Some((p.to, f64::from(percent) / 100.0)),
        &shift.describe(),
        revision,
    )
    .await
}

/// All traffic to the new version, then old versions deleted.
pub async fn promote(
    aws: &Aws,
    t: &Target,
    p: Pending,
    revision: &str,
    say: Say<'_>,
) -> anyhow::Result<Outcome> {
    versions::publish::move_alias(
        aws,
        t,
        p.to,
        None,
        &versions::idle_description(Some(p.from)),
        revision,
    )
    .await?;
    say(format!(
        "rollout  promoted: version {} takes all traffic (was {})",
        p.to, p.from
    ));
    let deleted = cleanup(aws, t, say).await?;
    Ok(Outcome {
        from: p.from,
        to: p.to,
        result: Result::Promoted,
        percent: 100,
        reason: None,
        deleted_versions: deleted,
    })
}

/// Moves all traffic back to the version the shift started from.
pub async fn abort(aws: &Aws, t: &Target, alias: &Alias) -> anyhow::Result<Option<Outcome>> {
    let (Some(from), Some((to, w))) = (alias.version_number(), alias.shifting_to()) else {
        return Ok(None);
    };
    versions::publish::move_alias(
        aws,
        t,
        from,
        None,
        &versions::idle_description(None),
        &alias.revision_id,
    )
    .await?;
    Ok(Some(Outcome {
        from,
        to,
        result: Result::RolledBack,
        percent: 0,
        reason: Some(format!("aborted at {:.0}%", w * 100.0)),
        deleted_versions: Vec::new(),
    }))
}

/// Deletes versions beyond `keep_versions` (never the alias's).
async fn cleanup(aws: &Aws, t: &Target, say: Say<'_>) -> anyhow::Result<Vec<u64>> {
    let keep = t.config.rollout.as_ref().map_or(3, |r| r.keep_versions);
    let found = versions::read(aws, t).await?;
    let old = found.deletable(keep);
    if !old.is_empty() {
        versions::publish::delete_versions(aws, t, &old).await?;
        let list: Vec<String> = old.iter().map(u64::to_string).collect();
        say(format!(
            "rollout  deleted old version{} {} (keeping {keep} and the alias's)",
            if old.len() == 1 { "" } else { "s" },
            list.join(", ")
        ));
    }
    Ok(old)
}

/// The alias as it is now (a rollout needs its current revision).
pub async fn read_alias(aws: &Aws, t: &Target) -> anyhow::Result<Alias> {
    versions::read_alias(aws, t).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "{} has no alias `live`: run `claw deploy`",
            t.names.function
        )
    })
}
