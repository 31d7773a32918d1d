//! agent-fn: the Lambda function claw deploys. It reads the resolved agent config
//! (`agent.json`) once at init and runs a Claude agent loop per invocation.
//!
//! The binary (`bootstrap`) is a thin wrapper around [`app::App`]; everything is in
//! this library so tests drive it without a Lambda Runtime API.

pub mod agent;
pub mod anthropic;
pub mod app;
pub mod audit;
pub mod aws;
pub mod deadline;
pub mod event;
pub mod jobs;
pub mod secrets;
pub mod sessions;
pub mod tools;

use std::path::{Path, PathBuf};

/// Where the package puts the config: `$LAMBDA_TASK_ROOT/agent.json`, else next to
/// the executable (running a bootstrap by hand).
pub fn config_path() -> Result<PathBuf, String> {
    if let Some(root) = std::env::var_os("LAMBDA_TASK_ROOT").filter(|r| !r.is_empty()) {
        return Ok(Path::new(&root).join("agent.json"));
    }
    let exe =
        std::env::current_exe().map_err(|e| format!("finding the executable's directory: {e}"))?;
    let dir = exe
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", exe.display()))?;
    Ok(dir.join("agent.json"))
}

/// Reads and parses agent.json (`serde_json::to_vec(&claw_spec::Config)`).
pub fn load_config(path: &Path) -> Result<claw_spec::Config, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("parsing {}: {e}", path.display()))
}
