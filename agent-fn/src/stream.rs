//! The function's own event stream, for callers that asked for one (a function
//! URL in `RESPONSE_STREAM` mode, `InvokeWithResponseStream`): server-sent
//! events the caller can show as they come.
//!
//! - `text`: `{"text"}`, a piece of the answer, as the model generates it;
//! - `tool_use`: `{"id","name"}`, a tool call the model asked for (its input is
//!   not sent: it may hold what the caller should not see);
//! - `tool_result`: `{"id","name","status"}`, `ok` or `error` (never the result);
//! - `done`: the buffered answer's fields without `response` (session id, stop
//!   reason, usage, cost, tool calls);
//! - `error`: `{"status","error","request_id"}`, the buffered error answer; the
//!   stream ends after it.
//!
//! The agent loop sends [`Update`]s into a bounded channel ([`Sink`]): when the
//! caller reads slowly, the loop waits instead of buffering the answer.

use serde_json::{Value, json};

/// One thing worth telling a streaming caller while the loop runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    Text(String),
    ToolUse { id: String, name: String },
    ToolResult { id: String, name: String, ok: bool },
}

/// Where the loop sends its updates.
pub type Sink = tokio::sync::mpsc::Sender<Update>;

/// How many updates may wait for a slow caller before the loop waits too.
pub const CHANNEL_DEPTH: usize = 64;

/// The content type of the stream.
pub const CONTENT_TYPE: &str = "text/event-stream";

/// One event on the wire.
pub fn event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

impl Update {
    pub fn to_event(&self) -> String {
        match self {
            Update::Text(t) => event("text", &json!({"text": t})),
            Update::ToolUse { id, name } => event("tool_use", &json!({"id": id, "name": name})),
            Update::ToolResult { id, name, ok } => event(
                "tool_result",
                &json!({"id": id, "name": name, "status": if *ok { "ok" } else { "error" }}),
            ),
        }
    }
}

/// Sends `update` unless the caller went away: the run still finishes (and
/// saves its session) when nobody reads it.
pub async fn send(sink: Option<&Sink>, update: Update) {
    if let Some(s) = sink {
        let _ = s.send(update).await;
    }
}
