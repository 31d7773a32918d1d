//! `claw schema`: the JSON Schema of agent.yaml.

use crate::context::Context;
use crate::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_ctx: &Context, _args: &Args) -> anyhow::Result<Exit> {
    // The schema is JSON in both output modes: it is data for editors.
    println!(
        "{}",
        serde_json::to_string_pretty(&claw_spec::json_schema())?
    );
    Ok(Exit::Ok)
}
