//! `claw deploy`.

use crate::context::Context;
use crate::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: &Args) -> anyhow::Result<Exit> {
    anyhow::bail!("`claw deploy` is not available in this build yet")
}

/// `claw policy diff` without `--against`: generated vs deployed documents.
pub async fn policy_diff_live(_ctx: &Context) -> anyhow::Result<Exit> {
    anyhow::bail!("comparing with the deployed stack is not available in this build yet; use --against DIR")
}
