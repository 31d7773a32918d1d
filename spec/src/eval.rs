//! A small evaluator for identity-policy Allow statements: enough of IAM's logic
//! (action and resource wildcards, and the condition operators claw generates) to
//! prove what a generated policy does and does not allow. moto does not enforce
//! IAM, so tests use this to show, for example, that the deployer policy refuses
//! to create a role without claw's permissions boundary.
//!
//! Unsupported condition operators evaluate to "not allowed", so the evaluator
//! can only under-approximate what a document grants, never over-approximate.

use std::collections::BTreeMap;

use crate::iam::{PolicyDocument, Statement};

/// One request: an action on a resource, with its request context keys.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub action: String,
    pub resource: String,
    /// Condition keys present in the request, such as `iam:PermissionsBoundary`,
    /// with their values (several for a multivalued key such as `events:source`).
    pub context: BTreeMap<String, Vec<String>>,
    /// The keys of `context` that are multivalued.
    pub multivalued: Vec<String>,
}

impl Request {
    pub fn new(action: &str, resource: &str) -> Request {
        Request {
            action: action.into(),
            resource: resource.into(),
            context: BTreeMap::new(),
            multivalued: Vec::new(),
        }
    }

    /// A single-valued key.
    pub fn with(mut self, key: &str, value: &str) -> Request {
        self.context
            .insert(key.to_ascii_lowercase(), vec![value.into()]);
        self
    }

    /// A multivalued key (an array in the request context), such as
    /// `events:source` for PutEvents, `aws:TagKeys`.
    pub fn with_values(mut self, key: &str, values: &[&str]) -> Request {
        let key = key.to_ascii_lowercase();
        self.context
            .insert(key.clone(), values.iter().map(|v| v.to_string()).collect());
        self.multivalued.push(key);
        self
    }
}

/// `*` matches any run of characters, `?` any one character.
pub fn glob(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if case_insensitive {
        (
            pattern.to_ascii_lowercase().chars().collect(),
            text.to_ascii_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn values(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        serde_json::Value::String(s) => vec![s.clone()],
        other => vec![other.to_string()],
    }
}

/// Whether one request value matches one of the condition's values.
fn value_matches(op: &str, expected: &[String], actual: &str) -> bool {
    match op {
        "StringEquals" | "ArnEquals" => expected.iter().any(|e| e == actual),
        "StringEqualsIgnoreCase" => expected.iter().any(|e| e.eq_ignore_ascii_case(actual)),
        "StringLike" | "ArnLike" => expected.iter().any(|e| glob(e, actual, false)),
        "StringNotEquals" => expected.iter().all(|e| e != actual),
        "StringNotLike" => expected.iter().all(|e| !glob(e, actual, false)),
        _ => false,
    }
}

/// One condition, as IAM evaluates it
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html):
/// `Null` tests presence; `ForAllValues:` holds when every request value matches
/// (and, vacuously, when the key is absent: pair it with `Null` = false);
/// `ForAnyValue:` when one does; a plain operator needs a single-valued key
/// present with a matching value: on a multivalued key it never holds here.
fn condition_holds(op: &str, key: &str, expected: &serde_json::Value, req: &Request) -> bool {
    let key = key.to_ascii_lowercase();
    let actual = req.context.get(&key);
    let expected = values(expected);
    if op == "Null" {
        let want_absent = expected.iter().any(|e| e == "true");
        return actual.is_none() == want_absent;
    }
    if let Some(inner) = op.strip_prefix("ForAllValues:") {
        return actual.is_none_or(|vals| vals.iter().all(|a| value_matches(inner, &expected, a)));
    }
    if let Some(inner) = op.strip_prefix("ForAnyValue:") {
        return actual.is_some_and(|vals| vals.iter().any(|a| value_matches(inner, &expected, a)));
    }
    match actual {
        Some(vals) if !req.multivalued.contains(&key) && vals.len() == 1 => {
            value_matches(op, &expected, &vals[0])
        }
        // A key missing from the request fails every plain operator.
        _ => false,
    }
}

fn statement_allows(st: &Statement, req: &Request) -> bool {
    st.effect == "Allow"
        && st.not_action.is_none()
        && st.not_resource.is_none()
        && st.action.iter().any(|a| glob(a, &req.action, true))
        && st.resource.iter().any(|r| glob(r, &req.resource, false))
        && st.condition.as_ref().is_none_or(|c| {
            c.iter()
                .all(|(op, keys)| keys.iter().all(|(k, v)| condition_holds(op, k, v, req)))
        })
}

/// Whether any Allow statement in `doc` allows the request. (claw generates no Deny
/// statements; an explicit Deny in the document is honoured anyway.)
pub fn allows(doc: &PolicyDocument, req: &Request) -> bool {
    let denied = doc.statement.iter().any(|st| {
        st.effect == "Deny"
            && st.action.iter().any(|a| glob(a, &req.action, true))
            && st.resource.iter().any(|r| glob(r, &req.resource, false))
            && st.condition.is_none()
    });
    !denied && doc.statement.iter().any(|st| statement_allows(st, req))
}

/// Who calls `sts:AssumeRole*`: a principal type of a trust policy (`Service`,
/// `Federated`, `AWS`) and its id (a service name, a provider ARN, an ARN).
#[derive(Debug, Clone)]
pub struct Caller {
    pub kind: String,
    pub id: String,
}

impl Caller {
    pub fn new(kind: &str, id: &str) -> Caller {
        Caller {
            kind: kind.into(),
            id: id.into(),
        }
    }
}

/// Whether a statement's Principal names the caller (exactly: claw's trust
/// policies name one principal, never a pattern).
fn principal_matches(principal: &serde_json::Value, caller: &Caller) -> bool {
    principal
        .get(&caller.kind)
        .is_some_and(|ids| values(ids).contains(&caller.id))
}

/// Whether a trust policy lets `caller` make the request (`sts:AssumeRole`,
/// `sts:AssumeRoleWithWebIdentity` with the token's claims as context keys such
/// as `token.actions.githubusercontent.com:sub`). Trust statements name no
/// Resource: the role is the policy's own.
pub fn trust_allows(doc: &PolicyDocument, caller: &Caller, req: &Request) -> bool {
    let names_caller = |st: &Statement| {
        st.not_principal.is_none()
            && st
                .principal
                .as_ref()
                .is_some_and(|p| principal_matches(p, caller))
            && st.action.iter().any(|a| glob(a, &req.action, true))
    };
    let denied = doc
        .statement
        .iter()
        .any(|st| st.effect == "Deny" && names_caller(st) && st.condition.is_none());
    !denied
        && doc.statement.iter().any(|st| {
            st.effect == "Allow"
                && st.not_action.is_none()
                && names_caller(st)
                && st.condition.as_ref().is_none_or(|c| {
                    c.iter()
                        .all(|(op, keys)| keys.iter().all(|(k, v)| condition_holds(op, k, v, req)))
                })
        })
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("arn:aws:s3:::b/p*", "arn:aws:s3:::b/p/x", false));
        assert!(!glob("arn:aws:s3:::b/p*", "arn:aws:s3:::c/p/x", false));
        assert!(glob("s3:Get*", "S3:GETOBJECT", true));
        assert!(glob("a-??????", "a-AbC123", false));
        assert!(!glob("a-??????", "a-AbC12", false));
        assert!(glob("*", "", false));
    }
}
