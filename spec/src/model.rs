//! The agent.yaml model. Doc comments here become the JSON Schema descriptions that
//! editors show (`claw schema`), so they are written for the person editing the file.

use std::collections::BTreeMap;

pub use crate::url::Stream;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::limits::Limits;
pub use crate::llm::{AgentModel, CacheTtl, Model, PriceOverride, Provider, ResolvedModel};
use crate::names::Names;
pub use crate::tools::{Approval, HttpAuth, HttpMethod, RawTool, Tool, ToolKind};

/// agent.yaml as written: tools are [`RawTool`]s, which validation checks and
/// [`RawConfig::validated`] turns into [`Tool`]s.
pub type RawConfig = Config<RawTool>;
// `T` is the tool type: `RawTool` while the file is read and checked, `Tool` (the
// default) once it is valid. The function reads the valid form from agent.json.
// (A plain comment: the doc comment below is the schema's description.)
/// One agent.yaml: everything claw needs to build, deploy and run a Claude agent on Lambda.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
#[schemars(rename = "Config")]
pub struct Config<T = Tool> {
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
    #[schemars(extend("default" = {}))]
    pub tools: BTreeMap<String, T>,
    /// The HTTP API in front of the function.
    #[serde(default)]
    pub api: Api,
    /// CloudWatch alarms on the function.
    #[serde(default)]
    pub alarms: Alarms,
    /// Roll changes out through the alias `live`: publish a version, move a share
    /// of traffic to it, watch the gate alarms, promote or roll back. Without it
    /// a deploy replaces the code for every caller at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<crate::rollout::Rollout>,
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
    /// This agent's model, overriding `model:` key by key: a router on a small fast
    /// model, the reasoning agent on a larger one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<AgentModel>,
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
    /// A function URL in `RESPONSE_STREAM` mode beside the HTTP API: answers
    /// as server-sent events while the agent runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<Stream>,
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
            stream: None,
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
    /// Alarm when the model cost in a day (UTC) exceeds this many US dollars, summed
    /// over every agent (from the function's `CostMicroUSD` metric; needs a price
    /// for each agent's model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd_per_day: Option<f64>,
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
            cost_usd_per_day: None,
        }
    }
}

impl Config {
    /// Every Secrets Manager name the function may read, sorted and without repeats.
    pub fn secret_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self.secrets.clone();
        if let Some(s) = &self.model.api_key_secret
            && self.providers().contains(&Provider::Anthropic)
        {
            out.push(s.clone());
        }
        for tool in self.tools.values() {
            if let Some(secret) = tool.secret() {
                out.push(secret.to_string());
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

impl RawConfig {
    /// The valid config, its tools typed. `None` when a tool lacks a key its kind
    /// requires, which validation reports, so only a config with no errors is
    /// converted.
    pub fn validated(self) -> Option<Config> {
        let mut tools = BTreeMap::new();
        for (name, raw) in &self.tools {
            tools.insert(name.clone(), Tool::from_raw(raw)?);
        }
        Some(Config {
            app: self.app,
            stage: self.stage,
            region: self.region,
            account: self.account,
            function: self.function,
            vpc: self.vpc,
            model: self.model,
            limits: self.limits,
            sessions: self.sessions,
            secrets: self.secrets,
            agents: self.agents,
            tools,
            api: self.api,
            alarms: self.alarms,
            rollout: self.rollout,
            tags: self.tags,
        })
    }
}

impl Names {
    /// The names of the stack a config describes.
    pub fn new<T>(config: &Config<T>) -> Names {
        let mut n = Names::for_stack(&config.app, &config.stage, &config.region, &config.account);
        if config.rollout.is_some() {
            n.alias = Some(crate::rollout::ALIAS.to_string());
        }
        n
    }
}

impl Config {
    /// The routes the API serves, including the ones async mode adds (and its
    /// approval routes, when a tool's calls wait for approval).
    pub fn all_routes(&self) -> Vec<String> {
        let mut routes = self.api.routes.clone();
        if self.api.mode == ApiMode::Async {
            let approvals = self.needs_approval().then_some(APPROVAL_ROUTES);
            for r in ASYNC_ROUTES.iter().chain(approvals.into_iter().flatten()) {
                if !routes.iter().any(|x| x == r) {
                    routes.push((*r).to_string());
                }
            }
        }
        routes
    }

    /// Whether any tool's calls wait for a person (`approval: required`).
    pub fn needs_approval(&self) -> bool {
        self.tools
            .values()
            .any(|t| t.approval == Approval::Required)
    }
}

/// Routes async mode adds: submit a job, read its result.
pub const ASYNC_ROUTES: &[&str] = &["POST /jobs", "GET /jobs/{id}"];

/// Routes async mode adds when a tool needs approval: decide a waiting job's
/// pending call.
pub const APPROVAL_ROUTES: &[&str] = &["POST /jobs/{id}/approve", "POST /jobs/{id}/reject"];
