//! Semantic comparison of policy documents. Statement order, Sids, action case and
//! string-versus-list spellings do not count: both sides are reduced to sets of
//! single permissions (effect, principal, action, resource, conditions). Actions
//! compare without case, as IAM matches them, but keep the spelling the document
//! wrote (`dynamodb:GetItem`), which is what people read in a diff.

use std::cmp::Ordering;

use std::collections::BTreeSet;

use serde_json::Value;

use crate::iam::PolicyDocument;

/// One permission: a single action on a single resource under fixed conditions.
/// Equality and order ignore the case of `action`; `action` itself is kept as the
/// document spells it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Permission {
    pub effect: String,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub condition: String,
}

impl Permission {
    fn key(&self) -> (&str, &str, String, &str, &str) {
        (
            &self.effect,
            &self.principal,
            action_key(&self.action),
            &self.resource,
            &self.condition,
        )
    }
}

impl PartialEq for Permission {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Permission {}

impl PartialOrd for Permission {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Permission {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
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
        let mut actions: Vec<String> = st.action.clone();
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
            "Allow s3:PutObject on arn:aws:s3:::b/*"
        );
    }

    #[test]
    fn actions_keep_the_spelling_of_the_document() {
        let empty = PolicyDocument::new(Vec::new());
        let generated = doc(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": "arn:aws:dynamodb:r:1:table/t"},
            {"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "lambda.amazonaws.com"}}
        ]}));
        let d = diff(&empty, &generated);
        let shown: Vec<String> = d.added.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            shown,
            vec![
                "Allow dynamodb:GetItem on arn:aws:dynamodb:r:1:table/t",
                "Allow sts:AssumeRole for {\"Service\":\"lambda.amazonaws.com\"}",
            ]
        );
        let json = serde_json::to_value(&d.added[0]).unwrap();
        assert_eq!(json["action"], "dynamodb:GetItem");
        // The other side's spelling is the one shown for what it removes.
        let live = doc(json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "DynamoDB:getitem", "Resource": "arn:aws:dynamodb:r:1:table/t"}
        ]}));
        assert!(diff(&live, &generated).removed.is_empty());
        assert_eq!(
            diff(&generated, &empty).removed[0].action,
            "dynamodb:GetItem"
        );
        assert_eq!(diff(&live, &empty).removed[0].action, "DynamoDB:getitem");
    }
}
