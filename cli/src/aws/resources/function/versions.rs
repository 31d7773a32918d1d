//! Published versions and the alias `live` (`rollout:`).
//!
//! With a rollout configured every caller invokes the alias. A deploy that
//! changes the function's code or configuration updates `$LATEST` (callers
//! never see it), publishes it as a version, `PublishVersion` guarded by the
//! CodeSha256 and RevisionId just read so a concurrent change is never
//! published by mistake, and leaves the traffic shift to `aws::rollout`.
//!
//! The rollout's state lives in the alias itself: its routing config (the new
//! version's weight) and its description (`claw rollout from=3 to=4 step=0
//! since=…`), so a deploy killed mid-shift is resumed by the next one and no
//! state file is needed. An idle alias says `claw live previous=3`, which
//! `claw rollback` reads.
//! https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html

use std::collections::BTreeMap;

use super::settings::{self, Desired};
use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt, is_access_denied};
use crate::aws::plan::{Action, FieldChange, Plan, ResourceChange, ResourceKind};
use crate::aws::target::Target;

/// One published version.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub number: u64,
    pub code_sha256: String,
    pub settings: Desired,
}

/// The alias as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    pub version: String,
    /// Versions besides `version` and their share (0.0–1.0).
    pub weights: BTreeMap<String, f64>,
    pub description: String,
    pub revision_id: String,
}

#[derive(Debug, Clone, Default)]
pub struct Found {
    pub alias: Option<Alias>,
    /// Published versions, oldest first (`$LATEST` left out).
    pub versions: Vec<Version>,
    pub note: Option<String>,
}

/// Where a rollout stands, as the alias's description records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    pub from: u64,
    pub to: u64,
    /// Index into `Rollout::steps()`.
    pub step: usize,
    /// Unix seconds when this step began.
    pub since: u64,
}

impl Shift {
    pub fn describe(&self) -> String {
        format!(
            "claw rollout from={} to={} step={} since={}",
            self.from, self.to, self.step, self.since
        )
    }

    pub fn parse(description: &str) -> Option<Shift> {
        let rest = description.strip_prefix("claw rollout ")?;
        let kv = pairs(rest);
        Some(Shift {
            from: kv.get("from")?.parse().ok()?,
            to: kv.get("to")?.parse().ok()?,
            step: kv.get("step")?.parse().ok()?,
            since: kv.get("since")?.parse().ok()?,
        })
    }
}

/// The description of an alias at rest on a version, naming the one before.
pub fn idle_description(previous: Option<u64>) -> String {
    match previous {
        Some(p) => format!("claw live previous={p}"),
        None => "claw live".into(),
    }
}

/// The version an idle alias was on before, when it says.
pub fn previous_of(description: &str) -> Option<u64> {
    pairs(description.strip_prefix("claw live")?.trim())
        .get("previous")?
        .parse()
        .ok()
}

fn pairs(text: &str) -> BTreeMap<&str, &str> {
    text.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect()
}

impl Alias {
    /// The version taking traffic besides the alias's own, mid-shift.
    pub fn shifting_to(&self) -> Option<(u64, f64)> {
        let (v, w) = self.weights.iter().next()?;
        Some((v.parse().ok()?, *w))
    }

    pub fn version_number(&self) -> Option<u64> {
        self.version.parse().ok()
    }
}

/// The name of the alias change in plans: `FUNCTION:live`.
pub fn change_name(t: &Target) -> String {
    format!("{}:{}", t.names.function, claw_spec::rollout::ALIAS)
}

/// The alias alone (GetAlias): what the rollout engine and `claw rollout`
/// need between steps.
pub async fn read_alias(aws: &Aws, t: &Target) -> anyhow::Result<Option<Alias>> {
    let name = &t.names.function;
    let a = aws
        .lambda
        .get_alias()
        .function_name(name)
        .name(claw_spec::rollout::ALIAS)
        .send()
        .await
        .ctx("GetAlias", format!("{name}:{}", claw_spec::rollout::ALIAS))
        .optional()?;
    Ok(a.map(|a| Alias {
        version: a.function_version.unwrap_or_default(),
        weights: a
            .routing_config
            .and_then(|r| r.additional_version_weights)
            .unwrap_or_default()
            .into_iter()
            .collect(),
        description: a.description.unwrap_or_default(),
        revision_id: a.revision_id.unwrap_or_default(),
    }))
}

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Found> {
    let name = &t.names.function;
    let alias = read_alias(aws, t).await;
    let alias = match alias {
        Ok(a) => a,
        // A deployer made for a stage without `rollout:` may not read aliases;
        // there is then none of claw's to move callers back from.
        Err(e) if t.config.rollout.is_none() && is_access_denied(&e) => {
            return Ok(Found {
                note: Some(format!(
                    "could not look for an alias `live` left from `rollout:` (access denied: {e}); skipped"
                )),
                ..Found::default()
            });
        }
        Err(e) => return Err(e),
    };
    if t.config.rollout.is_none() {
        return Ok(Found {
            alias,
            ..Found::default()
        });
    }
    let versions = aws
        .lambda
        .list_versions_by_function()
        .function_name(name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx("ListVersionsByFunction", name)
        .optional()?
        .unwrap_or_default();
    let mut versions: Vec<Version> = versions
        .iter()
        .filter_map(|c| {
            Some(Version {
                number: c.version.as_deref()?.parse().ok()?,
                code_sha256: c.code_sha256.clone().unwrap_or_default(),
                settings: settings::of(c),
            })
        })
        .collect();
    versions.sort_by_key(|v| v.number);
    Ok(Found {
        alias,
        versions,
        note: None,
    })
}

/// Whether a published version is what agent.yaml and the package want
/// (without a package, its settings only).
pub fn is_wanted(t: &Target, v: &Version) -> bool {
    let code = t.code.as_ref().is_none_or(|c| c.sha256 == v.code_sha256);
    code && settings::settings_changes(&v.settings, &settings::desired(t)).is_empty()
}

impl Found {
    pub fn version(&self, n: u64) -> Option<&Version> {
        self.versions.iter().find(|v| v.number == n)
    }

    /// Versions a rollout may delete: beyond the newest `keep`, and neither of
    /// the alias's.
    pub fn deletable(&self, keep: u32) -> Vec<u64> {
        let held: Vec<u64> = self
            .alias
            .iter()
            .flat_map(|a| {
                a.version_number()
                    .into_iter()
                    .chain(a.shifting_to().map(|(v, _)| v))
            })
            .collect();
        let n = self.versions.len();
        self.versions
            .iter()
            .take(n.saturating_sub(keep as usize))
            .map(|v| v.number)
            .filter(|v| !held.contains(v))
            .collect()
    }
}

/// What the alias's row in the plan says: created with the function or when
/// callers move to it, a new version when the alias's is not what agent.yaml
/// and the package say, a rollout under way resumed.
pub fn plan(t: &Target, found: &Found, plan: &mut Plan) {
    let name = change_name(t);
    let function = plan.action(ResourceKind::Function, &t.names.function);
    let Some(rollout) = &t.config.rollout else {
        if found.alias.is_some() {
            plan.push(
                ResourceChange::new(ResourceKind::Alias, name, Action::Delete).with_note(
                    "without `rollout:` callers invoke the function again; published versions are kept",
                ),
            );
        }
        return;
    };
    let how = describe_steps(rollout);
    let alias = match (&found.alias, &function) {
        (_, Action::Create) | (None, _) => {
            let note = match (&found.alias, &function) {
                (None, Action::Update { .. }) => format!(
                    "callers move from the function to the alias; the code live now is published first, then the change is rolled out ({how})"
                ),
                (None, Action::NoChange) => {
                    "callers move from the function to the alias, on the code live now".into()
                }
                _ => "a new function: its first version takes all traffic".into(),
            };
            plan.push(
                ResourceChange::new(ResourceKind::Alias, name, Action::Create).with_note(note),
            );
            return;
        }
        (Some(a), _) => a,
    };
    let wanted = |n: u64| found.version(n).is_some_and(|v| is_wanted(t, v));
    let on = alias.version_number();
    let mut fields = Vec::new();
    let mut note = None;
    match alias.shifting_to() {
        // Whether a version is wanted is judged on the version itself (its code
        // and settings), not on `$LATEST`: a tag change publishes nothing, and
        // `$LATEST` put back by hand needs no new version.
        Some((to, w)) if wanted(to) => {
            fields.push(FieldChange::new(
                "rollout",
                format!("version {to} at {:.0}%", w * 100.0),
                format!("resumed ({how})"),
            ));
        }
        shifting => {
            if !on.is_some_and(wanted) || shifting.is_some() {
                fields.push(FieldChange::new(
                    "version",
                    alias.version.as_str(),
                    format!("a new version ({how})"),
                ));
            }
            if let Some((to, w)) = shifting {
                note = Some(format!(
                    "the unfinished rollout of version {to} ({:.0}% of traffic) is aborted first",
                    w * 100.0
                ));
            }
        }
    }
    let old = found.deletable(rollout.keep_versions);
    if fields.is_empty() && !old.is_empty() {
        let list: Vec<String> = old.iter().map(u64::to_string).collect();
        fields.push(FieldChange::new(
            "old_versions",
            list.join(","),
            "(deleted)",
        ));
    }
    let mut change = ResourceChange::new(
        ResourceKind::Alias,
        name,
        if fields.is_empty() {
            Action::NoChange
        } else {
            Action::Update { fields }
        },
    );
    if let Some(n) = note {
        change = change.with_note(n);
    }
    plan.push(change);
}

/// `canary 10% for 5 min`, `linear 25% every 2 min`, `all at once`.
pub fn describe_steps(r: &claw_spec::rollout::Rollout) -> String {
    use claw_spec::rollout::Strategy;
    let steps = r.steps();
    match (r.strategy, steps.first()) {
        (Strategy::Canary, Some(s)) => format!("canary {}% for {} min", s.percent, s.minutes),
        (Strategy::Linear, Some(s)) => {
            format!("linear {}% every {} min", s.percent, s.minutes)
        }
        _ => "all at once".into(),
    }
}

/// A change published and waiting for its traffic: the rollout engine's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pending {
    pub from: u64,
    pub to: u64,
    /// Resumed from a shift already under way (the alias says where).
    pub resumed: bool,
}

pub mod publish;

#[cfg(test)]
mod tests;
