//! The tool catalog: for each tool kind, the keys it takes, the input the model
//! sends it, its validation and the exact IAM statements the function needs to run
//! it. The function (agent-fn) and the policy generator both read this module, so a
//! tool can never do more than its policy allows, nor be granted more than it does.
//!
//! agent.yaml is read into the loose [`RawTool`] (every kind's keys, optional), so
//! a key that does not apply to a kind is reported where it is written. After
//! validation each tool becomes a [`Tool`] whose [`ToolSpec`] has one variant per
//! kind with its required settings present: nothing downstream re-checks them.
//! Adding a kind: a file here (keys, schema, checks, statement), a `ToolKind` and
//! a `ToolSpec` variant; the compiler then points at every match to extend.
//! Module order, bottom-up: `raw`, `problem` <- the kind files <- this module.

mod dynamodb;
mod eventbridge;
mod http;
mod lambda;
mod mcp;
mod problem;
mod raw;
mod s3;
mod sqs;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use eventbridge::EventBridgeTool;
pub use http::{HttpTool, url_params};
pub use mcp::{McpAuth, McpTool};
pub use problem::{Context, Problem};
pub use raw::{Approval, HttpAuth, HttpMethod, RawTool, ToolAuth, ToolKind};
pub use s3::S3Tool;

use crate::iam::Statement;
use crate::names::Names;

/// A validated tool: what every kind has, and its kind's own settings. In
/// agent.json it has the same keys as in agent.yaml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(flatten)]
    pub spec: ToolSpec,
    /// What the tool does, for the model.
    pub description: String,
    /// The configured input schema; [`input_schema`] falls back to the kind's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    /// Whether a job's calls wait for a person's approval.
    #[serde(default, skip_serializing_if = "Approval::is_none")]
    pub approval: Approval,
}

/// One variant per tool kind, with the settings that kind requires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ToolSpec {
    Http(HttpTool),
    DynamodbGet {
        table: String,
    },
    DynamodbQuery {
        table: String,
        partition_key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<String>,
    },
    DynamodbPut {
        table: String,
    },
    S3Get(S3Tool),
    S3Put(S3Tool),
    SqsSend {
        queue: String,
    },
    LambdaInvoke {
        function: String,
    },
    EventbridgePut(EventBridgeTool),
    Mcp(McpTool),
}

impl ToolSpec {
    pub fn kind(&self) -> ToolKind {
        match self {
            ToolSpec::Http(_) => ToolKind::Http,
            ToolSpec::DynamodbGet { .. } => ToolKind::DynamodbGet,
            ToolSpec::DynamodbQuery { .. } => ToolKind::DynamodbQuery,
            ToolSpec::DynamodbPut { .. } => ToolKind::DynamodbPut,
            ToolSpec::S3Get(_) => ToolKind::S3Get,
            ToolSpec::S3Put(_) => ToolKind::S3Put,
            ToolSpec::SqsSend { .. } => ToolKind::SqsSend,
            ToolSpec::LambdaInvoke { .. } => ToolKind::LambdaInvoke,
            ToolSpec::EventbridgePut(_) => ToolKind::EventbridgePut,
            ToolSpec::Mcp(_) => ToolKind::Mcp,
        }
    }

    /// The mcp tool's settings, if this is one.
    pub fn mcp(&self) -> Option<&McpTool> {
        match self {
            ToolSpec::Mcp(m) => Some(m),
            _ => None,
        }
    }

    /// The http tool's settings, if this is one.
    pub fn http(&self) -> Option<&HttpTool> {
        match self {
            ToolSpec::Http(h) => Some(h),
            _ => None,
        }
    }
}

impl Tool {
    /// The typed tool, or `None` when a key its kind requires is missing (which
    /// validation reports first).
    pub fn from_raw(raw: &RawTool) -> Option<Tool> {
        let spec = match raw.kind {
            ToolKind::Http => ToolSpec::Http(HttpTool::from_raw(raw)?),
            ToolKind::DynamodbGet => ToolSpec::DynamodbGet {
                table: raw.table.clone()?,
            },
            ToolKind::DynamodbQuery => ToolSpec::DynamodbQuery {
                table: raw.table.clone()?,
                partition_key: raw.partition_key.clone()?,
                index: raw.index.clone(),
            },
            ToolKind::DynamodbPut => ToolSpec::DynamodbPut {
                table: raw.table.clone()?,
            },
            ToolKind::S3Get => ToolSpec::S3Get(S3Tool::from_raw(raw)?),
            ToolKind::S3Put => ToolSpec::S3Put(S3Tool::from_raw(raw)?),
            ToolKind::SqsSend => ToolSpec::SqsSend {
                queue: raw.queue.clone()?,
            },
            ToolKind::LambdaInvoke => ToolSpec::LambdaInvoke {
                function: raw.function.clone()?,
            },
            ToolKind::EventbridgePut => ToolSpec::EventbridgePut(EventBridgeTool::from_raw(raw)?),
            ToolKind::Mcp => ToolSpec::Mcp(McpTool::from_raw(raw)?),
        };
        Some(Tool {
            spec,
            description: raw.description.clone().unwrap_or_default(),
            input_schema: raw.input_schema.clone(),
            approval: raw.approval,
        })
    }

    /// The http auth, if this is an http tool that has one.
    pub fn auth(&self) -> Option<&HttpAuth> {
        self.spec.http().and_then(|h| h.auth.as_ref())
    }

    /// The Secrets Manager name this tool reads, if any (http auth, mcp token).
    pub fn secret(&self) -> Option<&str> {
        match &self.spec {
            ToolSpec::Http(h) => h.auth.as_ref().map(|a| a.secret.as_str()),
            ToolSpec::Mcp(m) => m.auth.as_ref().map(|a| a.secret.as_str()),
            _ => None,
        }
    }
}

/// The kind-specific keys of a tool: (required, optional). `kind`, `description`
/// and `input_schema` apply to every kind.
pub fn kind_keys(kind: ToolKind) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        ToolKind::Http => http::KEYS,
        ToolKind::DynamodbGet | ToolKind::DynamodbPut => dynamodb::ITEM_KEYS,
        ToolKind::DynamodbQuery => dynamodb::QUERY_KEYS,
        ToolKind::S3Get | ToolKind::S3Put => s3::KEYS,
        ToolKind::SqsSend => sqs::KEYS,
        ToolKind::LambdaInvoke => lambda::KEYS,
        ToolKind::EventbridgePut => eventbridge::KEYS,
        ToolKind::Mcp => mcp::KEYS,
    }
}

/// Names of the kind-specific keys a raw tool has set, for "does not apply" checks.
/// Read from the tool's own serialization (unset keys are skipped there), so the
/// names are serde's and cannot drift from the struct.
pub fn keys_set(tool: &RawTool) -> Vec<String> {
    let Ok(Value::Object(map)) = serde_json::to_value(tool) else {
        return Vec::new();
    };
    map.into_iter()
        .map(|(k, _)| k)
        .filter(|k| {
            !matches!(
                k.as_str(),
                "kind" | "description" | "input_schema" | "approval"
            )
        })
        .collect()
}

/// The input schema the model sees: the configured one, or the kind's default.
/// An mcp tool has none (its server describes its tools): `null`.
pub fn input_schema(tool: &Tool) -> Value {
    if let Some(schema) = &tool.input_schema {
        return schema.clone();
    }
    match &tool.spec {
        ToolSpec::Http(h) => http::default_schema(&h.url),
        ToolSpec::DynamodbGet { .. } => dynamodb::get_schema(),
        ToolSpec::DynamodbQuery { .. } => dynamodb::query_schema(),
        ToolSpec::DynamodbPut { .. } => dynamodb::put_schema(),
        ToolSpec::S3Get(_) => s3::get_schema(),
        ToolSpec::S3Put(_) => s3::put_schema(),
        ToolSpec::SqsSend { .. } => sqs::schema(),
        ToolSpec::LambdaInvoke { .. } => lambda::schema(),
        ToolSpec::EventbridgePut(_) => eventbridge::schema(),
        ToolSpec::Mcp(_) => Value::Null,
    }
}

/// A statement id for a tool: `Tool` + the name in CamelCase, alphanumerics only.
pub fn tool_sid(name: &str) -> String {
    let mut sid = String::from("Tool");
    let mut upper = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                sid.push(c.to_ascii_uppercase());
            } else {
                sid.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    sid
}

/// The IAM statements one tool needs: exactly its action on exactly its resource.
pub fn statements(name: &str, tool: &Tool, names: &Names) -> Vec<Statement> {
    let sid = tool_sid(name);
    let one = |st: Statement| vec![st];
    match &tool.spec {
        // The Messages API calls an MCP server, not the function.
        ToolSpec::Http(_) | ToolSpec::Mcp(_) => Vec::new(),
        ToolSpec::DynamodbGet { table } => one(dynamodb::statement(
            &sid,
            "dynamodb:GetItem",
            table,
            None,
            names,
        )),
        ToolSpec::DynamodbPut { table } => one(dynamodb::statement(
            &sid,
            "dynamodb:PutItem",
            table,
            None,
            names,
        )),
        ToolSpec::DynamodbQuery { table, index, .. } => one(dynamodb::statement(
            &sid,
            "dynamodb:Query",
            table,
            index.as_deref(),
            names,
        )),
        ToolSpec::S3Get(s3) => one(s3.statement(&sid, "s3:GetObject", names)),
        ToolSpec::S3Put(s3) => one(s3.statement(&sid, "s3:PutObject", names)),
        ToolSpec::SqsSend { queue } => one(sqs::statement(&sid, queue, names)),
        ToolSpec::LambdaInvoke { function } => one(lambda::statement(&sid, function, names)),
        ToolSpec::EventbridgePut(eb) => one(eb.statement(&sid, names)),
    }
}

/// The kind-specific rules for one raw tool (its keys' presence is checked by the
/// caller with [`kind_keys`] and [`keys_set`]).
pub fn check(tool: &RawTool, cx: &Context) -> Vec<Problem> {
    let mut out = Vec::new();
    match tool.kind {
        ToolKind::Http => http::check(tool, cx, &mut out),
        ToolKind::DynamodbGet | ToolKind::DynamodbPut | ToolKind::DynamodbQuery => {
            dynamodb::check(tool, &mut out)
        }
        ToolKind::S3Get | ToolKind::S3Put => s3::check(tool, &mut out),
        ToolKind::SqsSend => sqs::check(tool, &mut out),
        ToolKind::LambdaInvoke => lambda::check(tool, cx, &mut out),
        ToolKind::EventbridgePut => eventbridge::check(tool, &mut out),
        ToolKind::Mcp => mcp::check(tool, &mut out),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_sids_are_alphanumeric() {
        assert_eq!(tool_sid("get_lead"), "ToolGetLead");
        assert_eq!(tool_sid("lookup-company2"), "ToolLookupCompany2");
    }

    #[test]
    fn keys_set_names_the_serialized_keys() {
        let raw: RawTool = serde_json::from_value(serde_json::json!({
            "kind": "s3_get", "description": "d", "bucket": "b", "allow_private_hosts": true
        }))
        .unwrap();
        assert_eq!(keys_set(&raw), vec!["allow_private_hosts", "bucket"]);
    }

    #[test]
    fn validated_tools_keep_the_json_keys_of_agent_yaml() {
        let raw: RawTool = serde_json::from_value(serde_json::json!({
            "kind": "dynamodb_query", "description": "d", "table": "T", "partition_key": "pk"
        }))
        .unwrap();
        let tool = Tool::from_raw(&raw).unwrap();
        let json = serde_json::to_value(&tool).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "dynamodb_query", "table": "T", "partition_key": "pk", "description": "d"})
        );
        assert_eq!(serde_json::from_value::<Tool>(json).unwrap(), tool);
        let missing = RawTool {
            partition_key: None,
            ..raw
        };
        assert!(Tool::from_raw(&missing).is_none());
    }
}
