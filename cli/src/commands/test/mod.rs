//! `claw test`: replays every recorded conversation under `tests/agents/` against
//! the built function and runs the assertion files' checks; `--update` records
//! the cases that diverged again, `--live` runs the checks on new conversations.

mod cases;
mod junit;
mod run;

use std::path::PathBuf;

use serde_json::json;

use crate::args::PackageArgs;
use crate::context::Context;
use crate::ops::local::{self as ops_local, Which};
use crate::report::{Printer, Report};
use run::{Outcome, Runner, Status};

/// Options of `claw test`; the command's help text is on `cli::Command::Test`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run only these cases (file names under the directory, without extension).
    #[arg(value_name = "CASE")]
    pub cases: Vec<String>,
    /// Where the cases are; default: tests/agents beside agent.yaml.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Record the cases whose replay diverged again, against the live model (tools
    /// run for real; costs tokens, and says how many). For when the change is meant.
    #[arg(long, conflicts_with = "live")]
    pub update: bool,
    /// Run the assertion files' checks on new conversations with the live model
    /// instead of on the recordings (costs tokens, and says how many).
    #[arg(long)]
    pub live: bool,
    /// Also write the results as a JUnit XML report to FILE (for CI).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub package: PackageArgs,
}

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Report> {
    let loaded = ctx.load()?;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => ctx
            .global
            .config
            .parent()
            .map(|p| p.join("tests/agents"))
            .unwrap_or_else(|| PathBuf::from("tests/agents")),
    };
    let cases = cases::find(&dir, &args.cases)?;
    let which = Which::from(&args.package);
    let config = loaded.config;
    let (live, update, out) = (args.live, args.update, ctx.out);
    let config_path = ctx.global.config.clone();
    let outcomes = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<Outcome>> {
        let pkg = ops_local::package(&config, &config_path, &which)?;
        let mut runner = Runner::new(&config, &pkg)?;
        let mut outcomes = Vec::new();
        for case in &cases {
            let mut o = if live {
                if case.checks.is_none() {
                    Outcome::skipped(case, "no assertion file: --live runs checks only")
                } else {
                    runner.check_live(case)?
                }
            } else {
                runner.replay(case)?
            };
            if update && o.status == Status::Failed && o.divergence.is_some() {
                runner.update(case, &mut o)?;
            }
            show(out, &o);
            outcomes.push(o);
        }
        runner.stop();
        Ok(outcomes)
    })
    .await??;
    finish(ctx, args, &dir, &outcomes)
}

/// One line per case; a failure's detail under it.
fn show(out: Printer, o: &Outcome) {
    let mark = match (o.status, o.updated) {
        (Status::Passed, true) => "updated",
        (Status::Passed, false) => "ok",
        (Status::Failed, _) => "FAIL",
        (Status::Skipped, _) => "skip",
    };
    let tokens = o
        .tokens
        .map(|(i, t)| format!(", {i} input + {t} output tokens"))
        .unwrap_or_default();
    out.line(format_args!(
        "{mark:<7} {}  {} ({:.2} s{tokens})",
        o.name,
        o.summary,
        o.duration.as_secs_f64()
    ));
    if let Some(d) = &o.divergence {
        out.line(d.detail.trim_end());
    }
    for f in &o.failures {
        out.line(format_args!("  {}: {}: {}", f.file, f.rule, f.message));
    }
    if !o.log.is_empty() {
        out.line("  the function's last log lines:");
        for l in &o.log {
            out.line(format_args!("    {l}"));
        }
    }
}

fn finish(
    ctx: &Context,
    args: &Args,
    dir: &std::path::Path,
    outcomes: &[Outcome],
) -> anyhow::Result<Report> {
    let count = |s: Status| outcomes.iter().filter(|o| o.status == s).count();
    let (passed, failed, skipped) = (
        count(Status::Passed),
        count(Status::Failed),
        count(Status::Skipped),
    );
    let updated = outcomes.iter().filter(|o| o.updated).count();
    let tokens =
        outcomes
            .iter()
            .filter_map(|o| o.tokens)
            .fold(None, |acc: Option<(u64, u64)>, (i, o)| {
                let (a, b) = acc.unwrap_or_default();
                Some((a + i, b + o))
            });
    if let Some(path) = &args.junit {
        junit::write(path, outcomes)?;
    }
    let spent = tokens
        .map(|(i, o)| format!("; the live model was sent {i} input tokens and answered {o}"))
        .unwrap_or_default();
    let line = format!(
        "claw test: {passed} passed, {failed} failed, {skipped} skipped{}{spent}",
        if updated > 0 {
            format!(", {updated} re-recorded")
        } else {
            String::new()
        }
    );
    if outcomes.is_empty() {
        ctx.out.note(format_args!(
            "no cases in {}: record one with `claw invoke --local --record {}/NAME.json -m TEXT`",
            dir.display(),
            dir.display()
        ));
    }
    let report = Report::new(json!({
        "dir": dir.display().to_string(),
        "cases": outcomes,
        "passed": passed,
        "failed": failed,
        "skipped": skipped,
        "updated": updated,
        "tokens": tokens.map(|(i, o)| json!({"input": i, "output": o})),
    }));
    ctx.out.line(&line);
    Ok(if failed > 0 {
        report.failed(format!("{failed} case(s) failed"))
    } else {
        report
    })
}
