//! What a run produces besides the conversation: each tool call's output, the
//! counters of the audit line, and why the loop stopped.

use std::fmt;
use std::time::Duration;

use serde_json::{Value, json};

use crate::anthropic::{RateLimit, Usage};
use crate::budget::Denied;
use crate::trace::Span;

/// What one tool call produced. `content` is JSON text for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub content: String,
    pub is_error: bool,
}

impl ToolOutput {
    pub fn ok(v: &Value) -> ToolOutput {
        ToolOutput {
            content: cap_text(v.to_string()),
            is_error: false,
        }
    }

    /// An error the model can read and react to; the run goes on.
    pub fn error(message: impl Into<String>) -> ToolOutput {
        ToolOutput {
            content: json!({"error": message.into()}).to_string(),
            is_error: true,
        }
    }
}

/// Largest tool result handed to the model. Results are JSON text; a longer one is
/// replaced by a JSON object carrying its start, so the model still gets valid JSON.
pub const MAX_TOOL_RESULT_BYTES: usize = 262_144 + 4096;

fn cap_text(s: String) -> String {
    if s.len() <= MAX_TOOL_RESULT_BYTES {
        return s;
    }
    let mut end = MAX_TOOL_RESULT_BYTES - 1024;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    json!({"truncated": true, "text": &s[..end]}).to_string()
}

/// Why the loop ended without an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    EndTurn,
    StopSequence,
    MaxTokens,
    /// The prompt and reply reached the model's context window: the reply is
    /// truncated, like `MaxTokens`.
    ContextWindow,
    Refusal,
    MaxTurns,
    MaxToolCalls,
    Deadline,
    /// The gate refused the next model call.
    Budget(Denied),
    /// A stop reason this build does not know, reported as the API sent it.
    Other(String),
    /// A job's checkpoint could not be written: the run stopped there.
    Checkpoint(JournalError),
    /// A job reached a call that waits for a person's approval.
    AwaitingApproval(Waiting),
}

/// The tool call a job stopped before (`tools.NAME.approval: required`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub tool_use_id: String,
    pub tool: String,
    /// The call's input, as JSON text.
    pub input: String,
}

impl Stop {
    /// The `stop_reason` in responses.
    pub fn as_str(&self) -> &str {
        match self {
            Stop::EndTurn => "end_turn",
            Stop::StopSequence => "stop_sequence",
            Stop::MaxTokens => "max_tokens",
            Stop::ContextWindow => "model_context_window_exceeded",
            Stop::Refusal => "refusal",
            Stop::MaxTurns => "max_turns",
            Stop::MaxToolCalls => "max_tool_calls",
            Stop::Deadline => "deadline",
            Stop::Budget(Denied::Over(_)) => "over_budget",
            Stop::Budget(Denied::Unavailable(_)) => "budget_unavailable",
            Stop::Other(s) => s,
            Stop::Checkpoint(JournalError::Superseded) => "superseded",
            Stop::Checkpoint(_) => "checkpoint_error",
            Stop::AwaitingApproval(_) => "waiting_approval",
        }
    }

    /// The stop a model's `stop_reason` means, when it ends the run (`None` for
    /// `tool_use` and `pause_turn`, which go on).
    pub fn from_model(reason: &str) -> Option<Stop> {
        Some(match reason {
            "tool_use" | "pause_turn" => return None,
            "end_turn" => Stop::EndTurn,
            "stop_sequence" => Stop::StopSequence,
            "max_tokens" => Stop::MaxTokens,
            "model_context_window_exceeded" => Stop::ContextWindow,
            "refusal" => Stop::Refusal,
            other => Stop::Other(other.to_string()),
        })
    }

    /// The audit `outcome`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Stop::EndTurn | Stop::StopSequence | Stop::Other(_) => "ok",
            Stop::MaxTokens | Stop::ContextWindow => "max_tokens",
            Stop::Refusal => "refusal",
            Stop::MaxTurns | Stop::MaxToolCalls => "limit",
            Stop::Deadline => "deadline",
            Stop::Budget(Denied::Over(_)) => "over_budget",
            Stop::Budget(Denied::Unavailable(_)) | Stop::Checkpoint(_) => "error",
            Stop::AwaitingApproval(_) => "waiting_approval",
        }
    }
}

/// Counters for the audit line and the response, kept even when the run fails.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub turns: u32,
    pub tool_calls: u32,
    pub usage: Usage,
    pub model_latency: Duration,
    /// What the model calls cost, in USD; `None` without prices.
    pub cost_usd: Option<f64>,
    /// The rate-limit headers of the last reply.
    pub ratelimit: RateLimit,
    /// Time spent waiting for a spent rate limit to reset before a call.
    pub ratelimit_wait: Duration,
    /// The policy category of a refusal, when the API named one.
    pub refusal_category: Option<String>,
    /// Each model call and each tool call that ran, timed (traces, tool metrics).
    pub spans: Vec<Span>,
    /// Tools the API ran on MCP servers (`mcp_tool_use` blocks).
    pub mcp_calls: u32,
}

/// Why a checkpoint could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalError {
    /// Another delivery of the job wrote first: it owns the run from here.
    Superseded,
    /// The checkpoint is larger than a job record holds.
    TooLarge(usize),
    /// The store failed; a retry could succeed.
    Store(String),
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::Superseded => f.write_str("another delivery of the job advanced it"),
            JournalError::TooLarge(n) => write!(
                f,
                "the checkpoint is {n} bytes, more than a job record holds (400 KB)"
            ),
            JournalError::Store(e) => f.write_str(e),
        }
    }
}
