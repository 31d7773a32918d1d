//! Recorded conversations: what `claw invoke --local --record FILE` writes and
//! `claw test` replays.
//!
//! A [`Recording`] holds the event, every model request and the response it got,
//! every tool call with its result (taken from the conversation the model was
//! sent), and the function's answer. No header is kept, so no API key; an MCP
//! server's `authorization_token` is replaced with [`REDACTED`].
//!
//! - `server`: one loopback server for both directions: while recording it passes
//!   the function's model requests on to the real API and keeps each exchange;
//!   while replaying it answers them from a recording and answers tool calls
//!   (`POST /claw/tool`, see `agent_fn::replay`), noting where the function's
//!   requests stop matching;
//! - `diff`: the readable difference between a recorded request and the one the
//!   function sent;
//! - `assert`: the checks of `tests/agents/*.yaml` on a conversation.

pub mod assert;
pub mod diff;
pub mod schema;
pub mod server;

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The format's version, first in every file.
pub const FORMAT: u32 = 1;

/// What a secret in a request is replaced with.
pub const REDACTED: &str = "<redacted>";

/// One recorded conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    pub claw_recording: u32,
    /// The agent the event addresses.
    pub agent: String,
    /// The event the function was invoked with (a direct invoke).
    pub event: Value,
    /// Every model request, in order, with the response it got.
    pub exchanges: Vec<Exchange>,
    /// Every tool call the model asked for, in order, with its result.
    pub tools: Vec<ToolCall>,
    /// What the function answered.
    pub answer: Answer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// The request body, secrets redacted.
    pub request: Value,
    pub response: Reply,
}

/// A model response as the API sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    /// The JSON body, or the text of a body that is not JSON.
    pub body: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub input: Value,
    /// The result the model was sent.
    pub content: String,
    pub is_error: bool,
}

/// The parts of the function's answer a replay must reproduce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub response: String,
    pub stop_reason: String,
}

impl Answer {
    /// From the function's direct-invoke answer; `None` for its error object.
    pub fn of(payload: &Value) -> Option<Answer> {
        Some(Answer {
            response: payload.get("response")?.as_str()?.to_string(),
            stop_reason: payload["stop_reason"].as_str().unwrap_or_default().into(),
        })
    }
}

impl Recording {
    /// A recording of one run; the tool calls are read from the last request,
    /// which carries the whole conversation before the final answer.
    pub fn new(agent: &str, event: Value, exchanges: Vec<Exchange>, answer: Answer) -> Recording {
        let tools = exchanges
            .last()
            .map(|e| tool_calls(&e.request))
            .unwrap_or_default();
        Recording {
            claw_recording: FORMAT,
            agent: agent.to_string(),
            event,
            exchanges,
            tools,
            answer,
        }
    }

    pub fn read(path: &Path) -> anyhow::Result<Recording> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the recording {}", path.display()))?;
        let r: Recording = serde_json::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}:{}:{}: not a claw recording: {e}",
                path.display(),
                e.line(),
                e.column()
            )
        })?;
        if r.claw_recording != FORMAT {
            anyhow::bail!(
                "{}: recording format {} is not one this claw reads ({FORMAT})",
                path.display(),
                r.claw_recording
            );
        }
        Ok(r)
    }

    /// Writes the file whole or not at all (a temporary file renamed over it).
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(d) = dir {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        let tmp = tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new(".")))?;
        std::fs::write(tmp.path(), text)?;
        tmp.persist(path)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Model tokens the recorded responses report, input (all kinds) and output.
    pub fn tokens(&self) -> (u64, u64) {
        self.exchanges.iter().fold((0, 0), |(i, o), e| {
            let u = &e.response.body["usage"];
            let n = |k: &str| u[k].as_u64().unwrap_or(0);
            (
                i + n("input_tokens")
                    + n("cache_creation_input_tokens")
                    + n("cache_read_input_tokens"),
                o + n("output_tokens"),
            )
        })
    }
}

/// The request body as kept: secrets replaced. The replay compares requests in
/// this form, so a placeholder and a real token read the same.
pub fn redact(mut request: Value) -> Value {
    if let Some(servers) = request.get_mut("mcp_servers").and_then(Value::as_array_mut) {
        for s in servers {
            if let Some(t) = s.get_mut("authorization_token") {
                *t = Value::String(REDACTED.into());
            }
        }
    }
    request
}

/// The tool calls of a conversation with their results: each `tool_use` block of
/// an assistant turn and the `tool_result` answering it in the next user turn.
pub fn tool_calls(request: &Value) -> Vec<ToolCall> {
    let empty = Vec::new();
    let messages = request["messages"].as_array().unwrap_or(&empty);
    let mut calls = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        if m["role"] != "assistant" {
            continue;
        }
        let results = messages.get(i + 1).map(|n| &n["content"]);
        for block in m["content"].as_array().unwrap_or(&empty) {
            if block["type"] != "tool_use" {
                continue;
            }
            let id = block["id"].as_str().unwrap_or_default();
            let result = results
                .and_then(Value::as_array)
                .and_then(|r| r.iter().find(|b| b["tool_use_id"] == id));
            let Some(result) = result else { continue };
            calls.push(ToolCall {
                id: id.to_string(),
                name: block["name"].as_str().unwrap_or_default().to_string(),
                input: block["input"].clone(),
                content: content_text(&result["content"]),
                is_error: result["is_error"].as_bool().unwrap_or(false),
            });
        }
    }
    calls
}

/// A `tool_result`'s content as the function sent it: a string, or text blocks.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests;
