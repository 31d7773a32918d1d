//! The agent.yaml model. Doc comments here become the JSON Schema descriptions that
//! editors show (`claw schema`), so they are written for the person editing the file.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One agent.yaml: everything claw needs to build, deploy and run a Claude agent on Lambda.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Application name. Every AWS resource is named `{app}-{stage}[-suffix]`.
    /// Lowercase letters, digits and hyphens; starts with a letter.
    pub app: String,
    /// Deployment stage, such as `dev` or `prod`. `--stage` overrides it.
    pub stage: String,
    /// AWS region to deploy to, such as `ap-southeast-2`. `--region` overrides it.
    pub region: String,
    /// The 12-digit AWS account the stack belongs to. Policies are scoped to it, and
    /// `claw deploy` refuses to run with credentials for any other account.
    pub account: String,
    /// The Lambda function's settings.
    #[serde(default)]
    pub function: Function,
    /// Run the function in a VPC. The role may then manage network interfaces in
    /// exactly these subnets and security groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<Vpc>,
    /// Which model the agents use and where its API key lives.
    pub model: Model,
    /// Hard limits on one invocation's agent loop.
    #[serde(default)]
    pub limits: Limits,
    /// Conversation memory in DynamoDB, keyed by `session_id`. Omit for stateless agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<Sessions>,
    /// Extra Secrets Manager secret names the function may read. Secrets named by
    /// `model.api_key_secret` and by tools' `auth.secret` are added automatically.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// The agents this function serves, by name (`POST /agents/{agent}`).
    pub agents: BTreeMap<String, Agent>,
    /// Tools the agents may call, by name. Each tool's kind fixes exactly which AWS
    /// permissions the function receives for it.
    #[serde(default)]
    pub tools: BTreeMap<String, Tool>,
    /// The HTTP API in front of the function.
    #[serde(default)]
    pub api: Api,
    /// CloudWatch alarms on the function.
    #[serde(default)]
    pub alarms: Alarms,
    /// Tags added to every resource, beside claw's own `claw:app` and `claw:stage`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// Graviton; cheaper per GB-second. The default.
    #[default]
    Arm64,
    X86_64,
}

impl Architecture {
    /// The name Lambda uses.
    pub fn lambda_name(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }

    /// The Rust target triple, with the glibc version claw pins for Lambda.
    pub fn zig_target(self) -> &'static str {
        match self {
            Architecture::Arm64 => "aarch64-unknown-linux-gnu.2.17",
            Architecture::X86_64 => "x86_64-unknown-linux-gnu.2.17",
        }
    }

    pub fn rust_target(self) -> &'static str {
        match self {
            Architecture::Arm64 => "aarch64-unknown-linux-gnu",
            Architecture::X86_64 => "x86_64-unknown-linux-gnu",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Tracing {
    /// Sample and record traces with X-Ray (adds the X-Ray write permissions).
    Active,
    /// Only pass trace headers on. The default.
    #[default]
    PassThrough,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Function {
    /// `arm64` (default) or `x86_64`.
    #[serde(default)]
    pub architecture: Architecture,
    /// Memory in MB, 128 to 10240. CPU scales with it.
    #[serde(default = "default_memory")]
    pub memory_mb: u32,
    /// Timeout in seconds, 1 to 900.
    #[serde(default = "default_timeout")]
    pub timeout_s: u32,
    /// Concurrent executions reserved for (and capped at) this value: a cost ceiling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<u32>,
    /// Days CloudWatch keeps the function's logs; one of the values CloudWatch allows.
    #[serde(default = "default_retention")]
    pub log_retention_days: u32,
    /// `active` (X-Ray) or `pass_through` (default).
    #[serde(default)]
    pub tracing: Tracing,
    /// Plain configuration for the function. Values that look like secrets are
    /// refused: secrets belong in Secrets Manager.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
}

fn default_memory() -> u32 {
    256
}
fn default_timeout() -> u32 {
    120
}
fn default_retention() -> u32 {
    30
}

impl Default for Function {
    fn default() -> Self {
        Function {
            architecture: Architecture::default(),
            memory_mb: default_memory(),
            timeout_s: default_timeout(),
            reserved_concurrency: None,
            log_retention_days: default_retention(),
            tracing: Tracing::default(),
            environment: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    /// Subnet ids (`subnet-…`), 1 to 16.
    pub subnet_ids: Vec<String>,
    /// Security group ids (`sg-…`), 1 to 5.
    pub security_group_ids: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// The Anthropic API, with a key from Secrets Manager.
    #[default]
    Anthropic,
    /// Amazon Bedrock, authorised by IAM alone (no key). Planned; refused for now.
    Bedrock,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// `anthropic` (default) or `bedrock`.
    #[serde(default)]
    pub provider: Provider,
    /// The model id, such as `claude-sonnet-5`. claw never hard-codes one.
    pub id: String,
    /// Most tokens one model reply may contain.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Secrets Manager name of the Anthropic API key. Required for `anthropic`; the
    /// key is fetched at run time and never placed in the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret: Option<String>,
}

fn default_max_tokens() -> u32 {
    4096
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most tool calls in one invocation (default 20).
    #[serde(default = "default_max_tool_calls")]
    pub max_tool_calls: u32,
    /// Most model turns in one invocation (default 12).
    #[serde(default = "default_max_turns")]
    pub max_turns: u32,
}

fn default_max_tool_calls() -> u32 {
    20
}
fn default_max_turns() -> u32 {
    12
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tool_calls: default_max_tool_calls(),
            max_turns: default_max_turns(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sessions {
    /// DynamoDB table holding conversation history (partition key `session_id`).
    pub table: String,
    /// Days a session is kept after its last turn (DynamoDB TTL), 1 to 365.
    #[serde(default = "default_ttl_days")]
    pub ttl_days: u32,
}

fn default_ttl_days() -> u32 {
    7
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// The system prompt.
    pub system: String,
    /// Names of tools (from `tools:`) this agent may call. Calls to any other tool are refused.
    #[serde(default)]
    pub tools: Vec<String>,
}

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
}

impl ToolKind {
    pub const ALL: [ToolKind; 9] = [
        ToolKind::Http,
        ToolKind::DynamodbGet,
        ToolKind::DynamodbQuery,
        ToolKind::DynamodbPut,
        ToolKind::S3Get,
        ToolKind::S3Put,
        ToolKind::SqsSend,
        ToolKind::LambdaInvoke,
        ToolKind::EventbridgePut,
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
        }
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

/// A tool. Which keys apply depends on `kind`; claw reports keys that do not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// One of: http, dynamodb_get, dynamodb_query, dynamodb_put, s3_get, s3_put,
    /// sqs_send, lambda_invoke, eventbridge_put.
    pub kind: ToolKind,
    /// What the tool does, for the model.
    pub description: String,
    /// JSON Schema (an object schema) of the tool's input. AWS kinds have a default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub input_schema: Option<serde_json::Value>,
    /// http: the HTTP method (default GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HttpMethod>,
    /// http: an `https://` URL; `{name}` placeholders are filled from the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// http: an auth header whose value comes from a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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

fn default_auth_format() -> String {
    "{}".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ApiMode {
    /// The caller waits for the agent's answer.
    #[default]
    Sync,
    /// `POST /jobs` queues the request (SQS) and answers 202 with a job id;
    /// `GET /jobs/{id}` reads the result from a jobs table.
    Async,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ApiAuth {
    /// Anyone on the internet may call the API. Say so explicitly.
    None,
    /// SigV4-signed requests from IAM principals (the default).
    #[default]
    Iam,
    /// A JWT authorizer (`api.jwt`).
    Jwt,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// `sync` (default) or `async`.
    #[serde(default)]
    pub mode: ApiMode,
    /// Routes as `METHOD /path`; `{name}` marks a path parameter.
    #[serde(default = "default_routes")]
    pub routes: Vec<String>,
    /// `none`, `iam` (default) or `jwt`.
    #[serde(default)]
    pub auth: ApiAuth,
    /// The JWT issuer and audiences, for `auth: jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<Jwt>,
    /// Stage-wide request throttling.
    #[serde(default)]
    pub throttle: Throttle,
}

fn default_routes() -> Vec<String> {
    vec!["POST /agents/{agent}".into()]
}

impl Default for Api {
    fn default() -> Self {
        Api {
            mode: ApiMode::default(),
            routes: default_routes(),
            auth: ApiAuth::default(),
            jwt: None,
            throttle: Throttle::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Jwt {
    /// The token issuer URL (`https://…`).
    pub issuer: String,
    /// Accepted audiences.
    pub audience: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Steady-state requests per second (default 10).
    #[serde(default = "default_rate")]
    pub rate: f64,
    /// Burst size (default 20).
    #[serde(default = "default_burst")]
    pub burst: u32,
}

fn default_rate() -> f64 {
    10.0
}
fn default_burst() -> u32 {
    20
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            rate: default_rate(),
            burst: default_burst(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alarms {
    /// SNS topic ARN notified when an alarm fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<String>,
    /// Alarm when errors in 5 minutes reach this count (default 1).
    #[serde(default = "one")]
    pub errors: u32,
    /// Alarm when throttles in 5 minutes reach this count (default 1).
    #[serde(default = "one")]
    pub throttles: u32,
    /// Alarm when p99 duration exceeds this fraction of the timeout (default 0.8).
    #[serde(default = "default_ratio")]
    pub duration_p99_ratio: f64,
    /// Alarm when invocations in 5 minutes exceed this (off when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocations_per_5min: Option<u32>,
    /// Alarm when model output tokens in an hour exceed this (from the function's EMF metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_per_hour: Option<u64>,
}

fn one() -> u32 {
    1
}
fn default_ratio() -> f64 {
    0.8
}

impl Default for Alarms {
    fn default() -> Self {
        Alarms {
            notify: None,
            errors: 1,
            throttles: 1,
            duration_p99_ratio: default_ratio(),
            invocations_per_5min: None,
            output_tokens_per_hour: None,
        }
    }
}

impl Config {
    /// Every Secrets Manager name the function may read, sorted and without repeats.
    pub fn secret_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self.secrets.clone();
        if let Some(s) = &self.model.api_key_secret {
            out.push(s.clone());
        }
        for tool in self.tools.values() {
            if let Some(auth) = &tool.auth {
                out.push(auth.secret.clone());
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The routes the API serves, including the ones async mode adds.
    pub fn all_routes(&self) -> Vec<String> {
        let mut routes = self.api.routes.clone();
        if self.api.mode == ApiMode::Async {
            for r in ASYNC_ROUTES {
                if !routes.iter().any(|x| x == r) {
                    routes.push((*r).to_string());
                }
            }
        }
        routes
    }
}

/// Routes async mode adds: submit a job, read its result.
pub const ASYNC_ROUTES: &[&str] = &["POST /jobs", "GET /jobs/{id}"];
