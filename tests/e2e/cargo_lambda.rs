//! A second opinion on the function's Runtime API client: the built function
//! under `cargo lambda watch --only-lambda-apis` (cargo-lambda's own emulator of
//! the Runtime and Invoke APIs), not claw's. The same package and mock model;
//! a direct invocation must come back as the answer, and the emulator's
//! deadline header (a duration, 600000, where Lambda sends an epoch time) must
//! be read as the configured timeout with one warning, not as "out of time".
//!
//! Streaming is not judged here: cargo-lambda 1.9.2 answers 500 to every
//! streamed response, the function's and a minimal hand-written one in the
//! documented format alike (prelude, 8 NUL bytes, chunked body), and to every
//! function URL request in this mode. claw's own Runtime API and
//! `tests/e2e/streaming.rs` cover the streamed answer.
//!
//! cargo-lambda comes from requirements.txt (`scripts/setup`). Without it the
//! test says so and skips, except under `scripts/test` (`CLAW_REQUIRE_PREBUILT`),
//! where a missing emulator fails it.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use claw_testkit::mock_model::{MockModel, Step};
use claw_testkit::moto::Moto;
use claw_testkit::realism::wire::Response;
use claw_testkit::{Claw, repo_root as workspace};
use serde_json::{Value, json};

use crate::support::BIN;

const API_KEY: &str = "sk-ant-e2e-cl-2b7e";
const ANSWER: &str = "Lead L-9 is qualified: budget approved, a named buyer, a pilot in March.";

/// Kills the process when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cargo_lambda() -> Option<PathBuf> {
    let venv = workspace().join(".venv/bin/cargo-lambda");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("cargo-lambda"))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let until = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before it listened: {status}");
        }
        assert!(Instant::now() < until, "{what} never listened on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Unpacks `claw build`'s zip (bootstrap and agent.json) into `dir`.
fn unpack(zip: &Path, dir: &Path) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        let path = dir.join(f.name().unwrap().as_ref());
        std::fs::write(&path, bytes).unwrap();
        if let Some(mode) = f.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
}

/// One HTTP/1.1 POST, read to the end of the (chunked or sized) body.
fn post(port: u16, path: &str, body: &Value) -> (u16, String, String) {
    use std::io::Write;
    let body = body.to_string();
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let resp = Response::parse(&raw)
        .unwrap_or_else(|| panic!("not an HTTP response: {}", String::from_utf8_lossy(&raw)));
    let kind = resp
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    (
        resp.status,
        kind,
        String::from_utf8_lossy(&resp.body).into_owned(),
    )
}

#[test]
fn the_function_answers_under_cargo_lambda_watch() {
    let Some(cargo_lambda) = cargo_lambda() else {
        assert!(
            std::env::var_os("CLAW_REQUIRE_PREBUILT").is_none(),
            "cargo-lambda is missing: scripts/setup installs it from requirements.txt"
        );
        eprintln!(
            "SKIPPED the_function_answers_under_cargo_lambda_watch: cargo-lambda is not \
             installed (scripts/setup installs it)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start();
    std::fs::write(
        dir.path().join("agent.yaml"),
        r#"app: e2e-cl
stage: test
region: ap-southeast-2
account: "123456789012"
function: { architecture: x86_64, memory_mb: 256, timeout_s: 60 }
model:
  id: claude-e2e-model
  max_tokens: 1024
  api_key_secret: e2e/cl-key
agents:
  qualifier:
    system: You qualify leads.
"#,
    )
    .unwrap();
    claw_testkit::sdk::create_secrets(&moto.direct_endpoint(), &[("e2e/cl-key", API_KEY)]);
    let built = Claw::new(BIN, dir.path())
        .env("CLAW_WORKSPACE", workspace())
        .args(["build", "--arch", "x86_64", "--output", "json"])
        .run()
        .ok()
        .json();
    let function = dir.path().join("function");
    std::fs::create_dir(&function).unwrap();
    unpack(Path::new(built["zip"].as_str().unwrap()), &function);

    // cargo-lambda reads `cargo metadata` even when it starts no function.
    let project = dir.path().join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(
        project.join("Cargo.toml"),
        "[package]\nname = \"probe\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(project.join("src/main.rs"), "fn main() {}\n").unwrap();
    let port = free_port();
    let mut watch = Command::new(&cargo_lambda)
        .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1"])
        .args(["-P", &port.to_string()])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting cargo lambda watch");
    wait_for_port(port, "cargo lambda watch", &mut watch);
    let _watch = Killed(watch);

    let mock = MockModel::start(
        API_KEY,
        vec![Step::text(ANSWER), Step::text("second answer")],
    );
    // The environment cargo-lambda tells a function it does not start to use.
    let bootstrap = Command::new(function.join("bootstrap"))
        .env_clear()
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("LAMBDA_TASK_ROOT", &function)
        .env("AWS_REGION", "ap-southeast-2")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the function");
    let mut bootstrap = Killed(bootstrap);

    // A direct invocation comes back as the answer object.
    let ask = json!({"agent": "qualifier", "message": "Qualify lead L-9"});
    let (status, _, body) = post(port, "/2015-03-31/functions/_/invocations", &ask);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["response"], ANSWER, "{body}");
    assert_eq!(v["stop_reason"], "end_turn", "{body}");
    // A second invocation of the same process (the warm path).
    let (status, _, body) = post(port, "/2015-03-31/functions/_/invocations", &ask);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["response"], "second answer", "{body}");

    // One warning said the emulator's deadline is not an epoch time.
    let _ = bootstrap.0.kill();
    let mut out = String::new();
    bootstrap
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let warnings: Vec<&str> = out.lines().filter(|l| l.contains("\"warning\"")).collect();
    assert_eq!(warnings.len(), 1, "{out}");
    assert!(warnings[0].contains("not an epoch time"), "{out}");
    let audits = out
        .lines()
        .filter(|l| l.contains("\"type\":\"audit\""))
        .count();
    assert_eq!(audits, 2, "{out}");
    assert!(!out.contains(API_KEY), "the key reached the log");
}
