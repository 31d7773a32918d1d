//! `claw secrets`.

use crate::context::Context;
use crate::exit::Exit;

#[derive(Debug, clap::Subcommand)]
pub enum SecretsCommand {
    /// Store a secret's value, read from stdin (never from the command line).
    Set {
        /// The secret's name, as agent.yaml names it.
        name: String,
    },
}

pub async fn run(_ctx: &Context, _cmd: &SecretsCommand) -> anyhow::Result<Exit> {
    anyhow::bail!("`claw secrets` is not available in this build yet")
}
