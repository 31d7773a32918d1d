//! The cases under `tests/agents/`: each recording (`NAME.json`) is a case,
//! and an assertion file (`NAME.yaml`) adds its checks to the case of the
//! recording it names, or is a case of its own (run with `--live`) when that
//! recording does not exist.

use std::path::{Path, PathBuf};

use crate::replay::Recording;
use crate::replay::assert::Checks;

pub struct Case {
    pub name: String,
    /// The recording file, whether or not it exists yet.
    pub recording_path: PathBuf,
    pub recording: Option<Recording>,
    pub checks: Option<(PathBuf, Checks)>,
}

impl Case {
    /// The event a live run sends: the checks' agent and message, else the
    /// recording's.
    pub fn live_event(&self) -> anyhow::Result<serde_json::Value> {
        let checks = self.checks.as_ref().map(|(_, c)| c);
        let recorded = self.recording.as_ref().map(|r| &r.event);
        let agent = checks
            .and_then(|c| c.agent.clone())
            .or_else(|| recorded.and_then(|e| e["agent"].as_str().map(String::from)));
        let message = checks
            .and_then(|c| c.message.clone())
            .or_else(|| recorded.and_then(|e| e["message"].as_str().map(String::from)));
        match (agent, message) {
            (Some(a), Some(m)) => Ok(serde_json::json!({"agent": a, "message": m})),
            _ => anyhow::bail!(
                "{}: no recording to take the agent and message from: give `agent:` and `message:`",
                self.checks
                    .as_ref()
                    .map_or(self.name.clone(), |(p, _)| p.display().to_string())
            ),
        }
    }
}

/// Every case in `dir`, by name; `only` keeps the named ones. Files that cannot be
/// read are errors naming them: a broken case is never skipped quietly.
pub fn find(dir: &Path, only: &[String]) -> anyhow::Result<Vec<Case>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e}. Record a case with `claw invoke --local --record {}/NAME.json -m TEXT`",
            dir.display(),
            dir.display()
        )
    })?;
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    let mut cases: Vec<Case> = Vec::new();
    let mut problems = Vec::new();
    for path in files.iter().filter(|p| ext(p) == "json") {
        match Recording::read(path) {
            Ok(r) => cases.push(Case {
                name: stem(path),
                recording_path: path.clone(),
                recording: Some(r),
                checks: None,
            }),
            Err(e) => problems.push(e.to_string()),
        }
    }
    for path in files
        .iter()
        .filter(|p| matches!(ext(p).as_str(), "yaml" | "yml"))
    {
        let checks = match Checks::read(path) {
            Ok(c) => c,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        let recording_path = checks.recording_path(path);
        match cases
            .iter_mut()
            .find(|c| c.recording_path == recording_path)
        {
            Some(c) if c.checks.is_some() => problems.push(format!(
                "{}: {} already has checks in another file",
                path.display(),
                recording_path.display()
            )),
            Some(c) => c.checks = Some((path.clone(), checks)),
            None => cases.push(Case {
                name: stem(path),
                recording_path,
                recording: None,
                checks: Some((path.clone(), checks)),
            }),
        }
    }
    if !problems.is_empty() {
        anyhow::bail!("{}", problems.join("\n"));
    }
    for name in only {
        if !cases.iter().any(|c| &c.name == name) {
            anyhow::bail!(
                "no case `{name}` in {} (cases: {})",
                dir.display(),
                cases
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    cases.retain(|c| only.is_empty() || only.contains(&c.name));
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cases)
}

fn ext(p: &Path) -> String {
    p.extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_string()
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_string()
}
