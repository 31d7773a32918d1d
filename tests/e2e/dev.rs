//! `claw dev` end to end: the real binary serves agent.yaml's routes on
//! loopback ports, running the function built from this checkout against the
//! scripted mock Messages API and moto; the tests call it with plain HTTP.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::Child;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use base64::Engine as _;
use claw_testkit::http::Response;
use claw_testkit::mock_model::{MockModel, Step};
use claw_testkit::moto::Moto;
use claw_testkit::{Claw, repo_root as workspace};
use serde_json::{Value, json};

use crate::support::BIN;

const API_KEY: &str = "sk-ant-e2e-dev-31b7";

/// A running `claw dev`; killed (with its function) on drop.
struct Dev {
    child: Child,
    port: u16,
    /// stdout lines: the banner, then one line per request.
    lines: Receiver<String>,
    /// The startup banner.
    banner: String,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Dev {
    fn drop(&mut self) {
        // SIGINT, as Ctrl-C: claw stops the function's process group.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    // Two free neighbours: the API and the function URL.
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if p < 65000 && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

fn setup(dir: &Path, moto: &Moto, yaml: &str) {
    std::fs::write(dir.join("agent.yaml"), yaml).unwrap();
    claw_testkit::sdk::create_secrets(&moto.direct_endpoint(), &[("e2e/dev-key", API_KEY)]);
}

fn config(extra_api: &str, timeout_s: u32, system: &str) -> String {
    format!(
        r#"app: e2e-dev
stage: test
region: ap-southeast-2
account: "123456789012"
function: {{ architecture: x86_64, memory_mb: 256, timeout_s: {timeout_s} }}
model:
  id: claude-e2e-model
  max_tokens: 1024
  api_key_secret: e2e/dev-key
agents:
  qualifier:
    system: {system}
api:
{extra_api}"#
    )
}

/// Whether this claw carries the prebuilt function (`claw --version` lists it),
/// which packages in about a second.
fn carries_prebuilt() -> bool {
    static CARRIES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CARRIES.get_or_init(|| {
        let out = Claw::new(BIN, std::env::temp_dir())
            .arg("--version")
            .run()
            .ok();
        out.stdout().contains("sha256")
    })
}

/// Starts `claw dev ARGS` and waits for its banner.
fn start(dir: &Path, moto: &Moto, mock: &MockModel, args: &[&str], env: &[(&str, &str)]) -> Dev {
    let port = free_port();
    let mut claw = Claw::new(BIN, dir);
    if !carries_prebuilt() {
        // Built from this checkout instead (minutes when cold).
        claw = claw.env("CLAW_WORKSPACE", workspace());
    }
    for (k, v) in env {
        claw = claw.env(k, v);
    }
    let mut child = claw
        .endpoint(&moto.endpoint())
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .args(["dev", "--port", &port.to_string()])
        .args(args)
        .spawn();
    let (tx, lines) = channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let err = child.stderr.take().unwrap();
    let sink = std::sync::Arc::clone(&stderr);
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let mut s = sink.lock().unwrap();
            s.push_str(&l);
            s.push('\n');
        }
    });
    let mut dev = Dev {
        child,
        port,
        lines,
        banner: String::new(),
        stderr,
    };
    let first = dev.line_with("claw dev:", Duration::from_secs(120));
    assert!(first.contains("claw dev: e2e-dev-test"), "{first}");
    dev.banner = first;
    loop {
        let l = dev.line_with("", Duration::from_secs(5));
        dev.banner.push('\n');
        dev.banner.push_str(&l);
        if l.contains("Ctrl-C stops") {
            break;
        }
    }
    dev
}

impl Dev {
    /// The next stdout line containing `needle`.
    fn line_with(&mut self, needle: &str, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return l,
                Ok(_) => {}
                Err(_) => panic!(
                    "no line with {needle:?} from claw dev\nstderr:\n{}",
                    self.stderr()
                ),
            }
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Whether claw dev's stderr says `needle` within a few seconds: a reader
    /// thread collects it, so it may lag behind the HTTP answer.
    fn says(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.stderr().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        call(self.port, method, path, headers, body)
    }
}

/// One HTTP/1.1 request on its own connection; the whole response.
fn call(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    Response::parse(&raw).unwrap_or_else(|| panic!("not HTTP: {}", String::from_utf8_lossy(&raw)))
}

fn json_of(r: &Response) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| panic!("{}: {}", r.status, String::from_utf8_lossy(&r.body)))
}

const JSON: (&str, &str) = ("content-type", "application/json");

/// Routes, a greedy route, a base64 body, a 404, an edit picked up between two
/// requests, an invalid edit kept out, and each request's line.
#[test]
fn dev_serves_routes_and_picks_up_edits() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    let routes = "  routes: [\"POST /agents/{agent}\", \"ANY /api/{proxy+}\"]\n  auth: iam\n";
    setup(dir.path(), &moto, &config(routes, 30, "You qualify leads."));
    let mock = MockModel::start(
        API_KEY,
        vec![
            Step::text("first answer"),
            Step::text("second answer"),
            Step::text("third answer"),
        ],
    );
    let mut dev = start(dir.path(), &moto, &mock, &[], &[]);

    let r = dev.call(
        "POST",
        "/agents/qualifier?x=1&x=2",
        &[JSON],
        br#"{"message":"Qualify L-1"}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(json_of(&r)["response"], "first answer");
    let line = dev.line_with("POST /agents/qualifier", Duration::from_secs(5));
    assert!(line.contains("→ POST /agents/{agent}  200"), "{line}");
    assert!(line.contains("1 turn  0 tools"), "{line}");

    // A greedy route, with a body API Gateway would base64-encode.
    let body = br#"{"agent":"qualifier","message":"Qualify L-2"}"#;
    let r = dev.call(
        "PUT",
        "/api/v1/leads",
        &[("content-type", "application/octet-stream")],
        body,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(json_of(&r)["response"], "second answer");
    assert!(
        dev.line_with("PUT /api/v1/leads", Duration::from_secs(5))
            .contains("ANY /api/{proxy+}  200")
    );

    let r = dev.call("GET", "/nowhere", &[], b"");
    assert_eq!(
        (r.status, json_of(&r)),
        (404, json!({"message": "Not Found"}))
    );

    // An edit that does not validate is reported and the old config kept; a
    // valid one applies to the next request.
    let path = dir.path().join("agent.yaml");
    std::fs::write(
        &path,
        config(routes, 30, "You qualify leads.").replace("agents:", "agentz:"),
    )
    .unwrap();
    let r = dev.call("GET", "/nowhere", &[], b"");
    assert_eq!(r.status, 404);
    assert!(
        dev.says("is not valid; still serving the previous config"),
        "{}",
        dev.stderr()
    );
    std::fs::write(&path, config(routes, 30, "You score leads from 0 to 100.")).unwrap();
    let r = dev.call(
        "POST",
        "/agents/qualifier",
        &[JSON],
        br#"{"message":"Score L-3"}"#,
    );
    assert_eq!(json_of(&r)["response"], "third answer");
    assert!(
        dev.says("changed: repackaged and restarted"),
        "{}",
        dev.stderr()
    );
    let systems: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| r.body["system"].to_string())
        .collect();
    assert!(systems[0].contains("You qualify leads."), "{systems:?}");
    assert!(
        systems[2].contains("You score leads from 0 to 100."),
        "{systems:?}"
    );
    // The base64 body reached the function decoded.
    assert!(
        mock.requests()[1].last_content()[0]
            .to_string()
            .contains("Qualify L-2")
    );
}

/// A request past the function's timeout gets API Gateway's error; the function
/// is stopped and started again for the next one. (The agent stops itself before
/// its deadline, so the hang is in a dependency without one: Secrets Manager
/// accepts connections and never answers, until released.)
#[test]
fn dev_times_out_and_restarts_the_function() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    setup(
        dir.path(),
        &moto,
        &config("  auth: none\n", 3, "You qualify leads."),
    );
    let mock = MockModel::start(API_KEY, vec![Step::text("in time")]);
    let secrets = Hang::start(&moto.direct_endpoint());
    let mut dev = start(
        dir.path(),
        &moto,
        &mock,
        &[],
        &[("AWS_ENDPOINT_URL_SECRETS_MANAGER", &secrets.url())],
    );
    let t = Instant::now();
    let r = dev.call(
        "POST",
        "/agents/qualifier",
        &[JSON],
        br#"{"message":"slow"}"#,
    );
    assert_eq!(r.status, 500, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(json_of(&r), json!({"message": "Internal Server Error"}));
    assert!(t.elapsed() >= Duration::from_secs(3), "{:?}", t.elapsed());
    let line = dev.line_with("POST /agents/qualifier", Duration::from_secs(5));
    assert!(line.contains("timed out after 3 s"), "{line}");
    secrets.release();
    let r = dev.call(
        "POST",
        "/agents/qualifier",
        &[JSON],
        br#"{"message":"fast"}"#,
    );
    assert_eq!(
        (r.status, json_of(&r)["response"].clone()),
        (200, json!("in time"))
    );
}

/// A loopback TCP proxy to `upstream` that accepts connections and never
/// answers them until [`Hang::release`].
struct Hang {
    addr: std::net::SocketAddr,
    hanging: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Hang {
    fn start(upstream: &str) -> Hang {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = upstream.trim_start_matches("http://").to_string();
        let hanging = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = std::sync::Arc::clone(&hanging);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming() {
                let Ok(client) = conn else { continue };
                if flag.load(std::sync::atomic::Ordering::SeqCst) {
                    held.push(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut c1, mut s1) = (client, server);
                std::thread::spawn(move || std::io::copy(&mut c1, &mut s1));
                std::thread::spawn(move || std::io::copy(&mut s2, &mut c2));
            }
        });
        Hang { addr, hanging }
    }

    fn release(&self) {
        self.hanging
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// `auth: jwt`: a token signed by the issuer's key passes, with its claims; no
/// token, a forged or expired one gets 401; --dev-token passes.
#[test]
fn dev_checks_jwts_and_accepts_the_dev_token() {
    use aws_lc_rs::signature::KeyPair as _;
    let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let (n, e) = rsa_components(key.public_key().as_ref());
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwks = json!({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
                                "n": b64(&n), "e": b64(&e)}]});
    let issuer = claw_testkit::http::Server::start(move |_| {
        Response {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: jwks.to_string().into_bytes(),
        }
        .into()
    });
    let sign = |claims: Value| {
        let input = format!(
            "{}.{}",
            b64(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})
                .to_string()
                .as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut sig = vec![0; key.public_modulus_len()];
        key.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
        format!("{input}.{}", b64(&sig))
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = |exp: u64| json!({"iss": "https://issuer.example.com/", "aud": "crm-api", "sub": "alice", "exp": exp});

    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    let api =
        "  auth: jwt\n  jwt: { issuer: \"https://issuer.example.com/\", audience: [crm-api] }\n";
    setup(dir.path(), &moto, &config(api, 30, "You qualify leads."));
    let mock = MockModel::start(
        API_KEY,
        vec![Step::text("for alice"), Step::text("for dev")],
    );
    let jwks_url = format!("{}/jwks.json", issuer.url());
    let mut dev = start(
        dir.path(),
        &moto,
        &mock,
        &["--jwks-url", &jwks_url, "--dev-token", "local-dev-token"],
        &[],
    );
    assert!(
        dev.banner
            .contains("--dev-token: a request bearing that exact token"),
        "{}",
        dev.banner
    );
    assert!(!dev.banner.contains("not reachable"), "{}", dev.banner);

    let msg = br#"{"message":"hi"}"#;
    let bearer = |t: &str| format!("Bearer {t}");
    let unauthorized = json!({"message": "Unauthorized"});
    let good = bearer(&sign(claims(now + 300)));
    let r = dev.call(
        "POST",
        "/agents/qualifier",
        &[JSON, ("authorization", &good)],
        msg,
    );
    assert_eq!(
        (r.status, json_of(&r)["response"].clone()),
        (200, json!("for alice"))
    );
    for bad in [
        None,
        Some(bearer(&sign(claims(now - 10)))),
        Some(format!("{}x", good)),
    ] {
        let mut headers = vec![JSON];
        if let Some(b) = &bad {
            headers.push(("authorization", b));
        }
        let r = dev.call("POST", "/agents/qualifier", &headers, msg);
        assert_eq!(
            (r.status, json_of(&r)),
            (401, unauthorized.clone()),
            "{bad:?}"
        );
    }
    let line = dev.line_with("401", Duration::from_secs(5));
    assert!(line.contains("no `Authorization: Bearer` token"), "{line}");
    let r = dev.call(
        "POST",
        "/agents/qualifier",
        &[JSON, ("authorization", "Bearer local-dev-token")],
        msg,
    );
    assert_eq!(
        (r.status, json_of(&r)["response"].clone()),
        (200, json!("for dev"))
    );
    assert_eq!(mock.request_count(), 2);
}

/// Async mode: POST /jobs queues (the queue and table are created in moto),
/// claw drains the queue into the function, GET /jobs/{id} reads the result.
/// The function URL streams server-sent events; -v shows its tool calls.
#[test]
fn dev_runs_async_jobs_and_streams_through_the_function_url() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    let api = "  mode: async\n  routes: [\"POST /agents/{agent}\"]\n  auth: iam\n  stream: { public: true }\n";
    setup(dir.path(), &moto, &config(api, 30, "You qualify leads."));
    let mock = MockModel::start(
        API_KEY,
        vec![
            Step::text("job answer"),
            Step::tool_use("toolu_1", "crm_lookup", json!({"id": "L-7"})),
            Step::text("streamed answer, in pieces").paced(Duration::from_millis(10)),
        ],
    );
    let mut dev = start(dir.path(), &moto, &mock, &["-v"], &[]);
    let r = dev.call(
        "POST",
        "/jobs",
        &[JSON],
        br#"{"agent":"qualifier","message":"later"}"#,
    );
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let id = json_of(&r)["job_id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let r = dev.call("GET", &format!("/jobs/{id}"), &[], b"");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let v = json_of(&r);
        if v["status"] == "done" || v["status"] == "failed" || Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(job["status"], "done", "{job}\n{}", dev.stderr());
    assert!(job.to_string().contains("job answer"), "{job}");
    assert!(
        dev.line_with("SQS e2e-dev-test-jobs", Duration::from_secs(5))
            .contains("200")
    );

    let r = call(
        dev.port + 1,
        "POST",
        "/",
        &[JSON],
        br#"{"message":"stream it"}"#,
    );
    assert_eq!(r.status, 200);
    // The head is the stream's prelude, as a function URL sends it.
    let header = |name: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("content-type"), Some("text/event-stream"));
    assert_eq!(header("cache-control"), Some("no-cache"));
    assert_eq!(header("transfer-encoding"), Some("chunked"));
    let sse = String::from_utf8_lossy(&r.body);
    let text: String = sse
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("event: text\ndata: "))
        .map(|d| {
            serde_json::from_str::<Value>(d).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(text, "streamed answer, in pieces", "{sse}");
    assert!(sse.contains("event: done"), "{sse}");
    assert!(
        dev.line_with("function URL", Duration::from_secs(5))
            .contains("200")
    );
    // -v: the tool call, as it streamed past.
    assert!(dev.says("├ tool crm_lookup (toolu_1)"), "{}", dev.stderr());
    assert!(dev.says("├ tool crm_lookup: error"), "{}", dev.stderr());
}

/// The modulus and exponent of an RFC 8017 RSAPublicKey (DER).
fn rsa_components(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    fn tlv(d: &[u8]) -> (&[u8], &[u8]) {
        let (len, skip) = if d[1] & 0x80 == 0 {
            (d[1] as usize, 2)
        } else {
            let n = (d[1] & 0x7f) as usize;
            (
                d[2..2 + n].iter().fold(0, |a, b| a * 256 + *b as usize),
                2 + n,
            )
        };
        (&d[skip..skip + len], &d[skip + len..])
    }
    let (seq, _) = tlv(der);
    let (n, rest) = tlv(seq);
    let (e, _) = tlv(rest);
    (n.to_vec(), e.to_vec())
}
