//! agent-fn: the Lambda function claw deploys. It reads the resolved agent config
//! (`agent.json`) once at init and runs a Claude agent loop per invocation.
//!
//! The binary (`bootstrap`) is a thin wrapper around [`app::App`]; everything is in
//! this library so tests drive it without a Lambda Runtime API.

pub mod agent;
pub mod anthropic;
pub mod app;
pub mod approval;
pub mod audit;
pub mod aws;
pub mod backend;
pub mod bedrock;
pub mod budget;
pub mod checkpoint;
pub mod deadline;
pub mod event;
pub mod jobs;
pub mod mcp;
pub mod outcome;
pub mod replay;
pub mod request;
pub mod runtime;
pub mod secrets;
pub mod sessions;
pub mod stream;
pub mod tools;
pub mod trace;

use std::path::{Path, PathBuf};

/// Why agent.json could not be found or read at init. The bootstrap prints it and
/// reports it to the Runtime API as `Runtime.InitError`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("finding the executable's directory: {0}")]
    NoExecutable(#[source] std::io::Error),
    #[error("{} has no parent directory", .0.display())]
    NoParent(PathBuf),
    #[error("reading {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {}: {source}", .path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// Where the package puts the config: `$LAMBDA_TASK_ROOT/agent.json`, else next to
/// the executable (running a bootstrap by hand).
pub fn config_path() -> Result<PathBuf, ConfigError> {
    if let Some(root) = std::env::var_os("LAMBDA_TASK_ROOT").filter(|r| !r.is_empty()) {
        return Ok(Path::new(&root).join("agent.json"));
    }
    let exe = std::env::current_exe().map_err(ConfigError::NoExecutable)?;
    let dir = exe
        .parent()
        .ok_or_else(|| ConfigError::NoParent(exe.clone()))?;
    Ok(dir.join("agent.json"))
}

/// Reads and parses agent.json (`serde_json::to_vec(&claw_spec::Config)`).
pub fn load_config(path: &Path) -> Result<claw_spec::Config, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("agent.json");
        let e = load_config(&missing).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with(&format!("reading {}: ", missing.display())),
            "{e}"
        );
        std::fs::write(&missing, b"{not json").unwrap();
        let e = load_config(&missing).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with(&format!("parsing {}: ", missing.display())),
            "{e}"
        );
    }
}
