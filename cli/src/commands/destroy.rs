//! `claw destroy`.

use crate::context::Context;
use crate::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: &Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`claw destroy` is not available in this build yet")
}
