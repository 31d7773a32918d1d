//! `claw validate`: parse and check agent.yaml, no network.

use serde::Serialize;

use crate::context::Context;
use crate::report::Report;

#[derive(Debug, clap::Args)]
pub struct Args {}

/// The JSON document of a valid agent.yaml.
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
    warnings: &'a [claw_spec::Diagnostic],
}

pub fn run(ctx: &Context, _args: &Args) -> anyhow::Result<Report> {
    let loaded = ctx.load()?;
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
        if loaded.warnings.is_empty() {
            String::new()
        } else {
            format!(
                ", {} warning{}",
                loaded.warnings.len(),
                plural(loaded.warnings.len())
            )
        }
    ));
    Ok(Report::new(ValidateReport {
        file: ctx.global.config.display().to_string(),
        app: &c.app,
        stage: &c.stage,
        region: &c.region,
        function: names.function.clone(),
        agents: c.agents.keys().collect(),
        tools: c.tools.keys().collect(),
        secrets,
        warnings: &loaded.warnings,
    }))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
