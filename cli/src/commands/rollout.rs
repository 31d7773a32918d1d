//! `claw rollout status|promote|abort` and `claw rollback`: the alias `live`
//! of a stage with `rollout:`, read and moved under the deploy lock.

use serde_json::json;

use crate::aws::resources::function::versions::{self, Alias, Pending, Shift};
use crate::aws::rollout;
use crate::aws::target::Target;
use crate::aws::{Aws, lock};
use crate::context::Context;
use crate::ops::approve::{self, Ask};
use crate::report::Report;

#[derive(Debug, clap::Subcommand)]
pub enum RolloutCommand {
    /// Where the alias `live` is: its version, the version a rollout moves
    /// traffic to and its share, the step and how long it has run, and the gate
    /// alarms' states. Reads only. Exit 0; `--output json` for CI polling a
    /// `claw deploy --no-wait`.
    Status,
    /// Go on with a rollout under way: hold each remaining step, watching the
    /// gate alarms and the new version's errors, then move all traffic (as
    /// `claw deploy` would). `--now` skips the remaining steps.
    Promote {
        /// Move all traffic to the new version at once, without watching.
        #[arg(long)]
        now: bool,
    },
    /// Move all traffic back to the version the rollout started from.
    Abort,
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// Do not ask (needed without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// How long to wait for another deploy of this app and stage (`30s`, `5m`).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub lock_timeout: std::time::Duration,
}

async fn connect(ctx: &Context) -> anyhow::Result<(Aws, Target)> {
    let loaded = ctx.load()?;
    if loaded.config.rollout.is_none() {
        anyhow::bail!(
            "{}: stage {} has no `rollout:`, so callers invoke the function itself and there is no alias to move",
            ctx.global.config.display(),
            loaded.config.stage
        );
    }
    let aws = crate::ops::account::connect(&loaded.config).await?;
    Ok((aws, Target::new(loaded.config, None)))
}

/// The status document of an alias.
fn describe(t: &Target, a: &Alias, alarms: &[rollout::GateState]) -> serde_json::Value {
    let shift = Shift::parse(&a.description);
    let steps = rollout::steps(t);
    json!({
        "alias": claw_spec::rollout::ALIAS,
        "version": a.version_number(),
        "shifting_to": a.shifting_to().map(|(v, w)| json!({"version": v, "percent": (w * 100.0).round()})),
        "step": shift.filter(|_| a.shifting_to().is_some()).map(|s| json!({
            "index": s.step + 1,
            "of": steps.len(),
            "since": s.since,
            "minutes": steps.get(s.step).map(|x| x.minutes),
        })),
        "previous": versions::previous_of(&a.description),
        "gate": alarms,
    })
}

pub async fn run(ctx: &Context, cmd: &RolloutCommand) -> anyhow::Result<Report> {
    let (aws, t) = connect(ctx).await?;
    let out = ctx.out;
    match cmd {
        RolloutCommand::Status => {
            let (alias, alarms) = futures::try_join!(
                rollout::read_alias(&aws, &t),
                rollout::gate_states(&aws, &t)
            )?;
            let doc = describe(&t, &alias, &alarms);
            match alias.shifting_to() {
                Some((to, w)) => out.line(format_args!(
                    "live: version {} {:.0}%, version {to} {:.0}% (rolling out{})",
                    alias.version,
                    100.0 - w * 100.0,
                    w * 100.0,
                    doc["step"]
                        .as_object()
                        .map(|s| format!(", step {} of {}", s["index"], s["of"]))
                        .unwrap_or_default()
                )),
                None => out.line(format_args!(
                    "live: version {} (all traffic){}",
                    alias.version,
                    versions::previous_of(&alias.description)
                        .map(|p| format!("; previous {p}"))
                        .unwrap_or_default()
                )),
            }
            for g in &alarms {
                out.line(format_args!("  gate {}: {}", g.alarm, g.state));
            }
            Ok(Report::new(doc))
        }
        RolloutCommand::Promote { now } => {
            let held = lock::acquire(
                &aws,
                &t.names,
                "rollout promote",
                &t.tags,
                Default::default(),
            )
            .await?;
            let result = promote(&aws, &t, *now, out).await;
            held.release().await?;
            let o = result?;
            let report = Report::new(json!({ "rollout": o }));
            Ok(match o.result {
                rollout::Result::RolledBack | rollout::Result::Held => {
                    let why = o.reason.clone().unwrap_or_default();
                    out.note(format_args!("error: {why}"));
                    report.failed(why)
                }
                _ => report,
            })
        }
        RolloutCommand::Abort => {
            let held =
                lock::acquire(&aws, &t.names, "rollout abort", &t.tags, Default::default()).await?;
            let result = async {
                let alias = rollout::read_alias(&aws, &t).await?;
                rollout::abort(&aws, &t, &alias).await
            }
            .await;
            held.release().await?;
            match result? {
                Some(o) => {
                    out.line(format_args!(
                        "aborted: version {} takes all traffic again (version {} none)",
                        o.from, o.to
                    ));
                    Ok(Report::new(json!({ "rollout": o })))
                }
                None => {
                    out.line("no rollout under way; nothing changed");
                    Ok(Report::new(json!({ "rollout": null })))
                }
            }
        }
    }
}

async fn promote(
    aws: &Aws,
    t: &Target,
    now: bool,
    out: crate::report::Printer,
) -> anyhow::Result<rollout::Outcome> {
    let alias = rollout::read_alias(aws, t).await?;
    let (Some(from), Some((to, _))) = (alias.version_number(), alias.shifting_to()) else {
        anyhow::bail!(
            "no rollout under way: the alias is on version {} with all traffic",
            alias.version
        );
    };
    let p = Pending {
        from,
        to,
        resumed: true,
    };
    let say = |line: String| out.line(format_args!("  {line}"));
    if now {
        rollout::promote(aws, t, p, &alias.revision_id, &say).await
    } else {
        rollout::run(aws, t, p, true, &say).await
    }
}

/// `claw rollback`: all traffic to the version before the alias's (the one
/// the last rollout started from, else the newest older one).
pub async fn rollback(ctx: &Context, args: &RollbackArgs) -> anyhow::Result<Report> {
    let (aws, t) = connect(ctx).await?;
    let out = ctx.out;
    let found = versions::read(&aws, &t).await?;
    let Some(alias) = found.alias.clone() else {
        anyhow::bail!(
            "{} has no alias `live`: run `claw deploy` first",
            t.names.function
        );
    };
    if alias.shifting_to().is_some() {
        anyhow::bail!(
            "a rollout is under way (see `claw rollout status`): `claw rollout abort` moves its traffic back"
        );
    }
    let on = alias.version_number().unwrap_or_default();
    let target = versions::previous_of(&alias.description)
        .filter(|p| found.version(*p).is_some())
        .or_else(|| {
            found
                .versions
                .iter()
                .rev()
                .map(|v| v.number)
                .find(|v| *v < on)
        });
    let Some(back) = target else {
        anyhow::bail!("version {on} is the only version there is: nothing to roll back to");
    };
    let question = format!(
        "Move all traffic of {}:live from version {on} to version {back}?",
        t.names.function
    );
    if !args.yes {
        approve::require(
            &Ask {
                question: &question,
                no_terminal: "claw rollback moves all traffic; nothing was changed. Re-run with --yes, or on a terminal to be asked",
                declined: "not approved; nothing was changed",
            },
            json!({ "from": on, "to": back }),
        )?;
    }
    let held = lock::acquire(&aws, &t.names, "rollback", &t.tags, args.lock_timeout).await?;
    let moved = versions::publish::move_alias(
        &aws,
        &t,
        back,
        None,
        &versions::idle_description(None),
        &alias.revision_id,
    )
    .await;
    held.release().await?;
    moved?;
    out.line(format_args!(
        "rolled back: {}:live is on version {back} (was {on}); the next `claw deploy` rolls out what agent.yaml and the package say again",
        t.names.function
    ));
    Ok(Report::new(json!({ "from": on, "to": back })))
}
