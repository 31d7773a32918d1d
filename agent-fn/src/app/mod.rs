//! The function: one handler for every event shape, the state it keeps across warm
//! invocations, and how each outcome is answered and audited.
//!
//! Answers per shape:
//! - API Gateway: a proxy response (`statusCode`, JSON `body`). 200 with the
//!   answer; 400 bad request; 404 unknown agent or job; 409 session conflict; 504
//!   out of time before the model answered once; 500 anything else, always with the
//!   generic `{"error":"agent error","request_id":…}`.
//! - Direct invoke: the answer object, or `{"error","request_id","status"}` with the
//!   same statuses. It never fails the invocation, so callers read one shape.
//! - EventBridge: like direct invoke, except that failures a retry could fix fail
//!   the invocation, so Lambda's async retries and on-failure destination apply.
//! - SQS: `{"batchItemFailures":[…]}` listing only records a retry could fix; a
//!   record that can never succeed (malformed, unknown agent) is logged, its job
//!   marked failed, and acknowledged.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use claw_spec::model::{ApiMode, Provider};
use claw_spec::{Config, Names};
use futures::future::join_all;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::agent::{self, Settings, Stats, push_user_text};
use crate::anthropic::{self, ModelError, RetryPolicy, ToolDef};
use crate::audit::{Audit, emf_line};
use crate::aws::Aws;
use crate::deadline::{Deadline, random_id};
use crate::event::{
    self, AgentRequest, BadRequest, Event, HttpRequest, SqsRecord, check_id, truncate,
};
use crate::jobs::Jobs;
use crate::secrets::{Secrets, Source};
use crate::sessions::{self, SaveError};
use crate::tools::Toolbox;
use crate::tools::http::AddressPolicy;

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
}

impl Options {
    pub fn from_env() -> Options {
        let base = std::env::var("ANTHROPIC_BASE_URL")
            .ok()
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
        }
    }
}

/// What Lambda says about one invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub deadline: Deadline,
}

/// A failure the handler reports to Lambda (EventBridge only), so Lambda retries.
#[derive(Debug)]
pub struct Retryable(pub String);

impl std::fmt::Display for Retryable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Retryable {}

/// A successful run, as every shape reports it.
#[derive(Debug, Clone)]
struct Answer {
    response: String,
    session_id: String,
    stop_reason: String,
    stats: Stats,
}

impl Answer {
    fn json(&self) -> Value {
        json!({
            "response": self.response,
            "session_id": self.session_id,
            "tool_calls": self.stats.tool_calls,
            "usage": {
                "input_tokens": self.stats.usage.input_tokens,
                "output_tokens": self.stats.usage.output_tokens,
            },
            "stop_reason": self.stop_reason,
        })
    }
}

#[derive(Debug)]
enum RunError {
    BadRequest(String),
    NotFound(String),
    Conflict,
    /// The deadline came before the model answered once.
    Timeout,
    /// Anything else. `category` goes to the audit line, `detail` to the error log.
    Internal {
        category: String,
        detail: String,
    },
}

impl RunError {
    fn internal(category: &str, detail: impl Into<String>) -> RunError {
        RunError::Internal {
            category: category.into(),
            detail: detail.into(),
        }
    }

    fn status(&self) -> u16 {
        match self {
            RunError::BadRequest(_) => 400,
            RunError::NotFound(_) => 404,
            RunError::Conflict => 409,
            RunError::Timeout => 504,
            RunError::Internal { .. } => 500,
        }
    }

    /// What the caller is told: the problem when it is theirs, nothing internal.
    fn public_message(&self) -> String {
        match self {
            RunError::BadRequest(m) | RunError::NotFound(m) => m.clone(),
            RunError::Conflict => "the session was changed by another request; retry".into(),
            RunError::Timeout => "the agent ran out of time".into(),
            RunError::Internal { .. } => "agent error".into(),
        }
    }

    fn outcome(&self) -> &'static str {
        match self {
            RunError::BadRequest(_) | RunError::NotFound(_) => "bad_request",
            RunError::Timeout => "deadline",
            RunError::Conflict | RunError::Internal { .. } => "error",
        }
    }

    fn category(&self) -> String {
        match self {
            RunError::BadRequest(_) => "bad_request".into(),
            RunError::NotFound(_) => "not_found".into(),
            RunError::Conflict => "session_conflict".into(),
            RunError::Timeout => "deadline".into(),
            RunError::Internal { category, .. } => category.clone(),
        }
    }

    /// Whether running again could succeed.
    fn retryable(&self) -> bool {
        !matches!(self, RunError::BadRequest(_) | RunError::NotFound(_))
    }
}

impl From<BadRequest> for RunError {
    fn from(b: BadRequest) -> RunError {
        RunError::BadRequest(b.0)
    }
}

pub struct App {
    config: Arc<Config>,
    names: Names,
    aws: Arc<Aws>,
    secrets: Arc<Secrets>,
    toolbox: Toolbox,
    tool_defs: HashMap<String, Vec<ToolDef>>,
    /// Built on first use: TLS setup is not free and init must stay fast.
    model: OnceLock<Result<anthropic::Client, String>>,
    model_base_url: String,
    retry: RetryPolicy,
    margin: Duration,
    sink: Sink,
}

impl App {
    pub fn new(config: Config, options: Options) -> App {
        let config = Arc::new(config);
        let names = Names::new(&config);
        let aws = Arc::new(match options.aws_config {
            Some(c) => Aws::from_config(&config.region, c),
            None => Aws::new(&config.region),
        });
        let secrets = Arc::new(Secrets::new(match options.static_secrets {
            Some(m) => Source::Static(m),
            None => Source::Aws(Arc::clone(&aws)),
        }));
        let mut toolbox = Toolbox::new(Arc::clone(&config), Arc::clone(&aws), Arc::clone(&secrets));
        if let Some(p) = options.address_policy {
            toolbox = toolbox.with_address_policy(p);
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
            model: OnceLock::new(),
            model_base_url: options.model_base_url,
            retry: options.retry,
            margin,
            sink: options.sink.unwrap_or_else(|| Arc::new(stdout_line)),
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
        audit.duration_ms = started.elapsed().as_millis() as u64;
        (self.sink)(&audit.line());
        (self.sink)(&emf_line(&self.config.app, &self.config.stage, &audit));
        result
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
                self.converse(&agent, &r, inv, audit).await
            }
            Err(b) => Err(b.into()),
        };
        if let Err(e) = &result {
            self.note_error(audit, e);
        }
        result
    }

    /// Records an error in the audit line and its detail in the log.
    fn note_error(&self, audit: &mut Audit, e: &RunError) {
        audit.outcome = e.outcome();
        audit.status = e.status();
        audit.error = Some(e.category());
        let detail = match e {
            RunError::Internal { detail, .. } => Some(detail.as_str()),
            RunError::BadRequest(m) | RunError::NotFound(m) => Some(m.as_str()),
            _ => None,
        };
        if let Some(detail) = detail {
            (self.sink)(
                &json!({
                    "type": "error",
                    "request_id": audit.request_id,
                    "error": e.category(),
                    "detail": detail,
                })
                .to_string(),
            );
        }
    }

    fn model_client(&self) -> Result<&anthropic::Client, RunError> {
        self.model
            .get_or_init(|| {
                anthropic::Client::new(&self.model_base_url, self.retry)
                    .map_err(|e| format!("building the model client: {e}"))
            })
            .as_ref()
            .map_err(|e| RunError::internal("model_client", e.clone()))
    }

    /// One agent run: load the session, loop, save the session.
    async fn converse(
        &self,
        agent_name: &str,
        req: &AgentRequest,
        inv: &Invocation,
        audit: &mut Audit,
    ) -> Result<Answer, RunError> {
        let Some(agent) = self.config.agents.get(agent_name) else {
            return Err(RunError::NotFound(format!(
                "no agent named `{}`",
                truncate(agent_name, 64)
            )));
        };
        audit.agent = Some(agent_name.to_string());
        let session_id = req.session_id.clone().unwrap_or_else(random_id);
        audit.session_id = Some(session_id.clone());
        if self.config.model.provider == Provider::Bedrock {
            return Err(RunError::internal(
                "unsupported_provider",
                "model.provider `bedrock` is not supported by this build of the function",
            ));
        }
        let key_name = self
            .config
            .model
            .api_key_secret
            .as_deref()
            .ok_or_else(|| RunError::internal("config", "model.api_key_secret is not set"))?;
        let client = self.model_client()?;
        // Both are network round trips on a cold start; do them together.
        let (key, loaded) =
            tokio::join!(self.secrets.get(key_name), self.load_session(&session_id));
        let key = key.map_err(|e| RunError::internal("api_key", e))?;
        let loaded = loaded?;
        if loaded.discarded {
            (self.sink)(
                &json!({"type": "warning", "request_id": inv.request_id, "detail": "stored session history was unreadable and was reset"})
                    .to_string(),
            );
        }
        let mut messages = loaded.messages;
        push_user_text(&mut messages, &req.message);
        let settings = Settings {
            model: &self.config.model.id,
            max_tokens: self.config.model.max_tokens,
            system: &agent.system,
            tools: self
                .tool_defs
                .get(agent_name)
                .map(Vec::as_slice)
                .unwrap_or(&[]),
            max_tool_calls: self.config.limits.max_tool_calls,
            max_turns: self.config.limits.max_turns,
            margin: self.margin,
        };
        let run = agent::run(
            client,
            &key,
            &settings,
            &agent.tools,
            &self.toolbox,
            messages,
            inv.deadline,
        )
        .await;
        let outcome = match run {
            Ok(o) => o,
            Err(f) => {
                record(audit, &f.stats);
                if matches!(f.error, ModelError::Status { status: 401, .. }) {
                    // A rotated key: fetch it again next time instead of failing
                    // until the container is recycled.
                    self.secrets.forget(key_name);
                }
                return Err(match f.error {
                    ModelError::Deadline { .. } => RunError::Timeout,
                    e => RunError::internal(&e.category(), e.to_string()),
                });
            }
        };
        record(audit, &outcome.stats);
        if outcome.stats.turns == 0 {
            // Out of time before the model said anything: nothing to answer or keep.
            return Err(RunError::Timeout);
        }
        audit.outcome = outcome.stop.outcome();
        audit.stop_reason = Some(outcome.stop.as_str().to_string());
        if let Some(s) = &self.config.sessions {
            let mut history = outcome.messages;
            sessions::trim(&mut history, sessions::MAX_HISTORY_BYTES);
            let ddb = self.aws.dynamodb().await;
            match sessions::save(
                ddb,
                &s.table,
                &session_id,
                &history,
                loaded.version,
                s.ttl_days,
            )
            .await
            {
                Ok(()) => {}
                Err(SaveError::Conflict) => return Err(RunError::Conflict),
                Err(SaveError::Other(e)) => return Err(RunError::internal("session_store", e)),
            }
        }
        Ok(Answer {
            response: outcome.text,
            session_id,
            stop_reason: outcome.stop.as_str().to_string(),
            stats: outcome.stats,
        })
    }

    async fn load_session(&self, session_id: &str) -> Result<sessions::Loaded, RunError> {
        let Some(s) = &self.config.sessions else {
            return Ok(sessions::Loaded::default());
        };
        let ddb = self.aws.dynamodb().await;
        sessions::load(ddb, &s.table, session_id)
            .await
            .map_err(|e| RunError::internal("session_store", e))
    }

    fn jobs(&self) -> Jobs<'_> {
        Jobs {
            aws: &self.aws,
            table: &self.names.jobs_table,
            queue: &self.names.queue,
            region: &self.config.region,
            account: &self.config.account,
        }
    }

    async fn http(&self, req: HttpRequest, inv: &Invocation, audit: &mut Audit) -> Value {
        let (status, body) = match self.route(&req, inv, audit).await {
            Ok((status, body)) => (status, body),
            Err(e) => {
                self.note_error(audit, &e);
                (e.status(), error_body(&e.public_message(), &inv.request_id))
            }
        };
        audit.status = status;
        json!({
            "statusCode": status,
            "headers": {"content-type": "application/json"},
            "body": body.to_string(),
            "isBase64Encoded": false,
        })
    }

    async fn route(
        &self,
        req: &HttpRequest,
        inv: &Invocation,
        audit: &mut Audit,
    ) -> Result<(u16, Value), RunError> {
        let async_mode = self.config.api.mode == ApiMode::Async;
        match req.route_key.as_str() {
            "POST /jobs" if async_mode => {
                let r = req.agent_request()?;
                let agent = r
                    .agent
                    .clone()
                    .ok_or_else(|| RunError::BadRequest("the body is missing `agent`".into()))?;
                if !self.config.agents.contains_key(&agent) {
                    return Err(RunError::NotFound(format!(
                        "no agent named `{}`",
                        truncate(&agent, 64)
                    )));
                }
                audit.agent = Some(agent.clone());
                let job_id = random_id();
                audit.job_id = Some(job_id.clone());
                self.jobs()
                    .submit(&job_id, &agent, &r)
                    .await
                    .map_err(|e| RunError::internal("job_submit", e))?;
                Ok((202, json!({"job_id": job_id})))
            }
            "GET /jobs/{id}" if async_mode => {
                let id = req.param("id").unwrap_or_default();
                check_id(id, "id")?;
                audit.job_id = Some(id.to_string());
                match self.jobs().status(id).await {
                    Ok(Some(v)) => Ok((200, v)),
                    Ok(None) => Err(RunError::NotFound("no job with this id".into())),
                    Err(e) => Err(RunError::internal("job_read", e)),
                }
            }
            _ => {
                let r = req.agent_request()?;
                let agent = match (req.param("agent"), &r.agent) {
                    (Some(a), _) => a.to_string(),
                    (None, Some(a)) => a.clone(),
                    (None, None) if self.config.agents.len() == 1 => self
                        .config
                        .agents
                        .keys()
                        .next()
                        .cloned()
                        .unwrap_or_default(),
                    (None, None) => {
                        return Err(RunError::BadRequest(
                            "name the agent in the path (`/agents/{agent}`) or the body (`agent`)"
                                .into(),
                        ));
                    }
                };
                let answer = self.converse(&agent, &r, inv, audit).await?;
                Ok((200, answer.json()))
            }
        }
    }

    async fn sqs(&self, records: Vec<SqsRecord>, inv: &Invocation, audit: &mut Audit) -> Value {
        let runs = join_all(records.iter().map(|r| self.job_record(r, inv))).await;
        let mut failures = Vec::new();
        let mut agents: Vec<String> = Vec::new();
        let mut worst = 0;
        audit.records = Some(records.len());
        for (record, (retry, a)) in records.iter().zip(runs) {
            if retry {
                failures.push(json!({"itemIdentifier": record.message_id}));
            }
            audit.turns += a.turns;
            audit.tool_calls += a.tool_calls;
            audit.input_tokens += a.input_tokens;
            audit.output_tokens += a.output_tokens;
            audit.model_latency_ms += a.model_latency_ms;
            if let Some(ag) = &a.agent
                && !agents.contains(ag)
            {
                agents.push(ag.clone());
            }
            // The invocation's outcome is its worst record's: one SQS will deliver
            // again beats one that was dropped, which beats none.
            let rank = match (retry, a.error.is_some()) {
                (true, _) => 2,
                (false, true) => 1,
                _ => 0,
            };
            if rank > worst {
                worst = rank;
                audit.error = a.error.clone();
                audit.outcome = a.outcome;
                audit.status = a.status;
            }
            if records.len() == 1 {
                audit.session_id = a.session_id;
                audit.job_id = a.job_id;
                audit.stop_reason = a.stop_reason;
                if audit.error.is_none() {
                    audit.outcome = a.outcome;
                }
            }
        }
        if agents.len() == 1 {
            audit.agent = agents.pop();
        }
        audit.failed_records = Some(failures.len());
        json!({"batchItemFailures": failures})
    }

    /// Runs one queued job. Returns whether SQS should deliver it again, and the
    /// record's own audit figures.
    async fn job_record(&self, record: &SqsRecord, inv: &Invocation) -> (bool, Audit) {
        let mut audit = Audit::new(&inv.request_id);
        let job = match &record.job {
            Ok(j) => j,
            Err(bad) => {
                self.note_error(&mut audit, &RunError::BadRequest(bad.0.clone()));
                return (false, audit);
            }
        };
        audit.job_id = Some(job.job_id.clone());
        let track = self.config.api.mode == ApiMode::Async;
        let agent = job.request.agent.clone().unwrap_or_default();
        if track && let Err(e) = self.jobs().update(&job.job_id, "running", None, None).await {
            let err = RunError::internal("job_update", e);
            self.note_error(&mut audit, &err);
            return (true, audit);
        }
        let result = self.converse(&agent, &job.request, inv, &mut audit).await;
        let (status, value, error) = match &result {
            Ok(a) => ("done", Some(a.json()), None),
            Err(e) => ("failed", None, Some(e.public_message())),
        };
        let mut retry = false;
        if let Err(e) = &result {
            self.note_error(&mut audit, e);
            retry = e.retryable();
        }
        if track
            && let Err(e) = self
                .jobs()
                .update(&job.job_id, status, value.as_ref(), error.as_deref())
                .await
        {
            let err = RunError::internal("job_update", e);
            self.note_error(&mut audit, &err);
            retry = true;
        }
        (retry, audit)
    }
}

fn record(audit: &mut Audit, stats: &Stats) {
    audit.turns = stats.turns;
    audit.tool_calls = stats.tool_calls;
    audit.input_tokens = stats.usage.input_tokens;
    audit.output_tokens = stats.usage.output_tokens;
    audit.model_latency_ms = stats.model_latency.as_millis() as u64;
}

fn error_body(message: &str, request_id: &str) -> Value {
    json!({"error": message, "request_id": request_id})
}

/// The direct-invoke and EventBridge error shape.
fn error_object(e: &RunError, request_id: &str) -> Value {
    json!({"error": e.public_message(), "request_id": request_id, "status": e.status()})
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
