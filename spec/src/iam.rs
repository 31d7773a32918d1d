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
        "logs:DescribeLogGroups",
        "has no resource-level permissions; claw reads its own log groups by name prefix",
    ),
    (
        "ec2:DescribeSecurityGroups",
        "EC2 Describe actions have no resource-level permissions; Lambda checks the deployer can read the VPC config it sets",
    ),
    (
        "ec2:DescribeSubnets",
        "EC2 Describe actions have no resource-level permissions; Lambda checks the deployer can read the VPC config it sets",
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
];

/// Whether `action` may be granted on `*`, and why.
pub fn star_allowed(action: &str) -> Option<&'static str> {
    STAR_RESOURCE_ALLOWLIST
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(action))
        .map(|(_, why)| *why)
}
