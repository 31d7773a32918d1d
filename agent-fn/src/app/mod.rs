//! The function: one handler for every event shape, the state it keeps across warm
//! invocations, and how each outcome is answered and audited.
//!
//! Answers per shape:
//! - API Gateway: a proxy response (`statusCode`, JSON `body`). 200 with the
//!   answer; 400 bad request; 404 unknown agent or job; 409 session conflict; 429
//!   over a session or caller budget (with `retry-after`); 504
//!   out of time before the model answered once; 500 anything else, always with the
//!   generic `{"error":"agent error","request_id":…}`.
//! - Direct invoke: the answer object, or `{"error","request_id","status"}` with the
//!   same statuses. It never fails the invocation, so callers read one shape.
//! - EventBridge: like direct invoke, except that failures a retry could fix fail
//!   the invocation, so Lambda's async retries and on-failure destination apply.
//! - SQS: `{"batchItemFailures":[…]}` listing only records a retry could fix; a
//!   record that can never succeed (malformed, unknown agent) is logged, its job
//!   marked failed, and acknowledged.
//!
//! - Streamed (a direct invocation with `"stream": true`, or a function URL
//!   request): server-sent events as the run goes (see `crate::stream`), ending
//!   with `done` (the answer's fields but `response`) or `error` (the error
//!   object above, status included).
//!
//! This module keeps the warm state and dispatches by shape; `converse` runs one
//! agent conversation, `http` routes API Gateway requests, `sqs` runs a batch of
//! jobs, `streamed` answers a streaming caller, and `respond` maps each failure
//! once to its status, outcome and category.

mod converse;
mod http;
mod job;
mod respond;
mod sqs;
mod streamed;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use claw_spec::model::Tracing;
use claw_spec::{Config, Names};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::anthropic::{self, RetryPolicy, ToolDef};
use crate::audit::{Audit, emf_line, tool_emf_lines};
use crate::aws::Aws;
use crate::deadline::Deadline;
use crate::event::{self, AgentRequest, BadRequest, Event};
use crate::jobs::Jobs;
use crate::secrets::{Secrets, Source};
use crate::tools::Toolbox;
use crate::tools::http::AddressPolicy;
use crate::trace::{Tracer, daemon_address};
use respond::{Answer, RunError, error_object};

/// Where log lines go: stdout in Lambda, a buffer in tests.
pub type Sink = Arc<dyn Fn(&str) + Send + Sync>;

/// What the environment (or a test) decides, beside agent.json.
pub struct Options {
    /// The Messages API origin (`ANTHROPIC_BASE_URL`, default the public API).
    pub model_base_url: String,
    pub retry: RetryPolicy,
    /// How long before the deadline the loop stops; derived from the configured
    /// timeout when `None`.
    pub margin: Option<Duration>,
    /// Fixed secret values instead of Secrets Manager (tests, benchmarks).
    pub static_secrets: Option<HashMap<String, String>>,
    /// Replaces every http tool's address policy (tests of the SSRF guard).
    pub address_policy: Option<AddressPolicy>,
    pub sink: Option<Sink>,
    /// An SDK config to use instead of the environment's (tests against moto).
    pub aws_config: Option<aws_config::SdkConfig>,
    /// The X-Ray daemon (`AWS_XRAY_DAEMON_ADDRESS`); subsegments are sent to it
    /// when `function.tracing` is `active`.
    pub xray_daemon: Option<SocketAddr>,
    /// The Bedrock runtime endpoint instead of the SDK's (tests); in Lambda the
    /// SDK's own (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME` when set).
    pub bedrock_endpoint: Option<String>,
    /// Called with the new version after each job checkpoint lands, and awaited
    /// (tests stop a run there, as a killed process would).
    pub on_checkpoint: Option<CheckpointHook>,
    /// `CLAW_REPLAY_URL`: model requests and tool calls answered by `claw test`
    /// from a recording (see `crate::replay`).
    pub replay: Option<String>,
}

/// See [`Options::on_checkpoint`].
pub type CheckpointHook = Arc<dyn Fn(u64) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

impl Options {
    pub fn from_env() -> Options {
        let replay = crate::replay::from_env();
        let base = replay
            .clone()
            .or_else(|| std::env::var("ANTHROPIC_BASE_URL").ok())
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| anthropic::DEFAULT_BASE_URL.to_string());
        Options {
            model_base_url: base,
            retry: RetryPolicy::default(),
            margin: None,
            static_secrets: None,
            address_policy: None,
            sink: None,
            aws_config: None,
            xray_daemon: std::env::var("AWS_XRAY_DAEMON_ADDRESS")
                .ok()
                .and_then(|a| daemon_address(&a)),
            bedrock_endpoint: None,
            on_checkpoint: None,
            replay,
        }
    }
}

/// What Lambda says about one invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub deadline: Deadline,
    /// The X-Ray trace header (`Lambda-Runtime-Trace-Id`), when Lambda sent one.
    pub trace_header: Option<String>,
}

/// A failure the handler reports to Lambda (EventBridge only), so Lambda retries.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Retryable(pub String);

/// The function's warm state: the config, clients and tool definitions built at
/// init (the model client on first use), shared by every invocation.
pub struct App {
    config: Arc<Config>,
    names: Names,
    aws: Arc<Aws>,
    secrets: Arc<Secrets>,
    toolbox: Toolbox,
    tool_defs: HashMap<String, Vec<ToolDef>>,
    /// Tools whose calls wait for a person's approval.
    needs_approval: Vec<String>,
    /// Built on first use: TLS setup is not free and init must stay fast.
    model: OnceLock<Result<anthropic::Client, String>>,
    model_base_url: String,
    /// Built on first use, and only for an agent on Bedrock.
    bedrock: tokio::sync::OnceCell<crate::bedrock::Client>,
    bedrock_endpoint: Option<String>,
    retry: RetryPolicy,
    margin: Duration,
    sink: Sink,
    tracer: Tracer,
    on_checkpoint: Option<CheckpointHook>,
    /// Under `claw test`: no sessions or budgets (tools are the toolbox's).
    replay: bool,
}

impl App {
    pub fn new(config: Config, options: Options) -> App {
        let config = Arc::new(config);
        let names = Names::new(&config);
        let aws = Arc::new(match options.aws_config {
            Some(c) => Aws::from_config(&config.region, c),
            None => Aws::new(&config.region),
        });
        let secrets = Arc::new(Secrets::new(
            match (options.static_secrets, &options.replay) {
                (_, Some(_)) => Source::Placeholder(crate::replay::PLACEHOLDER),
                (Some(m), None) => Source::Static(m),
                (None, None) => Source::Aws(Arc::clone(&aws)),
            },
        ));
        let mut toolbox = Toolbox::new(Arc::clone(&config), Arc::clone(&aws), Arc::clone(&secrets));
        if let Some(p) = options.address_policy {
            toolbox = toolbox.with_address_policy(p);
        }
        let sink = options.sink.unwrap_or_else(|| Arc::new(stdout_line));
        if let Some(url) = &options.replay {
            toolbox = toolbox.with_replay(crate::replay::Replay::new(url));
            sink(&json!({"type": "note", "detail": format!(
                "replay: model requests and tool calls are answered by {url} ({}); no session is kept",
                crate::replay::ENV
            )}).to_string());
        }
        let tool_defs = config
            .agents
            .iter()
            .map(|(name, a)| (name.clone(), Toolbox::definitions(&config, &a.tools)))
            .collect();
        let margin = options
            .margin
            .unwrap_or_else(|| default_margin(config.function.timeout_s));
        App {
            names,
            aws,
            secrets,
            toolbox,
            tool_defs,
            needs_approval: config
                .tools
                .iter()
                .filter(|(_, t)| t.approval == claw_spec::model::Approval::Required)
                .map(|(n, _)| n.clone())
                .collect(),
            model: OnceLock::new(),
            model_base_url: options.model_base_url,
            bedrock: tokio::sync::OnceCell::new(),
            bedrock_endpoint: options.bedrock_endpoint,
            on_checkpoint: options.on_checkpoint,
            retry: options.retry,
            margin,
            sink,
            replay: options.replay.is_some(),
            tracer: Tracer::new(
                config.function.tracing == Tracing::Active,
                options.xray_daemon,
            ),
            config,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one invocation and writes its audit and EMF lines. `Err` only for
    /// EventBridge failures a retry could fix.
    pub async fn handle(&self, payload: Value, inv: &Invocation) -> Result<Value, Retryable> {
        let started = Instant::now();
        let mut audit = Audit::new(&inv.request_id);
        let result = match event::detect(&payload) {
            Err(bad) => {
                let err = RunError::from(bad);
                self.note_error(&mut audit, &err);
                Ok(error_object(&err, &inv.request_id))
            }
            Ok(ev) => {
                audit.source = ev.source();
                match ev {
                    Event::Http(req) => Ok(self.http(req, inv, &mut audit).await),
                    Event::Direct(req) => Ok(match self.run_request(req, inv, &mut audit).await {
                        Ok(a) => a.json(),
                        Err(e) => error_object(&e, &inv.request_id),
                    }),
                    Event::EventBridge(req) => match self.run_request(req, inv, &mut audit).await {
                        Ok(a) => Ok(a.json()),
                        Err(e) if e.retryable() => Err(Retryable(format!(
                            "agent error (request {})",
                            inv.request_id
                        ))),
                        Err(e) => Ok(error_object(&e, &inv.request_id)),
                    },
                    Event::Sqs(records) => Ok(self.sqs(records, inv, &mut audit).await),
                }
            }
        };
        self.finish(audit, started, inv);
        result
    }

    /// Writes the audit, EMF and trace of a finished invocation.
    fn finish(&self, mut audit: Audit, started: Instant, inv: &Invocation) {
        audit.duration_ms = started.elapsed().as_millis() as u64;
        (self.sink)(&audit.line());
        (self.sink)(&emf_line(&self.config.app, &self.config.stage, &audit));
        for line in tool_emf_lines(&self.config.app, &self.config.stage, &audit) {
            (self.sink)(&line);
        }
        self.tracer.send(inv.trace_header.as_deref(), &audit.spans);
    }

    async fn run_request(
        &self,
        req: Result<AgentRequest, BadRequest>,
        inv: &Invocation,
        audit: &mut Audit,
    ) -> Result<Answer, RunError> {
        let result = match req {
            Ok(r) => {
                let agent = r.agent.clone().unwrap_or_default();
                self.converse(&agent, &r, inv, audit, None, None).await
            }
            Err(b) => Err(b.into()),
        };
        if let Err(e) = &result {
            self.note_error(audit, e);
        }
        result
    }

    /// The jobs table and queue of async mode.
    fn jobs(&self) -> Jobs<'_> {
        Jobs {
            aws: &self.aws,
            table: &self.names.jobs_table,
            queue: &self.names.queue,
            region: &self.config.region,
            account: &self.config.account,
        }
    }
}

/// 5% of the timeout, between 2 and 10 seconds: time to save the session and
/// answer after the loop stops.
pub fn default_margin(timeout_s: u32) -> Duration {
    Duration::from_millis(u64::from(timeout_s) * 50)
        .clamp(Duration::from_secs(2), Duration::from_secs(10))
}

/// Writes one line to stdout in a single write, so lines from concurrent tasks
/// never interleave.
fn stdout_line(line: &str) {
    use std::io::Write;
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    let _ = std::io::stdout().lock().write_all(&buf);
}

impl App {
    /// Records an error in the audit line and its detail in the log.
    fn note_error(&self, audit: &mut Audit, e: &RunError) {
        audit.outcome = e.outcome();
        audit.status = e.status();
        audit.error = Some(e.category());
        let detail = match e {
            RunError::Internal { detail, .. } | RunError::Fatal { detail, .. } => {
                Some(detail.as_str())
            }
            RunError::BadRequest(m) | RunError::NotFound(m) => Some(m.as_str()),
            _ => None,
        };
        if let Some(detail) = detail {
            self.log_error(&audit.request_id, &e.category(), detail);
        }
    }

    /// Writes an error's detail to the log, apart from the audit line.
    fn log_error(&self, request_id: &str, category: &str, detail: &str) {
        (self.sink)(
            &json!({
                "type": "error",
                "request_id": request_id,
                "error": category,
                "detail": detail,
            })
            .to_string(),
        );
    }
}
