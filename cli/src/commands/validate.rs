//! `claw validate`: parse and check agent.yaml (every stage it names), no network.

use serde::Serialize;

use crate::context::Context;
use crate::report::Report;

#[derive(Debug, clap::Args)]
pub struct Args {}

/// The JSON document of a valid agent.yaml: the default (or selected) stage at the
/// top, every stage checked under `stages`.
#[derive(Serialize)]
struct ValidateReport<'a> {
    file: String,
    app: &'a str,
    stage: &'a str,
    region: &'a str,
    function: String,
    agents: Vec<&'a String>,
    tools: Vec<&'a String>,
    secrets: Vec<String>,
    warnings: Vec<&'a claw_spec::Diagnostic>,
    stages: Vec<StageReport<'a>>,
}

#[derive(Serialize)]
struct StageReport<'a> {
    stage: &'a str,
    account: &'a str,
    region: &'a str,
    function: String,
}

/// Checks every stage agent.yaml names (only `--stage` when given).
pub fn run(ctx: &Context, _args: &Args) -> anyhow::Result<Report> {
    let all = ctx.load_stages()?;
    let Some(first) = all.first() else {
        anyhow::bail!("agent.yaml names no stage");
    };
    let warnings: Vec<&claw_spec::Diagnostic> = all.iter().flat_map(|l| &l.warnings).collect();
    // Notes (advice) only this command prints; every stage repeats them.
    let mut seen = std::collections::BTreeSet::new();
    for d in warnings
        .iter()
        .filter(|d| d.severity == claw_spec::Severity::Note)
    {
        if seen.insert(d.headline()) {
            ctx.out.note(d.headline());
        }
    }
    for loaded in &all {
        let c = &loaded.config;
        let names = claw_spec::Names::new(c);
        let secrets = c.secret_names();
        ctx.out.line(format_args!(
            "OK {}: {} in {} ({} agent{}, {} tool{}, {} secret{}{})",
            ctx.global.config.display(),
            names.function,
            c.region,
            c.agents.len(),
            plural(c.agents.len()),
            c.tools.len(),
            plural(c.tools.len()),
            secrets.len(),
            plural(secrets.len()),
            counts(&loaded.warnings)
        ));
    }
    let c = &first.config;
    Ok(Report::new(ValidateReport {
        file: ctx.global.config.display().to_string(),
        app: &c.app,
        stage: &c.stage,
        region: &c.region,
        function: claw_spec::Names::new(c).function,
        agents: c.agents.keys().collect(),
        tools: c.tools.keys().collect(),
        secrets: c.secret_names(),
        warnings,
        stages: all
            .iter()
            .map(|l| StageReport {
                stage: &l.config.stage,
                account: &l.config.account,
                region: &l.config.region,
                function: claw_spec::Names::new(&l.config).function,
            })
            .collect(),
    }))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `, 1 warning, 2 notes` (nothing when there are neither).
fn counts(found: &[claw_spec::Diagnostic]) -> String {
    let mut out = String::new();
    for (severity, word) in [
        (claw_spec::Severity::Warning, "warning"),
        (claw_spec::Severity::Note, "note"),
    ] {
        let n = found.iter().filter(|d| d.severity == severity).count();
        if n > 0 {
            out.push_str(&format!(", {n} {word}{}", plural(n)));
        }
    }
    out
}
