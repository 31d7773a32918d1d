//! `claw destroy`: delete every resource claw created for this app and stage.

use serde::Serialize;

use crate::aws::plan::Plan;
use crate::aws::progress::ApplyProgress;
use crate::aws::stack::{self, DestroyOptions};
use crate::context::Context;
use crate::ops::approve::{self, Ask};
use crate::report::Report;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not ask for confirmation (required without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also delete the secrets agent.yaml names, when they are tagged for this app
    /// and stage (with a 7-day recovery window).
    #[arg(long)]
    pub include_secrets: bool,
    /// Also delete the sessions table and its data.
    #[arg(long)]
    pub include_data: bool,
    /// How long to wait for a running deploy of this app and stage to finish.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub lock_timeout: std::time::Duration,
}

/// The JSON document of a destroy.
#[derive(Serialize)]
struct DestroyReport {
    plan: Plan,
    deleted: usize,
}

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Report> {
    let out = ctx.out;
    let loaded = ctx.load()?;
    let opts = DestroyOptions {
        include_secrets: args.include_secrets,
        include_data: args.include_data,
    };
    let (aws, target, live) = crate::ops::stack::read(loaded.config, None).await?;
    let plan = stack::destroy_plan(&target, &live, opts);
    out.text(plan.render());
    if !plan.has_changes() {
        out.line("Nothing to destroy.");
        return Ok(Report::new(DestroyReport { plan, deleted: 0 }));
    }
    if !args.yes {
        approve::require(
            &Ask {
                question: &format!("Delete these resources of {}?", target.names.function),
                no_terminal: "destroy deletes the resources above; nothing was deleted. Re-run with --yes to confirm",
                declined: "not confirmed; nothing was deleted",
            },
            serde_json::json!({ "plan": plan }),
        )?;
    }
    // One writer per app and stage; read again under the lock.
    let lock = crate::aws::lock::acquire(
        &aws,
        &target.names,
        "destroy",
        &target.tags,
        args.lock_timeout,
    )
    .await?;
    let live = stack::read(&aws, &target).await?;
    let plan = stack::destroy_plan(&target, &live, opts);
    let progress = ApplyProgress::new(out.is_json());
    if let Err(e) = stack::destroy(&aws, &target, &live, &plan, &progress).await {
        let _ = lock.release().await;
        return Err(e.context("destroy stopped part-way; run `claw destroy` again to finish"));
    }
    // The lock's log group goes last, and the lock with it.
    lock.release().await?;
    crate::aws::lock::delete_group(&aws, &target.names).await?;
    let (_, _, deleted, _) = plan.counts();
    out.line(format_args!(
        "Destroyed {deleted} resource{}.",
        if deleted == 1 { "" } else { "s" }
    ));
    Ok(Report::new(DestroyReport { plan, deleted }))
}
