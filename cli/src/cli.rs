//! The command line. Doc comments on these structs are the `--help` text.

use clap::{Parser, Subcommand};

use crate::args::GlobalArgs;
use crate::commands;
use crate::context::Context;
use crate::report::Report;

/// Deploy Claude agents to AWS Lambda from one agent.yaml.
///
/// claw cross-builds the agent function, generates its least-privilege IAM, and
/// provisions Lambda, API Gateway, concurrency limits and alarms through the AWS SDK.
/// Every command reads ./agent.yaml unless --config says otherwise.
///
/// Exit codes: 0 ok, 1 error, 2 difference found (policy diff, plan --detailed-exitcode).
#[derive(Debug, Parser)]
#[command(name = "claw", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check agent.yaml without touching the network.
    ///
    /// Reports every problem at once, each with file:line:column, the key path and,
    /// for a misspelled key, the nearest valid one. With `stages:` in agent.yaml,
    /// checks every stage (only `--stage` when given); a problem a stage's override
    /// causes is reported at the override.
    Validate(commands::validate::Args),
    /// Print the JSON Schema of agent.yaml, for editors' YAML language servers.
    ///
    /// Example: claw schema > agent.schema.json, then add
    /// `# yaml-language-server: $schema=./agent.schema.json` to agent.yaml.
    Schema(commands::schema::Args),
    /// Show, write, lint and diff the IAM policies claw generates.
    #[command(subcommand)]
    Policy(commands::policy::PolicyCommand),
    /// Cross-build the agent function and package it as a deterministic zip.
    ///
    /// Runs `cargo zigbuild -p agent-fn --target <arch>-unknown-linux-gnu.2.17` (glibc
    /// pinned to 2.17, so the binary runs on every Amazon Linux Lambda runtime) with
    /// cargo's target directory ${CARGO_TARGET_DIR:-<workspace>/target}/lambda, then
    /// writes ${CARGO_TARGET_DIR:-<workspace>/target}/claw/<app>-<stage>/<arch>/function.zip
    /// (`bootstrap` 0755 and `agent.json`, the resolved config, in which secrets appear
    /// only by name) and function.json, its manifest, beside it.
    ///
    /// The zip is deterministic: sorted entries, 1980-01-01 timestamps, fixed modes and
    /// compression. The same code and config give the same bytes and the same Lambda
    /// CodeSha256, which is printed with the path and size.
    ///
    /// The workspace is $CLAW_WORKSPACE, or the nearest directory above agent.yaml (then
    /// above the current directory) whose Cargo.toml is a workspace with agent-fn/.
    /// Needs cargo-zigbuild and zig (`pip install cargo-zigbuild ziglang`, or
    /// `bash scripts/setup`, which also adds the arm64 Rust target).
    Build(commands::build::Args),
    /// Show what `claw deploy` would change, without changing anything.
    Plan(commands::plan::Args),
    /// Build, plan, and apply: create or update every resource of this app and stage.
    Deploy(commands::deploy::Args),
    /// Invoke the deployed function, or run the built package locally (--local).
    ///
    /// The event is --payload (JSON text, @FILE, or - for stdin), sent as-is, or
    /// --message TEXT, which sends the direct-invoke event {"agent": AGENT, "message":
    /// TEXT} to --agent (default: the first agent in alphabetical order). The response
    /// goes to stdout; a function error exits 1.
    ///
    /// With --local, claw runs the package `claw build` wrote (or --zip) on this machine
    /// under an embedded Lambda Runtime API on 127.0.0.1: Lambda's environment
    /// variables, request headers and deadline, the configured timeout and memory size,
    /// and START/END/REPORT lines on stderr. The function's own output goes to stderr
    /// as written. An arm64 package runs through qemu-aarch64-static on x86_64 hosts.
    /// From claw's environment only AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_SESSION_TOKEN, AWS_ENDPOINT_URL[_*] and ANTHROPIC_BASE_URL reach the function
    /// (Lambda passes the role's credentials the same way).
    Invoke(commands::invoke::Args),
    /// Print the function's log events.
    Logs(commands::logs::Args),
    /// Delete every resource claw created for this app and stage.
    Destroy(commands::destroy::Args),
    /// Manage the Secrets Manager secrets agent.yaml names.
    #[command(subcommand)]
    Secrets(commands::secrets::SecretsCommand),
    /// Clear a stuck deploy lock (only when no claw command is running).
    Unlock(commands::unlock::Args),
}

impl Command {
    /// Runs the command.
    pub async fn run(&self, ctx: &Context) -> anyhow::Result<Report> {
        match self {
            Command::Validate(args) => commands::validate::run(ctx, args),
            Command::Schema(args) => commands::schema::run(ctx, args),
            Command::Policy(cmd) => commands::policy::run(ctx, cmd).await,
            Command::Build(args) => commands::build::run(ctx, args).await,
            Command::Plan(args) => commands::plan::run(ctx, args).await,
            Command::Deploy(args) => commands::deploy::run(ctx, args).await,
            Command::Invoke(args) => commands::invoke::run(ctx, args).await,
            Command::Logs(args) => commands::logs::run(ctx, args).await,
            Command::Destroy(args) => commands::destroy::run(ctx, args).await,
            Command::Secrets(cmd) => commands::secrets::run(ctx, cmd).await,
            Command::Unlock(args) => commands::unlock::run(ctx, args).await,
        }
    }
}
