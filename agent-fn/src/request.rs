//! The Messages request body, with prompt-cache breakpoints.
//!
//! The API caches the prompt prefix up to each block marked `cache_control`, in
//! the order tools → system → messages, and a later request that starts with the
//! same prefix reads it at a tenth of the input price
//! (<https://platform.claude.com/docs/en/build-with-claude/prompt-caching>). The
//! loop marks, at most four (the API's limit):
//!
//! 1. the last tool definition (the tools);
//! 2. the system prompt, sent as one text block (tools and system);
//! 3. the last block of the conversation, which moves forward every turn, so the
//!    next turn of the tool loop reads everything this turn sent;
//! 4. the previous request's conversation breakpoint, so that read is found even
//!    when a turn added more blocks than the API looks back over (20).
//!
//! With `cache: 1h` the first two live an hour and the conversation five minutes:
//! 1-hour entries must come before 5-minute ones, and the conversation changes
//! every turn. A prefix shorter than the model's minimum cacheable length gets no
//! breakpoint (the API would cache nothing); the length is estimated generously
//! (`claw_spec::pricing::approx_tokens`), so an unneeded mark is the only error.
//! Breakpoints exist only in the request: the stored conversation carries none.
//!
//! An agent's MCP servers (`crate::mcp`) join the request as `mcp_servers`, their
//! `mcp_toolset` entries follow the tool definitions, and [`betas`] names the
//! header value they need.

use claw_spec::model::CacheTtl;
use claw_spec::pricing::approx_tokens;
use serde_json::{Value, json};

use crate::anthropic::{Message, ToolDef};
use crate::mcp;

/// Where the conversation breakpoint sits: (message, block).
pub type Mark = (usize, usize);

/// What shapes the request besides the conversation.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    pub model: &'a str,
    pub max_tokens: u32,
    pub system: &'a str,
    pub tools: &'a [ToolDef],
    pub cache: CacheTtl,
    /// The model's minimum cacheable prefix, when known.
    pub min_cache_tokens: Option<u32>,
    /// The agent's MCP servers, tokens included.
    pub mcp: &'a [mcp::Server],
}

/// The `anthropic-beta` values a request of this shape needs.
pub fn betas(shape: &Shape<'_>) -> &'static [&'static str] {
    if shape.mcp.is_empty() {
        &[]
    } else {
        &[mcp::BETA]
    }
}

/// Block types the API accepts `cache_control` on (the MCP connector's too: its
/// request block types carry `cache_control` in the API's published types).
const MARKABLE: &[&str] = &[
    "text",
    "image",
    "document",
    "tool_use",
    "tool_result",
    "mcp_tool_use",
    "mcp_tool_result",
];

/// The request body, and where its conversation breakpoint is (pass it back as
/// `previous` on the next turn).
pub fn body(
    shape: &Shape<'_>,
    messages: &[Message],
    previous: Option<Mark>,
) -> (Value, Option<Mark>) {
    let mut tools: Vec<Value> = shape
        .tools
        .iter()
        .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
        .chain(shape.mcp.iter().map(mcp::Server::toolset))
        .collect();
    let mut messages: Vec<Value> = messages
        .iter()
        .map(|m| serde_json::to_value(m).unwrap_or(Value::Null))
        .collect();
    let mut body = json!({"model": shape.model, "max_tokens": shape.max_tokens});
    if !shape.mcp.is_empty() {
        body["mcp_servers"] = shape.mcp.iter().map(mcp::Server::definition).collect();
    }
    let Some(ttl) = shape.cache.api_ttl() else {
        if !shape.system.is_empty() {
            body["system"] = json!(shape.system);
        }
        return (finish(body, tools, messages), None);
    };
    let long_enough = |bytes: usize| {
        shape
            .min_cache_tokens
            .is_none_or(|min| approx_tokens(bytes) >= u64::from(min))
    };
    let stable = if ttl == "1h" {
        json!({"type": "ephemeral", "ttl": "1h"})
    } else {
        json!({"type": "ephemeral"})
    };
    let mut prefix = 0usize;
    for t in &tools {
        prefix += t.to_string().len();
    }
    if let Some(last) = tools.last_mut()
        && long_enough(prefix)
    {
        last["cache_control"] = stable.clone();
    }
    if !shape.system.is_empty() {
        prefix += shape.system.len();
        let mut block = json!({"type": "text", "text": shape.system});
        if long_enough(prefix) {
            block["cache_control"] = stable;
        }
        body["system"] = json!([block]);
    }
    // Prefix length at the end of each message.
    let ends: Vec<usize> = messages
        .iter()
        .scan(prefix, |acc, m| {
            *acc += m.to_string().len();
            Some(*acc)
        })
        .collect();
    let conversation = json!({"type": "ephemeral"});
    let mut mark = None;
    if let Some(i) = messages.len().checked_sub(1)
        && long_enough(ends[i])
        && let Some(b) = last_markable(&messages[i])
    {
        messages[i]["content"][b]["cache_control"] = conversation.clone();
        mark = Some((i, b));
    }
    if let Some((i, b)) = previous
        && Some((i, b)) != mark
        && i < messages.len()
        && long_enough(ends[i])
        && messages[i]["content"][b].is_object()
    {
        messages[i]["content"][b]["cache_control"] = conversation;
    }
    (finish(body, tools, messages), mark)
}

fn finish(mut body: Value, tools: Vec<Value>, messages: Vec<Value>) -> Value {
    body["messages"] = Value::Array(messages);
    if !tools.is_empty() {
        body["tools"] = Value::Array(tools);
    }
    body
}

fn last_markable(message: &Value) -> Option<usize> {
    let blocks = message["content"].as_array()?;
    blocks.iter().rposition(|b| {
        b.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| MARKABLE.contains(&t))
    })
}

/// Every breakpoint in a body, in render order (for tests and checks).
pub fn breakpoints(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let ttl = |b: &Value| {
        b["cache_control"]["ttl"]
            .as_str()
            .unwrap_or("5m")
            .to_string()
    };
    for (i, t) in body["tools"].as_array().into_iter().flatten().enumerate() {
        if t.get("cache_control").is_some() {
            out.push(format!("tools[{i}] {}", ttl(t)));
        }
    }
    for (i, b) in body["system"].as_array().into_iter().flatten().enumerate() {
        if b.get("cache_control").is_some() {
            out.push(format!("system[{i}] {}", ttl(b)));
        }
    }
    for (i, m) in body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (j, b) in m["content"].as_array().into_iter().flatten().enumerate() {
            if b.get("cache_control").is_some() {
                out.push(format!("messages[{i}][{j}] {}", ttl(b)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
