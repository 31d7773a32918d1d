//! What `claw init` writes, rendered from the templates beside this file: pure
//! text, no I/O, so the tests read exactly what a user gets.

use std::path::{Path, PathBuf};

use claw_spec::{Config, Diagnostic, Loaded, Overrides};

/// The annotated agent.yaml, with `__APP__`-style placeholders.
const AGENT_YAML: &str = include_str!("agent.yaml");
/// The GitHub Actions workflow, with `__APP__`-style placeholders.
const WORKFLOW: &str = include_str!("claw.yml");

/// A recorded conversation with the example agent, for `claw test` to replay
/// (made against the mock model by the `agent_tests` end-to-end test, which also
/// proves it replays green against the agent.yaml above), and checks on it.
pub const EXAMPLE_RECORDING: &str = include_str!("example.json");
pub const EXAMPLE_CHECKS: &str = include_str!("example.yaml");
/// Where they go, relative to the directory.
pub const EXAMPLE_RECORDING_PATH: &str = "tests/agents/repository.json";
pub const EXAMPLE_CHECKS_PATH: &str = "tests/agents/repository.yaml";

/// Where the workflow goes, relative to the directory.
pub const WORKFLOW_PATH: &str = ".github/workflows/claw.yml";
/// Where the policy lockfile goes, relative to the directory (as `claw policy
/// write`'s default `--dir`).
pub const POLICIES_DIR: &str = "policies";
/// The line of `.gitignore` that keeps build output out of git.
pub const GITIGNORE_LINE: &str = "/.claw/";

/// The identity of a new agent.yaml: what `claw init` asks for.
#[derive(Debug, Clone, Default)]
pub struct Answers {
    pub app: String,
    pub stage: String,
    pub region: String,
    pub account: String,
}

/// The key of agent.yaml each answer becomes (and the flag that gives it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    App,
    Stage,
    Region,
    Account,
}

impl Field {
    pub const ALL: [Field; 4] = [Field::App, Field::Stage, Field::Region, Field::Account];

    pub fn key(self) -> &'static str {
        match self {
            Field::App => "app",
            Field::Stage => "stage",
            Field::Region => "region",
            Field::Account => "account",
        }
    }

    pub fn get(self, a: &Answers) -> &str {
        match self {
            Field::App => &a.app,
            Field::Stage => &a.stage,
            Field::Region => &a.region,
            Field::Account => &a.account,
        }
    }
}

/// The agent.yaml text for these answers.
pub fn agent_yaml(a: &Answers) -> String {
    AGENT_YAML
        .replace("__APP__", &a.app)
        .replace("__STAGE__", &a.stage)
        .replace("__REGION__", &a.region)
        .replace("__ACCOUNT__", &a.account)
}

/// The workflow for this config, pinned to this claw's version.
pub fn workflow(config: &Config) -> String {
    WORKFLOW
        .replace("__APP__", &config.app)
        .replace("__REGION__", &config.region)
        .replace("__VERSION__", env!("CARGO_PKG_VERSION"))
}

/// A new `.gitignore`.
pub fn gitignore() -> String {
    format!("# claw's build output (claw build, claw deploy)\n{GITIGNORE_LINE}\n")
}

/// Whether an existing `.gitignore` already keeps `.claw/` out of git.
pub fn gitignore_covers(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .any(|l| matches!(l, "/.claw/" | "/.claw" | ".claw/" | ".claw" | "/.claw/*"))
}

/// The lockfile's files, relative to the directory.
pub fn lockfile(config: &Config) -> Vec<(PathBuf, String)> {
    crate::ops::lockfile::files(config)
        .into_iter()
        .map(|(rel, text)| (Path::new(POLICIES_DIR).join(rel), text))
        .collect()
}

/// Why the answers do not make a valid agent.yaml.
#[derive(Debug)]
pub struct Rejected {
    /// The problems with each answer.
    pub fields: Vec<(Field, String)>,
    /// Any others (a template that no longer validates: a bug, reported as is).
    pub others: Vec<Diagnostic>,
}

/// Loads the rendered agent.yaml as `claw validate` would.
pub fn check(a: &Answers) -> Result<Loaded, Rejected> {
    // Every valid value is letters, digits and hyphens; anything else could change
    // the YAML around it.
    let unsafe_chars: Vec<(Field, String)> = Field::ALL
        .into_iter()
        .filter(|f| {
            !f.get(a)
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(|f| {
            (
                f,
                format!(
                    "`{}` is not a valid {}: use letters, digits and hyphens",
                    f.get(a).escape_debug(),
                    f.key()
                ),
            )
        })
        .collect();
    if !unsafe_chars.is_empty() {
        return Err(Rejected {
            fields: unsafe_chars,
            others: Vec::new(),
        });
    }
    let text = agent_yaml(a);
    let loaded = claw_spec::load("agent.yaml", &text, &Overrides::default(), &|_| None);
    let mut fields = Vec::new();
    let mut others = Vec::new();
    match loaded {
        Ok(loaded) => {
            // A value that changed the document's shape (a newline, a quote, a
            // `#`) loads as something else than what was typed: refuse it.
            let c = &loaded.config;
            for (f, got) in [
                (Field::App, &c.app),
                (Field::Stage, &c.stage),
                (Field::Region, &c.region),
                (Field::Account, &c.account),
            ] {
                if got != f.get(a) {
                    fields.push((f, format!("`{}` is not a valid {}", f.get(a), f.key())));
                }
            }
            if fields.is_empty() {
                return Ok(loaded);
            }
        }
        Err(problems) => {
            for p in problems {
                match Field::ALL.into_iter().find(|f| p.path == f.key()) {
                    Some(f) => fields.push((f, p.message)),
                    None => others.push(p),
                }
            }
        }
    }
    Err(Rejected { fields, others })
}
