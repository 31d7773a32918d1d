//! The `http` tool against a loopback test server: templating, auth from a
//! secret, caps, timeouts, redirects, and the SSRF guard (IP literals, names that
//! resolve to loopback, redirects to the metadata service).
//!
//! Positive cases need loopback, so they use `allow_private_hosts: true` (or a
//! custom address policy). Negative cases use plain `http://` against the live test
//! server with a policy that forbids loopback: if the guard let a request through,
//! the server would record it and the test would fail.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_fn::agent::{ToolOutput, ToolRunner};
use agent_fn::aws::Aws;
use agent_fn::deadline::Deadline;
use agent_fn::secrets::{Secrets, Source};
use agent_fn::tools::Toolbox;
use agent_fn::tools::http::AddressPolicy;
use serde_json::{Value, json};

const SECRET: &str = "s3cr3t-crm-token";

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    url: String,
    auth: Option<String>,
    body: String,
}

/// A loopback HTTP server whose answers are chosen per path.
struct TestServer {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    fn start() -> TestServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let server = Arc::clone(&server);
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                while let Ok(mut req) = server.recv() {
                    let mut body = String::new();
                    let _ = req.as_reader().read_to_string(&mut body);
                    let auth = req
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv("authorization"))
                        .map(|h| h.value.as_str().to_string());
                    let url = req.url().to_string();
                    seen.lock().unwrap().push(Seen {
                        method: req.method().to_string(),
                        url: url.clone(),
                        auth,
                        body: body.clone(),
                    });
                    let path = url.split('?').next().unwrap_or("").to_string();
                    std::thread::spawn(move || respond(req, &path, port));
                }
            })
        };
        TestServer {
            port,
            seen,
            server,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn respond(req: tiny_http::Request, path: &str, port: u16) {
    let json_header = tiny_http::Header::from_bytes("content-type", "application/json").unwrap();
    let redirect = |to: &str| {
        tiny_http::Response::from_string("")
            .with_status_code(302)
            .with_header(tiny_http::Header::from_bytes("location", to).unwrap())
    };
    let resp = match path {
        "/big" => tiny_http::Response::from_string("x".repeat(100_000)),
        "/missing" => tiny_http::Response::from_string(r#"{"error":"no such lead"}"#)
            .with_status_code(404)
            .with_header(json_header),
        "/slow" => {
            std::thread::sleep(Duration::from_secs(3));
            tiny_http::Response::from_string("late")
        }
        "/hop1" => redirect("/hop2"),
        "/hop2" => redirect(&format!("http://127.0.0.1:{port}/final")),
        "/loop" => redirect("/loop"),
        "/to-localhost" => redirect(&format!("http://localhost:{port}/final")),
        "/to-metadata" => {
            redirect("http://169.254.169.254/latest/meta-data/iam/security-credentials/")
        }
        "/to-private" => redirect("http://10.0.0.1/internal"),
        "/to-v6-loopback" => redirect(&format!("http://[::1]:{port}/final")),
        _ => tiny_http::Response::from_string(r#"{"ok":true,"lead":{"id":"42"}}"#)
            .with_header(json_header),
    };
    let _ = req.respond(resp);
}

fn toolbox(tools: Value, policy: Option<AddressPolicy>) -> Toolbox {
    let config: claw_spec::Config = serde_json::from_value(json!({
        "app": "t", "stage": "test", "region": "ap-southeast-2", "account": "123456789012",
        "model": {"id": "m", "api_key_secret": "k"},
        "agents": {"a": {"system": "s", "tools": []}},
        "tools": tools,
    }))
    .unwrap();
    let secrets = HashMap::from([("crm-token".to_string(), SECRET.to_string())]);
    let tb = Toolbox::new(
        Arc::new(config),
        Arc::new(Aws::new("ap-southeast-2")),
        Arc::new(Secrets::new(Source::Static(secrets))),
    );
    match policy {
        Some(p) => tb.with_address_policy(p),
        None => tb,
    }
}

fn http_tool(url: &str, extra: Value) -> Value {
    let mut t = json!({
        "kind": "http",
        "description": "test",
        "url": url,
        "allow_private_hosts": true,
        "auth": {"secret": "crm-token", "header": "Authorization", "format": "Bearer {}"},
    });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            if v.is_null() {
                t.as_object_mut().unwrap().remove(&k);
            } else {
                t[k] = v;
            }
        }
    }
    t
}

async fn call(tb: &Toolbox, name: &str, input: Value) -> (ToolOutput, Value) {
    let out = tb
        .run(name, &input, Deadline::after(Duration::from_secs(30)))
        .await;
    let v: Value = serde_json::from_str(&out.content).expect("tool results are JSON");
    (out, v)
}

/// The address rule of `Public`, as a custom policy, so the guard can be tested
/// over plain http against the live loopback server.
fn public_rule() -> AddressPolicy {
    AddressPolicy::Custom(Arc::new(|ip: IpAddr| {
        claw_spec::net::forbidden_reason(ip).map(|why| format!("{ip} is {why}"))
    }))
}

#[tokio::test]
async fn get_fills_the_template_adds_the_query_and_the_secret_header() {
    let srv = TestServer::start();
    let base = format!("http://127.0.0.1:{}", srv.port);
    let tb = toolbox(
        json!({"get_lead": http_tool(&format!("{base}/v2/leads/{{lead_id}}"), json!({}))}),
        None,
    );
    let (out, v) = call(
        &tb,
        "get_lead",
        json!({"lead_id": "a/b 7", "fields": "name,email"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    assert_eq!(v["status"], 200);
    assert_eq!(v["body"]["lead"]["id"], "42");
    assert_eq!(v["truncated"], false);
    let seen = srv.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].url, "/v2/leads/a%2Fb%207?fields=name%2Cemail");
    assert_eq!(seen[0].auth.as_deref(), Some(&*format!("Bearer {SECRET}")));
    // The secret never reaches the model.
    assert!(!out.content.contains(SECRET));
}

#[tokio::test]
async fn post_sends_the_rest_of_the_input_as_json() {
    let srv = TestServer::start();
    let url = format!("http://127.0.0.1:{}/v2/leads/{{id}}/notes", srv.port);
    let tb = toolbox(
        json!({"note": http_tool(&url, json!({"method": "POST", "auth": null}))}),
        None,
    );
    let (out, _) = call(
        &tb,
        "note",
        json!({"id": "42", "text": "called", "priority": 2}),
    )
    .await;
    assert!(!out.is_error, "{}", out.content);
    let seen = srv.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].url, "/v2/leads/42/notes");
    assert_eq!(seen[0].auth, None);
    let body: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(body, json!({"priority": 2, "text": "called"}));
}

#[tokio::test]
async fn responses_are_capped() {
    let srv = TestServer::start();
    let url = format!("http://127.0.0.1:{}/big", srv.port);
    let tb = toolbox(
        json!({"big": http_tool(&url, json!({"max_response_bytes": 1000}))}),
        None,
    );
    let (out, v) = call(&tb, "big", json!({})).await;
    assert!(!out.is_error);
    assert_eq!(v["truncated"], true);
    assert_eq!(v["body"].as_str().unwrap().len(), 1000);
}

#[tokio::test]
async fn error_statuses_are_error_results_the_model_can_read() {
    let srv = TestServer::start();
    let url = format!("http://127.0.0.1:{}/missing", srv.port);
    let tb = toolbox(json!({"t": http_tool(&url, json!({}))}), None);
    let (out, v) = call(&tb, "t", json!({})).await;
    assert!(out.is_error);
    assert_eq!(v["status"], 404);
    assert_eq!(v["body"]["error"], "no such lead");
}

#[tokio::test]
async fn slow_servers_time_out() {
    let srv = TestServer::start();
    let url = format!("http://127.0.0.1:{}/slow", srv.port);
    let tb = toolbox(
        json!({"t": http_tool(&url, json!({"timeout_ms": 200}))}),
        None,
    );
    let (out, v) = call(&tb, "t", json!({})).await;
    assert!(out.is_error);
    assert!(v["error"].as_str().unwrap().contains("timed out"), "{v}");
}

#[tokio::test]
async fn bad_input_is_an_error_result() {
    let srv = TestServer::start();
    let url = format!("http://127.0.0.1:{}/v2/leads/{{lead_id}}", srv.port);
    let tb = toolbox(json!({"t": http_tool(&url, json!({}))}), None);
    for input in [json!({}), json!({"lead_id": ".."}), json!([1])] {
        let (out, _) = call(&tb, "t", input.clone()).await;
        assert!(out.is_error, "{input}");
    }
    assert!(srv.seen().is_empty());
}

#[tokio::test]
async fn redirects_are_followed_and_vetted_hop_by_hop() {
    let srv = TestServer::start();
    let url = format!("http://127.0.0.1:{}/hop1", srv.port);
    let tb = toolbox(json!({"t": http_tool(&url, json!({}))}), None);
    let (out, v) = call(&tb, "t", json!({})).await;
    assert!(!out.is_error, "{}", out.content);
    assert_eq!(v["body"]["ok"], true);
    let seen = srv.seen();
    let urls: Vec<&str> = seen.iter().map(|s| s.url.as_str()).collect();
    assert_eq!(urls, ["/hop1", "/hop2", "/final"]);
    // Same origin all the way: the credential follows.
    assert!(seen.iter().all(|s| s.auth.is_some()));
}

#[tokio::test]
async fn redirect_loops_end() {
    let srv = TestServer::start();
    let url = format!("http://127.0.0.1:{}/loop", srv.port);
    let tb = toolbox(json!({"t": http_tool(&url, json!({}))}), None);
    let (out, v) = call(&tb, "t", json!({})).await;
    assert!(out.is_error);
    assert!(v["error"].as_str().unwrap().contains("redirects"), "{v}");
    assert_eq!(srv.seen().len(), 4, "the first request and three redirects");
}

#[tokio::test]
async fn credentials_do_not_follow_a_redirect_to_another_origin() {
    let srv = TestServer::start();
    let url = format!("http://127.0.0.1:{}/to-localhost", srv.port);
    let tb = toolbox(json!({"t": http_tool(&url, json!({}))}), None);
    let (out, _) = call(&tb, "t", json!({})).await;
    assert!(!out.is_error, "{}", out.content);
    let seen = srv.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].auth.is_some());
    assert_eq!(seen[1].auth, None, "the secret went to another origin");
}

#[tokio::test]
async fn ssrf_ip_literals_are_refused() {
    let srv = TestServer::start();
    for host in [
        "127.0.0.1".to_string(),
        "2130706433".to_string(),
        "0x7f.0.0.1".to_string(),
        "127.1".to_string(),
    ] {
        let url = format!("http://{host}:{}/v2/leads", srv.port);
        let tb = toolbox(
            json!({"t": http_tool(&url, json!({}))}),
            Some(public_rule()),
        );
        let (out, v) = call(&tb, "t", json!({})).await;
        assert!(out.is_error, "{host}");
        let e = v["error"].as_str().unwrap();
        assert!(
            e.contains("refused") && e.contains("loopback"),
            "{host}: {e}"
        );
    }
    assert!(
        srv.seen().is_empty(),
        "a refused request reached the server"
    );
}

#[tokio::test]
async fn ssrf_names_resolving_to_loopback_are_refused() {
    let srv = TestServer::start();
    let url = format!("http://localhost:{}/v2/leads", srv.port);
    let tb = toolbox(
        json!({"t": http_tool(&url, json!({}))}),
        Some(public_rule()),
    );
    let (out, v) = call(&tb, "t", json!({})).await;
    assert!(out.is_error);
    let e = v["error"].as_str().unwrap();
    assert!(e.contains("`localhost` resolves to 127.0.0.1"), "{e}");
    assert!(
        srv.seen().is_empty(),
        "a refused request reached the server"
    );
}

#[tokio::test]
async fn ssrf_public_policy_refuses_loopback_over_https_too() {
    // The policy a deployed tool gets (allow_private_hosts off).
    let url = "https://localhost:1/x";
    let tb = toolbox(
        json!({"t": http_tool(url, json!({"allow_private_hosts": false}))}),
        None,
    );
    let (out, v) = call(&tb, "t", json!({})).await;
    assert!(out.is_error);
    assert!(v["error"].as_str().unwrap().contains("loopback"), "{v}");
    let tb = toolbox(
        json!({"t": http_tool("http://example.com/", json!({"allow_private_hosts": false}))}),
        None,
    );
    let (out, v) = call(&tb, "t", json!({})).await;
    assert!(out.is_error);
    assert!(v["error"].as_str().unwrap().contains("scheme"), "{v}");
}

#[tokio::test]
async fn ssrf_redirect_to_the_metadata_service_is_refused() {
    let srv = TestServer::start();
    // allow_private_hosts reaches the loopback server, never the metadata service.
    let url = format!("http://127.0.0.1:{}/to-metadata", srv.port);
    let tb = toolbox(json!({"t": http_tool(&url, json!({}))}), None);
    let (out, v) = call(&tb, "t", json!({})).await;
    assert!(out.is_error);
    let e = v["error"].as_str().unwrap();
    assert!(
        e.contains("refused a redirect") && e.contains("169.254.169.254"),
        "{e}"
    );
    assert_eq!(srv.seen().len(), 1);
}

#[tokio::test]
async fn ssrf_redirects_are_vetted_with_the_tools_policy() {
    let srv = TestServer::start();
    // Only the test server's address is allowed; every redirect target is not.
    let only_v4_loopback = AddressPolicy::Custom(Arc::new(|ip: IpAddr| {
        (ip != IpAddr::from([127, 0, 0, 1])).then(|| format!("{ip} is not the test server"))
    }));
    for path in ["/to-private", "/to-v6-loopback"] {
        let url = format!("http://127.0.0.1:{}{path}", srv.port);
        let tb = toolbox(
            json!({"t": http_tool(&url, json!({}))}),
            Some(only_v4_loopback.clone()),
        );
        let (out, v) = call(&tb, "t", json!({})).await;
        assert!(out.is_error, "{path}");
        let e = v["error"].as_str().unwrap();
        assert!(e.contains("refused a redirect"), "{path}: {e}");
    }
    // The first hops reached the server; nothing after them did.
    let urls: Vec<String> = srv.seen().into_iter().map(|s| s.url).collect();
    assert_eq!(urls, ["/to-private", "/to-v6-loopback"]);
}

#[tokio::test]
async fn unknown_tools_are_errors() {
    let tb = toolbox(json!({}), None);
    let (out, v) = call(&tb, "nope", json!({})).await;
    assert!(out.is_error);
    assert!(v["error"].as_str().unwrap().contains("not configured"));
}
