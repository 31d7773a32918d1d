//! One module per command: its clap `Args` (the doc comments are the help text)
//! and a `run` that calls `ops` and returns a [`crate::report::Report`]. Commands never import
//! each other; what two commands share lives in `ops`.

pub mod bootstrap;
pub mod build;
pub mod completions;
pub mod deploy;
pub mod destroy;
pub mod dev;
pub mod init;
pub mod invoke;
pub mod jobs;
pub mod logs;
pub mod plan;
pub mod policy;
pub mod rollout;
pub mod schema;
pub mod secrets;
pub mod status;
pub mod test;
pub mod unlock;
pub mod validate;
