//! `claw status`: one stage on one screen (resources in sync, alarms, figures
//! and the busiest tools), read in one parallel round.

use std::time::Duration;

use crate::context::Context;
use crate::report::Report;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How far back the figures reach: `1h`, `24h`, `7d` (about 24 points).
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub since: Duration,
    /// Compare the function's code with this package (a zip with `bootstrap`),
    /// as `claw plan --zip` does.
    #[arg(long, value_name = "PATH")]
    pub zip: Option<std::path::PathBuf>,
}

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Report> {
    let loaded = ctx.load()?;
    if args.since < Duration::from_secs(60) {
        anyhow::bail!(
            "--since must be at least 1m (CloudWatch's finest period for Lambda's metrics is a minute)"
        );
    }
    let (aws, status) = crate::ops::status::read(
        loaded.config,
        &ctx.global.config,
        args.since,
        args.zip.as_deref(),
    )
    .await?;
    ctx.out.text(crate::ops::status::render(&status));
    let mut doc = serde_json::to_value(&status)?;
    doc["api_calls"] = serde_json::json!({
        "reads": aws.calls.reads(),
        "mutations": aws.calls.mutations(),
    });
    Ok(Report::new(doc))
}
