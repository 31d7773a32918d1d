//! `claw schema`: the JSON Schema of agent.yaml.

use crate::context::Context;
use crate::report::Report;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &Context, _args: &Args) -> anyhow::Result<Report> {
    let schema = claw_spec::json_schema();
    // In text mode the schema itself is the output (`claw schema > agent.schema.json`);
    // in JSON mode it is the `schema` key of the one document.
    ctx.out.line(serde_json::to_string_pretty(&schema)?);
    Ok(Report::new(serde_json::json!({ "schema": schema })))
}
