//! A tool as agent.yaml writes it: the kinds there are, the http kind's method and
//! auth (which the validated `HttpTool` keeps as they are), and the `auth` key both
//! http and mcp tools take.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a tool does, and so which permissions the function gets for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// An HTTPS request to a fixed host; no AWS permission.
    Http,
    /// DynamoDB GetItem on one table.
    DynamodbGet,
    /// DynamoDB Query on one table (or one of its indexes).
    DynamodbQuery,
    /// DynamoDB PutItem on one table.
    DynamodbPut,
    /// S3 GetObject under one bucket and prefix.
    S3Get,
    /// S3 PutObject under one bucket and prefix.
    S3Put,
    /// SQS SendMessage to one queue.
    SqsSend,
    /// Invoke one Lambda function.
    LambdaInvoke,
    /// EventBridge PutEvents to one bus, with a fixed source.
    EventbridgePut,
    /// A remote MCP server that the Messages API connects to; no AWS permission.
    Mcp,
}

impl ToolKind {
    pub const ALL: [ToolKind; 10] = [
        ToolKind::Http,
        ToolKind::DynamodbGet,
        ToolKind::DynamodbQuery,
        ToolKind::DynamodbPut,
        ToolKind::S3Get,
        ToolKind::S3Put,
        ToolKind::SqsSend,
        ToolKind::LambdaInvoke,
        ToolKind::EventbridgePut,
        ToolKind::Mcp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ToolKind::Http => "http",
            ToolKind::DynamodbGet => "dynamodb_get",
            ToolKind::DynamodbQuery => "dynamodb_query",
            ToolKind::DynamodbPut => "dynamodb_put",
            ToolKind::S3Get => "s3_get",
            ToolKind::S3Put => "s3_put",
            ToolKind::SqsSend => "sqs_send",
            ToolKind::LambdaInvoke => "lambda_invoke",
            ToolKind::EventbridgePut => "eventbridge_put",
            ToolKind::Mcp => "mcp",
        }
    }
}

// A tool as written in agent.yaml; validation turns it into a `Tool`.
/// A tool. Which keys apply depends on `kind`; claw reports keys that do not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Tool")]
pub struct RawTool {
    /// One of: http, dynamodb_get, dynamodb_query, dynamodb_put, s3_get, s3_put,
    /// sqs_send, lambda_invoke, eventbridge_put, mcp.
    pub kind: ToolKind,
    /// What the tool does, for the model. Required, except for mcp (whose server
    /// describes its own tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema (an object schema) of the tool's input. AWS kinds have a default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub input_schema: Option<serde_json::Value>,
    /// `required`: in an async job, each call waits for a person to approve or
    /// reject it (`POST /jobs/{id}/approve|reject`, `claw jobs approve|reject`)
    /// before it runs. Needs `api.mode: async`; not for mcp tools.
    #[serde(default, skip_serializing_if = "Approval::is_none")]
    pub approval: Approval,
    /// http: the HTTP method (default GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HttpMethod>,
    /// http: an `https://` URL; `{name}` placeholders are filled from the input.
    /// mcp: the server's `https://` URL (Streamable HTTP or SSE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// http: an auth header whose value comes from a secret. mcp: a bearer token
    /// from a secret (`secret` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<ToolAuth>,
    /// http: request timeout in milliseconds (default 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
    /// http: largest response body passed to the model, in bytes (default 262144).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_bytes: Option<u32>,
    /// http, for tests only: allow private, loopback and link-local addresses (and
    /// plain `http://`). Off by default; never enable it in a deployed stage.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_private_hosts: bool,
    /// dynamodb_*: the table name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// dynamodb_query: a secondary index to query instead of the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// dynamodb_query: the partition key attribute name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<String>,
    /// s3_*: the bucket name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// s3_*: the key prefix the tool is confined to (such as `reports/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// sqs_send: the queue name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// lambda_invoke: the function name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// eventbridge_put: the event bus name (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    /// eventbridge_put: the event `source` (the role may put only this source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// eventbridge_put: the event `detail-type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_type: Option<String>,
    /// mcp: only these of the server's tools are offered to the model (default:
    /// all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_tools: Option<Vec<String>>,
}

/// Whether a tool's calls wait for a person (`tools.NAME.approval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// Calls run as the model makes them (the default).
    #[default]
    None,
    /// Each call in a job waits for `approve` or `reject`.
    Required,
}

impl Approval {
    pub fn is_none(&self) -> bool {
        *self == Approval::None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// A credential a tool sends, from Secrets Manager.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Auth")]
pub struct ToolAuth {
    /// Secrets Manager name holding the credential.
    pub secret: String,
    /// http (required): the header to send, such as `Authorization`. Not for mcp,
    /// whose token is always sent as `Authorization: Bearer <token>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// http: how the secret becomes the header value; `{}` stands for the secret
    /// (default `{}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// A validated http tool's auth header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpAuth {
    /// Secrets Manager name holding the credential.
    pub secret: String,
    /// The header to send, such as `Authorization`.
    pub header: String,
    /// How the secret becomes the header value; `{}` stands for the secret (default `{}`).
    #[serde(default = "default_auth_format")]
    pub format: String,
}

pub(super) fn default_auth_format() -> String {
    "{}".into()
}
