//! claw's own policy rules, applied to any policy JSON (generated or hand-written).

use crate::iam::{PolicyDocument, Statement, star_allowed};

/// One rule broken by one statement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LintFinding {
    /// Rule id, such as `CLAW001`.
    pub rule: &'static str,
    /// The statement's Sid, or `#N` (1-based) when it has none.
    pub statement: String,
    pub message: String,
}

/// The rules, for `--help` and the docs: (id, what it forbids).
pub const RULES: &[(&str, &str)] = &[
    ("CLAW001", "a `*` or `?` wildcard in an Action"),
    (
        "CLAW002",
        "NotAction, NotResource or NotPrincipal (they grant everything not listed)",
    ),
    (
        "CLAW003",
        "Resource `*` for an action that is not on the explained allowlist",
    ),
    (
        "CLAW004",
        "a wildcard in an ARN's service, region or account field",
    ),
    (
        "CLAW005",
        "iam:PassRole without an iam:PassedToService condition",
    ),
    (
        "CLAW006",
        "iam:CreateRole or iam:PutRolePolicy without an iam:PermissionsBoundary condition",
    ),
    (
        "CLAW007",
        "a service principal without an aws:SourceArn or aws:SourceAccount condition",
    ),
    ("CLAW008", "Principal `*` (anyone)"),
    ("CLAW009", "a Sid used twice"),
    (
        "CLAW010",
        "an Allow statement with no Action or no Resource (identity policies)",
    ),
    (
        "CLAW011",
        "a federated (web identity) principal without StringEquals on the token's aud and sub",
    ),
];

/// Whether a statement pins a claim of the identity provider's tokens with
/// `StringEquals` (`token.actions.githubusercontent.com:sub`): a pattern or a
/// missing `sub` lets other repositories' workflows assume the role.
fn pins_claim(st: &Statement, claim: &str) -> bool {
    st.condition.as_ref().is_some_and(|c| {
        c.get("StringEquals").is_some_and(|m| {
            m.iter().any(|(k, v)| {
                k.to_ascii_lowercase().ends_with(&format!(":{claim}"))
                    && v.as_str().is_some_and(|s| !s.contains(['*', '?']))
            })
        })
    })
}

fn has_condition_key(st: &Statement, key: &str) -> bool {
    st.condition.as_ref().is_some_and(|c| {
        c.values()
            .any(|m| m.keys().any(|k| k.eq_ignore_ascii_case(key)))
    })
}

/// Checks a document. `resource_policy` is true for trust and resource-based
/// policies (which name a Principal and may omit Resource).
pub fn lint(doc: &PolicyDocument, resource_policy: bool) -> Vec<LintFinding> {
    let mut out = Vec::new();
    let mut sids = std::collections::BTreeSet::new();
    for (i, st) in doc.statement.iter().enumerate() {
        let name = st.sid.clone().unwrap_or_else(|| format!("#{}", i + 1));
        let mut push = |rule: &'static str, message: String| {
            out.push(LintFinding {
                rule,
                statement: name.clone(),
                message,
            })
        };
        if let Some(sid) = &st.sid
            && !sids.insert(sid.clone())
        {
            push(
                "CLAW009",
                format!("the Sid `{sid}` is used by another statement"),
            );
        }
        let allow = st.effect.eq_ignore_ascii_case("Allow");
        if st.not_action.is_some() || st.not_resource.is_some() || st.not_principal.is_some() {
            push(
                "CLAW002",
                "NotAction/NotResource/NotPrincipal grant everything they do not list; name what is allowed instead".into(),
            );
        }
        for a in &st.action {
            if a.contains('*') || a.contains('?') {
                push(
                    "CLAW001",
                    format!("the action `{a}` is a wildcard; list the exact actions"),
                );
            }
        }
        if allow && !resource_policy && (st.action.is_empty() || st.resource.is_empty()) {
            push(
                "CLAW010",
                "an Allow statement needs both Action and Resource".into(),
            );
        }
        if allow && st.resource.iter().any(|r| r == "*") {
            for a in &st.action {
                if star_allowed(a).is_none() {
                    push(
                        "CLAW003",
                        format!(
                            "`{a}` is granted on Resource `*`, but it supports resource-level permissions; name the resource"
                        ),
                    );
                }
            }
        }
        for r in &st.resource {
            let parts: Vec<&str> = r.splitn(6, ':').collect();
            if parts.len() == 6
                && parts[0] == "arn"
                && (parts[2].contains('*') || parts[3].contains('*') || parts[4].contains('*'))
            {
                push(
                    "CLAW004",
                    format!("`{r}` has a wildcard in its service, region or account"),
                );
            }
        }
        if allow {
            let has = |name: &str| st.action.iter().any(|a| a.eq_ignore_ascii_case(name));
            if has("iam:PassRole") && !has_condition_key(st, "iam:PassedToService") {
                push(
                    "CLAW005",
                    "iam:PassRole must be limited to one service with an iam:PassedToService condition".into(),
                );
            }
            if (has("iam:CreateRole") || has("iam:PutRolePolicy"))
                && !has_condition_key(st, "iam:PermissionsBoundary")
            {
                push(
                    "CLAW006",
                    "roles may only be created or given policies under claw's permissions boundary (iam:PermissionsBoundary condition)".into(),
                );
            }
        }
        if let Some(p) = &st.principal {
            if p == "*" || p.get("AWS").is_some_and(|a| a == "*") {
                push(
                    "CLAW008",
                    "the Principal is `*`: anyone could use this".into(),
                );
            }
            if allow
                && p.get("Federated").is_some()
                && !(pins_claim(st, "aud") && pins_claim(st, "sub"))
            {
                push(
                    "CLAW011",
                    "a web-identity trust must pin the token's audience and subject with StringEquals on `<provider>:aud` and `<provider>:sub`, or other repositories' workflows could assume the role".into(),
                );
            }
            let is_service = p.get("Service").is_some();
            let is_lambda_trust = p
                .get("Service")
                .is_some_and(|s| s == "lambda.amazonaws.com");
            let scoped = has_condition_key(st, "aws:SourceArn")
                || has_condition_key(st, "aws:SourceAccount");
            if allow && is_service && !scoped {
                let what = if is_lambda_trust {
                    "the trust policy must pin aws:SourceAccount"
                } else {
                    "a service principal must be pinned with aws:SourceArn (or aws:SourceAccount), or any account's resources could use it"
                };
                push("CLAW007", what.into());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: serde_json::Value) -> PolicyDocument {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn finds_each_rule() {
        let d = doc(json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Sid": "A", "Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::*:role/x"},
            {"Effect": "Allow", "Action": "iam:CreateRole", "Resource": "arn:aws:iam::123456789012:role/x"},
            {"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"}
        ]}));
        let rules: Vec<&str> = lint(&d, false).iter().map(|f| f.rule).collect();
        for r in [
            "CLAW001", "CLAW002", "CLAW003", "CLAW004", "CLAW005", "CLAW006", "CLAW009",
        ] {
            assert!(rules.contains(&r), "{r} missing from {rules:?}");
        }
        assert_eq!(
            rules.iter().filter(|r| **r == "CLAW003").count(),
            1,
            "{rules:?}"
        );
    }

    #[test]
    fn resource_policies_need_source_conditions() {
        let d = doc(json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "X", "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
             "Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:r:123456789012:function:f"},
            {"Sid": "Y", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction",
             "Resource": "arn:aws:lambda:r:123456789012:function:f"}
        ]}));
        let rules: Vec<&str> = lint(&d, true).iter().map(|f| f.rule).collect();
        assert_eq!(rules, vec!["CLAW007", "CLAW008"]);
    }

    #[test]
    fn web_identity_trusts_pin_audience_and_subject() {
        let fed = json!({"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"});
        let d = doc(json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "NoSub", "Effect": "Allow", "Principal": fed, "Action": "sts:AssumeRoleWithWebIdentity",
             "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}},
            {"Sid": "Pattern", "Effect": "Allow", "Principal": fed, "Action": "sts:AssumeRoleWithWebIdentity",
             "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                           "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"}}},
            {"Sid": "Good", "Effect": "Allow", "Principal": fed, "Action": "sts:AssumeRoleWithWebIdentity",
             "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                                            "token.actions.githubusercontent.com:sub": "repo:acme/agents:pull_request"}}}
        ]}));
        let found: Vec<(String, &str)> = lint(&d, true)
            .into_iter()
            .map(|f| (f.statement, f.rule))
            .collect();
        assert_eq!(
            found,
            vec![("NoSub".into(), "CLAW011"), ("Pattern".into(), "CLAW011")]
        );
    }
}
