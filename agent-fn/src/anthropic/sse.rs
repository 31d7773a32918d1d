//! Server-sent events, read incrementally, and the Messages API's stream of them
//! assembled back into the message a buffered call returns.
//!
//! [`Parser`] (shared with claw, which reads the function's own stream) reads
//! the events; [`Assembler`] applies the Messages API's events
//! (https://docs.anthropic.com/en/docs/build-with-claude/streaming):
//! `message_start` carries the message with empty content and the input usage;
//! `content_block_start` / `_delta` / `_stop` build each block (`text_delta`,
//! `input_json_delta` as partial JSON parsed when the block stops,
//! `thinking_delta`, `signature_delta`, `citations_delta`); `message_delta`
//! carries the stop reason and cumulative usage; `error` ends the stream with an
//! API error; `ping` and unknown events are ignored, as the API asks.

use serde_json::{Map, Value};

pub use claw_spec::sse::{Event, MAX_LINE, Parser};

use super::{Attempt, MessagesResponse, ModelError, Usage};
use crate::stream::{Sink, Update};

/// What a stream event meant for the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Text to show now.
    Text(String),
    /// A tool call began (its input arrives later).
    ToolUse { id: String, name: String },
}

impl From<Progress> for Update {
    fn from(p: Progress) -> Update {
        match p {
            Progress::Text(t) => Update::Text(t),
            Progress::ToolUse { id, name } => Update::ToolUse { id, name },
        }
    }
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
            forward(&mut assembler, &event, sink, &mut sent).await?;
        }
        if assembler.is_done() {
            break;
        }
    }
    assembler.finish().map_err(|e| (stream_error(e), sent))
}

/// Applies one event, and sends what is worth showing to `sink` (setting
/// `sent`). A failure comes with whether anything was sent before it.
pub(crate) async fn forward(
    assembler: &mut Assembler,
    event: &Event,
    sink: &Sink,
    sent: &mut bool,
) -> Result<(), (ModelError, bool)> {
    match assembler.apply(event) {
        Ok(Some(progress)) => {
            *sent = true;
            crate::stream::send(Some(sink), progress.into()).await;
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err((stream_error(e), *sent)),
    }
}

/// An `error` event as the status a buffered call would have had (the
/// Messages API's error types, https://docs.anthropic.com/en/api/errors);
/// a malformed or cut stream as a decode failure.
pub(crate) fn stream_error(e: StreamError) -> ModelError {
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
