//! Server-sent events, read incrementally, and the Messages API's stream of them
//! assembled back into the message a buffered call returns.
//!
//! [`Parser`] follows the WHATWG event-stream rules
//! (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
//! lines end in CR LF, LF or CR (a CR at the end of one chunk and an LF at the
//! start of the next are one line end); `:` starts a comment; `data` lines join
//! with LF; a blank line dispatches the event when it has data. It keeps only the
//! unfinished line and the event being built, never the stream so far.
//!
//! [`Assembler`] applies the Messages API's events
//! (https://docs.anthropic.com/en/docs/build-with-claude/streaming):
//! `message_start` carries the message with empty content and the input usage;
//! `content_block_start` / `_delta` / `_stop` build each block (`text_delta`,
//! `input_json_delta` as partial JSON parsed when the block stops,
//! `thinking_delta`, `signature_delta`, `citations_delta`); `message_delta`
//! carries the stop reason and cumulative usage; `error` ends the stream with an
//! API error; `ping` and unknown events are ignored, as the API asks.

use serde_json::{Map, Value};

use super::{Attempt, MessagesResponse, ModelError, Usage};
use crate::stream::{Sink, Update};

/// One dispatched event: its `event` field (`message` when absent) and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event: String,
    pub data: String,
}

/// The most bytes one line may take before the stream is judged corrupt: a
/// `data` line holds one JSON event, and the largest (a `message_start` or a
/// whole tool input) is far below this.
pub const MAX_LINE: usize = 8 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    /// The previous chunk ended in CR: an LF first in this one is its pair.
    after_cr: bool,
    event: String,
    data: String,
    has_data: bool,
}

impl Parser {
    /// Feeds the next bytes; returns the events they complete, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<Event>, String> {
        let mut out = Vec::new();
        let mut rest = bytes;
        if self.after_cr {
            self.after_cr = false;
            if let Some(b'\n') = rest.first() {
                rest = &rest[1..];
            }
        }
        while let Some(i) = rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
            self.line.extend_from_slice(&rest[..i]);
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, &mut out);
            if rest[i] == b'\r' {
                match rest.get(i + 1) {
                    Some(b'\n') => rest = &rest[i + 2..],
                    Some(_) => rest = &rest[i + 1..],
                    None => {
                        self.after_cr = true;
                        rest = &[];
                    }
                }
            } else {
                rest = &rest[i + 1..];
            }
        }
        self.line.extend_from_slice(rest);
        if self.line.len() > MAX_LINE {
            return Err(format!("an event-stream line over {MAX_LINE} bytes"));
        }
        Ok(out)
    }

    fn line_done(&mut self, line: &[u8], out: &mut Vec<Event>) {
        if line.is_empty() {
            if self.has_data {
                out.push(Event {
                    event: if self.event.is_empty() {
                        "message".to_string()
                    } else {
                        std::mem::take(&mut self.event)
                    },
                    data: std::mem::take(&mut self.data),
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return;
        }
        if line[0] == b':' {
            return;
        }
        // Line ends are ASCII, so no character is split across lines.
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // `id` and `retry` serve reconnection, which a model call never does.
            _ => {}
        }
    }
}

/// What a stream event meant for the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Text to show now.
    Text(String),
    /// A tool call began (its input arrives later).
    ToolUse { id: String, name: String },
}

/// Builds the message from the Messages API's stream events.
#[derive(Debug, Default)]
pub struct Assembler {
    message: Option<Map<String, Value>>,
    blocks: Vec<Value>,
    /// Partial JSON of each open `tool_use`-like block, by index.
    partial: Vec<Option<String>>,
    stopped: bool,
}

/// The stream said the call failed: the `error` event's type, as a buffered
/// call's error body would give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    pub error_type: Option<String>,
    pub message: String,
}

impl Assembler {
    /// Applies one event. `Ok(Some(_))` when it is worth showing.
    pub fn apply(&mut self, event: &Event) -> Result<Option<Progress>, StreamError> {
        let corrupt = |what: &str| StreamError {
            error_type: None,
            message: format!("a malformed {what} event in the model's stream"),
        };
        if event.event == "ping" {
            return Ok(None);
        }
        let v: Value = serde_json::from_str(&event.data).map_err(|_| corrupt(&event.event))?;
        let kind = v["type"].as_str().unwrap_or(event.event.as_str());
        match kind {
            "message_start" => {
                let Some(m) = v["message"].as_object() else {
                    return Err(corrupt(kind));
                };
                self.message = Some(m.clone());
                self.blocks.clear();
                self.partial.clear();
            }
            "content_block_start" => {
                let index = index(&v).ok_or_else(|| corrupt(kind))?;
                let mut block = v["content_block"].clone();
                if !block.is_object() {
                    return Err(corrupt(kind));
                }
                let tool = block["input"].is_object();
                let progress = match (block["type"].as_str(), block["id"].as_str()) {
                    (Some("tool_use"), Some(id)) => Some(Progress::ToolUse {
                        id: id.to_string(),
                        name: block["name"].as_str().unwrap_or_default().to_string(),
                    }),
                    _ => None,
                };
                if tool {
                    // The input comes as partial JSON deltas; `{}` if none come.
                    block["input"] = Value::Object(Map::new());
                }
                if self.blocks.len() <= index {
                    self.blocks.resize(index + 1, Value::Null);
                    self.partial.resize(index + 1, None);
                }
                self.blocks[index] = block;
                self.partial[index] = tool.then(String::new);
                return Ok(progress);
            }
            "content_block_delta" => {
                let index = index(&v).ok_or_else(|| corrupt(kind))?;
                let block = self
                    .blocks
                    .get_mut(index)
                    .filter(|b| b.is_object())
                    .ok_or_else(|| corrupt(kind))?;
                let delta = &v["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => {
                        let text = delta["text"].as_str().ok_or_else(|| corrupt(kind))?;
                        append(block, "text", text);
                        return Ok(Some(Progress::Text(text.to_string())));
                    }
                    Some("input_json_delta") => {
                        let part = delta["partial_json"]
                            .as_str()
                            .ok_or_else(|| corrupt(kind))?;
                        match self.partial.get_mut(index) {
                            Some(Some(p)) => p.push_str(part),
                            _ => return Err(corrupt(kind)),
                        }
                    }
                    Some("thinking_delta") => {
                        append(block, "thinking", delta["thinking"].as_str().unwrap_or(""))
                    }
                    Some("signature_delta") => append(
                        block,
                        "signature",
                        delta["signature"].as_str().unwrap_or(""),
                    ),
                    Some("citations_delta") => {
                        let obj = block.as_object_mut().ok_or_else(|| corrupt(kind))?;
                        let list = obj
                            .entry("citations")
                            .or_insert_with(|| Value::Array(Vec::new()));
                        if !list.is_array() {
                            *list = Value::Array(Vec::new());
                        }
                        if let Some(a) = list.as_array_mut() {
                            a.push(delta["citation"].clone());
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                let index = index(&v).ok_or_else(|| corrupt(kind))?;
                if let Some(Some(json)) = self.partial.get_mut(index).map(Option::take) {
                    let input = if json.trim().is_empty() {
                        Value::Object(Map::new())
                    } else {
                        serde_json::from_str(&json).map_err(|_| corrupt("tool input"))?
                    };
                    if let Some(b) = self.blocks.get_mut(index) {
                        b["input"] = input;
                    }
                }
            }
            "message_delta" => {
                let m = self.message.as_mut().ok_or_else(|| corrupt(kind))?;
                if let Some(delta) = v["delta"].as_object() {
                    for (k, val) in delta {
                        m.insert(k.clone(), val.clone());
                    }
                }
                // Cumulative counts: each one given replaces the earlier one.
                if let Some(usage) = v["usage"].as_object() {
                    let entry = m
                        .entry("usage")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if !entry.is_object() {
                        *entry = Value::Object(Map::new());
                    }
                    if let Some(u) = entry.as_object_mut() {
                        for (k, val) in usage {
                            if !val.is_null() {
                                u.insert(k.clone(), val.clone());
                            }
                        }
                    }
                }
            }
            "message_stop" => self.stopped = true,
            "error" => {
                return Err(StreamError {
                    error_type: v
                        .pointer("/error/type")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    message: v
                        .pointer("/error/message")
                        .and_then(Value::as_str)
                        .unwrap_or("the model's stream reported an error")
                        .to_string(),
                });
            }
            _ => {}
        }
        Ok(None)
    }

    /// Whether `message_stop` arrived.
    pub fn is_done(&self) -> bool {
        self.stopped
    }

    /// The whole message, once `message_stop` arrived.
    pub fn finish(self) -> Result<MessagesResponse, StreamError> {
        let incomplete = |what: &str| StreamError {
            error_type: None,
            message: format!("the model's stream ended {what}"),
        };
        if !self.stopped {
            return Err(incomplete("before message_stop"));
        }
        let mut m = self
            .message
            .ok_or_else(|| incomplete("without message_start"))?;
        if self.blocks.iter().any(|b| !b.is_object()) {
            return Err(incomplete("with a content block missing"));
        }
        m.insert("content".into(), Value::Array(self.blocks));
        serde_json::from_value::<MessagesResponse>(Value::Object(m))
            .map_err(|e| incomplete(&format!("with a message that does not decode: {e}")))
    }

    /// The usage reported so far (input at the start, output as it grows).
    pub fn usage(&self) -> Usage {
        self.message
            .as_ref()
            .and_then(|m| m.get("usage"))
            .and_then(|u| serde_json::from_value(u.clone()).ok())
            .unwrap_or_default()
    }
}

/// Reads a streamed answer: events parsed as they arrive, text and tool calls
/// passed on, the message assembled. On failure, also whether anything was
/// passed on (then the call must not be retried).
pub(super) async fn read(
    resp: &mut reqwest::Response,
    sink: &Sink,
) -> Result<MessagesResponse, (ModelError, bool)> {
    let mut parser = Parser::default();
    let mut assembler = Assembler::default();
    let mut sent = false;
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                let Attempt::Failed { error, .. } = Attempt::transport(&e) else {
                    unreachable!("transport errors are failures")
                };
                return Err((error, sent));
            }
        };
        let events = parser
            .feed(&chunk)
            .map_err(|e| (ModelError::Decode(e), sent))?;
        for event in events {
            match assembler.apply(&event) {
                Ok(Some(progress)) => {
                    let update = match progress {
                        Progress::Text(t) => Update::Text(t),
                        Progress::ToolUse { id, name } => Update::ToolUse { id, name },
                    };
                    sent = true;
                    crate::stream::send(Some(sink), update).await;
                }
                Ok(None) => {}
                Err(e) => return Err((stream_error(e), sent)),
            }
        }
        if assembler.is_done() {
            break;
        }
    }
    assembler.finish().map_err(|e| (stream_error(e), sent))
}

/// An `error` event as the status a buffered call would have had (the
/// Messages API's error types, https://docs.anthropic.com/en/api/errors);
/// a malformed or cut stream as a decode failure.
fn stream_error(e: StreamError) -> ModelError {
    let status = match e.error_type.as_deref() {
        None => return ModelError::Decode(e.message),
        Some("invalid_request_error") => 400,
        Some("authentication_error") => 401,
        Some("permission_error") => 403,
        Some("not_found_error") => 404,
        Some("request_too_large") => 413,
        Some("rate_limit_error") => 429,
        Some("overloaded_error") => 529,
        Some(_) => 500,
    };
    ModelError::Status {
        status,
        error_type: e.error_type,
    }
}

fn index(v: &Value) -> Option<usize> {
    let i = usize::try_from(v["index"].as_u64()?).ok()?;
    // A model message has a few hundred blocks at most; an index far beyond
    // would only make the assembler allocate.
    (i < 4096).then_some(i)
}

fn append(block: &mut Value, field: &str, text: &str) {
    let Some(obj) = block.as_object_mut() else {
        return;
    };
    match obj.get_mut(field) {
        Some(Value::String(s)) => s.push_str(text),
        _ => {
            obj.insert(field.to_string(), Value::String(text.to_string()));
        }
    }
}

#[cfg(test)]
mod tests;
