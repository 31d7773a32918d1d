//! One agent conversation: find the agent, fetch the API key and the stored
//! session together, run the loop, save the session, and turn the loop's end into
//! an [`Answer`] or a [`RunError`].

use claw_spec::model::Provider;
use serde_json::json;

use super::respond::{Answer, RunError};
use super::{App, Invocation};
use crate::agent::{self, Settings, Stats, push_user_text};
use crate::anthropic::{self, ModelError};
use crate::audit::Audit;
use crate::deadline::random_id;
use crate::event::{AgentRequest, truncate};
use crate::sessions::{self, SaveError};

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

    /// One agent run: load the session, loop, save the session.
    pub(super) async fn converse(
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
}

/// Copies the run's counters into the audit line.
fn record(audit: &mut Audit, stats: &Stats) {
    let agent = audit.agent.clone().unwrap_or_default();
    audit
        .spans
        .extend(stats.spans.iter().map(|s| (agent.clone(), s.clone())));
    audit.turns = stats.turns;
    audit.tool_calls = stats.tool_calls;
    audit.input_tokens = stats.usage.input_tokens;
    audit.output_tokens = stats.usage.output_tokens;
    audit.model_latency_ms = stats.model_latency.as_millis() as u64;
}
