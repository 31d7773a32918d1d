//! `claw destroy`: delete every resource claw created for this app and stage.

use std::io::IsTerminal as _;

use crate::aws::Aws;
use crate::aws::progress::ApplyProgress;
use crate::aws::stack::{self, DestroyOptions};
use crate::aws::target::Target;
use crate::context::Context;
use crate::exit::Exit;

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

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Exit> {
    let loaded = ctx.load()?;
    let target = Target::new(loaded.config, None);
    let aws = Aws::new(&target.config.region).await;
    let live = stack::read(&aws, &target).await?;
    stack::check_account(&target, &live)?;
    let plan = stack::destroy_plan(
        &target,
        &live,
        DestroyOptions {
            include_secrets: args.include_secrets,
            include_data: args.include_data,
        },
    );
    let json = ctx.json();
    if !json {
        print!("{}", plan.render());
    }
    if !plan.has_changes() {
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"ok": true, "plan": plan, "deleted": 0})
                )?
            );
        } else {
            println!("Nothing to destroy.");
        }
        return Ok(Exit::Ok);
    }
    if !args.yes {
        let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        if !terminal {
            anyhow::bail!(
                "destroy deletes the resources above; nothing was deleted. Re-run with --yes to confirm"
            );
        }
        if !crate::commands::deploy::confirm(&format!(
            "Delete these resources of {}?",
            target.names.function
        ))? {
            anyhow::bail!("not confirmed; nothing was deleted");
        }
    }
    // One writer per app and stage; read again under the lock.
    let lock = crate::aws::lock::acquire(
        &aws,
        &target.names.function,
        "destroy",
        &target.tags,
        args.lock_timeout,
    )
    .await?;
    let live = stack::read(&aws, &target).await?;
    let plan = stack::destroy_plan(
        &target,
        &live,
        DestroyOptions {
            include_secrets: args.include_secrets,
            include_data: args.include_data,
        },
    );
    let progress = ApplyProgress::new(json);
    if let Err(e) = stack::destroy(&aws, &target, &live, &plan, &progress).await {
        let _ = lock.release().await;
        return Err(e.context("destroy stopped part-way; run `claw destroy` again to finish"));
    }
    // The lock's log group goes last, and the lock with it.
    lock.release().await?;
    crate::aws::lock::delete_group(&aws, &target.names.function).await?;
    let (_, _, deleted, _) = plan.counts();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"ok": true, "plan": plan, "deleted": deleted})
            )?
        );
    } else {
        println!(
            "Destroyed {deleted} resource{}.",
            if deleted == 1 { "" } else { "s" }
        );
    }
    Ok(Exit::Ok)
}
