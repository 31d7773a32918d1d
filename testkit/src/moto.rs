//! A moto server per test: `Moto::start()` runs moto's server on a free loopback
//! port, waits until it answers, and kills it when dropped. It runs through
//! `scripts/moto_server.py`, which serves DynamoDB requests one at a time so that
//! counters and conditional writes are atomic, as DynamoDB's are.
//!
//! The request recorder (`/moto-api/recorder/…`) lets a test count the API calls a
//! command made: `moto.start_recording()`, run the command, then
//! `moto.mutating_calls()` lists every call that was not a read. Each [`Call`]
//! keeps its path, query and body, so a test can also check what a call asked for
//! (the deployer-policy test evaluates every call's IAM authorization from them).
//!
//! moto runs under a small `sh` guard that stops it when the guard's stdin closes:
//! on drop, and also when the test process ends without dropping it (a fixture held
//! in a `static` for the whole test binary), so no server outlives its tests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// A running moto server; stopped on drop.
pub struct Moto {
    port: u16,
    /// The `sh` guard; moto is its child.
    child: Child,
    /// The guard's stdin: closing it stops moto.
    guard: Option<ChildStdin>,
    /// Holds the recording file and moto's working directory.
    dir: tempfile::TempDir,
    /// The realism proxy in front, when on ([`Moto::realistic`]).
    proxy: Option<crate::fault_proxy::FaultProxy>,
}

/// One recorded API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The HTTP method.
    pub method: String,
    /// The signing name of the service (`iam`, `lambda`, `apigateway`, `logs`, …).
    pub service: String,
    /// The operation: the query/JSON action (`CreateRole`), or for REST services
    /// `METHOD /path` (`PUT /2015-03-31/functions/x/configuration`).
    pub action: String,
    /// The request path as sent, still percent-encoded (`/2017-03-31/tags/arn%3A…`).
    pub path: String,
    /// The query string as sent, without `?` (empty when there is none).
    pub query: String,
    /// The request body as text (a query-protocol form, a JSON document, or empty).
    pub body: String,
}

impl Call {
    /// Whether the call can change state. RPC-style actions are reads when their
    /// name starts with Get/List/Describe/Head/BatchGet/Query/Scan; REST calls are
    /// reads when their method is GET or HEAD.
    pub fn is_mutating(&self) -> bool {
        if self.action.contains(' ') {
            return !matches!(self.method.as_str(), "GET" | "HEAD");
        }
        const READ_PREFIXES: &[&str] = &[
            "Get", "List", "Describe", "Head", "BatchGet", "Query", "Scan",
        ];
        !READ_PREFIXES.iter().any(|p| self.action.starts_with(p))
    }
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.service, self.action)
    }
}

/// Runs `"$0" "$@"` (moto) in the background and kills it when stdin reaches its
/// end; exits when moto exits, so a moto that dies on its own is noticed.
const GUARD: &str = r#"exec 3<&0
"$0" "$@" 3<&- &
pid=$!
{ read -r line <&3; kill -9 "$pid" 2>/dev/null; } &
wait "$pid"
"#;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot find a free port on 127.0.0.1")
}

impl Moto {
    /// Starts a fresh moto server. Panics with the fix when `.venv` is missing.
    pub fn start() -> Moto {
        let root = crate::repo_root();
        let bin = root.join(".venv/bin/python");
        let server = root.join("scripts/moto_server.py");
        assert!(
            root.join(".venv/bin/moto_server").exists(),
            "{} is missing: run `bash scripts/setup` at the repository root first",
            root.join(".venv/bin/moto_server").display()
        );
        let mut last_err = String::new();
        // A port found free can be taken before moto binds it; try a few.
        for _ in 0..3 {
            let port = free_port();
            let dir = tempfile::tempdir().expect("cannot create a temporary directory");
            let log =
                std::fs::File::create(dir.path().join("moto.log")).expect("cannot create moto.log");
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(GUARD)
                .arg(&bin)
                .arg(&server)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .current_dir(dir.path())
                .env("MOTO_RECORDER_FILEPATH", dir.path().join("recording"))
                .stdin(Stdio::piped())
                .stdout(log.try_clone().expect("cannot clone the log handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let guard = child.stdin.take();
            let mut moto = Moto {
                port,
                child,
                guard,
                dir,
                proxy: None,
            };
            match moto.wait_ready(Duration::from_secs(20)) {
                Ok(()) => return moto,
                Err(e) => last_err = e,
            }
        }
        panic!("moto_server did not start: {last_err}");
    }

    /// A fresh moto server behind the realism proxy: [`Moto::endpoint`] then
    /// answers as AWS does where moto does not (see [`crate::realism`]); the
    /// seed comes from `CLAW_REALISM_SEED` when set, so a failing run replays.
    pub fn realistic() -> Moto {
        let mut realism = crate::realism::Realism::default();
        if let Some(seed) = std::env::var("CLAW_REALISM_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
        {
            realism.seed = seed;
        }
        Moto::realistic_with(realism)
    }

    /// [`Moto::realistic`] with the given timings and quotas.
    pub fn realistic_with(realism: crate::realism::Realism) -> Moto {
        let mut moto = Moto::start();
        moto.proxy = Some(crate::fault_proxy::FaultProxy::realistic(
            &moto.direct_endpoint(),
            Default::default(),
            realism,
        ));
        moto
    }

    /// The realism layer, when this server has one.
    pub fn realism(&self) -> Option<&crate::realism::RealAws> {
        self.proxy.as_ref().and_then(|p| p.realism.as_deref())
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "exited with {status} on port {}; log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            if let Ok((200, _)) = self.request("GET", "/moto-api/", "") {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(format!(
                    "no answer on port {} within {limit:?}; log:\n{}",
                    self.port,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
    }

    /// The endpoint for `AWS_ENDPOINT_URL`: the realism proxy when there is
    /// one, else moto itself.
    pub fn endpoint(&self) -> String {
        match &self.proxy {
            Some(p) => p.endpoint(),
            None => self.direct_endpoint(),
        }
    }

    /// moto itself (`http://127.0.0.1:PORT`), for a test's own checks of what
    /// is stored, which need no realism.
    pub fn direct_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Forgets every resource (moto's `/moto-api/reset`).
    pub fn reset(&self) {
        self.post("/moto-api/reset");
        if let Some(real) = self.realism() {
            real.reset();
        }
    }

    /// Clears the recording.
    pub fn reset_recording(&self) {
        self.post("/moto-api/recorder/reset-recording");
        if let Some(real) = self.realism() {
            real.clear_recording();
        }
    }

    /// Records every following request (until [`Moto::stop_recording`]).
    pub fn start_recording(&self) {
        self.post("/moto-api/recorder/start-recording");
        if let Some(real) = self.realism() {
            real.set_recording(true);
        }
    }

    pub fn stop_recording(&self) {
        self.post("/moto-api/recorder/stop-recording");
        if let Some(real) = self.realism() {
            real.set_recording(false);
        }
    }

    /// The raw recording: one JSON object per request.
    pub fn download_recording(&self) -> String {
        let (status, body) = self
            .request("GET", "/moto-api/recorder/download-recording", "")
            .unwrap_or_else(|e| panic!("download-recording: {e}"));
        assert_eq!(status, 200, "download-recording answered {status}: {body}");
        body
    }

    /// Clears the recording and starts recording: the usual start of a count.
    pub fn record(&self) {
        self.reset_recording();
        self.start_recording();
    }

    /// Every request moto recorded, as moto wrote it, in order.
    ///
    /// moto's recorder writes a record and its newline in two writes to a file
    /// opened per request (moto 5.2.5, `Recorder._record_request`), so two
    /// requests served at once can leave two records on one line: the recording
    /// is read as a stream of JSON values, not as one value per line.
    pub fn recorded(&self) -> Vec<serde_json::Value> {
        let recording = self.download_recording();
        serde_json::Deserializer::from_str(&recording)
            .into_iter::<serde_json::Value>()
            .map(|v| v.unwrap_or_else(|e| panic!("bad recording: {e}")))
            .collect()
    }

    /// Every recorded call, in order, then the calls the realism layer answered
    /// itself (which never reached moto).
    pub fn calls(&self) -> Vec<Call> {
        let mut calls: Vec<Call> = self.recorded().iter().map(classify).collect();
        if let Some(real) = self.realism() {
            calls.extend(real.served());
        }
        calls
    }

    /// The recorded calls that can change state.
    pub fn mutating_calls(&self) -> Vec<Call> {
        self.calls().into_iter().filter(Call::is_mutating).collect()
    }

    fn post(&self, path: &str) {
        match self.request("POST", path, "") {
            Ok((200, _)) => {}
            Ok((status, body)) => panic!("POST {path} answered {status}: {body}"),
            Err(e) => panic!("POST {path}: {e}"),
        }
    }

    /// A minimal HTTP/1.1 request over loopback (no client crate needed).
    fn request(&self, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        );
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&raw);
        let (head, rest) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("malformed answer: {text:?}"))?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no status in {head:?}"))?;
        let chunked = head.lines().any(|l| {
            l.to_ascii_lowercase()
                .starts_with("transfer-encoding: chunked")
        });
        let body = if chunked {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        Ok((status, body))
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Names the service and operation of one recorded request.
fn classify(v: &serde_json::Value) -> Call {
    let method = v["method"].as_str().unwrap_or("").to_string();
    let headers = &v["headers"];
    let header = |name: &str| -> Option<String> {
        headers.as_object().and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.as_str().map(str::to_string))
        })
    };
    // Credential=KEY/DATE/REGION/SERVICE/aws4_request
    let service = header("Authorization")
        .and_then(|a| {
            let cred = a.split("Credential=").nth(1)?;
            cred.split('/').nth(3).map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into());
    let url = v["url"].as_str().unwrap_or("");
    let path_and_query = url
        .find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| &url[i + 3 + j..]))
        .unwrap_or(url);
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let body = {
        let raw = v["body"].as_str().unwrap_or("");
        if v["body_encoded"].as_bool() == Some(true) {
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        } else {
            raw.to_string()
        }
    };
    let form_action = |s: &str| {
        s.split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .map(str::to_string)
    };
    let action = if let Some(target) = header("X-Amz-Target") {
        // JSON protocol: `Service_Version.Action`.
        target.rsplit('.').next().unwrap_or(&target).to_string()
    } else if let Some(a) = form_action(&body).or_else(|| form_action(query)) {
        // Query protocol (IAM, STS, CloudWatch).
        a
    } else {
        format!("{method} {path}")
    };
    Call {
        method,
        service,
        action,
        path: path.to_string(),
        query: query.to_string(),
        body,
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing the guard's stdin stops moto; the guard then exits.
        drop(self.guard.take());
        let _ = self.child.wait();
    }
}
