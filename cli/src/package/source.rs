//! Where the function's `bootstrap` comes from: cross-built from a claw checkout,
//! or the prebuilt one this claw carries.

use std::path::{Path, PathBuf};

use claw_spec::model::Architecture;

use super::prebuilt;
use super::workspace::{self, Found, Workspace};

/// Where a build gets `bootstrap` from, and where its package goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `cargo zigbuild -p agent-fn` in this claw workspace; packages under its
    /// target root.
    Workspace(Workspace),
    /// The function embedded in this claw; packages under `out_root`
    /// (`.claw/build/` beside agent.yaml).
    Prebuilt { out_root: PathBuf },
}

impl Source {
    /// From source with `from_source`, or inside a claw checkout (or with
    /// `CLAW_WORKSPACE`); otherwise the prebuilt function, or an error saying how
    /// to get one when this claw carries none.
    pub fn choose(config_path: &Path, from_source: bool) -> anyhow::Result<Source> {
        if from_source {
            return Ok(Source::Workspace(Workspace::locate(config_path)?));
        }
        match Workspace::find(config_path)? {
            Found::Here(ws) => Ok(Source::Workspace(ws)),
            Found::Nowhere { config_dir, .. } => {
                if prebuilt::get(Architecture::Arm64).is_none() {
                    anyhow::bail!("{}", prebuilt::MISSING);
                }
                Ok(Source::Prebuilt {
                    out_root: prebuilt_root(&config_dir),
                })
            }
        }
    }

    /// The directory holding `function.zip` and `function.json` for one function
    /// name (`{app}-{stage}`) and architecture.
    pub fn package_dir(&self, function: &str, arch: Architecture) -> PathBuf {
        match self {
            Source::Workspace(ws) => ws.package_dir(function, arch),
            Source::Prebuilt { out_root } => out_root.join(function).join(arch.lambda_name()),
        }
    }

    /// `source` or `prebuilt`, for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Workspace(_) => "source",
            Source::Prebuilt { .. } => "prebuilt",
        }
    }
}

/// Build output for the prebuilt function: `<dir of agent.yaml>/.claw/build`.
pub fn prebuilt_root(config_dir: &Path) -> PathBuf {
    config_dir.join(".claw").join("build")
}

/// The package directory to read for `claw plan` and `invoke --local --zip`-less
/// runs, without building and without failing when there is none.
pub fn existing_dir(config_path: &Path, function: &str, arch: Architecture) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let source = match Workspace::find(config_path).ok()? {
        Found::Here(ws) => Source::Workspace(ws),
        Found::Nowhere { .. } => Source::Prebuilt {
            out_root: prebuilt_root(&workspace::config_dir(&cwd, config_path)),
        },
    };
    Some(source.package_dir(function, arch))
}
