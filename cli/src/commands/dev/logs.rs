//! The function's output as `claw dev` shows it: the audit line each invocation
//! writes (agent-fn's `audit.rs`: turns, tool calls, tokens, cost) is kept for
//! the request's one-line summary; the EMF metrics line is dropped; with `-v`
//! every other line is shown as it is written, and errors and warnings always.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::mpsc::Receiver;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::local::TraceSpan;

/// Audit lines by request id, until the request's summary takes them.
#[derive(Default)]
pub struct Audits {
    lines: Mutex<HashMap<String, Value>>,
    arrived: Condvar,
}

impl Audits {
    /// Reads the function's output until every sender is gone.
    pub fn follow(&self, rx: Receiver<String>, verbose: bool) {
        for line in rx {
            let parsed: Option<Value> = line
                .starts_with('{')
                .then(|| serde_json::from_str(&line).ok())
                .flatten();
            match parsed {
                Some(v) if v["type"] == "audit" => {
                    if verbose {
                        eprintln!("  │ {line}");
                    }
                    let id = v["request_id"].as_str().unwrap_or_default().to_string();
                    if let Ok(mut m) = self.lines.lock() {
                        // Unclaimed lines (a request whose answer never came) go.
                        if m.len() > 256 {
                            m.clear();
                        }
                        m.insert(id, v);
                    }
                    self.arrived.notify_all();
                }
                Some(v) if v.get("_aws").is_some() => {}
                Some(v) if !verbose && (v["type"] == "error" || v["type"] == "warning") => {
                    eprintln!("  │ {line}");
                }
                _ if verbose => eprintln!("  │ {line}"),
                _ => {}
            }
        }
    }

    /// The audit line of `request_id`, waiting up to `wait` for it.
    pub fn take(&self, request_id: &str, wait: Duration) -> Option<Value> {
        let deadline = Instant::now() + wait;
        let mut m = self.lines.lock().ok()?;
        loop {
            if let Some(v) = m.remove(request_id) {
                return Some(v);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            m = self.arrived.wait_timeout(m, left).ok()?.0;
        }
    }
}

/// What one request came to, for its summary line.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub method: String,
    pub path: String,
    /// The route key, or what answered instead (`404`, `function URL`, `SQS`).
    pub route: String,
    pub status: u16,
    pub duration: Duration,
    pub audit: Option<Value>,
    /// Why claw answered for the function (unauthorized, timed out, ...).
    pub note: Option<String>,
    pub request_id: String,
}

impl Summary {
    /// `POST /agents/qualifier → POST /agents/{agent}  200  1.42 s  2 turns  1 tool  1234→85 tokens  $0.0049`
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} {} → {}  {}  {}",
            self.method,
            self.path,
            self.route,
            self.status,
            secs(self.duration)
        );
        if let Some(a) = &self.audit {
            let n = |k: &str| a[k].as_u64().unwrap_or(0);
            let _ = write!(
                s,
                "  {} turn{}  {} tool{}  {}→{} tokens",
                n("turns"),
                plural(n("turns")),
                n("tool_calls"),
                plural(n("tool_calls")),
                n("input_tokens") + n("cache_read_input_tokens") + n("cache_creation_input_tokens"),
                n("output_tokens"),
            );
            if let Some(c) = a["cost_usd"].as_f64() {
                let _ = write!(s, "  ${c:.4}");
            }
            if let Some(o) = a["outcome"].as_str().filter(|o| *o != "ok") {
                let _ = write!(s, "  outcome {o}");
            }
        }
        if let Some(n) = &self.note {
            let _ = write!(s, "  ({n})");
        }
        s
    }

    /// The same as one JSON object (`--output json`).
    pub fn json(&self) -> Value {
        let a = self.audit.as_ref();
        let field = |k: &str| a.map(|a| a[k].clone()).unwrap_or(Value::Null);
        serde_json::json!({
            "method": self.method,
            "path": self.path,
            "route": self.route,
            "status": self.status,
            "duration_ms": (self.duration.as_secs_f64() * 1000.0).round(),
            "request_id": self.request_id,
            "outcome": field("outcome"),
            "turns": field("turns"),
            "tool_calls": field("tool_calls"),
            "input_tokens": field("input_tokens"),
            "output_tokens": field("output_tokens"),
            "cost_usd": field("cost_usd"),
            "note": self.note,
        })
    }
}

/// `-v`: each model turn and tool call of the request, from the function's
/// X-Ray subsegments (sent with `function.tracing: active`).
pub fn span_lines(spans: &[TraceSpan]) -> Vec<String> {
    spans
        .iter()
        .map(|s| {
            let a = &s.annotations;
            let mut line = format!(
                "  ├ +{:>6.0} ms  {:<16} {:>6.0} ms  {}",
                s.offset_ms, s.name, s.duration_ms, s.outcome
            );
            if s.name == "model" {
                for (k, label) in [
                    ("input_tokens", "in"),
                    ("output_tokens", "out"),
                    ("stop_reason", "stop"),
                ] {
                    if let Some(v) = a.get(k).filter(|v| !v.is_null()) {
                        let v = v
                            .as_str()
                            .map(String::from)
                            .unwrap_or_else(|| v.to_string());
                        let _ = write!(line, "  {label} {v}");
                    }
                }
            }
            line
        })
        .collect()
}

/// `-v` on a streamed answer: the tool calls and results among the function's
/// server-sent events, shown as they pass through.
#[derive(Default)]
pub struct StreamWatch {
    pending: String,
}

impl StreamWatch {
    /// Takes the next piece of the stream; returns a line per tool event it completes.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.push_str(&String::from_utf8_lossy(bytes));
        let mut lines = Vec::new();
        while let Some(end) = self.pending.find("\n\n") {
            let event: String = self.pending.drain(..end + 2).collect();
            let mut name = "";
            let mut data = Value::Null;
            for l in event.lines() {
                if let Some(n) = l.strip_prefix("event: ") {
                    name = n;
                } else if let Some(d) = l.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap_or(Value::Null);
                }
            }
            let tool = data["name"].as_str().unwrap_or("?");
            match name {
                "tool_use" => lines.push(format!(
                    "  ├ tool {tool} ({})",
                    data["id"].as_str().unwrap_or("?")
                )),
                "tool_result" => lines.push(format!(
                    "  ├ tool {tool}: {}",
                    data["status"].as_str().unwrap_or("?")
                )),
                _ => {}
            }
        }
        lines
    }
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_summary_line_carries_the_audit_figures() {
        let s = Summary {
            method: "POST".into(),
            path: "/agents/q".into(),
            route: "POST /agents/{agent}".into(),
            status: 200,
            duration: Duration::from_millis(1420),
            audit: Some(
                json!({"outcome": "ok", "turns": 2, "tool_calls": 1, "input_tokens": 1200,
                               "output_tokens": 85, "cache_read_input_tokens": 34, "cost_usd": 0.00491}),
            ),
            note: None,
            request_id: "r".into(),
        };
        assert_eq!(
            s.line(),
            "POST /agents/q → POST /agents/{agent}  200  1.42 s  2 turns  1 tool  1234→85 tokens  $0.0049"
        );
        assert_eq!(s.json()["turns"], 2);
        let audits = Audits::default();
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send(r#"{"type":"audit","request_id":"r-9","turns":1}"#.to_string())
            .unwrap();
        drop(tx);
        audits.follow(rx, false);
        assert_eq!(audits.take("r-9", Duration::ZERO).unwrap()["turns"], 1);
        assert!(audits.take("r-9", Duration::from_millis(10)).is_none());
    }

    #[test]
    fn tool_events_are_seen_across_pieces() {
        let mut w = StreamWatch::default();
        assert!(
            w.feed(
                b"event: text\ndata: {\"text\":\"hi\"}\n\nevent: tool_use\ndata: {\"id\":\"t1\","
            )
            .is_empty()
        );
        assert_eq!(
            w.feed(b"\"name\":\"get_lead\"}\n\n"),
            ["  ├ tool get_lead (t1)"]
        );
        assert_eq!(
            w.feed(b"event: tool_result\ndata: {\"id\":\"t1\",\"name\":\"get_lead\",\"status\":\"ok\"}\n\n"),
            ["  ├ tool get_lead: ok"]
        );
    }
}
