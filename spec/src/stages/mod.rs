//! `stages:`: per-stage overrides in agent.yaml. The selected stage's overrides are
//! merged into the located tree before it is deserialized, and every node an
//! override brings keeps its own position, so a problem it causes is reported at
//! the override (`stages.prod.function.memory_mb`, its line and column) rather
//! than at the base value it replaced.
//!
//! Merging is deep for mappings (a stage's `function: {memory_mb: 1024}` keeps the
//! other `function` keys; `tags` merge key by key); a scalar or a list replaces.

mod schema;

pub use schema::StageOverride;

use crate::yaml::{Mark, Node, PathSeg, Value, suggest};

/// The top-level keys a stage may override (`api` only through `api.throttle`).
pub const OVERRIDABLE: &[&str] = &[
    "account", "region", "function", "model", "api", "alarms", "rollout", "tags",
];
/// The keys of `api` a stage may override.
const API_OVERRIDABLE: &[&str] = &["throttle"];

/// A problem with `stages:` itself, at a position in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub path: Vec<PathSeg>,
    pub mark: Mark,
    pub message: String,
}

/// The stages a file declares, in file order, each with its name's position.
#[derive(Debug, Clone, PartialEq)]
pub struct Stages {
    pub names: Vec<(String, Mark)>,
    /// Where the `stages` key itself is.
    pub mark: Mark,
}

impl Stages {
    fn listed(&self) -> String {
        self.names
            .iter()
            .map(|(n, _)| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn did_you_mean(&self, name: &str) -> String {
        let names: Vec<&str> = self.names.iter().map(|(n, _)| n.as_str()).collect();
        suggest(name, &names).map_or_else(String::new, |s| format!("; did you mean `{s}`?"))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|(n, _)| n == name)
    }
}

fn key(path: &[&str]) -> Vec<PathSeg> {
    path.iter()
        .map(|k| PathSeg::Key((*k).to_string()))
        .collect()
}

/// Reads `stages:` from the root mapping: None when the file has none. The problems
/// are its shape (a mapping of stage names to mappings) and keys a stage may not
/// override; every stage is checked, selected or not.
pub fn read(root: &Node) -> (Option<Stages>, Vec<Problem>) {
    let mut problems = Vec::new();
    let Value::Map(entries) = &root.value else {
        return (None, problems);
    };
    let Some((stages_key, stages)) = entries
        .iter()
        .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "stages"))
    else {
        return (None, problems);
    };
    let Value::Map(stage_entries) = &stages.value else {
        problems.push(Problem {
            path: key(&["stages"]),
            mark: stages.mark,
            message: format!(
                "expected a mapping from stage name to overrides, found {}",
                stages.value.type_name()
            ),
        });
        return (None, problems);
    };
    let mut found = Stages {
        names: Vec::new(),
        mark: stages_key.mark,
    };
    for (name, body) in stage_entries {
        let Value::Str(name_s) = &name.value else {
            problems.push(Problem {
                path: key(&["stages"]),
                mark: name.mark,
                message: format!(
                    "a stage name must be a string, found {}",
                    name.value.type_name()
                ),
            });
            continue;
        };
        found.names.push((name_s.clone(), name.mark));
        check_body(name_s, body, &mut problems);
    }
    if found.names.is_empty() && problems.is_empty() {
        problems.push(Problem {
            path: key(&["stages"]),
            mark: stages_key.mark,
            message: "`stages` names no stage: list at least the default stage, or remove it"
                .into(),
        });
    }
    (Some(found), problems)
}

/// One stage's overrides: a mapping (or nothing) of the keys a stage may override.
fn check_body(stage: &str, body: &Node, problems: &mut Vec<Problem>) {
    let entries = match &body.value {
        Value::Map(entries) => entries,
        Value::Null => return,
        other => {
            problems.push(Problem {
                path: key(&["stages", stage]),
                mark: body.mark,
                message: format!(
                    "expected a mapping of the keys stage `{stage}` overrides, found {}",
                    other.type_name()
                ),
            });
            return;
        }
    };
    let allowed = format!(
        "a stage may override {}, and `api.throttle`",
        OVERRIDABLE
            .iter()
            .filter(|k| **k != "api")
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (k, v) in entries {
        let Value::Str(name) = &k.value else { continue };
        if !OVERRIDABLE.contains(&name.as_str()) {
            let mut message = format!("`{name}` cannot differ between stages; {allowed}");
            if let Some(s) = suggest(name, OVERRIDABLE) {
                message.push_str(&format!("; did you mean `{s}`?"));
            }
            problems.push(Problem {
                path: key(&["stages", stage, name]),
                mark: k.mark,
                message,
            });
            continue;
        }
        if name == "api"
            && let Value::Map(api) = &v.value
        {
            for (ak, _) in api {
                let Value::Str(aname) = &ak.value else {
                    continue;
                };
                if API_OVERRIDABLE.contains(&aname.as_str()) {
                    continue;
                }
                let mut message = format!(
                    "`api.{aname}` cannot differ between stages; within `api` a stage may override only `throttle`"
                );
                if let Some(s) = suggest(aname, API_OVERRIDABLE) {
                    message.push_str(&format!("; did you mean `{s}`?"));
                }
                problems.push(Problem {
                    path: key(&["stages", stage, "api", aname]),
                    mark: ak.mark,
                    message,
                });
            }
        }
    }
}

/// Checks that the selected stage is one of `stages`: `requested` is `--stage`,
/// else the file's own `stage:` (when it is a string; deserialization reports it
/// otherwise). Returns the stage to merge.
pub fn select(stages: &Stages, root: &Node, requested: Option<&str>) -> Result<String, Problem> {
    if let Some(name) = requested {
        if stages.contains(name) {
            return Ok(name.to_string());
        }
        return Err(Problem {
            path: key(&["stages"]),
            mark: stages.mark,
            message: format!(
                "--stage `{name}` is not one of the stages in `stages`: {}{}",
                stages.listed(),
                stages.did_you_mean(name)
            ),
        });
    }
    let Some(node) = root.get("stage") else {
        return Err(Problem {
            path: Vec::new(),
            mark: root.mark,
            message: "missing key `stage` (the default stage, one of `stages`)".into(),
        });
    };
    match &node.value {
        Value::Str(name) if stages.contains(name) => Ok(name.clone()),
        Value::Str(name) => Err(Problem {
            path: key(&["stage"]),
            mark: node.mark,
            message: format!(
                "the default stage `{name}` is not one of the stages in `stages`: {}{}",
                stages.listed(),
                stages.did_you_mean(name)
            ),
        }),
        other => Err(Problem {
            path: key(&["stage"]),
            mark: node.mark,
            message: format!("expected a string, found {}", other.type_name()),
        }),
    }
}

/// Which stage's overrides a merged tree carries, and which of its paths they set.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    pub stage: String,
    /// The position of the stage's name under `stages`.
    pub name_mark: Mark,
    /// Paths (in the merged config) whose value came from the override.
    overridden: Vec<Vec<PathSeg>>,
}

impl Attribution {
    /// Where a finding at `path` of the merged config was written: under
    /// `stages.<stage>` when the override set it (or a value above it), and the
    /// stage's name for the `stage` key itself. None when the base file set it.
    pub fn source(&self, path: &[PathSeg]) -> Option<(Vec<PathSeg>, Option<Mark>)> {
        let prefix = key(&["stages", &self.stage]);
        if path == key(&["stage"]).as_slice() {
            return Some((prefix, Some(self.name_mark)));
        }
        self.overridden
            .iter()
            .any(|o| path.starts_with(o))
            .then(|| {
                (
                    prefix.into_iter().chain(path.iter().cloned()).collect(),
                    None,
                )
            })
    }
}

/// The tree to deserialize: `root` without `stages`, with the overrides of `stage`
/// (which must be one of them) merged in. Without a stage, only `stages` goes.
pub fn merge(root: &Node, stage: Option<&str>) -> (Node, Option<Attribution>) {
    let mut merged = root.clone();
    let mut over = None;
    if let Value::Map(entries) = &mut merged.value
        && let Some(i) = entries
            .iter()
            .position(|(k, _)| matches!(&k.value, Value::Str(s) if s == "stages"))
    {
        let (_, stages) = entries.remove(i);
        over = stage.and_then(|name| {
            let Value::Map(list) = stages.value else {
                return None;
            };
            list.into_iter()
                .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == name))
                .map(|(k, v)| (name.to_string(), k.mark, v))
        });
    }
    let Some((stage, name_mark, body)) = over else {
        return (merged, None);
    };
    let mut overridden = Vec::new();
    deep_merge(
        &mut merged,
        allowed_only(body),
        &mut Vec::new(),
        &mut overridden,
    );
    (
        merged,
        Some(Attribution {
            stage,
            name_mark,
            overridden,
        }),
    )
}

/// A stage's overrides without the keys a stage may not override ([`read`] reports
/// those), so they cannot cause a second report.
fn allowed_only(mut body: Node) -> Node {
    if let Value::Map(entries) = &mut body.value {
        entries.retain(
            |(k, _)| matches!(&k.value, Value::Str(s) if OVERRIDABLE.contains(&s.as_str())),
        );
        for (k, v) in entries.iter_mut() {
            if matches!(&k.value, Value::Str(s) if s == "api")
                && let Value::Map(api) = &mut v.value
            {
                api.retain(|(ak, _)| {
                    matches!(&ak.value, Value::Str(s) if API_OVERRIDABLE.contains(&s.as_str()))
                });
            }
        }
    }
    body
}

/// Merges mapping `over` into mapping `base`: mappings on both sides merge, anything
/// else replaces (key and value, so both keep the override's position).
fn deep_merge(
    base: &mut Node,
    over: Node,
    path: &mut Vec<PathSeg>,
    overridden: &mut Vec<Vec<PathSeg>>,
) {
    let (Value::Map(base_entries), Value::Map(over_entries)) = (&mut base.value, over.value) else {
        return;
    };
    for (k, v) in over_entries {
        let Value::Str(name) = &k.value else { continue };
        path.push(PathSeg::Key(name.clone()));
        let existing = base_entries
            .iter_mut()
            .find(|(bk, _)| matches!(&bk.value, Value::Str(s) if s == name));
        match existing {
            Some((_, bv))
                if matches!(bv.value, Value::Map(_)) && matches!(v.value, Value::Map(_)) =>
            {
                deep_merge(bv, v, path, overridden);
            }
            Some(entry) => {
                *entry = (k, v);
                overridden.push(path.clone());
            }
            None => {
                base_entries.push((k, v));
                overridden.push(path.clone());
            }
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests;
