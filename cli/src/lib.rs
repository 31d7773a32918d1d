//! claw: deploy Claude agents to AWS Lambda from one agent.yaml.
//!
//! `main` parses the command line, builds a [`context::Context`] and runs one command
//! module. Each command lives in `commands/` with its own clap `Args` struct (the
//! doc comments are the `--help` text), calls the shared workflows in `ops`, and
//! returns a [`report::Report`], which the [`report::Printer`] renders once.

mod args;
mod aws;
mod cli;
mod commands;
mod context;
mod exit;
mod ops;
mod replay;
mod report;

// The library's surface for claw's own tests and benchmarks (other crates); all
// else is private, so the compiler reports what nothing uses.
pub mod local;
pub mod package;
/// The switch that stops claw after N mutating AWS calls (interrupted-deploy tests).
pub use aws::ABORT_AFTER_ENV;
/// Loads and validates an agent.yaml from disk, as every command does.
pub use ops::load::load_config;

use clap::{CommandFactory as _, FromArgMatches as _};

/// Parses arguments, runs the command, prints errors, and returns the exit code.
pub fn main() -> std::process::ExitCode {
    // `--version` names the prebuilt function this claw carries (or its absence).
    let long_version: &'static str = Box::leak(package::prebuilt::long_version().into_boxed_str());
    let matches = cli::Cli::command().long_version(long_version).get_matches();
    let args = match cli::Cli::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
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
