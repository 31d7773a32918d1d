//! Checkpoints of an async job: where the agent loop is, written after every model
//! turn and every tool result, so a job killed, timed out or delivered twice
//! resumes where it was instead of starting over.
//!
//! The loop (`crate::agent`) knows only the [`Journal`] it writes to and the
//! [`Checkpoint`] it resumes from; where checkpoints are stored (the jobs table,
//! conditional on a version) is `crate::app`'s business.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::anthropic::{Block, CacheCreation, Message, Role, Usage};
pub use crate::outcome::JournalError;
use crate::outcome::{Stats, Stop, ToolOutput};
use crate::request::Mark;

/// Where a job's run is. Everything the loop needs to carry on without repeating
/// a completed model turn or a tool call whose result is here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The conversation so far. It ends on the user's turn (the next step is a
    /// model call), or on the assistant's turn: with `tool_use` blocks, the next
    /// step runs them; after `pause_turn`, it calls the model again.
    pub messages: Vec<Message>,
    pub progress: Progress,
    /// Results of the last assistant turn's tool calls already made, by
    /// `tool_use` id. Cleared by each model turn.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tools_done: BTreeMap<String, SavedOutput>,
    /// Set when the last model turn ended the run: resuming only answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
    /// The session's version when the job started: saving the session at the end
    /// is conditional on it, as for a synchronous request.
    #[serde(default)]
    pub session_version: u64,
    /// Where the last request's conversation cache breakpoint was
    /// (`crate::request::Mark`): the next request marks it again, so the cache
    /// is read across invocations as within one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_mark: Option<Mark>,
    /// People's decisions on calls that wait for approval, by `tool_use_id`:
    /// `true` runs the call, `false` answers the model that it was rejected.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub approvals: BTreeMap<String, bool>,
    /// The submitter's JWT `sub`, so a resumed run is charged to their budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// The session the job answers in (a new id when its request named none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// The counters of [`Stats`] that carry over from one invocation to the next.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub turns: u32,
    pub tool_calls: u32,
    #[serde(default)]
    pub mcp_calls: u32,
    pub usage: Usage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default)]
    pub model_latency_ms: u64,
}

impl Progress {
    pub fn of(stats: &Stats) -> Progress {
        Progress {
            turns: stats.turns,
            tool_calls: stats.tool_calls,
            mcp_calls: stats.mcp_calls,
            usage: stats.usage,
            cost_usd: stats.cost_usd,
            model_latency_ms: stats.model_latency.as_millis() as u64,
        }
    }

    /// Stats to carry on counting from.
    pub fn stats(&self) -> Stats {
        Stats {
            turns: self.turns,
            tool_calls: self.tool_calls,
            mcp_calls: self.mcp_calls,
            usage: self.usage,
            cost_usd: self.cost_usd,
            model_latency: Duration::from_millis(self.model_latency_ms),
            ..Stats::default()
        }
    }

    /// What `stats` counted beyond this progress: one invocation's own figures,
    /// for its audit line and metrics, when it resumed from here.
    pub fn since(&self, stats: &Stats) -> Stats {
        let u = &stats.usage;
        let b = &self.usage;
        let cache_creation = match (u.cache_creation, b.cache_creation) {
            (Some(n), Some(o)) => Some(CacheCreation {
                ephemeral_5m_input_tokens: n
                    .ephemeral_5m_input_tokens
                    .saturating_sub(o.ephemeral_5m_input_tokens),
                ephemeral_1h_input_tokens: n
                    .ephemeral_1h_input_tokens
                    .saturating_sub(o.ephemeral_1h_input_tokens),
            }),
            (n, _) => n,
        };
        Stats {
            turns: stats.turns.saturating_sub(self.turns),
            tool_calls: stats.tool_calls.saturating_sub(self.tool_calls),
            mcp_calls: stats.mcp_calls.saturating_sub(self.mcp_calls),
            usage: Usage {
                input_tokens: u.input_tokens.saturating_sub(b.input_tokens),
                output_tokens: u.output_tokens.saturating_sub(b.output_tokens),
                cache_creation_input_tokens: u
                    .cache_creation_input_tokens
                    .saturating_sub(b.cache_creation_input_tokens),
                cache_read_input_tokens: u
                    .cache_read_input_tokens
                    .saturating_sub(b.cache_read_input_tokens),
                cache_creation,
            },
            cost_usd: stats
                .cost_usd
                .map(|c| (c - self.cost_usd.unwrap_or(0.0)).max(0.0)),
            model_latency: stats
                .model_latency
                .saturating_sub(Duration::from_millis(self.model_latency_ms)),
            ..stats.clone()
        }
    }
}

/// A tool call's result as checkpointed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedOutput {
    pub content: String,
    #[serde(default)]
    pub is_error: bool,
}

impl From<&ToolOutput> for SavedOutput {
    fn from(o: &ToolOutput) -> SavedOutput {
        SavedOutput {
            content: o.content.clone(),
            is_error: o.is_error,
        }
    }
}

impl From<&SavedOutput> for ToolOutput {
    fn from(o: &SavedOutput) -> ToolOutput {
        ToolOutput {
            content: o.content.clone(),
            is_error: o.is_error,
        }
    }
}

/// How the run ended, when its last model turn ended it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    /// [`Stop::as_str`]. The answer is the text of the conversation's last
    /// (assistant) turn.
    pub stop_reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal_category: Option<String>,
}

impl Ended {
    pub fn stop(&self) -> Stop {
        Stop::from_model(&self.stop_reason).unwrap_or(Stop::EndTurn)
    }
}

/// Where the loop writes its checkpoints. Each write either lands, or ends the
/// run: a run that cannot record what it did must not go on doing things.
pub trait Journal: Send + Sync {
    /// After a model turn: the conversation with the assistant's new turn, the
    /// counters, the request's cache breakpoint, and the end when this turn
    /// ended the run.
    fn turn<'a>(
        &'a self,
        messages: &'a [Message],
        stats: &'a Stats,
        cache_mark: Option<Mark>,
        ended: Option<Ended>,
    ) -> BoxFuture<'a, Result<(), JournalError>>;
    /// After one tool call of the current turn.
    fn tool<'a>(
        &'a self,
        tool_use_id: &'a str,
        output: &'a ToolOutput,
    ) -> BoxFuture<'a, Result<(), JournalError>>;
}

impl fmt::Debug for dyn Journal + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Journal")
    }
}

/// The text of the conversation's last turn when it is the assistant's.
pub fn last_text(messages: &[Message]) -> String {
    let Some(last) = messages.last().filter(|m| m.role == Role::Assistant) else {
        return String::new();
    };
    last.content
        .iter()
        .filter_map(|b| match Block::of(b) {
            Block::Text(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// The `tool_use` calls of the conversation's last turn, when it is the
/// assistant's: what a resumed run does first.
pub fn pending_calls(messages: &[Message]) -> Vec<(String, String, serde_json::Value)> {
    let Some(last) = messages.last().filter(|m| m.role == Role::Assistant) else {
        return Vec::new();
    };
    last.content
        .iter()
        .filter_map(|b| match Block::of(b) {
            Block::ToolUse { id, name, input } => {
                Some((id.to_string(), name.to_string(), input.clone()))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
