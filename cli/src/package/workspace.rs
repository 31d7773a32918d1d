//! Where the agent-fn sources are and where build output goes.
//!
//! `claw build --from-source` (the default inside a claw checkout) compiles the
//! `agent-fn` crate of the claw workspace. The workspace
//! is `CLAW_WORKSPACE` when set, otherwise the nearest directory, walking up from
//! agent.yaml's directory and then from the current directory, whose `Cargo.toml`
//! declares a workspace and which has `agent-fn/Cargo.toml`.
//!
//! Output lives under one target root, `${CARGO_TARGET_DIR:-<workspace>/target}`:
//!
//! - `<root>/lambda/` is cargo's target directory for the cross-build. It is not
//!   `<root>` itself so that `claw build` run from inside `cargo test` (which holds
//!   the lock on `<root>`) does not wait on that lock forever.
//! - `<root>/claw/<app>-<stage>/<arch>/function.zip` is the package, with
//!   `function.json` (its manifest) beside it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use claw_spec::model::Architecture;

/// The environment variable that names the workspace explicitly.
pub const WORKSPACE_ENV: &str = "CLAW_WORKSPACE";

/// The located workspace and the directories derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The directory holding the workspace `Cargo.toml`.
    pub root: PathBuf,
    /// `${CARGO_TARGET_DIR:-<root>/target}`, absolute.
    pub target_root: PathBuf,
}

impl Workspace {
    /// Finds the workspace from `CLAW_WORKSPACE`, agent.yaml's directory or the
    /// current directory, and the target root from `CARGO_TARGET_DIR`.
    pub fn locate(config_path: &Path) -> anyhow::Result<Workspace> {
        match Workspace::find(config_path)? {
            Found::Here(ws) => Ok(ws),
            Found::Nowhere { config_dir, cwd } => anyhow::bail!(
                "cannot find the claw workspace (a Cargo.toml with [workspace] beside agent-fn/) \
                 in {} or {} or any parent; run claw inside a checkout of claw, or set \
                 {WORKSPACE_ENV}=/path/to/claw",
                config_dir.display(),
                cwd.display()
            ),
        }
    }

    /// Like [`Workspace::locate`], but a directory outside any claw checkout is an
    /// answer, not an error. `CLAW_WORKSPACE` naming something else is an error.
    pub fn find(config_path: &Path) -> anyhow::Result<Found> {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = env(WORKSPACE_ENV) {
            let dir = cwd.join(dir);
            if !is_claw_workspace(&dir) {
                anyhow::bail!(
                    "{WORKSPACE_ENV}={} is not the claw workspace: it needs a Cargo.toml \
                     with [workspace] and an agent-fn/Cargo.toml",
                    dir.display()
                );
            }
            return Ok(Found::Here(Workspace::at(&dir)?));
        }
        let config_dir = config_dir(&cwd, config_path);
        match find_upwards(&config_dir).or_else(|| find_upwards(&cwd)) {
            Some(root) => Ok(Found::Here(Workspace::at(&root)?)),
            None => Ok(Found::Nowhere { config_dir, cwd }),
        }
    }

    /// The workspace at `root` (not checked), with the target root from
    /// `CARGO_TARGET_DIR` (relative to the current directory, as cargo reads it).
    pub fn at(root: &Path) -> anyhow::Result<Workspace> {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let root = cwd.join(root);
        let root = root.canonicalize().unwrap_or(root);
        let target_root = match std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
            Some(dir) => cwd.join(dir),
            None => root.join("target"),
        };
        Ok(Workspace { root, target_root })
    }

    /// Cargo's target directory for the Lambda cross-builds.
    pub fn cargo_target_dir(&self) -> PathBuf {
        self.target_root.join("lambda")
    }

    /// The directory holding `function.zip` and `function.json` for one function
    /// name (`{app}-{stage}`) and architecture.
    pub fn package_dir(&self, function: &str, arch: Architecture) -> PathBuf {
        package_dir(&self.target_root, function, arch)
    }

    /// `.venv/bin` of the workspace, where scripts/setup installs cargo-zigbuild.
    pub fn venv_bin(&self) -> PathBuf {
        self.root.join(".venv").join("bin")
    }
}

/// Where [`Workspace::find`] looked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Here(Workspace),
    /// Neither agent.yaml's directory nor the current one is inside a checkout.
    Nowhere {
        config_dir: PathBuf,
        cwd: PathBuf,
    },
}

/// The directory agent.yaml is in (absolute).
pub fn config_dir(cwd: &Path, config_path: &Path) -> PathBuf {
    cwd.join(config_path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| cwd.to_path_buf())
}

/// `<target_root>/claw/<function>/<arch>`.
pub fn package_dir(target_root: &Path, function: &str, arch: Architecture) -> PathBuf {
    target_root
        .join("claw")
        .join(function)
        .join(arch.lambda_name())
}

fn find_upwards(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| is_claw_workspace(dir))
        .map(Path::to_path_buf)
}

/// A directory whose Cargo.toml declares a workspace and which has agent-fn/.
fn is_claw_workspace(dir: &Path) -> bool {
    if !dir.join("agent-fn").join("Cargo.toml").is_file() {
        return false;
    }
    match std::fs::read_to_string(dir.join("Cargo.toml")) {
        Ok(text) => text.lines().any(|l| l.trim() == "[workspace]"),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_workspace_above_a_nested_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"agent-fn\"]\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.join("agent-fn")).unwrap();
        std::fs::write(root.join("agent-fn/Cargo.toml"), "[package]\n").unwrap();
        let nested = root.join("examples/crm");
        std::fs::create_dir_all(&nested).unwrap();
        assert_eq!(find_upwards(&nested).as_deref(), Some(root));
    }

    #[test]
    fn a_crate_without_agent_fn_is_not_the_workspace() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "[workspace]\n").unwrap();
        assert!(!is_claw_workspace(dir.path()));
    }

    #[test]
    fn package_dir_layout() {
        let p = package_dir(Path::new("/t"), "crm-leads-dev", Architecture::Arm64);
        assert_eq!(p, Path::new("/t/claw/crm-leads-dev/arm64"));
    }
}
