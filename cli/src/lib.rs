//! claw: deploy Claude agents to AWS Lambda from one agent.yaml.
//!
//! `main` parses the command line, builds a [`context::Context`] and runs one command
//! module. Each command lives in `commands/` with its own clap `Args` struct (the
//! doc comments are the `--help` text), calls the shared workflows in `ops`, and
//! returns a [`report::Report`], which the [`report::Printer`] renders once.

pub mod args;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod context;
pub mod exit;
pub mod local;
pub mod ops;
pub mod package;
pub mod report;

use clap::Parser;

/// Parses arguments, runs the command, prints errors, and returns the exit code.
pub fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::Exit::Error.into();
        }
    };
    let ctx = context::Context::new(&args.global);
    let result = runtime.block_on(args.command.run(&ctx));
    match result {
        Ok(report) => ctx.out.finish(&report).into(),
        Err(err) => ctx.out.fail(&err).into(),
    }
}
