//! IAM policy document types, the `*`-resource allowlist, and the builders the
//! tool catalog and the policy generator share.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A policy document as IAM stores it. Fields serialize in the order AWS shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDocument {
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Statement")]
    pub statement: Vec<Statement>,
}

impl PolicyDocument {
    pub fn new(statement: Vec<Statement>) -> Self {
        PolicyDocument {
            version: "2012-10-17".into(),
            statement,
        }
    }
}

/// One statement. `Action` and `Resource` are always lists here; when reading
/// documents written elsewhere, a single string is accepted too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "Sid", default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(rename = "Effect")]
    pub effect: String,
    #[serde(rename = "Principal", default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<serde_json::Value>,
    #[serde(
        rename = "Action",
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub action: Vec<String>,
    #[serde(
        rename = "Resource",
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resource: Vec<String>,
    #[serde(rename = "Condition", default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<BTreeMap<String, BTreeMap<String, serde_json::Value>>>,
    /// Present only when a foreign document uses them; claw never generates these.
    #[serde(rename = "NotAction", default, skip_serializing_if = "Option::is_none")]
    pub not_action: Option<serde_json::Value>,
    #[serde(
        rename = "NotResource",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub not_resource: Option<serde_json::Value>,
    #[serde(
        rename = "NotPrincipal",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub not_principal: Option<serde_json::Value>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl Statement {
    /// An Allow statement on the given actions and resources.
    pub fn allow(sid: &str, actions: &[&str], resources: Vec<String>) -> Self {
        Statement {
            sid: Some(sid.to_string()),
            effect: "Allow".into(),
            principal: None,
            action: actions.iter().map(|a| a.to_string()).collect(),
            resource: resources,
            condition: None,
            not_action: None,
            not_resource: None,
            not_principal: None,
        }
    }

    /// Adds a condition `operator: { key: value }`.
    pub fn when(mut self, operator: &str, key: &str, value: serde_json::Value) -> Self {
        self.condition
            .get_or_insert_with(BTreeMap::new)
            .entry(operator.to_string())
            .or_default()
            .insert(key.to_string(), value);
        self
    }

    pub fn principal(mut self, principal: serde_json::Value) -> Self {
        self.principal = Some(principal);
        self
    }
}

/// Actions that AWS documents as having no resource-level permissions, and so are
/// the only ones claw ever grants on `Resource: "*"`. Each says why it is needed.
pub const STAR_RESOURCE_ALLOWLIST: &[(&str, &str)] = &[
    (
        "xray:PutTraceSegments",
        "X-Ray has no resource-level permissions; needed when function.tracing is active",
    ),
    (
        "xray:PutTelemetryRecords",
        "X-Ray has no resource-level permissions; needed when function.tracing is active",
    ),
    (
        "ec2:DescribeNetworkInterfaces",
        "EC2 Describe actions have no resource-level permissions; Lambda needs it to attach the function to the VPC",
    ),
    (
        "sts:GetCallerIdentity",
        "has no resource; claw deploy uses it to refuse credentials for the wrong account",
    ),
    (
        "lambda:ListEventSourceMappings",
        "has no resource-level permissions; claw reads the SQS mapping of async mode by listing",
    ),
    (
        "lambda:CreateEventSourceMapping",
        "has no resource-level permissions; scoped instead by the lambda:FunctionArn condition",
    ),
    (
        "cloudwatch:GetMetricData",
        "has no resource-level permissions (Service Authorization Reference, Amazon CloudWatch); claw status reads the stack's figures with it",
    ),
    (
        "lambda:GetAccountSettings",
        "has no resource-level permissions; claw checks a reserved concurrency against the account's unreserved minimum",
    ),
    (
        "logs:DescribeLogGroups",
        "has no resource-level permissions; claw reads its own log groups by name prefix",
    ),
    (
        "ec2:DescribeSecurityGroups",
        "EC2 Describe actions have no resource-level permissions; Lambda checks the deployer can read the VPC config it sets",
    ),
    (
        "ec2:DescribeSubnets",
        "EC2 Describe actions have no resource-level permissions; Lambda checks the deployer can read the VPC config it sets, claw plan reads the subnets' VPCs, and the execution role has it as AWS's managed AWSLambdaVPCAccessExecutionRole does (version 3)",
    ),
    (
        "ec2:DescribeRouteTables",
        "EC2 Describe actions have no resource-level permissions; claw plan checks that the function's subnets route to a NAT gateway",
    ),
    (
        "ec2:DescribeVpcEndpoints",
        "EC2 Describe actions have no resource-level permissions; claw plan looks for a Secrets Manager endpoint in the function's VPC",
    ),
    (
        "ec2:DescribeVpcs",
        "EC2 Describe actions have no resource-level permissions; Lambda checks the deployer can read the VPC config it sets",
    ),
    (
        "logs:CreateLogDelivery",
        "API Gateway access logging needs log-delivery actions, which have no resource-level permissions",
    ),
    (
        "logs:GetLogDelivery",
        "API Gateway access logging needs log-delivery actions, which have no resource-level permissions",
    ),
    (
        "logs:UpdateLogDelivery",
        "API Gateway access logging needs log-delivery actions, which have no resource-level permissions",
    ),
    (
        "logs:DeleteLogDelivery",
        "API Gateway access logging needs log-delivery actions, which have no resource-level permissions",
    ),
    (
        "logs:ListLogDeliveries",
        "API Gateway access logging needs log-delivery actions, which have no resource-level permissions",
    ),
    (
        "logs:PutResourcePolicy",
        "API Gateway access logging sets the log group's resource policy for log delivery; the action has no resource-level permissions",
    ),
    (
        "logs:DescribeResourcePolicies",
        "API Gateway access logging reads the log resource policies for log delivery; the action has no resource-level permissions",
    ),
];

/// Whether `action` may be granted on `*`, and why.
/// The JSON text of a policy document as AWS returned it. IAM answers every
/// document (GetRole's trust policy, GetRolePolicy, GetPolicyVersion) URL-encoded
/// (RFC 3986 percent-encoding); Lambda's GetPolicy answers plain JSON. A raw
/// document starts with `{`, an encoded one with `%7B`; invalid escapes are kept
/// as they are rather than guessed at.
pub fn document_text(raw: &str) -> String {
    if raw.trim_start().starts_with('{') {
        return raw.to_string();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn star_allowed(action: &str) -> Option<&'static str> {
    STAR_RESOURCE_ALLOWLIST
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(action))
        .map(|(_, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::document_text;

    #[test]
    fn documents_are_percent_decoded_unless_already_json() {
        assert_eq!(
            document_text("%7B%22Version%22%3A%222012-10-17%22%7D"),
            r#"{"Version":"2012-10-17"}"#
        );
        // A literal %41 inside a raw document survives; bad escapes are kept.
        assert_eq!(document_text(r#"{"a":"%41"}"#), r#"{"a":"%41"}"#);
        assert_eq!(document_text("100%"), "100%");
        assert_eq!(document_text("%zz%4"), "%zz%4");
        assert_eq!(document_text("a%2Fb"), "a/b");
    }
}
