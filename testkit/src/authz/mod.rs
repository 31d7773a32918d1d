//! What IAM authorizes for each AWS call claw makes, so a test can check recorded
//! calls against a generated policy (moto does not enforce IAM).
//!
//! The operation → authorization map is data: `testkit/authz/operations.json`,
//! with the Service Authorization Reference page it follows for each service. Per
//! operation it names the IAM actions AWS evaluates (the operation's own and the
//! ones it implies, such as `iam:PassRole` for CreateFunction), the resource ARN
//! of each, built from the request, and the condition keys whose values the
//! request carries. [`Authorizer::authorizations`] turns one [`Recorded`]
//! request into those [`Authorization`]s; an operation missing from the map is an
//! error that names it.
//!
//! Requests come from any recorder: [`Recorded`] is method, service, path, query,
//! operation and body, and `From<&moto::Call>` fills it from moto's recorder.

mod template;

pub mod simulate;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::moto::Call;
use template::{Source, Vars};

/// The map, as committed.
const OPERATIONS: &str = include_str!("../../authz/operations.json");

/// One recorded AWS request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    /// The signing name of the service (`iam`, `lambda`, `apigateway`, `monitoring`, …).
    pub service: String,
    /// The request path, percent-encoded as sent.
    pub path: String,
    /// The query string without `?`.
    pub query: String,
    /// The RPC operation (`CreateRole`), or `METHOD /path` for REST services.
    pub operation: String,
    /// The body as text.
    pub body: String,
}

impl From<&Call> for Recorded {
    fn from(c: &Call) -> Recorded {
        Recorded {
            method: c.method.clone(),
            service: c.service.clone(),
            path: c.path.clone(),
            query: c.query.clone(),
            operation: c.action.clone(),
            body: c.body.clone(),
        }
    }
}

impl std::fmt::Display for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.service, self.operation)
    }
}

/// Who is expected to make a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// The CI role with the deployer policy.
    Deployer,
    /// An administrator only: the deployer policy must refuse it (creating,
    /// versioning or deleting the permissions boundary).
    Administrator,
}

/// One authorization IAM evaluates for a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    /// The operation it belongs to (`lambda CreateFunction`).
    pub operation: String,
    pub action: String,
    pub resource: String,
    /// Condition keys (lower-cased, as `claw_spec::eval` stores them) and values.
    pub context: BTreeMap<String, Vec<String>>,
    /// The keys of `context` that are multivalued.
    pub multivalued: Vec<String>,
    pub by: Principal,
}

impl Authorization {
    /// The request for `claw_spec::eval`.
    pub fn eval_request(&self) -> claw_spec::eval::Request {
        claw_spec::eval::Request {
            action: self.action.clone(),
            resource: self.resource.clone(),
            context: self.context.clone(),
            multivalued: self.multivalued.clone(),
        }
    }
}

impl std::fmt::Display for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.action, self.resource)?;
        if !self.context.is_empty() {
            let ctx: Vec<String> = self
                .context
                .iter()
                .map(|(k, v)| format!("{k}={}", v.join(",")))
                .collect();
            write!(f, " with {}", ctx.join(" "))?;
        }
        write!(f, " (for {})", self.operation)
    }
}

/// What the resource templates may name besides the request: `{fact:partition}`,
/// `{fact:region}`, `{fact:account}`, `{fact:boundary_arn}`, and the tags claw gives
/// everything it creates (for `"resource_tags": "stack"`).
#[derive(Debug, Clone)]
pub struct Facts {
    pub values: BTreeMap<String, String>,
    pub stack_tags: BTreeMap<String, String>,
}

impl Facts {
    pub fn new(names: &claw_spec::Names, stack_tags: BTreeMap<String, String>) -> Facts {
        let values = [
            ("partition", names.partition().to_string()),
            ("region", names.region.clone()),
            ("account", names.account.clone()),
            ("boundary_arn", names.boundary_arn()),
            ("function_arn", names.function_arn()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Facts { values, stack_tags }
    }
}

/// The loaded map.
pub struct Authorizer {
    operations: Vec<Operation>,
}

struct Operation {
    service: String,
    name: String,
    /// For REST services: the method and the path template (`/v2/apis/{apiId}`).
    request: Option<(String, Vec<String>)>,
    authorize: Vec<Value>,
}

impl Default for Authorizer {
    fn default() -> Self {
        Authorizer::load()
    }
}

impl Authorizer {
    /// Loads `testkit/authz/operations.json`; panics on a malformed entry.
    pub fn load() -> Authorizer {
        let doc: Value = serde_json::from_str(OPERATIONS)
            .unwrap_or_else(|e| panic!("testkit/authz/operations.json: {e}"));
        let services = doc["services"].as_object().expect("a services object");
        let operations = doc["operations"]
            .as_array()
            .expect("an operations array")
            .iter()
            .map(|op| {
                let service = op["service"].as_str().expect("service").to_string();
                assert!(
                    services.contains_key(&service),
                    "operations.json: {service} has no entry (and source page) under services"
                );
                let name = op["operation"].as_str().expect("operation").to_string();
                let request = op["request"].as_str().map(|r| {
                    let (m, p) = r.split_once(' ').expect("request is `METHOD /path`");
                    (m.to_string(), segments(p))
                });
                let authorize = op["authorize"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{service} {name}: no authorize list"))
                    .clone();
                Operation {
                    service,
                    name,
                    request,
                    authorize,
                }
            })
            .collect();
        Authorizer { operations }
    }

    /// The map's entries, as `service operation`.
    pub fn operation_names(&self) -> Vec<String> {
        self.operations
            .iter()
            .map(|o| format!("{} {}", o.service, o.name))
            .collect()
    }

    /// The authorizations IAM evaluates for `req`, or an error naming an operation
    /// the map does not have.
    pub fn authorizations(
        &self,
        req: &Recorded,
        facts: &Facts,
    ) -> Result<Vec<Authorization>, String> {
        let (op, path_vars) = self.find(req).ok_or_else(|| {
            format!(
                "unmapped AWS call: {} {} (path {}): add its IAM authorization to testkit/authz/operations.json",
                req.service, req.operation, req.path
            )
        })?;
        let vars = Vars::new(req, path_vars, facts);
        let label = format!("{} {}", op.service, op.name);
        let mut out = Vec::new();
        for spec in &op.authorize {
            out.extend(authorize(spec, &vars, facts, &label).map_err(|e| format!("{label}: {e}"))?);
        }
        Ok(out)
    }

    fn find(&self, req: &Recorded) -> Option<(&Operation, BTreeMap<String, String>)> {
        let path = segments(&req.path);
        self.operations.iter().find_map(|op| {
            if op.service != req.service {
                return None;
            }
            match &op.request {
                None => (op.name == req.operation)
                    .then(BTreeMap::new)
                    .map(|v| (op, v)),
                Some((method, template)) => {
                    if *method != req.method || template.len() != path.len() {
                        return None;
                    }
                    let mut vars = BTreeMap::new();
                    for (t, p) in template.iter().zip(&path) {
                        match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                            Some(name) => {
                                vars.insert(name.to_string(), template::percent_decode(p));
                            }
                            None if t == p => {}
                            None => return None,
                        }
                    }
                    Some((op, vars))
                }
            }
        })
    }
}

/// A path's segments, ignoring a trailing `/`.
fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// One `authorize` entry, expanded (several authorizations with `each`, none when
/// its `when` value is absent from the request).
fn authorize(
    spec: &Value,
    vars: &Vars,
    facts: &Facts,
    label: &str,
) -> Result<Vec<Authorization>, String> {
    if let Some(when) = spec["when"].as_str()
        && !vars.present(&Source::parse(when)?)
    {
        return Ok(Vec::new());
    }
    let each: Vec<Option<String>> = match spec["each"].as_str() {
        Some(src) => vars
            .list(&Source::parse(src)?)
            .into_iter()
            .map(Some)
            .collect(),
        None => vec![None],
    };
    let action = spec["action"].as_str().ok_or("an entry without action")?;
    let resource = spec["resource"]
        .as_str()
        .ok_or("an entry without resource")?;
    let by = match spec["by"].as_str() {
        None | Some("deployer") => Principal::Deployer,
        Some("administrator") => Principal::Administrator,
        Some(other) => return Err(format!("unknown principal {other:?}")),
    };
    let mut out = Vec::new();
    for item in each {
        let vars = vars.with_each(item);
        let resource = vars
            .expand(resource)?
            .ok_or_else(|| format!("{action}: the request lacks a value for {resource}"))?;
        let mut context: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut multivalued = Vec::new();
        if let Some(keys) = spec["context"].as_object() {
            for (k, t) in keys {
                let t = t.as_str().ok_or("context values are templates")?;
                if let Some(v) = vars.expand(t)? {
                    context.insert(k.to_ascii_lowercase(), vec![v]);
                }
            }
        }
        if let Some(keys) = spec["context_list"].as_object() {
            for (k, src) in keys {
                let src = Source::parse(src.as_str().ok_or("context_list values are sources")?)?;
                if vars.present(&src) {
                    let k = k.to_ascii_lowercase();
                    context.insert(k.clone(), vars.list(&src));
                    multivalued.push(k);
                }
            }
        }
        if let Some(src) = spec["request_tags"].as_str() {
            let src = Source::parse(src)?;
            if vars.present(&src) {
                let tags = vars.tags(&src)?;
                for (k, v) in &tags {
                    context.insert(
                        format!("aws:requesttag/{}", k.to_ascii_lowercase()),
                        vec![v.clone()],
                    );
                }
                context.insert("aws:tagkeys".into(), tags.keys().cloned().collect());
                multivalued.push("aws:tagkeys".into());
            }
        }
        if let Some(src) = spec["tag_keys"].as_str() {
            let src = Source::parse(src)?;
            if vars.present(&src) {
                context.insert("aws:tagkeys".into(), vars.list(&src));
                multivalued.push("aws:tagkeys".into());
            }
        }
        match spec["resource_tags"].as_str() {
            None | Some("none") => {}
            Some("stack") => {
                for (k, v) in &facts.stack_tags {
                    context.insert(
                        format!("aws:resourcetag/{}", k.to_ascii_lowercase()),
                        vec![v.clone()],
                    );
                }
            }
            Some(other) => return Err(format!("unknown resource_tags {other:?}")),
        }
        out.push(Authorization {
            operation: label.to_string(),
            action: action.to_string(),
            resource,
            context,
            multivalued,
            by,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
