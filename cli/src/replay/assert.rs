//! `tests/agents/NAME.yaml`: checks on a conversation beyond its replay — the
//! tools that must (or must not) be called, with input constraints, and the final
//! answer (contains, matches, a JSON schema). `claw test` runs them on the replay
//! of the recording the file names, or on a new conversation with `--live`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::Recording;
use super::schema;

/// One assertion file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// The recording checked; default: this file's name with `.json`.
    #[serde(default)]
    pub recording: Option<PathBuf>,
    /// With `--live`: the agent and message (default: the recording's).
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub tools: Vec<ToolRule>,
    #[serde(default)]
    pub answer: AnswerRule,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolRule {
    pub name: String,
    /// Keys the call's input must hold with these values (objects compared
    /// key by key, recursively; other keys may be there).
    #[serde(default)]
    pub input: Option<Value>,
    /// `false`: no call of this tool (with this input, if given) may happen.
    #[serde(default = "yes")]
    pub called: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerRule {
    /// Texts the answer must contain.
    #[serde(default)]
    pub contains: Vec<String>,
    /// A regular expression the answer must match (anywhere).
    #[serde(default)]
    pub matches: Option<String>,
    /// The answer is JSON (a ```json fence around it is allowed) valid under
    /// this JSON Schema (see `schema` for the keywords).
    #[serde(default)]
    pub schema: Option<Value>,
}

/// A rule that failed: where it is in the file, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub rule: String,
    pub message: String,
}

impl Checks {
    /// Reads and checks a file; errors name the file, line and key.
    pub fn read(path: &Path) -> anyhow::Result<Checks> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let node = claw_spec::yaml::load(&text)
            .map_err(|e| anyhow::anyhow!("{}:{}: {}", path.display(), e.mark, e.message))?;
        let (checks, errors) = claw_spec::yaml::from_node::<Checks>(&node);
        let mut problems: Vec<String> = errors
            .iter()
            .map(|e| {
                format!(
                    "{}:{}: {}: {}",
                    path.display(),
                    e.mark,
                    claw_spec::yaml::path_string(&e.subject()),
                    e.message
                )
            })
            .collect();
        if let Some(c) = &checks {
            if let Some(m) = &c.expect.answer.matches
                && let Err(e) = regex_lite::Regex::new(m)
            {
                problems.push(format!(
                    "{}: expect.answer.matches: not a regular expression: {e}",
                    path.display()
                ));
            }
            if let Some(s) = &c.expect.answer.schema
                && let Err(e) = schema::supported(s)
            {
                problems.push(format!("{}: expect.answer.schema: {e}", path.display()));
            }
        }
        match checks {
            Some(c) if problems.is_empty() => Ok(c),
            _ => anyhow::bail!("{}", problems.join("\n")),
        }
    }

    /// The recording this file checks.
    pub fn recording_path(&self, file: &Path) -> PathBuf {
        let dir = file.parent().unwrap_or(Path::new("."));
        match &self.recording {
            Some(p) => dir.join(p),
            None => file.with_extension("json"),
        }
    }

    /// Every rule the conversation breaks.
    pub fn check(&self, conversation: &Recording) -> Vec<Failure> {
        let mut failed = Vec::new();
        for (i, rule) in self.expect.tools.iter().enumerate() {
            let calls: Vec<&Value> = conversation
                .tools
                .iter()
                .filter(|t| t.name == rule.name)
                .map(|t| &t.input)
                .collect();
            let matching = calls
                .iter()
                .filter(|input| rule.input.as_ref().is_none_or(|want| holds(input, want)))
                .count();
            let with = rule
                .input
                .as_ref()
                .map(|w| format!(" with input {w}"))
                .unwrap_or_default();
            let message = match (rule.called, matching) {
                (true, 0) if calls.is_empty() => Some(format!("`{}` was not called", rule.name)),
                (true, 0) => Some(format!(
                    "`{}` was not called{with}; it was called with {}",
                    rule.name,
                    calls
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                (false, n) if n > 0 => Some(format!("`{}` was called{with} ({n}×)", rule.name)),
                _ => None,
            };
            if let Some(message) = message {
                failed.push(Failure {
                    rule: format!("expect.tools[{i}]"),
                    message,
                });
            }
        }
        let answer = &conversation.answer.response;
        let rule = &self.expect.answer;
        for (i, text) in rule.contains.iter().enumerate() {
            if !answer.contains(text.as_str()) {
                failed.push(Failure {
                    rule: format!("expect.answer.contains[{i}]"),
                    message: format!("the answer does not contain {text:?}"),
                });
            }
        }
        if let Some(m) = &rule.matches
            && let Ok(re) = regex_lite::Regex::new(m)
            && !re.is_match(answer)
        {
            failed.push(Failure {
                rule: "expect.answer.matches".into(),
                message: format!("the answer does not match /{m}/"),
            });
        }
        if let Some(s) = &rule.schema {
            let message = match serde_json::from_str::<Value>(unfenced(answer)) {
                Err(e) => Some(format!("the answer is not JSON: {e}")),
                Ok(v) => schema::validate(s, &v).err(),
            };
            if let Some(message) = message {
                failed.push(Failure {
                    rule: "expect.answer.schema".into(),
                    message,
                });
            }
        }
        failed
    }
}

/// Whether `input` holds `want`: objects key by key (recursively), anything
/// else equal.
fn holds(input: &Value, want: &Value) -> bool {
    match (input, want) {
        (Value::Object(i), Value::Object(w)) => {
            w.iter().all(|(k, v)| i.get(k).is_some_and(|x| holds(x, v)))
        }
        _ => input == want,
    }
}

/// The text inside one ```json … ``` fence, or the whole text.
fn unfenced(text: &str) -> &str {
    let t = text.trim();
    t.strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|r| r.strip_suffix("```"))
        .map_or(t, str::trim)
}

#[cfg(test)]
#[path = "assert_tests.rs"]
mod tests;
