//! Workflows shared by commands: load agent.yaml once, read and plan the stack,
//! ask for approval, build the invoke event. Commands parse arguments, call these
//! and report; they never import each other, and these never print results
//! (that is the command's report).

pub mod account;
pub mod approve;
pub mod load;
pub mod local;
pub mod lockfile;
pub mod payload;
pub mod stack;
pub mod status;
