//! A stand-in for the X-Ray daemon Lambda runs beside a function: a UDP socket on
//! 127.0.0.1 (its address goes to the function as `AWS_XRAY_DAEMON_ADDRESS`)
//! that keeps the segment documents the function sends, so `invoke --local` can
//! show where an invocation's time went.
//!
//! Datagrams follow the daemon protocol of the X-Ray developer guide ("Sending
//! trace data to AWS X-Ray", section "Sending segment documents to the X-Ray
//! daemon", <https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html>):
//! the header `{"format": "json", "version": 1}`, a newline, one segment document.
//! Anything else is dropped.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// One subsegment the function sent, as the timeline shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSpan {
    /// `model`, or a tool's name.
    pub name: String,
    /// Milliseconds from the first span's start.
    pub offset_ms: f64,
    pub duration_ms: f64,
    /// `ok` or `error`.
    pub outcome: String,
    /// The subsegment's annotations (tokens, stop reason, attempts, tool, agent).
    pub annotations: Value,
}

/// The listening socket and the thread that reads it.
pub struct Collector {
    addr: SocketAddr,
    docs: Receiver<Value>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    /// Listens on 127.0.0.1 with a port the OS picks.
    pub fn start() -> anyhow::Result<Collector> {
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| {
            anyhow::anyhow!("cannot listen on 127.0.0.1 (UDP) for the function's X-Ray data: {e}")
        })?;
        socket.set_read_timeout(Some(Duration::from_millis(50)))?;
        let addr = socket.local_addr()?;
        let (tx, docs) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("xray-daemon".into())
                .spawn(move || {
                    let mut buf = vec![0u8; 65_536];
                    while !stop.load(Ordering::SeqCst) {
                        let Ok(n) = socket.recv(&mut buf) else {
                            continue;
                        };
                        if let Some(doc) = parse_datagram(&buf[..n])
                            && tx.send(doc).is_err()
                        {
                            return;
                        }
                    }
                })?
        };
        Ok(Collector {
            addr,
            docs,
            stop,
            thread: Some(thread),
        })
    }

    /// What the function gets as `AWS_XRAY_DAEMON_ADDRESS`.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// The subsegments of trace `root` that arrived, waiting until none has come
    /// for `quiet`. Documents of other traces are dropped.
    pub fn spans_of(&self, root: &str, quiet: Duration) -> Vec<TraceSpan> {
        let mut docs = Vec::new();
        while let Ok(doc) = self.docs.recv_timeout(quiet) {
            if doc["trace_id"] == root {
                docs.push(doc);
            }
        }
        spans(&docs)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The document of a daemon datagram: the header line, then one JSON object.
fn parse_datagram(d: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(d).ok()?;
    let (head, body) = text.split_once('\n')?;
    let header: Value = serde_json::from_str(head).ok()?;
    if header["format"] != "json" || header["version"] != 1 {
        return None;
    }
    let doc: Value = serde_json::from_str(body).ok()?;
    doc.is_object().then_some(doc)
}

/// Subsegments in start order, timed from the first one.
fn spans(docs: &[Value]) -> Vec<TraceSpan> {
    let mut timed: Vec<(f64, f64, &Value)> = docs
        .iter()
        .filter_map(|d| Some((d["start_time"].as_f64()?, d["end_time"].as_f64()?, d)))
        .collect();
    timed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let Some(first) = timed.first().map(|t| t.0) else {
        return Vec::new();
    };
    let ms = |s: f64| (s * 100_000.0).round() / 100.0;
    timed
        .into_iter()
        .map(|(start, end, d)| {
            let annotations = d.get("annotations").cloned().unwrap_or(Value::Null);
            let failed = d["error"] == true || d["fault"] == true;
            TraceSpan {
                name: d["name"].as_str().unwrap_or("?").to_string(),
                offset_ms: ms(start - first),
                duration_ms: ms((end - start).max(0.0)),
                outcome: if failed { "error" } else { "ok" }.into(),
                annotations,
            }
        })
        .collect()
}

/// `model 1.2 s → get_lead 180 ms → model 0.9 s`; calls that overlapped (tools run
/// at once) are grouped: `(get_lead 180 ms + lookup_company 90 ms)`.
pub fn timeline(spans: &[TraceSpan]) -> String {
    let mut groups: Vec<Vec<&TraceSpan>> = Vec::new();
    let mut group_end = f64::NEG_INFINITY;
    for s in spans {
        match groups.last_mut() {
            Some(g) if s.offset_ms < group_end => g.push(s),
            _ => groups.push(vec![s]),
        }
        group_end = group_end.max(s.offset_ms + s.duration_ms);
    }
    let one = |s: &TraceSpan| {
        let mut t = format!("{} {}", s.name, human(s.duration_ms));
        if s.outcome != "ok" {
            t.push_str(" (error)");
        }
        t
    };
    groups
        .iter()
        .map(|g| match g.as_slice() {
            [s] => one(s),
            many => format!(
                "({})",
                many.iter().map(|s| one(s)).collect::<Vec<_>>().join(" + ")
            ),
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

/// `180 ms`, `1.2 s`.
fn human(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{} ms", ms.round())
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(name: &str, start: f64, end: f64, error: bool) -> Value {
        let mut d = json!({
            "type": "subsegment", "name": name, "id": "0123456789abcdef",
            "trace_id": "1-5759e988-bd862e3fe1be46a994272793", "parent_id": "53995c3f42cd8ad8",
            "start_time": 1_700_000_000.0 + start, "end_time": 1_700_000_000.0 + end,
            "annotations": {"outcome": if error { "error" } else { "ok" }},
        });
        if error {
            d["error"] = json!(true);
        }
        d
    }

    #[test]
    fn datagrams_need_the_daemon_header() {
        let d = doc("model", 0.0, 1.0, false);
        let good = format!("{{\"format\": \"json\", \"version\": 1}}\n{d}");
        assert_eq!(parse_datagram(good.as_bytes()), Some(d.clone()));
        assert_eq!(parse_datagram(d.to_string().as_bytes()), None);
        let v2 = format!("{{\"format\": \"json\", \"version\": 2}}\n{d}");
        assert_eq!(parse_datagram(v2.as_bytes()), None);
        assert_eq!(
            parse_datagram(b"{\"format\": \"json\", \"version\": 1}\n[1]"),
            None
        );
        assert_eq!(parse_datagram(&[0xff, 0xfe, b'\n']), None);
    }

    #[test]
    fn the_timeline_reads_in_order_and_groups_concurrent_calls() {
        let docs = [
            doc("model", 1.38, 2.28, false),
            doc("model", 0.0, 1.2, false),
            doc("get_lead", 1.2, 1.38, false),
            doc("lookup_company", 1.21, 1.3, true),
        ];
        let s = spans(&docs);
        assert_eq!(
            s.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["model", "get_lead", "lookup_company", "model"]
        );
        assert_eq!(s[0].offset_ms, 0.0);
        assert_eq!(s[0].duration_ms, 1200.0);
        assert_eq!(s[2].outcome, "error");
        assert_eq!(
            timeline(&s),
            "model 1.2 s → (get_lead 180 ms + lookup_company 90 ms (error)) → model 900 ms"
        );
        assert_eq!(timeline(&[]), "");
    }

    #[test]
    fn the_collector_keeps_only_its_traces_documents() {
        let c = Collector::start().unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let send = |d: &Value| {
            let msg = format!("{{\"format\": \"json\", \"version\": 1}}\n{d}");
            tx.send_to(msg.as_bytes(), c.address()).unwrap();
        };
        send(&doc("model", 0.0, 0.5, false));
        let mut other = doc("model", 0.0, 0.1, false);
        other["trace_id"] = json!("1-5759e988-000000000000000000000000");
        send(&other);
        tx.send_to(b"not a datagram", c.address()).unwrap();
        send(&doc("get_lead", 0.5, 0.6, false));
        let s = c.spans_of(
            "1-5759e988-bd862e3fe1be46a994272793",
            Duration::from_millis(300),
        );
        assert_eq!(
            s.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["model", "get_lead"]
        );
        assert_eq!(s[1].offset_ms, 500.0);
    }
}
