//! One agent conversation: find the agent, fetch the API key, the MCP servers'
//! tokens and the stored session together, run the loop, save the session, and turn the loop's end into
//! an [`Answer`] or a [`RunError`].

use std::sync::Mutex;

use claw_spec::model::{ApiAuth, Provider};
use serde_json::json;

use super::respond::{Answer, RunError};
use super::{App, Invocation};
use std::sync::atomic::Ordering;

use super::job::JobJournal;
use crate::agent::{self, JobState, Settings, Stats, Stop, push_user_text};
use crate::anthropic::{self, ModelError};
use crate::audit::Audit;
use crate::backend::Backend;
use crate::bedrock;
use crate::budget::{Budgets, Denied, Gate, caller_id};
use crate::checkpoint::JournalError;
use crate::deadline::random_id;
use crate::event::{AgentRequest, truncate};
use crate::mcp;
use crate::sessions::{self, SaveError};
use crate::stream;

impl App {
    fn model_client(&self) -> Result<&anthropic::Client, RunError> {
        self.model
            .get_or_init(|| {
                anthropic::Client::new(&self.model_base_url, self.retry)
                    .map_err(|e| format!("building the model client: {e}"))
            })
            .as_ref()
            .map_err(|e| RunError::internal("model_client", e.clone()))
    }

    async fn bedrock_client(&self) -> &bedrock::Client {
        self.bedrock
            .get_or_init(|| async {
                bedrock::Client::new(
                    self.aws.config().await,
                    self.bedrock_endpoint.as_deref(),
                    self.retry,
                    self.config.api.stream.is_some(),
                )
            })
            .await
    }

    /// One agent run: load the session, loop, save the session.
    pub(super) async fn converse(
        &self,
        agent_name: &str,
        req: &AgentRequest,
        inv: &Invocation,
        audit: &mut Audit,
        sink: Option<&stream::Sink>,
        job: Option<&JobJournal<'_>>,
    ) -> Result<Answer, RunError> {
        let Some(agent) = self.config.agents.get(agent_name) else {
            return Err(RunError::NotFound(format!(
                "no agent named `{}`",
                truncate(agent_name, 64)
            )));
        };
        audit.agent = Some(agent_name.to_string());
        let resumed = job.and_then(|j| j.resume.as_ref());
        let session_id = resumed
            .and_then(|c| c.session_id.clone())
            .or_else(|| req.session_id.clone())
            .unwrap_or_else(random_id);
        audit.session_id = Some(session_id.clone());
        let model = self.config.model_for(agent_name);
        // Bedrock needs no key: the execution role signs its calls.
        let key_name = match model.provider {
            Provider::Anthropic => {
                Some(self.config.model.api_key_secret.as_deref().ok_or_else(|| {
                    RunError::internal("config", "model.api_key_secret is not set")
                })?)
            }
            Provider::Bedrock => None,
        };
        // Both are network round trips on a cold start; do them together.
        let (key, servers, loaded) = tokio::join!(
            async {
                match key_name {
                    Some(name) => self.secrets.get(name).await.map(Some),
                    None => Ok(None),
                }
            },
            mcp::servers(&self.config, &agent.tools, &self.secrets),
            async {
                match resumed {
                    // The checkpoint holds the conversation, session included.
                    Some(_) => Ok(sessions::Loaded::default()),
                    None => self.load_session(&session_id).await,
                }
            }
        );
        let key = key.map_err(|e| RunError::internal("api_key", e))?;
        let servers = servers.map_err(|e| RunError::internal("mcp_token", e))?;
        let loaded = loaded?;
        let backend = match &key {
            Some(k) => Backend::Anthropic {
                client: self.model_client()?,
                api_key: k,
            },
            None => Backend::Bedrock {
                client: self.bedrock_client().await,
            },
        };
        if loaded.discarded {
            (self.sink)(
                &json!({"type": "warning", "request_id": inv.request_id, "detail": "stored session history was unreadable and was reset"})
                    .to_string(),
            );
        }
        let (messages, session_version) = match resumed {
            Some(cp) => (cp.messages.clone(), cp.session_version),
            None => {
                let mut messages = loaded.messages;
                push_user_text(&mut messages, &req.message);
                (messages, loaded.version)
            }
        };
        if let Some(j) = job {
            j.session_version.store(session_version, Ordering::Relaxed);
            if let Ok(mut id) = j.session_id.lock() {
                *id = Some(session_id.clone());
            }
        }
        let budgets = self.budgets(&session_id, req).await;
        if let Some(b) = &budgets {
            b.admit().await?;
        }
        let settings = Settings {
            model: &model.id,
            max_tokens: model.max_tokens,
            system: &agent.system,
            tools: self
                .tool_defs
                .get(agent_name)
                .map(Vec::as_slice)
                .unwrap_or(&[]),
            max_tool_calls: self.config.limits.max_tool_calls,
            max_turns: self.config.limits.max_turns,
            margin: self.margin,
            cache: model.cache,
            min_cache_tokens: model.min_cache_tokens,
            prices: model.prices,
            gate: budgets.as_ref().map(|b| b as &dyn Gate),
            mcp: &servers,
            sink,
            needs_approval: &self.needs_approval,
            job: job.map(|j| JobState {
                journal: j,
                resume: resumed,
            }),
        };
        let run = agent::run(
            &backend,
            &settings,
            &agent.tools,
            &self.toolbox,
            messages,
            inv.deadline,
        )
        .await;
        if let Some(e) = budgets.as_ref().and_then(Budgets::take_charge_error) {
            // The tokens were spent but not counted: worth an alarm, not a failure.
            self.log_error(&inv.request_id, "budget_store", &e);
        }
        // A resumed job's audit line counts this invocation's part only.
        let own = |stats: &Stats| match resumed {
            Some(cp) => cp.progress.since(stats),
            None => stats.clone(),
        };
        let outcome = match run {
            Ok(o) => o,
            Err(f) => {
                record(audit, &own(&f.stats));
                if let (Some(name), ModelError::Status { status: 401, .. }) = (key_name, &f.error) {
                    // A rotated key: fetch it again next time instead of failing
                    // until the container is recycled.
                    self.secrets.forget(name);
                }
                return Err(match f.error {
                    ModelError::Deadline { .. } => RunError::Timeout,
                    e => RunError::internal(&e.category(), e.to_string()),
                });
            }
        };
        record(audit, &own(&outcome.stats));
        match &outcome.stop {
            Stop::Checkpoint(JournalError::Superseded) => return Err(RunError::Superseded),
            Stop::Checkpoint(e @ JournalError::TooLarge(_)) => {
                return Err(RunError::Fatal {
                    category: "job_checkpoint".into(),
                    detail: e.to_string(),
                    public: false,
                });
            }
            Stop::Checkpoint(e) => return Err(RunError::internal("job_checkpoint", e.to_string())),
            // A job out of time carries on in another invocation.
            Stop::Deadline if job.is_some() => return Err(RunError::Suspended),
            Stop::AwaitingApproval(w) => return Err(RunError::AwaitingApproval(w.clone())),
            _ => {}
        }
        if let Stop::Budget(denied) = &outcome.stop {
            if outcome.stats.turns == 0 {
                return Err(denied.clone().into());
            }
            // Refused after some turns: answer with what there is, like a limit.
            let category = match denied {
                Denied::Over(o) => o.budget.category(),
                Denied::Unavailable(d) => {
                    self.log_error(&inv.request_id, "budget_store", d);
                    "budget_store"
                }
            };
            audit.error = Some(category.to_string());
        }
        if outcome.stats.turns == 0 {
            // Out of time before the model said anything: nothing to answer or keep.
            return Err(RunError::Timeout);
        }
        audit.outcome = outcome.stop.outcome();
        audit.stop_reason = Some(outcome.stop.as_str().to_string());
        if outcome.stop == Stop::Refusal {
            // Not saved: a refused exchange kept in the history would weigh on
            // every later turn of the session.
            return Err(RunError::Refused {
                category: outcome.stats.refusal_category.clone(),
            });
        }
        if let Some(s) = self.config.sessions.as_ref().filter(|_| !self.replay) {
            let mut history = outcome.messages;
            sessions::trim(&mut history, sessions::MAX_HISTORY_BYTES);
            let ddb = self.aws.dynamodb().await;
            match sessions::save(
                ddb,
                &s.table,
                &session_id,
                &history,
                session_version,
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

    /// The budgets that apply to this request, if any are configured: the
    /// session's, and the caller's when the API authorises with JWTs.
    async fn budgets<'s>(&'s self, session_id: &'s str, req: &AgentRequest) -> Option<Budgets<'s>> {
        let limits = &self.config.limits;
        let sessions = self.config.sessions.as_ref().filter(|_| !self.replay)?;
        if !limits.has_budget() {
            return None;
        }
        let caller = match self.config.api.auth {
            ApiAuth::Jwt => req.caller.as_deref().map(caller_id),
            _ => None,
        };
        Some(Budgets {
            ddb: self.aws.dynamodb().await,
            table: &sessions.table,
            limits,
            session_id,
            caller,
            charge_error: Mutex::new(None),
        })
    }

    async fn load_session(&self, session_id: &str) -> Result<sessions::Loaded, RunError> {
        let Some(s) = self.config.sessions.as_ref().filter(|_| !self.replay) else {
            return Ok(sessions::Loaded::default());
        };
        let ddb = self.aws.dynamodb().await;
        sessions::load(ddb, &s.table, session_id)
            .await
            .map_err(|e| RunError::internal("session_store", e))
    }
}

/// Copies the run's counters into the audit line.
fn record(audit: &mut Audit, stats: &Stats) {
    let agent = audit.agent.clone().unwrap_or_default();
    audit
        .spans
        .extend(stats.spans.iter().map(|s| (agent.clone(), s.clone())));
    audit.turns = stats.turns;
    audit.tool_calls = stats.tool_calls;
    audit.mcp_calls = stats.mcp_calls;
    audit.input_tokens = stats.usage.input_tokens;
    audit.output_tokens = stats.usage.output_tokens;
    audit.cache_creation_input_tokens = stats.usage.cache_creation_input_tokens;
    audit.cache_read_input_tokens = stats.usage.cache_read_input_tokens;
    let (w5, w1) = stats.usage.writes_by_ttl();
    audit.cache_write_5m_tokens = w5;
    audit.cache_write_1h_tokens = w1;
    audit.cost_usd = stats.cost_usd;
    audit.model_latency_ms = stats.model_latency.as_millis() as u64;
    audit.ratelimit_requests_remaining = stats.ratelimit.requests_remaining;
    audit.ratelimit_tokens_remaining = stats.ratelimit.prompt_tokens_remaining();
    let waited = stats.ratelimit_wait.as_millis() as u64;
    audit.ratelimit_wait_ms = (waited > 0).then_some(waited);
}
