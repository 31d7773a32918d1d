//! The mock's prompt cache: what the real API does with `cache_control`, close
//! enough that a test can tell a request that reads the cache from one that does
//! not (<https://platform.claude.com/docs/en/build-with-claude/prompt-caching>).
//!
//! - The prompt is its blocks in render order: tools, then system, then every
//!   message's content blocks. A token is 4 bytes of a block's JSON (without its
//!   `cache_control`), rounded up per block.
//! - A request may mark at most 4 blocks, and 1-hour marks must come before
//!   5-minute ones; otherwise 400, as the API answers.
//! - A marked prefix at least `min_tokens` long is written to the cache. A later
//!   request reads the longest cached prefix that ends at one of its marks or up
//!   to 20 blocks before one (the API's lookback).
//! - Usage: `cache_read_input_tokens` = the prefix read; `cache_creation_input_tokens`
//!   = from there to the last mark (split by the TTL of each mark in
//!   `cache_creation`); `input_tokens` = the rest.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Value, json};

/// The API's lookback from a breakpoint, in blocks.
const LOOKBACK: usize = 20;

#[derive(Debug, Default)]
pub(super) struct Cache {
    prefixes: HashSet<u64>,
}

struct Block {
    tokens: u64,
    /// The TTL of its mark, if marked.
    mark: Option<&'static str>,
}

impl Cache {
    /// The usage of `request`, updating the cache; `Err` is the 400 message.
    pub(super) fn usage(&mut self, request: &Value, min_tokens: u64) -> Result<Value, String> {
        let blocks = blocks(request);
        let marks: Vec<usize> = (0..blocks.len())
            .filter(|i| blocks[*i].0.mark.is_some())
            .collect();
        if marks.len() > 4 {
            return Err(format!(
                "A maximum of 4 blocks with cache_control may be provided. Found {}.",
                marks.len()
            ));
        }
        let mut seen_5m = false;
        for m in &marks {
            match blocks[*m].0.mark {
                Some("5m") => seen_5m = true,
                Some("1h") if seen_5m => {
                    return Err("a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block".into());
                }
                _ => {}
            }
        }
        // Prefix hashes and token counts at the end of each block.
        let mut hasher = DefaultHasher::new();
        let mut hashes = Vec::with_capacity(blocks.len());
        let mut totals = Vec::with_capacity(blocks.len());
        let mut total = 0u64;
        for (b, text) in &blocks {
            text.hash(&mut hasher);
            hashes.push(hasher.finish());
            total += b.tokens;
            totals.push(total);
        }
        let read_end = marks
            .iter()
            .flat_map(|m| (m.saturating_sub(LOOKBACK)..=*m).rev())
            .filter(|i| self.prefixes.contains(&hashes[*i]))
            .max();
        let read = read_end.map_or(0, |i| totals[i]);
        let (mut w5, mut w1) = (0u64, 0u64);
        let mut from = read;
        for m in &marks {
            if read_end.is_some_and(|r| *m <= r) || totals[*m] < min_tokens {
                continue;
            }
            let seg = totals[*m] - from;
            match blocks[*m].0.mark {
                Some("1h") => w1 += seg,
                _ => w5 += seg,
            }
            from = totals[*m];
            self.prefixes.insert(hashes[*m]);
        }
        Ok(json!({
            "input_tokens": total - read - w5 - w1,
            "cache_creation_input_tokens": w5 + w1,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": w5,
                "ephemeral_1h_input_tokens": w1,
            },
        }))
    }
}

/// The prompt's blocks in render order, each with its canonical text.
fn blocks(request: &Value) -> Vec<(Block, String)> {
    let mut out = Vec::new();
    let mut push = |v: &Value, role: &str| {
        let mark = match v.get("cache_control") {
            None => None,
            Some(c) if c["ttl"] == "1h" => Some("1h"),
            Some(_) => Some("5m"),
        };
        let mut plain = v.clone();
        if let Some(o) = plain.as_object_mut() {
            o.remove("cache_control");
        }
        let text = format!("{role}:{plain}");
        out.push((
            Block {
                tokens: (text.len() as u64).div_ceil(4),
                mark,
            },
            text,
        ));
    };
    for t in request["tools"].as_array().into_iter().flatten() {
        push(t, "tool");
    }
    match &request["system"] {
        Value::String(s) => push(&json!({"type": "text", "text": s}), "system"),
        Value::Array(b) => b.iter().for_each(|b| push(b, "system")),
        _ => {}
    }
    for m in request["messages"].as_array().into_iter().flatten() {
        let role = m["role"].as_str().unwrap_or_default().to_string();
        match &m["content"] {
            Value::String(s) => push(&json!({"type": "text", "text": s}), &role),
            Value::Array(b) => b.iter().for_each(|b| push(b, &role)),
            _ => {}
        }
    }
    out
}
