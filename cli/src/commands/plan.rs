//! `claw plan`: what `claw deploy` would change, without changing anything.

use std::path::PathBuf;

use crate::aws::stack;
use crate::aws::target::Target;
use crate::aws::{Aws, plan::Plan};
use crate::context::Context;
use crate::exit::Exit;
use crate::package::Code;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Exit 0 when nothing would change, 2 when something would, 1 on error
    /// (like `terraform plan -detailed-exitcode`).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Compare the function's code with this package (a zip with `bootstrap`).
    /// Without it, claw uses the package `claw build` last wrote, if any.
    #[arg(long, value_name = "PATH")]
    pub zip: Option<PathBuf>,
}

/// Reads the live stack and plans it; prints nothing.
pub async fn make_plan(
    ctx: &Context,
    zip: Option<&std::path::Path>,
) -> anyhow::Result<(Aws, Target, stack::Live, Plan)> {
    let loaded = ctx.load()?;
    let code = match zip {
        Some(p) => Some(Code::from_zip(p)?),
        None => crate::commands::deploy::existing_package(ctx, &loaded.config)?,
    };
    let target = Target::new(loaded.config, code);
    let aws = Aws::new(&target.config.region).await;
    let live = stack::read(&aws, &target).await?;
    stack::check_account(&target, &live)?;
    let plan = stack::plan(&target, &live);
    Ok((aws, target, live, plan))
}

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Exit> {
    let (aws, _target, _live, plan) = make_plan(ctx, args.zip.as_deref()).await?;
    if ctx.json() {
        let v = serde_json::json!({
            "plan": plan,
            "has_changes": plan.has_changes(),
            "needs_approval": plan.needs_approval(),
            "api_calls": {"reads": aws.calls.reads(), "mutations": aws.calls.mutations()},
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", plan.render());
        if plan.needs_approval() {
            println!(
                "Permissions broaden or drift would be removed: `claw deploy` will ask for approval."
            );
        }
    }
    if !plan.blockers.is_empty() {
        return Ok(Exit::Error);
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Exit::Different
    } else {
        Exit::Ok
    })
}
