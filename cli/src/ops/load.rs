//! Reading agent.yaml: once per command. Everything downstream (the package, the
//! plan, the policies) takes the [`Loaded`] config this returns, so a file edited
//! while a command runs can never give one part of a deploy one version and
//! another part the other.

use std::path::Path;

use anyhow::Context as _;
use claw_spec::{Diagnostic, Loaded, Overrides};

/// The config failed to load; each problem is located in the file.
#[derive(Debug, thiserror::Error)]
#[error("{file} has {} problem{}", problems.len(), if problems.len() == 1 { "" } else { "s" })]
pub struct ConfigError {
    pub file: String,
    pub source_text: String,
    pub problems: Vec<Diagnostic>,
}

/// Largest agent.yaml read from disk; larger files are refused before reading.
const MAX_FILE_BYTES: u64 = claw_spec::yaml::MAX_INPUT_BYTES as u64;

/// Loads and validates an agent.yaml from disk (one read of the file), for the
/// selected stage.
pub fn load_config(path: &Path, overrides: &Overrides) -> anyhow::Result<Loaded> {
    let (file, text) = read(path)?;
    let env = |name: &str| std::env::var(name).ok();
    claw_spec::load(&file, &text, overrides, &env)
        .map_err(|problems| config_error(file, text, problems))
}

/// Loads and validates every stage of an agent.yaml (only `overrides.stage` when
/// set), from one read of the file.
pub fn load_config_stages(path: &Path, overrides: &Overrides) -> anyhow::Result<Vec<Loaded>> {
    let (file, text) = read(path)?;
    let env = |name: &str| std::env::var(name).ok();
    claw_spec::load_stages(&file, &text, overrides, &env)
        .map_err(|problems| config_error(file, text, problems))
}

fn config_error(file: String, source_text: String, problems: Vec<Diagnostic>) -> anyhow::Error {
    ConfigError {
        file,
        source_text,
        problems,
    }
    .into()
}

/// The file's name (for messages) and its text, refused when it cannot be agent.yaml.
fn read(path: &Path) -> anyhow::Result<(String, String)> {
    let file = path.display().to_string();
    let meta = std::fs::metadata(path).with_context(|| {
        format!("cannot read {file}: pass --config PATH, or run claw where agent.yaml is")
    })?;
    if meta.is_dir() {
        anyhow::bail!("{file} is a directory; --config takes the path of agent.yaml");
    }
    if meta.len() > MAX_FILE_BYTES {
        anyhow::bail!(
            "{file} is {} bytes; agent.yaml may be at most {} bytes (is this the right file?)",
            meta.len(),
            MAX_FILE_BYTES
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {file}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{file} is not UTF-8 text (invalid byte at offset {}); is it a binary file?",
            e.utf8_error().valid_up_to()
        )
    })?;
    if text.contains('\0') {
        anyhow::bail!("{file} contains NUL bytes; is it a binary file?");
    }
    Ok((file, text))
}
