//! claw-spec: the agent.yaml model, its validation, the tool catalog and IAM policy
//! generation. Pure: no AWS SDK and no I/O beyond parsing text handed to it, so the
//! CLI and the Lambda function share one definition of what an agent may do.

pub mod bedrock;
pub mod ci;
pub mod eval;
pub mod iam;
pub mod limits;
pub mod lint;
pub mod llm;
pub mod model;
pub mod names;
pub mod net;
pub mod policy;
pub mod policy_apigw;
pub mod policy_diff;
pub mod policy_url;
pub mod pricing;
mod resolve;
pub mod rollout;
mod rules;
pub mod sse;
pub mod stages;
pub mod storage;
pub mod tools;
pub mod url;
pub mod validate;
pub mod yaml;

use std::fmt::Write as _;

pub use model::{Config, RawConfig};
pub use names::Names;
pub use validate::Severity;

use yaml::{Mark, Node, PathSeg, Value, path_string};

/// A located problem in agent.yaml.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The key path, such as `tools.get_lead.url` (empty for the whole file).
    pub path: String,
    pub message: String,
}

impl Diagnostic {
    /// `file:line:column: error: path: message`, the form editors and CI annotate.
    pub fn headline(&self) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        if self.path.is_empty() {
            format!(
                "{}:{}:{}: {sev}: {}",
                self.file, self.line, self.column, self.message
            )
        } else {
            format!(
                "{}:{}:{}: {sev}: {}: {}",
                self.file, self.line, self.column, self.path, self.message
            )
        }
    }

    /// The headline plus the source line with a caret under the column.
    pub fn render(&self, source: &str) -> String {
        let mut out = self.headline();
        if let Some(line) = source.lines().nth(self.line.saturating_sub(1)) {
            let line: String = mask_secrets(line).chars().take(160).collect();
            let gutter = self.line.to_string();
            let pad = " ".repeat(gutter.len());
            let _ = write!(
                out,
                "\n{pad} |\n{gutter} | {line}\n{pad} | {}^",
                " ".repeat(self.column.saturating_sub(1).min(160))
            );
        }
        out
    }
}

/// A source line with every value that looks like a secret replaced by `*`s of
/// the same length (so the caret still points at it): a diagnostic about a key
/// pasted into agent.yaml must not print the key again.
pub fn mask_secrets(line: &str) -> String {
    let mut out: Vec<char> = line.chars().collect();
    let is_delim = |c: char| c.is_whitespace() || "\"',{}[]".contains(c);
    // Each token, and the whole value after `key: ` (a secret may hold spaces).
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in out.iter().enumerate() {
        match (is_delim(*c), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, out.len()));
    }
    if let Some(colon) = line.find(": ") {
        let from = line[..colon + 2].chars().count();
        spans.push((from, out.len()));
    }
    for (s, e) in spans {
        let text: String = out[s..e].iter().collect();
        if validate::looks_like_secret(text.trim_matches(|c: char| is_delim(c))).is_some() {
            for c in &mut out[s..e] {
                if !c.is_whitespace() {
                    *c = '*';
                }
            }
        }
    }
    out.into_iter().collect()
}

/// What the caller may override from the command line.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub stage: Option<String>,
    pub region: Option<String>,
}

/// A valid config, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Keys whose values name secrets: `${env:…}` is refused there, so a secret's
/// identity can never be swapped by whoever controls the CI environment.
fn interpolation_forbidden(path: &[PathSeg]) -> bool {
    let keys: Vec<&str> = path
        .iter()
        .filter_map(|s| match s {
            PathSeg::Key(k) => Some(k.as_str()),
            PathSeg::Index(_) => None,
        })
        .collect();
    // A stage's overrides name the same keys under `stages.<name>`.
    let keys = match keys.as_slice() {
        ["stages", _, rest @ ..] => rest,
        all => all,
    };
    matches!(keys, ["model", "api_key_secret"] | ["secrets"])
        || (keys.first() == Some(&"tools") && keys.get(2) == Some(&"auth"))
}

fn interpolate(
    node: &mut Node,
    path: &mut Vec<PathSeg>,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut Vec<(Vec<PathSeg>, Mark, String)>,
) {
    match &mut node.value {
        Value::Str(s) if s.contains("${") => {
            if interpolation_forbidden(path) {
                out.push((
                    path.clone(),
                    node.mark,
                    "`${env:…}` is not allowed in keys that name secrets; write the name itself"
                        .into(),
                ));
                return;
            }
            let mut result = String::new();
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                result.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let Some(end) = after.find('}') else {
                    out.push((path.clone(), node.mark, "`${` is not closed by `}`".into()));
                    return;
                };
                let expr = &after[..end];
                let Some(var) = expr.strip_prefix("env:") else {
                    out.push((
                        path.clone(),
                        node.mark,
                        format!("`${{{expr}}}` is not supported; only `${{env:NAME}}` is"),
                    ));
                    return;
                };
                match env(var) {
                    Some(v) => result.push_str(&v),
                    None => {
                        out.push((
                            path.clone(),
                            node.mark,
                            format!("the environment variable `{var}` is not set"),
                        ));
                        return;
                    }
                }
                rest = &after[end + 1..];
            }
            result.push_str(rest);
            *s = result;
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(PathSeg::Index(i));
                interpolate(item, path, env, out);
                path.pop();
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                if let Value::Str(name) = &k.value {
                    path.push(PathSeg::Key(name.clone()));
                    interpolate(v, path, env, out);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

/// Parses and validates agent.yaml text for one stage: `overrides.stage`, else the
/// file's `stage:`; with `stages:` in the file, that stage's overrides are merged
/// in first. `file` is only used in messages; `env` answers `${env:NAME}`
/// look-ups. Returns every problem found, errors first.
pub fn load(
    file: &str,
    source: &str,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, Vec<Diagnostic>> {
    let diag = |severity, mark: Mark, path: &[PathSeg], message: String| Diagnostic {
        severity,
        file: file.to_string(),
        line: mark.line,
        column: mark.column,
        path: path_string(path),
        message,
    };
    let root =
        yaml::load(source).map_err(|e| vec![diag(Severity::Error, e.mark, &[], e.message)])?;
    if !matches!(root.value, Value::Map(_)) {
        let what = if root.value == Value::Null {
            "the file is empty".to_string()
        } else {
            format!("the file holds {}", root.value.type_name())
        };
        return Err(vec![diag(
            Severity::Error,
            root.mark,
            &[],
            format!(
                "{what}; agent.yaml must be a mapping with at least `app`, `stage`, `region`, `account`, `model` and `agents`"
            ),
        )]);
    }
    let mut problems = Vec::new();
    let (stages, stage_problems) = stages::read(&root);
    for p in stage_problems {
        problems.push(diag(Severity::Error, p.mark, &p.path, p.message));
    }
    let selected = match &stages {
        // `read` reported that it names no stage.
        Some(s) if s.names.is_empty() => return Err(problems),
        Some(s) => match stages::select(s, &root, overrides.stage.as_deref()) {
            Ok(name) => Some(name),
            Err(p) => {
                problems.push(diag(Severity::Error, p.mark, &p.path, p.message));
                problems.sort_by_key(|d| (d.line, d.column));
                return Err(problems);
            }
        },
        None => None,
    };
    // Only the selected stage's overrides are read further: another stage's
    // `${env:…}` need not be set to deploy this one.
    let (mut root, attribution) = stages::merge(&root, selected.as_deref());
    let mut interp = Vec::new();
    interpolate(&mut root, &mut Vec::new(), env, &mut interp);
    // Where a finding about the merged config was written: in the selected stage's
    // overrides when they set it, else where the base file has it.
    let source_of = |path: &[PathSeg], mark: Mark| -> (Vec<PathSeg>, Mark) {
        match attribution.as_ref().and_then(|a| a.source(path)) {
            Some((p, m)) => (p, m.unwrap_or(mark)),
            None => (path.to_vec(), mark),
        }
    };
    let located = |severity, mark: Mark, path: &[PathSeg], message: String| {
        let (path, mark) = source_of(path, mark);
        diag(severity, mark, &path, message)
    };
    for (path, mark, message) in interp {
        problems.push(located(Severity::Error, mark, &path, message));
        root.remove(&path);
    }
    let (config, de_errors) = yaml::from_node::<RawConfig>(&root);
    // What each problem is about; validation findings there are not reported twice
    // (a missing key was filled with an empty stand-in, a bad value dropped).
    let reported: Vec<Vec<PathSeg>> = de_errors.iter().map(|e| e.subject()).collect();
    for e in de_errors {
        // A missing key is reported at the key of the mapping that lacks it.
        let mark = if e.missing_key().is_some() && !e.path.is_empty() {
            root.locate_key(&e.path)
        } else {
            e.mark
        };
        problems.push(located(Severity::Error, mark, &e.path, e.message));
    }
    let Some(mut config) = config else {
        problems.sort_by_key(|d| (d.line, d.column));
        return Err(problems);
    };
    if let Some(stage) = &overrides.stage {
        config.stage = stage.clone();
    }
    if let Some(region) = &overrides.region {
        config.region = region.clone();
    }
    let mut warnings = Vec::new();
    // A finding, located in the file, goes to the errors or the warnings.
    let place =
        |f: validate::Finding, errors: &mut Vec<Diagnostic>, warnings: &mut Vec<Diagnostic>| {
            let mark = if f.path.is_empty() {
                root.mark
            } else if f.at_key {
                root.locate_key(&f.path)
            } else {
                root.locate(&f.path)
            };
            let d = located(f.severity, mark, &f.path, f.message);
            match f.severity {
                Severity::Error => errors.push(d),
                Severity::Warning | Severity::Note => warnings.push(d),
            }
        };
    for f in validate::check(&config) {
        // A value already reported as malformed was dropped; do not report it twice.
        if reported
            .iter()
            .any(|r| f.path.starts_with(r) || r.starts_with(&f.path) && f.path.len() > 1)
        {
            continue;
        }
        place(f, &mut problems, &mut warnings);
    }
    if problems.is_empty() {
        match config.validated() {
            Some(config) => {
                // Limits on what claw generates from the file need the typed config.
                let mut sized = Vec::new();
                for f in validate::sizes::check(&config) {
                    place(f, &mut sized, &mut warnings);
                }
                if sized.is_empty() {
                    Ok(Loaded { config, warnings })
                } else {
                    Err(sized)
                }
            }
            // Validation reports every key a tool's kind requires; this is a guard.
            None => Err(vec![diag(
                Severity::Error,
                root.mark,
                &[],
                "a tool lacks a key its kind requires".into(),
            )]),
        }
    } else {
        problems.sort_by_key(|d| (d.line, d.column));
        Err(problems)
    }
}

/// Every stage's config, for checks that cover the whole file (`claw validate`,
/// the policy lockfiles): only the selected one when `overrides.stage` is set,
/// else the default stage and every stage under `stages:`, in file order. A
/// problem several stages share is reported once; one that only another stage
/// than the default has, at a place that stage did not override, names the stage.
pub fn load_stages(
    file: &str,
    source: &str,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Loaded>, Vec<Diagnostic>> {
    let first = load(file, source, overrides, env);
    let root = yaml::load(source).ok();
    let listed = root.as_ref().and_then(|r| stages::read(r).0);
    let (Some(root), Some(listed), None) = (root, listed, &overrides.stage) else {
        return first.map(|l| vec![l]);
    };
    let default = match root.get("stage").map(|n| &n.value) {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let outcome = |r: &Result<Loaded, Vec<Diagnostic>>| match r {
        Ok(l) => l.warnings.clone(),
        Err(e) => e.clone(),
    };
    let base: Vec<Diagnostic> = outcome(&first);
    let mut results = vec![first];
    for (name, _) in &listed.names {
        if Some(name) == default.as_ref() {
            continue;
        }
        let stage = Overrides {
            stage: Some(name.clone()),
            region: overrides.region.clone(),
        };
        let mut r = load(file, source, &stage, env);
        // Only meaningful when the default stage could be loaded as one of them.
        let compared = default.as_ref().is_some_and(|d| listed.contains(d));
        let name_stage = |d: &mut Diagnostic| {
            if compared && !d.path.starts_with("stages.") && !base.contains(d) {
                d.message.push_str(&format!(" (with stage `{name}`)"));
            }
        };
        match &mut r {
            Ok(l) => l.warnings.iter_mut().for_each(name_stage),
            Err(e) => e.iter_mut().for_each(name_stage),
        }
        results.push(r);
    }
    let mut errors: Vec<Diagnostic> = Vec::new();
    let mut seen: Vec<Diagnostic> = Vec::new();
    let mut loaded = Vec::new();
    for r in results {
        match r {
            Ok(mut l) => {
                l.warnings.retain(|w| !seen.contains(w));
                seen.extend(l.warnings.iter().cloned());
                loaded.push(l);
            }
            Err(e) => {
                for d in e {
                    if !seen.contains(&d) {
                        seen.push(d.clone());
                        errors.push(d);
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        errors.sort_by_key(|d| (d.line, d.column));
        Err(errors)
    }
}

/// The JSON Schema of agent.yaml, for editors' YAML language servers. `stages` is
/// not a field of the config (the loader merges it away), so it is added here.
pub fn json_schema() -> serde_json::Value {
    let mut generator = schemars::SchemaGenerator::default();
    let stages =
        generator.subschema_for::<std::collections::BTreeMap<String, stages::StageOverride>>();
    let schema = generator.into_root_schema_for::<RawConfig>();
    let mut value = serde_json::to_value(schema).unwrap_or(serde_json::Value::Null);
    let mut stages = serde_json::to_value(stages).unwrap_or(serde_json::Value::Null);
    if let Some(obj) = stages.as_object_mut() {
        obj.insert(
            "description".into(),
            "Per-stage overrides, by stage name. When present, the selected stage (`stage:` or `--stage`) must be one of them; its values are merged over the top-level ones.".into(),
        );
    }
    if let Some(props) = value.get_mut("properties").and_then(|p| p.as_object_mut()) {
        props.insert("stages".into(), stages);
    }
    value
}
