//! `claw plan`: what `claw deploy` would change, without changing anything.

use std::path::PathBuf;

use serde::Serialize;

use crate::aws::plan::Plan;
use crate::context::Context;
use crate::exit::Exit;
use crate::package::Code;
use crate::report::Report;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Exit 0 when nothing would change, 2 when something would, 1 on error
    /// (like `terraform plan -detailed-exitcode`).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Compare the function's code with this package (a zip with `bootstrap`).
    /// Without it, claw packages agent.yaml with the prebuilt function (about a
    /// second), or in a claw checkout uses the package `claw build` last wrote.
    #[arg(long, value_name = "PATH")]
    pub zip: Option<PathBuf>,
}

/// The JSON document of a plan.
#[derive(Serialize)]
struct PlanReport<'a> {
    plan: &'a Plan,
    has_changes: bool,
    needs_approval: bool,
    api_calls: serde_json::Value,
}

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Report> {
    let loaded = ctx.load()?;
    let code = match &args.zip {
        Some(p) => Some(Code::from_zip(p)?),
        None => crate::ops::stack::package_to_compare(&loaded.config, &ctx.global.config).await?,
    };
    let planned = crate::ops::stack::read_and_plan(loaded.config, code).await?;
    let plan = &planned.plan;
    ctx.out.text(plan.render());
    if plan.needs_approval() {
        ctx.out.line(
            "Permissions broaden or drift would be removed: `claw deploy` will ask for approval.",
        );
    }
    let report = Report::new(PlanReport {
        plan,
        has_changes: plan.has_changes(),
        needs_approval: plan.needs_approval(),
        api_calls: serde_json::json!({
            "reads": planned.aws.calls.reads(),
            "mutations": planned.aws.calls.mutations(),
        }),
    });
    if !plan.blockers.is_empty() {
        return Ok(report.failed(format!(
            "deploy would be refused: {} problem{} to fix first: {}",
            plan.blockers.len(),
            if plan.blockers.len() == 1 { "" } else { "s" },
            plan.blockers.join("; ")
        )));
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        report.with_exit(Exit::Different)
    } else {
        report
    })
}
