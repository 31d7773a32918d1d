//! The Messages API's streamed answer (`"stream": true`): a message rendered as
//! the server-sent events the API documents
//! (https://docs.anthropic.com/en/docs/build-with-claude/streaming):
//! `message_start` (content empty, input usage, `output_tokens` 1), then per
//! block `content_block_start`, its deltas and `content_block_stop`, a `ping`,
//! then `message_delta` (stop reason, cumulative output usage) and
//! `message_stop`. Text is cut into deltas of a few characters, tool input into
//! `input_json_delta` pieces of its JSON, as the API does.

use serde_json::{Value, json};

/// Characters per `text_delta` and per `input_json_delta`.
pub const PIECE: usize = 8;

/// One event as sent: `event: NAME\ndata: JSON\n\n`.
pub fn event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// Whether the event carries generated text (the ones a paced stream waits
/// before).
pub fn is_delta(event: &str) -> bool {
    event.starts_with("event: content_block_delta")
}

/// The events of `message`, in order.
pub fn events(message: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = message.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["stop_sequence"] = Value::Null;
    let usage = message["usage"].clone();
    let mut start_usage = usage.clone();
    if let Some(u) = start_usage.as_object_mut() {
        u.insert("output_tokens".into(), json!(1));
    }
    start["usage"] = start_usage;
    out.push(event(
        "message_start",
        &json!({"type": "message_start", "message": start}),
    ));
    let empty = Vec::new();
    for (index, block) in message["content"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .enumerate()
    {
        let mut head = block.clone();
        let deltas: Vec<Value> = match block["type"].as_str() {
            Some("text") => {
                head["text"] = json!("");
                pieces(block["text"].as_str().unwrap_or_default())
                    .map(|t| json!({"type": "text_delta", "text": t}))
                    .collect()
            }
            Some("thinking") => {
                head["thinking"] = json!("");
                head["signature"] = json!("");
                let mut d: Vec<Value> = pieces(block["thinking"].as_str().unwrap_or_default())
                    .map(|t| json!({"type": "thinking_delta", "thinking": t}))
                    .collect();
                d.push(json!({"type": "signature_delta", "signature": block["signature"]}));
                d
            }
            _ if block.get("input").is_some() => {
                head["input"] = json!({});
                let input = block["input"].to_string();
                pieces(&input)
                    .map(|t| json!({"type": "input_json_delta", "partial_json": t}))
                    .collect()
            }
            _ => Vec::new(),
        };
        out.push(event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": head}),
        ));
        if index == 0 {
            out.push(event("ping", &json!({"type": "ping"})));
        }
        for delta in deltas {
            out.push(event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ));
        }
        out.push(event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }
    out.push(event(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {
                "stop_reason": message["stop_reason"],
                "stop_sequence": message["stop_sequence"],
            },
            "usage": {"output_tokens": usage["output_tokens"]},
        }),
    ));
    out.push(event("message_stop", &json!({"type": "message_stop"})));
    out
}

/// An `error` event, as the API sends when it fails after answering 200.
pub fn error_event(kind: &str, message: &str) -> String {
    event(
        "error",
        &json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}

/// `text` in pieces of [`PIECE`] characters (never splitting one).
fn pieces(text: &str) -> impl Iterator<Item = String> + '_ {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len().div_ceil(PIECE);
    (0..n).map(move |i| {
        chars[i * PIECE..((i + 1) * PIECE).min(chars.len())]
            .iter()
            .collect()
    })
}
