//! X-Ray subsegments for each model call and each tool call, sent to the X-Ray
//! daemon Lambda runs beside the function.
//!
//! The protocol is the one in the X-Ray developer guide, "Sending trace data to
//! AWS X-Ray" (<https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html>,
//! section "Sending segment documents to the X-Ray daemon"), with the fields of
//! "AWS X-Ray segment documents"
//! (<https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html>):
//! each UDP datagram to `AWS_XRAY_DAEMON_ADDRESS` is the header
//! `{"format": "json", "version": 1}`, a newline, and one segment document. An
//! independent subsegment carries `type: "subsegment"`, its own 16-hex `id`, the
//! `trace_id` and, as `parent_id`, the `Parent` of the invocation's trace header
//! (the function segment Lambda records).
//!
//! Documents carry names, timings, token counts, stop reasons and outcomes only:
//! never a message, a prompt, a model reply, a tool input or result, or a secret.
//! Tracing never fails or holds up an invocation: the socket is non-blocking and
//! every send error is ignored.

use std::net::{SocketAddr, UdpSocket};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The daemon header that precedes every segment document in a datagram.
pub const DAEMON_HEADER: &str = r#"{"format": "json", "version": 1}"#;

/// What a span timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    Model,
    Tool,
}

/// One timed step of an agent run: a model call (with its retries) or a tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub kind: SpanKind,
    /// `model`, or the tool's configured name.
    pub name: String,
    pub start: SystemTime,
    pub end: SystemTime,
    pub ok: bool,
    /// Model calls only: tokens, the stop reason and the HTTP attempts made.
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub stop_reason: Option<String>,
    pub attempts: u32,
}

impl Span {
    /// A finished tool call.
    pub fn tool(name: &str, start: SystemTime, end: SystemTime, ok: bool) -> Span {
        Span {
            kind: SpanKind::Tool,
            name: name.to_string(),
            start,
            end,
            ok,
            input_tokens: 0,
            output_tokens: 0,
            stop_reason: None,
            attempts: 0,
        }
    }

    /// A model call, without its reply's figures (a failed call has none).
    pub fn model(start: SystemTime, end: SystemTime, ok: bool) -> Span {
        Span {
            kind: SpanKind::Model,
            name: "model".into(),
            start,
            end,
            ok,
            input_tokens: 0,
            output_tokens: 0,
            stop_reason: None,
            attempts: 0,
        }
    }

    pub fn duration(&self) -> Duration {
        self.end.duration_since(self.start).unwrap_or_default()
    }

    /// `ok` or `error`.
    pub fn outcome(&self) -> &'static str {
        if self.ok { "ok" } else { "error" }
    }
}

/// The invocation's X-Ray trace header (`Lambda-Runtime-Trace-Id`, also in
/// `_X_AMZN_TRACE_ID`): `Root=1-…;Parent=…;Sampled=1`, possibly with more fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    pub root: String,
    pub parent: Option<String>,
    pub sampled: Option<bool>,
}

impl TraceHeader {
    /// Reads the header; `None` without a well-formed `Root`.
    pub fn parse(header: &str) -> Option<TraceHeader> {
        let mut root = None;
        let mut parent = None;
        let mut sampled = None;
        for part in header.split(';') {
            let Some((k, v)) = part.trim().split_once('=') else {
                continue;
            };
            match k.trim() {
                "Root" => root = Some(v.trim().to_string()),
                "Parent" => parent = Some(v.trim().to_string()),
                "Sampled" => {
                    sampled = match v.trim() {
                        "1" => Some(true),
                        "0" => Some(false),
                        _ => None,
                    }
                }
                _ => {}
            }
        }
        let root = root.filter(|r| valid_trace_id(r))?;
        let parent = parent.filter(|p| is_hex(p, 16));
        Some(TraceHeader {
            root,
            parent,
            sampled,
        })
    }

    /// Subsegments go out only for a sampled invocation with a parent to hang
    /// them on.
    pub fn recordable(&self) -> bool {
        self.sampled == Some(true) && self.parent.is_some()
    }
}

/// `1-<8 hex>-<24 hex>`.
fn valid_trace_id(s: &str) -> bool {
    let mut parts = s.split('-');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("1"), Some(t), Some(r), None) if is_hex(t, 8) && is_hex(r, 24)
    )
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn epoch_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A random 64-bit id in 16 hex digits.
pub fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The independent subsegment document for one span of `agent`'s run.
pub fn subsegment(header: &TraceHeader, parent: &str, agent: &str, span: &Span) -> Value {
    let mut annotations = Map::new();
    annotations.insert("agent".into(), json!(agent));
    annotations.insert("outcome".into(), json!(span.outcome()));
    match span.kind {
        SpanKind::Model => {
            annotations.insert("input_tokens".into(), json!(span.input_tokens));
            annotations.insert("output_tokens".into(), json!(span.output_tokens));
            annotations.insert("attempts".into(), json!(span.attempts));
            if let Some(r) = &span.stop_reason {
                annotations.insert("stop_reason".into(), json!(r));
            }
        }
        SpanKind::Tool => {
            annotations.insert("tool".into(), json!(span.name));
        }
    }
    let mut doc = json!({
        "type": "subsegment",
        "name": span.name,
        "id": new_id(),
        "trace_id": header.root,
        "parent_id": parent,
        "start_time": epoch_secs(span.start),
        "end_time": epoch_secs(span.end),
        "namespace": match span.kind {
            SpanKind::Model => "remote",
            SpanKind::Tool => "local",
        },
        "annotations": annotations,
    });
    if !span.ok {
        doc["error"] = Value::Bool(true);
    }
    doc
}

/// A datagram for the daemon: the header line and one document.
pub fn datagram(doc: &Value) -> Vec<u8> {
    let mut d = Vec::with_capacity(256);
    d.extend_from_slice(DAEMON_HEADER.as_bytes());
    d.push(b'\n');
    d.extend_from_slice(doc.to_string().as_bytes());
    d
}

/// Where `AWS_XRAY_DAEMON_ADDRESS` says the daemon listens: `ip:port`, or the SDKs'
/// `udp:ip:port tcp:ip:port` form. Names are not resolved (no DNS on this path).
pub fn daemon_address(value: &str) -> Option<SocketAddr> {
    let value = value.trim();
    let udp = value
        .split_whitespace()
        .find_map(|p| p.strip_prefix("udp:"))
        .unwrap_or(value);
    udp.parse().ok()
}

/// Sends subsegments for each finished run. One per container; the socket is
/// created on first use.
#[derive(Debug)]
pub struct Tracer {
    /// `None` when tracing is off (`function.tracing` is not `active`) or the
    /// daemon address is unknown.
    daemon: Option<SocketAddr>,
    socket: OnceLock<Option<UdpSocket>>,
}

impl Tracer {
    /// `active` is `function.tracing == active`; `daemon` the parsed
    /// `AWS_XRAY_DAEMON_ADDRESS`.
    pub fn new(active: bool, daemon: Option<SocketAddr>) -> Tracer {
        Tracer {
            daemon: daemon.filter(|_| active),
            socket: OnceLock::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.daemon.is_some()
    }

    fn socket(&self, daemon: SocketAddr) -> Option<&UdpSocket> {
        self.socket
            .get_or_init(|| {
                let local: SocketAddr = if daemon.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let s = UdpSocket::bind(local).ok()?;
                s.set_nonblocking(true).ok()?;
                Some(s)
            })
            .as_ref()
    }

    /// Sends one subsegment per span, under the invocation's trace header.
    /// Returns how many datagrams were handed to the socket.
    pub fn send(&self, trace_header: Option<&str>, spans: &[(String, Span)]) -> usize {
        let Some(daemon) = self.daemon else { return 0 };
        if spans.is_empty() {
            return 0;
        }
        let Some(header) = trace_header.and_then(TraceHeader::parse) else {
            return 0;
        };
        let Some(parent) = header.parent.as_deref().filter(|_| header.recordable()) else {
            return 0;
        };
        let Some(socket) = self.socket(daemon) else {
            return 0;
        };
        spans
            .iter()
            .map(|(agent, span)| datagram(&subsegment(&header, parent, agent, span)))
            .filter(|d| socket.send_to(d, daemon).is_ok())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + ms)
    }

    fn model_span() -> Span {
        Span {
            kind: SpanKind::Model,
            name: "model".into(),
            start: at(0),
            end: at(1200),
            ok: true,
            input_tokens: 120,
            output_tokens: 30,
            stop_reason: Some("tool_use".into()),
            attempts: 2,
        }
    }

    #[test]
    fn trace_headers_parse_and_decide_recording() {
        let h = TraceHeader::parse(HEADER).unwrap();
        assert_eq!(h.root, "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(h.parent.as_deref(), Some("53995c3f42cd8ad8"));
        assert!(h.recordable());
        let lineage = format!("{HEADER};Lineage=a87bd80c:1");
        assert_eq!(TraceHeader::parse(&lineage), Some(h));
        let off = TraceHeader::parse(&HEADER.replace("Sampled=1", "Sampled=0")).unwrap();
        assert!(!off.recordable());
        let undecided = TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?");
        assert!(!undecided.unwrap().recordable());
        let no_parent =
            TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1").unwrap();
        assert!(!no_parent.recordable());
        for bad in [
            "",
            "Parent=53995c3f42cd8ad8",
            "Root=2-5759e988-x;Sampled=1",
            "Root=1-zz-yy",
        ] {
            assert_eq!(TraceHeader::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn subsegments_have_the_documented_shape() {
        let h = TraceHeader::parse(HEADER).unwrap();
        let doc = subsegment(&h, "53995c3f42cd8ad8", "lead-qualifier", &model_span());
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["name"], "model");
        assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        let id = doc["id"].as_str().unwrap();
        assert!(is_hex(id, 16), "{id}");
        assert_ne!(
            id,
            subsegment(&h, "53995c3f42cd8ad8", "a", &model_span())["id"]
        );
        let (start, end) = (
            doc["start_time"].as_f64().unwrap(),
            doc["end_time"].as_f64().unwrap(),
        );
        assert!((start - 1_700_000_000.0).abs() < 1e-3, "{start}");
        assert!((end - start - 1.2).abs() < 1e-3, "{end}");
        let a = &doc["annotations"];
        assert_eq!(a["input_tokens"], 120);
        assert_eq!(a["output_tokens"], 30);
        assert_eq!(a["stop_reason"], "tool_use");
        assert_eq!(a["attempts"], 2);
        assert_eq!(a["outcome"], "ok");
        assert_eq!(a["agent"], "lead-qualifier");
        assert!(doc.get("error").is_none());
        // Annotation keys: letters, digits and underscores only.
        for k in a.as_object().unwrap().keys() {
            assert!(
                k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{k}"
            );
        }

        let tool = Span::tool("get_lead", at(1200), at(1380), false);
        let doc = subsegment(&h, "53995c3f42cd8ad8", "lead-qualifier", &tool);
        assert_eq!(doc["name"], "get_lead");
        assert_eq!(doc["annotations"]["tool"], "get_lead");
        assert_eq!(doc["annotations"]["outcome"], "error");
        assert_eq!(doc["error"], true);
        assert!(doc["annotations"].get("input_tokens").is_none());
    }

    #[test]
    fn datagrams_are_the_header_line_and_one_document() {
        let h = TraceHeader::parse(HEADER).unwrap();
        let d = datagram(&subsegment(&h, "53995c3f42cd8ad8", "a", &model_span()));
        let text = String::from_utf8(d).unwrap();
        let (head, body) = text.split_once('\n').unwrap();
        assert_eq!(head, DAEMON_HEADER);
        let header: Value = serde_json::from_str(head).unwrap();
        assert_eq!(header, json!({"format": "json", "version": 1}));
        let doc: Value = serde_json::from_str(body).unwrap();
        assert_eq!(doc["type"], "subsegment");
        assert!(!body.contains('\n'));
    }

    #[test]
    fn daemon_addresses_in_both_forms() {
        let a: SocketAddr = "169.254.79.129:2000".parse().unwrap();
        assert_eq!(daemon_address("169.254.79.129:2000"), Some(a));
        assert_eq!(
            daemon_address("tcp:127.0.0.1:2000 udp:169.254.79.129:2000"),
            Some(a)
        );
        assert_eq!(daemon_address("xray.local:2000"), None);
        assert_eq!(daemon_address(""), None);
    }

    #[test]
    fn nothing_is_sent_when_off_unsampled_or_without_a_header() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = rx.local_addr().unwrap();
        let spans = vec![("a".to_string(), model_span())];
        assert_eq!(Tracer::new(false, Some(addr)).send(Some(HEADER), &spans), 0);
        let on = Tracer::new(true, Some(addr));
        assert!(on.enabled());
        assert_eq!(on.send(None, &spans), 0);
        assert_eq!(
            on.send(Some(&HEADER.replace("Sampled=1", "Sampled=0")), &spans),
            0
        );
        assert_eq!(on.send(Some(HEADER), &[]), 0);
        assert_eq!(on.send(Some(HEADER), &spans), 1);
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 65_536];
        let n = rx.recv(&mut buf).unwrap();
        assert!(buf[..n].starts_with(DAEMON_HEADER.as_bytes()));
        // Nothing else arrived: the refused sends sent nothing.
        rx.set_nonblocking(true).unwrap();
        assert!(rx.recv(&mut buf).is_err());
    }
}
