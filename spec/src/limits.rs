//! `limits:`: what one request, and one async job, may spend.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most tool calls in one invocation (default 20).
    #[serde(default = "default_max_tool_calls")]
    pub max_tool_calls: u32,
    /// Most model turns in one invocation (default 12).
    #[serde(default = "default_max_turns")]
    pub max_turns: u32,
    /// Most minutes an async job may run in total, across the invocations it
    /// continues in (default 60). `max_turns` and `max_tool_calls` count per
    /// job, not per invocation.
    #[serde(default = "default_job_max_minutes")]
    pub job_max_minutes: u32,
    /// Most model tokens (input + output, cache writes and reads included) one
    /// `session_id` may use per UTC day. Over it, requests on that session are
    /// answered 429 with `retry-after` until midnight UTC. Needs `sessions:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_tokens_per_day: Option<u64>,
    /// Most requests one `session_id` may make per minute (429 beyond). Needs
    /// `sessions:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_requests_per_minute: Option<u64>,
    /// Like `session_tokens_per_day`, per caller: the JWT's `sub` claim, summed
    /// over all of that caller's sessions. Needs `sessions:` and `api.auth: jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_tokens_per_day: Option<u64>,
    /// Like `session_requests_per_minute`, per caller (the JWT's `sub` claim).
    /// Needs `sessions:` and `api.auth: jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_requests_per_minute: Option<u64>,
}

impl Limits {
    /// Whether any per-session or per-caller budget is set: the function then
    /// keeps counters in the sessions table.
    pub fn has_budget(&self) -> bool {
        self.session_tokens_per_day.is_some()
            || self.session_requests_per_minute.is_some()
            || self.caller_tokens_per_day.is_some()
            || self.caller_requests_per_minute.is_some()
    }
}

fn default_max_tool_calls() -> u32 {
    20
}
fn default_max_turns() -> u32 {
    12
}
fn default_job_max_minutes() -> u32 {
    60
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tool_calls: default_max_tool_calls(),
            max_turns: default_max_turns(),
            job_max_minutes: default_job_max_minutes(),
            session_tokens_per_day: None,
            session_requests_per_minute: None,
            caller_tokens_per_day: None,
            caller_requests_per_minute: None,
        }
    }
}
