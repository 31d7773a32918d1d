//! X-Ray subsegments and per-tool metrics from a whole invocation: the handler
//! runs a tool loop against the mock model and a loopback CRM, and a real UDP
//! socket stands in for the X-Ray daemon.

use std::collections::{HashMap, HashSet};
use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_fn::anthropic::RetryPolicy;
use agent_fn::app::{App, Invocation, Options};
use agent_fn::deadline::Deadline;
use agent_fn::trace::DAEMON_HEADER;
use claw_testkit::mock_model::{MockModel, Step};
use serde_json::{Value, json};

/// Every secret, message, model text and tool result below contains this; no
/// datagram may.
const CANARY: &str = "CANARY7f3a";
const KEY: &str = "sk-ant-CANARY7f3a-key";
const CRM_TOKEN: &str = "crm-CANARY7f3a-token";
const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";

/// A loopback CRM: `/leads/{id}` answers a lead, anything else 500.
struct Crm {
    port: u16,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Crm {
    fn start() -> Crm {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let thread = {
            let server = Arc::clone(&server);
            std::thread::spawn(move || {
                while let Ok(req) = server.recv() {
                    let resp = if req.url().starts_with("/leads/") {
                        tiny_http::Response::from_string(format!(
                            r#"{{"lead":"{CANARY} tool result"}}"#
                        ))
                    } else {
                        tiny_http::Response::from_string(format!(r#"{{"error":"{CANARY}"}}"#))
                            .with_status_code(500)
                    };
                    let _ = req.respond(resp);
                }
            })
        };
        Crm {
            port,
            server,
            thread: Some(thread),
        }
    }
}

impl Drop for Crm {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Harness {
    app: App,
    daemon: UdpSocket,
    lines: Arc<Mutex<Vec<String>>>,
    _mock: MockModel,
    _crm: Crm,
}

/// Two turns with tools (two calls at once, then one), then the answer.
fn script() -> Vec<Step> {
    vec![
        Step::tool_uses(
            Some(&format!("{CANARY} let me look")),
            &[
                ("toolu_1", "get_lead", json!({"lead_id": "42"})),
                ("toolu_2", "broken", json!({"lead_id": CANARY})),
            ],
        )
        .with_usage(100, 20),
        Step::tool_use("toolu_3", "get_lead", json!({"lead_id": "43"})).with_usage(150, 10),
        Step::text(&format!("{CANARY} final answer")).with_usage(200, 30),
    ]
}

impl Harness {
    fn new(tracing: &str, script: Vec<Step>) -> Harness {
        let mock = MockModel::start(KEY, script);
        let crm = Crm::start();
        let auth = json!({"secret": "crm-token", "header": "Authorization", "format": "Bearer {}"});
        let config: claw_spec::Config = serde_json::from_value(json!({
            "app": "crm-leads", "stage": "test", "region": "ap-southeast-2", "account": "123456789012",
            "function": {"timeout_s": 30, "tracing": tracing},
            "model": {"id": "claude-test", "max_tokens": 512, "api_key_secret": "anthropic-key"},
            "limits": {"max_tool_calls": 5, "max_turns": 4},
            "agents": {"lead-qualifier": {"system": format!("{CANARY} system"), "tools": ["get_lead", "broken"]}},
            "tools": {
                "get_lead": {
                    "kind": "http", "description": "Fetch a lead", "allow_private_hosts": true,
                    "url": format!("http://127.0.0.1:{}/leads/{{lead_id}}", crm.port), "auth": auth,
                },
                "broken": {
                    "kind": "http", "description": "Always fails", "allow_private_hosts": true,
                    "url": format!("http://127.0.0.1:{}/fail/{{lead_id}}", crm.port), "auth": auth,
                },
            },
        }))
        .unwrap();
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = {
            let lines = Arc::clone(&lines);
            Arc::new(move |l: &str| lines.lock().unwrap().push(l.to_string()))
        };
        let app = App::new(
            config,
            Options {
                model_base_url: mock.base_url(),
                retry: RetryPolicy {
                    max_retries: 2,
                    base: Duration::from_millis(1),
                    cap: Duration::from_millis(2),
                    max_server_delay: Duration::from_secs(60),
                },
                margin: Some(Duration::from_millis(200)),
                static_secrets: Some(HashMap::from([
                    ("anthropic-key".to_string(), KEY.to_string()),
                    ("crm-token".to_string(), CRM_TOKEN.to_string()),
                ])),
                address_policy: None,
                sink: Some(sink),
                aws_config: None,
                xray_daemon: Some(daemon.local_addr().unwrap()),
                bedrock_endpoint: None,
                on_checkpoint: None,
                replay: None,
            },
        );
        Harness {
            app,
            daemon,
            lines,
            _mock: mock,
            _crm: crm,
        }
    }

    async fn invoke(&self, trace_header: Option<&str>) -> Value {
        let inv = Invocation {
            request_id: "req-1".into(),
            deadline: Deadline::after(Duration::from_secs(30)),
            trace_header: trace_header.map(str::to_string),
        };
        let payload =
            json!({"agent": "lead-qualifier", "message": format!("{CANARY} qualify lead 42")});
        self.app.handle(payload, &inv).await.unwrap()
    }

    /// Every datagram that arrived, as raw text. Sending is done by the time the
    /// handler returns; the timeout only guards against a slow machine.
    fn datagrams(&self) -> Vec<String> {
        self.daemon
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while let Ok(n) = self.daemon.recv(&mut buf) {
            out.push(String::from_utf8(buf[..n].to_vec()).expect("datagrams are UTF-8"));
        }
        out
    }

    fn lines(&self) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn header(sampled: &str) -> String {
    format!("Root={ROOT};Parent={PARENT};Sampled={sampled}")
}

/// The segment document of a datagram, after checking the daemon header.
fn document(datagram: &str) -> Value {
    let (head, body) = datagram.split_once('\n').expect("a header line");
    assert_eq!(head, DAEMON_HEADER);
    serde_json::from_str(body).expect("one JSON document")
}

#[tokio::test]
async fn each_model_and_tool_call_is_one_subsegment_of_the_invocation() {
    let h = Harness::new("active", script());
    let answer = h.invoke(Some(&header("1"))).await;
    assert_eq!(answer["stop_reason"], "end_turn", "{answer}");
    assert_eq!(answer["tool_calls"], 3);

    let raw = h.datagrams();
    for d in &raw {
        assert!(
            !d.contains(CANARY),
            "a secret, message or tool result reached X-Ray: {d}"
        );
    }
    let docs: Vec<Value> = raw.iter().map(|d| document(d)).collect();
    let mut ids = HashSet::new();
    for d in &docs {
        assert_eq!(d["type"], "subsegment", "{d}");
        assert_eq!(d["trace_id"], ROOT, "{d}");
        assert_eq!(d["parent_id"], PARENT, "{d}");
        let id = d["id"].as_str().unwrap();
        assert!(
            id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        assert!(ids.insert(id.to_string()), "ids are unique: {id}");
        assert!(d["start_time"].as_f64().unwrap() <= d["end_time"].as_f64().unwrap());
        assert_eq!(d["annotations"]["agent"], "lead-qualifier");
    }
    let mut by_start = docs.clone();
    by_start.sort_by(|a, b| {
        a["start_time"]
            .as_f64()
            .partial_cmp(&b["start_time"].as_f64())
            .unwrap()
    });
    let models: Vec<&Value> = by_start.iter().filter(|d| d["name"] == "model").collect();
    let tools: Vec<&Value> = by_start.iter().filter(|d| d["name"] != "model").collect();
    // One per turn, with that turn's figures.
    assert_eq!(models.len(), 3, "{docs:#?}");
    let figures: Vec<(u64, u64, &str)> = models
        .iter()
        .map(|m| {
            let a = &m["annotations"];
            assert_eq!(a["attempts"], 1);
            assert_eq!(a["outcome"], "ok");
            (
                a["input_tokens"].as_u64().unwrap(),
                a["output_tokens"].as_u64().unwrap(),
                a["stop_reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        figures,
        [
            (100, 20, "tool_use"),
            (150, 10, "tool_use"),
            (200, 30, "end_turn")
        ]
    );
    // One per tool call, named by the tool, with its outcome.
    let mut calls: Vec<(String, String)> = tools
        .iter()
        .map(|t| {
            assert_eq!(t["annotations"]["tool"], t["name"]);
            (
                t["name"].as_str().unwrap().to_string(),
                t["annotations"]["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    calls.sort();
    assert_eq!(
        calls,
        [
            ("broken".to_string(), "error".to_string()),
            ("get_lead".to_string(), "ok".to_string()),
            ("get_lead".to_string(), "ok".to_string()),
        ]
    );
    // Tools run between the model call that asked for them and the next one.
    let end = |d: &Value| d["end_time"].as_f64().unwrap();
    let start = |d: &Value| d["start_time"].as_f64().unwrap();
    for t in &tools {
        assert!(start(t) >= end(models[0]) - 1e-3, "{t}");
        assert!(end(t) <= start(models[2]) + 1e-3, "{t}");
    }

    // The per-tool metrics say the same.
    let lines = h.lines();
    let per_tool: Vec<&Value> = lines.iter().filter(|l| l.get("tool").is_some()).collect();
    assert_eq!(per_tool.len(), 2, "{lines:#?}");
    let broken = per_tool.iter().find(|l| l["tool"] == "broken").unwrap();
    assert_eq!(
        (broken["ToolCalls"].as_u64(), broken["ToolErrors"].as_u64()),
        (Some(1), Some(1))
    );
    let get_lead = per_tool.iter().find(|l| l["tool"] == "get_lead").unwrap();
    assert_eq!(get_lead["ToolCalls"], 2);
    assert_eq!(get_lead["ToolErrors"], 0);
    assert_eq!(get_lead["agent"], "lead-qualifier");
    assert_eq!(get_lead["ToolLatency"].as_array().unwrap().len(), 2);
    for l in h.lines.lock().unwrap().iter() {
        assert!(!l.contains(KEY) && !l.contains(CRM_TOKEN), "{l}");
    }
}

#[tokio::test]
async fn nothing_is_sent_unsampled_without_a_header_or_with_tracing_off() {
    for (tracing, trace_header) in [
        ("active", Some(header("0"))),
        ("active", None),
        ("active", Some(format!("Root={ROOT};Sampled=1"))),
        ("pass_through", Some(header("1"))),
    ] {
        let h = Harness::new(tracing, script());
        let answer = h.invoke(trace_header.as_deref()).await;
        assert_eq!(answer["stop_reason"], "end_turn", "{answer}");
        assert_eq!(
            h.datagrams(),
            Vec::<String>::new(),
            "tracing {tracing}, header {trace_header:?}"
        );
        // Metrics do not depend on tracing.
        assert_eq!(
            h.lines().iter().filter(|l| l.get("tool").is_some()).count(),
            2
        );
    }
}

#[tokio::test]
async fn a_failed_model_call_is_an_error_subsegment() {
    let h = Harness::new(
        "active",
        vec![Step::error(
            400,
            "invalid_request_error",
            &format!("{CANARY} bad"),
        )],
    );
    let answer = h.invoke(Some(&header("1"))).await;
    assert_eq!(answer["status"], 500, "{answer}");
    let raw = h.datagrams();
    assert_eq!(raw.len(), 1, "{raw:?}");
    assert!(!raw[0].contains(CANARY));
    let d = document(&raw[0]);
    assert_eq!(d["name"], "model");
    assert_eq!(d["error"], true);
    assert_eq!(d["annotations"]["outcome"], "error");
}
