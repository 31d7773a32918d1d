//! `claw deploy`: check, build if needed, plan, ask when permissions broaden, apply.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::aws::plan::Plan;
use crate::aws::progress::ApplyProgress;
use crate::aws::stack::{self, DeployOutcome};
use crate::context::Context;
use crate::ops::approve::{self, Ask};
use crate::ops::stack::{PackageRequest, Planned};
use crate::report::{CliError, Report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Approval {
    /// Never ask.
    Never,
    /// Ask when permissions broaden or drift would be removed (the default).
    Broadening,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Approve broadening security changes and drift removal without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// When to ask for approval: `broadening` (IAM statements or invoke permissions
    /// added, a route opened up, statements added outside claw removed) or `never`.
    /// Without a terminal, a change that needs approval stops the deploy unless --yes.
    #[arg(long, value_enum, default_value_t = Approval::Broadening)]
    pub require_approval: Approval,
    /// Deploy this package (a zip with an executable `bootstrap`) instead of
    /// building. Without it, deploy runs `claw build` first (incrementally).
    #[arg(long, value_name = "PATH")]
    pub zip: Option<PathBuf>,
    /// Cross-build agent-fn from a claw checkout instead of packaging the prebuilt
    /// function this claw carries (the default inside a claw checkout).
    #[arg(long, conflicts_with = "zip")]
    pub from_source: bool,
    /// How long to wait for another deploy or destroy of this app and stage to
    /// finish (`30s`, `5m`); by default claw stops at once and says who holds the lock.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub lock_timeout: std::time::Duration,
    /// With `rollout:`, start the rollout (the first step's traffic) and return
    /// without watching it; `claw rollout status` shows it, `claw rollout
    /// promote` goes on, and the next `claw deploy` resumes it.
    #[arg(long)]
    pub no_wait: bool,
}

/// The JSON document of a deploy.
#[derive(Serialize)]
struct DeployReport {
    plan: Plan,
    #[serde(flatten)]
    outcome: DeployOutcome,
    api_calls: ApiCalls,
    seconds: f64,
    build_seconds: Option<f64>,
}

#[derive(Serialize)]
struct ApiCalls {
    reads: usize,
    mutations: usize,
}

/// Refuses a plan with blockers; the plan goes into the JSON document.
fn refuse_blockers(plan: &Plan) -> anyhow::Result<()> {
    if plan.blockers.is_empty() {
        return Ok(());
    }
    Err(CliError::refused(
        format!(
            "deploy refused: {} problem{} to fix first:\n  {}",
            plan.blockers.len(),
            if plan.blockers.len() == 1 { "" } else { "s" },
            plan.blockers.join("\n  ")
        ),
        serde_json::json!({ "plan": plan }),
    )
    .into())
}

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Report> {
    let started = Instant::now();
    let out = ctx.out;
    // agent.yaml is read once: the package and the plan come from the same text.
    let loaded = ctx.load()?;
    // Checks that need only reads come before the build: a deploy that will be
    // refused (a missing secret, another account, a resource claw did not create)
    // costs seconds, not a cross-build. With --zip the package is known up front
    // and this first plan is the plan.
    let zip_code = match &args.zip {
        Some(p) => Some(crate::package::Code::from_zip(p)?),
        None => None,
    };
    let checked = crate::ops::stack::read_and_plan(loaded.config, zip_code).await?;
    if !checked.plan.blockers.is_empty() {
        out.text(checked.plan.render());
        refuse_blockers(&checked.plan)?;
    }
    let build_started = Instant::now();
    let planned = if args.zip.is_some() {
        checked
    } else {
        let code = crate::ops::stack::package(PackageRequest {
            config: &checked.target.config,
            config_path: &ctx.global.config,
            from_source: args.from_source,
            verbose: ctx.verbose() > 0,
        })
        .await?;
        checked.with_code(code)
    };
    let build_secs = build_started.elapsed().as_secs_f64();
    let Planned {
        aws,
        target,
        live,
        plan,
    } = planned;
    out.text(plan.render());
    refuse_blockers(&plan)?;
    let outcome = if !plan.has_changes() {
        out.line("No changes.");
        DeployOutcome::unchanged(&target, &live)
    } else {
        if plan.needs_approval() && args.require_approval == Approval::Broadening && !args.yes {
            approve::require(
                &Ask {
                    question: "Apply these security changes?",
                    no_terminal: "this deploy broadens permissions or removes statements added outside claw (see \"Security changes\"); nothing was changed. Re-run with --yes to approve, or on a terminal to be asked",
                    declined: "not approved; nothing was changed",
                },
                serde_json::json!({ "plan": plan }),
            )?;
        }
        // One writer per app and stage. The state is read again under the lock: a
        // deploy that finished while this one waited may have changed it.
        let lock = crate::aws::lock::acquire(
            &aws,
            &target.names,
            "deploy",
            &target.tags,
            args.lock_timeout,
        )
        .await?;
        let live = stack::read(&aws, &target).await?;
        let relocked = stack::plan(&target, &live);
        if relocked.needs_approval() && !plan.needs_approval() && !args.yes {
            lock.release().await?;
            return Err(CliError::refused(
                "the stack changed while this deploy waited for the lock, and the new plan needs approval; nothing was changed. Run `claw deploy` again",
                serde_json::json!({ "plan": relocked }),
            )
            .into());
        }
        let plan = relocked;
        out.line("\nApplying:");
        let progress = ApplyProgress::new(out.is_json());
        let mut applied = stack::apply(&aws, &target, &live, &plan, &progress).await;
        // With `rollout:`, the published version's traffic moves under the same
        // lock (its heartbeat keeps it while the steps are watched).
        if let Ok(o) = &mut applied
            && let Some(p) = o.pending
        {
            let say = |line: String| out.line(format_args!("  {line}"));
            match crate::aws::rollout::run(&aws, &target, p, !args.no_wait, &say).await {
                Ok(r) => o.rollout = Some(r),
                Err(e) => applied = Err(e.context(format!(
                    "the rollout of version {} stopped; the alias is where the last line above says: `claw rollout status` shows it, `claw deploy` or `claw rollout promote` goes on, `claw rollout abort` moves all traffic back",
                    p.to
                ))),
            }
        }
        // A lock that cannot be released now goes stale after its heartbeat stops;
        // the apply error, if any, is the one to report.
        let released = lock.release().await;
        match applied {
            Ok(o) => {
                released?;
                o
            }
            Err(e) => {
                let n = aws.calls.mutations();
                return Err(e.context(format!(
                    "deploy of {} stopped after {n} change{}; what was applied is in place and nothing is half-done that a re-run cannot finish: run `claw deploy` again to converge",
                    target.names.function,
                    if n == 1 { "" } else { "s" },
                )));
            }
        }
    };
    let secs = started.elapsed().as_secs_f64();
    let calls = ApiCalls {
        reads: aws.calls.reads(),
        mutations: aws.calls.mutations(),
    };
    out.line("");
    out.line(format_args!("Endpoint:    {}", outcome.endpoint));
    if let Some(url) = &outcome.function_url {
        out.line(format_args!("Stream URL:  {url}"));
    }
    out.line(format_args!("Function:    {}", outcome.function_arn));
    if let Some(r) = &outcome.rollout {
        out.line(format_args!(
            "Alias:       live → version {}{}",
            if r.percent == 100 || r.result == crate::aws::rollout::Result::Unchanged {
                r.to.to_string()
            } else if r.percent == 0 {
                r.from.to_string()
            } else {
                format!(
                    "{} ({}%) and {} ({}%)",
                    r.from,
                    100 - r.percent,
                    r.to,
                    r.percent
                )
            },
            match r.result {
                crate::aws::rollout::Result::Started =>
                    "; rollout started (--no-wait): `claw rollout status` follows it",
                _ => "",
            }
        ));
    }
    out.line(format_args!("CodeSha256:  {}", outcome.code_sha256));
    let build = if args.zip.is_none() {
        format!("build {build_secs:.1} s, ")
    } else {
        String::new()
    };
    out.line(format_args!(
        "Done in {secs:.1} s ({build}{} API calls, {} of them changes).",
        calls.reads + calls.mutations,
        calls.mutations
    ));
    let failed = outcome.rollout.as_ref().and_then(rollout_failure);
    if let Some(why) = &failed {
        out.note(format_args!("error: {why}"));
    }
    let report = Report::new(DeployReport {
        plan,
        outcome,
        api_calls: calls,
        seconds: secs,
        build_seconds: args.zip.is_none().then_some(build_secs),
    });
    Ok(match failed {
        Some(why) => report.failed(why),
        None => report,
    })
}

/// A rollout that did not end on the new version fails the deploy (exit 1):
/// rolled back by a gate, or held for want of traffic.
fn rollout_failure(r: &crate::aws::rollout::Outcome) -> Option<String> {
    use crate::aws::rollout::Result as R;
    let why = r.reason.clone().unwrap_or_default();
    match r.result {
        R::RolledBack => Some(format!(
            "rolled back: version {} takes all traffic again, version {} none: {why}",
            r.from, r.to
        )),
        R::Held => Some(format!(
            "rollout held with version {} at {}%: {why}",
            r.to, r.percent
        )),
        R::Promoted | R::Started | R::Unchanged => None,
    }
}
