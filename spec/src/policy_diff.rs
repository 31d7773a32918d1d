//! Semantic comparison of policy documents. Statement order, Sids, action case and
//! string-versus-list spellings do not count: both sides are reduced to sets of
//! single permissions (effect, principal, action, resource, conditions).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::iam::PolicyDocument;

/// One permission: a single action on a single resource under fixed conditions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Permission {
    pub effect: String,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub condition: String,
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.effect, self.action)?;
        if !self.resource.is_empty() {
            write!(f, " on {}", self.resource)?;
        }
        if !self.principal.is_empty() {
            write!(f, " for {}", self.principal)?;
        }
        if !self.condition.is_empty() {
            write!(f, " if {}", self.condition)?;
        }
        Ok(())
    }
}

/// Sorts arrays and lowercases nothing: canonical JSON for condition and principal
/// values, so `"a"` and `["a"]` compare equal.
fn canonical(v: &Value) -> String {
    fn norm(v: &Value) -> Value {
        match v {
            Value::Array(a) if a.len() == 1 => norm(&a[0]),
            Value::Array(a) => {
                let mut items: Vec<Value> = a.iter().map(norm).collect();
                items.sort_by_key(|x| x.to_string());
                items.dedup();
                Value::Array(items)
            }
            Value::Object(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), norm(&o[k]))).collect())
            }
            other => other.clone(),
        }
    }
    norm(v).to_string()
}

/// Normalizes an action: the service prefix and name are case-insensitive in IAM.
fn action_key(a: &str) -> String {
    a.to_ascii_lowercase()
}

/// Reduces a document to its set of permissions.
pub fn permissions(doc: &PolicyDocument) -> BTreeSet<Permission> {
    let mut out = BTreeSet::new();
    for st in &doc.statement {
        let effect = if st.effect.eq_ignore_ascii_case("deny") {
            "Deny"
        } else {
            "Allow"
        };
        let principal = st.principal.as_ref().map(canonical).unwrap_or_default();
        let condition = st
            .condition
            .as_ref()
            .map(|c| {
                // Condition keys are case-insensitive; operators are not.
                let v: serde_json::Map<String, Value> = c
                    .iter()
                    .map(|(op, m)| {
                        let inner: serde_json::Map<String, Value> = m
                            .iter()
                            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                            .collect();
                        (op.clone(), Value::Object(inner))
                    })
                    .collect();
                canonical(&Value::Object(v))
            })
            .unwrap_or_default();
        let mut actions: Vec<String> = st.action.iter().map(|a| action_key(a)).collect();
        if let Some(na) = &st.not_action {
            actions.push(format!("NotAction:{}", canonical(na)));
        }
        let mut resources = st.resource.clone();
        if let Some(nr) = &st.not_resource {
            resources.push(format!("NotResource:{}", canonical(nr)));
        }
        if resources.is_empty() {
            resources.push(String::new());
        }
        for a in &actions {
            for r in &resources {
                out.insert(Permission {
                    effect: effect.into(),
                    principal: principal.clone(),
                    action: a.clone(),
                    resource: r.clone(),
                    condition: condition.clone(),
                });
            }
        }
    }
    out
}

/// What `right` adds to `left`, and what it takes away.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Change {
    pub added: Vec<Permission>,
    pub removed: Vec<Permission>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// Compares `from` (what exists) with `to` (what is wanted or generated).
pub fn diff(from: &PolicyDocument, to: &PolicyDocument) -> Change {
    let a = permissions(from);
    let b = permissions(to);
    Change {
        added: b.difference(&a).cloned().collect(),
        removed: a.difference(&b).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: serde_json::Value) -> PolicyDocument {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn order_case_and_spelling_do_not_count() {
        let a = doc(json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": ["arn:aws:sqs:r:1:q"],
             "Condition": {"StringEquals": {"aws:SourceAccount": ["1"]}}}
        ]}));
        let b = doc(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "SQS:sendmessage", "Resource": "arn:aws:sqs:r:1:q",
             "Condition": {"StringEquals": {"AWS:SourceAccount": "1"}}},
            {"Sid": "B", "Effect": "Allow", "Action": ["s3:putobject"], "Resource": ["arn:aws:s3:::b/*"]},
            {"Effect": "Allow", "Action": "s3:getObject", "Resource": "arn:aws:s3:::b/*"}
        ]}));
        assert!(diff(&a, &b).is_empty(), "{:?}", diff(&a, &b));
    }

    #[test]
    fn reports_added_and_removed_permissions() {
        let a = doc(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::b/*"}
        ]}));
        let b = doc(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::b/*"}
        ]}));
        let d = diff(&a, &b);
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.removed.len(), 1);
        assert_eq!(
            d.added[0].to_string(),
            "Allow s3:putobject on arn:aws:s3:::b/*"
        );
    }
}
