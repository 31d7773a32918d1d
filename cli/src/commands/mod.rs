//! One module per command: its clap `Args` (the doc comments are the help text)
//! and a `run` that calls `ops` and returns a [`Report`]. Commands never import
//! each other; what two commands share lives in `ops`.

pub mod build;
pub mod deploy;
pub mod destroy;
pub mod invoke;
pub mod logs;
pub mod plan;
pub mod policy;
pub mod schema;
pub mod secrets;
pub mod unlock;
pub mod validate;

use crate::cli::Command;
use crate::context::Context;
use crate::report::Report;

/// Runs one command.
pub async fn run(ctx: &Context, command: &Command) -> anyhow::Result<Report> {
    match command {
        Command::Validate(args) => validate::run(ctx, args),
        Command::Schema(args) => schema::run(ctx, args),
        Command::Policy(cmd) => policy::run(ctx, cmd).await,
        Command::Build(args) => build::run(ctx, args).await,
        Command::Plan(args) => plan::run(ctx, args).await,
        Command::Deploy(args) => deploy::run(ctx, args).await,
        Command::Invoke(args) => invoke::run(ctx, args).await,
        Command::Logs(args) => logs::run(ctx, args).await,
        Command::Destroy(args) => destroy::run(ctx, args).await,
        Command::Secrets(cmd) => secrets::run(ctx, cmd).await,
        Command::Unlock(args) => unlock::run(ctx, args).await,
    }
}
