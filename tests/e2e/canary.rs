//! Secret canary: every secret in moto holds one random value. claw then runs
//! validate, build, plan, deploy, invoke (remote, and local with --record), test,
//! logs and the policy commands with -v, and the value is searched for in all
//! their output, the package (raw and unzipped), the recorded conversation, the
//! deployed environment variables, the generated policies and every committed
//! snapshot. It must be found nowhere, while the
//! mock model and the CRM stand-in prove the function did read it.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use claw_testkit::fixtures::{ROOT_SECRETS, repo_root as repo};
use claw_testkit::mock_model::{MockModel, Step};
use claw_testkit::moto::Moto;
use rand::Rng as _;
use serde_json::json;

use crate::support::claw;

/// A loopback server that records the Authorization header it receives.
struct Recorder {
    server: Arc<tiny_http::Server>,
    seen: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    fn start() -> Recorder {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (server.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            for req in s.incoming_requests() {
                let auth = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                r.lock().unwrap().push(auth);
                let _ = req.respond(tiny_http::Response::from_string(
                    r#"{"id":"42","name":"Ada"}"#,
                ));
            }
        });
        Recorder {
            server,
            seen,
            thread: Some(thread),
        }
    }

    fn port(&self) -> u16 {
        self.server.server_addr().to_ip().unwrap().port()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct World {
    dir: tempfile::TempDir,
    moto: Moto,
    mock_url: String,
    transcript: Vec<(String, String)>,
}

impl World {
    fn claw(&mut self, args: &[&str], stdin: Option<&str>) -> i32 {
        let mut c = claw(self.dir.path(), &self.moto.endpoint())
            .arg("-v")
            .args(args)
            .env("CLAW_WORKSPACE", repo())
            .env("ANTHROPIC_BASE_URL", &self.mock_url);
        if let Some(s) = stdin {
            c = c.stdin(s.as_bytes());
        }
        let out = c.run();
        let name = format!("claw -v {}", args.join(" "));
        self.transcript
            .push((format!("{name} (stdout)"), out.stdout.clone()));
        self.transcript
            .push((format!("{name} (stderr)"), out.stderr.clone()));
        out.code
    }

    fn last_output(&self) -> String {
        let n = self.transcript.len();
        format!("{}\n{}", self.transcript[n - 2].1, self.transcript[n - 1].1)
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                files_under(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_canary_is_never_found() {
    let canary = format!("canary{:032x}", rand::rng().random::<u128>());
    let crm = Recorder::start();
    let mock = MockModel::start(
        &canary,
        vec![
            Step::tool_use("toolu_1", "get_lead", json!({"lead_id": "42"})),
            Step::text("Lead 42 scores 70."),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let config = std::fs::read_to_string(repo().join("agent.yaml"))
        .unwrap()
        .replace("app: crm-leads", "app: canary")
        .replace("architecture: arm64", "architecture: x86_64")
        .replace(
            "url: https://crm.example.com/v2/leads/{lead_id}",
            &format!(
                "url: http://127.0.0.1:{}/v2/leads/{{lead_id}}\n    allow_private_hosts: true",
                crm.port()
            ),
        );
    assert!(
        config.contains("allow_private_hosts"),
        "the CRM url was not replaced"
    );
    std::fs::write(dir.path().join("agent.yaml"), config).unwrap();
    let mut w = World {
        dir,
        moto: Moto::realistic(),
        mock_url: mock.base_url(),
        transcript: Vec::new(),
    };

    for &s in ROOT_SECRETS {
        assert_eq!(
            w.claw(&["secrets", "set", s], Some(&format!("{canary}\n"))),
            0,
            "{}",
            w.last_output()
        );
    }
    assert_eq!(w.claw(&["validate"], None), 0, "{}", w.last_output());
    assert_eq!(
        w.claw(&["build", "--arch", "x86_64"], None),
        0,
        "{}",
        w.last_output()
    );
    w.claw(&["plan"], None);
    assert_eq!(w.claw(&["deploy", "--yes"], None), 0, "{}", w.last_output());
    w.claw(&["plan", "--output", "json"], None);
    // moto does not run function code; the remote invoke still goes through claw's
    // whole path and its output is searched too.
    w.claw(
        &[
            "invoke",
            "--log",
            "--agent",
            "lead-qualifier",
            "--message",
            "Qualify lead 42",
        ],
        None,
    );
    assert_eq!(
        w.claw(
            &[
                "invoke",
                "--local",
                "--record",
                "tests/agents/canary.json",
                "--agent",
                "lead-qualifier",
                "--message",
                "Qualify lead 42"
            ],
            None
        ),
        0,
        "{}",
        w.last_output()
    );
    let local_run = w.last_output();
    assert!(local_run.contains("Lead 42 scores 70."), "{local_run}");
    assert!(w.dir.path().join("tests/agents/canary.json").is_file());
    // The recording replays (no secret is read then: placeholders stand in).
    assert_eq!(w.claw(&["test"], None), 0, "{}", w.last_output());
    w.claw(&["logs", "--since", "1h"], None);
    w.claw(&["policy", "show"], None);
    w.claw(&["policy", "lint"], None);
    w.claw(&["policy", "write", "--dir", "written"], None);
    w.claw(&["policy", "diff"], None);
    w.claw(&["policy", "diff", "--against", "written"], None);
    w.claw(&["--output", "json", "validate"], None);

    // The function did read both secrets: the model got the key, the CRM the token.
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.header("x-api-key") == Some(canary.as_str()))
    );
    assert_eq!(mock.requests().len(), 2);
    assert_eq!(
        crm.seen.lock().unwrap().clone(),
        vec![format!("Bearer {canary}")],
        "the CRM stand-in did not get the token; tool results: {:?}\n{local_run}",
        mock.requests().last().map(|r| r.tool_results())
    );

    let mut searched = 0usize;
    let mut found = Vec::new();
    for (name, text) in &w.transcript {
        searched += 1;
        if text.contains(&canary) {
            found.push(name.clone());
        }
    }
    // The package, raw and with every entry decompressed.
    let mut zips = Vec::new();
    files_under(
        &PathBuf::from(
            std::env::var("CARGO_TARGET_DIR")
                .unwrap_or_else(|_| repo().join("target").display().to_string()),
        )
        .join("claw/canary-dev"),
        &mut zips,
    );
    zips.retain(|p| p.extension().is_some_and(|e| e == "zip"));
    assert!(!zips.is_empty(), "no package found to search");
    let needle = canary.as_bytes();
    for z in &zips {
        let bytes = std::fs::read(z).unwrap();
        searched += 1;
        if bytes.windows(needle.len()).any(|w| w == needle) {
            found.push(z.display().to_string());
        }
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            searched += 1;
            if content.windows(needle.len()).any(|w| w == needle) {
                found.push(format!("{}!{:?}", z.display(), entry.name()));
            }
        }
    }
    // The deployed function's environment.
    let conf = claw_testkit::sdk::config(&w.moto.direct_endpoint()).await;
    let f = aws_sdk_lambda::Client::new(&conf)
        .get_function_configuration()
        .function_name("canary-dev")
        .send()
        .await
        .unwrap();
    let env = format!("{:?}", f.environment());
    searched += 1;
    if env.contains(&canary) {
        found.push("deployed environment variables".into());
    }
    // Generated policies, the committed lockfile, and every snapshot.
    let mut files = Vec::new();
    files_under(&w.dir.path().join("written"), &mut files);
    // The recorded conversation.
    files_under(&w.dir.path().join("tests/agents"), &mut files);
    files_under(&repo().join("policies"), &mut files);
    files_under(&repo().join("spec/tests/snapshots"), &mut files);
    files_under(&repo().join("cli/tests/snapshots"), &mut files);
    assert!(
        files.len() > 25,
        "too few policy and snapshot files found: {}",
        files.len()
    );
    for p in &files {
        searched += 1;
        if std::fs::read(p)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
        {
            found.push(p.display().to_string());
        }
    }
    eprintln!(
        "canary: searched {searched} outputs and files, {} claw runs",
        w.transcript.len() / 2
    );
    assert!(found.is_empty(), "the secret value leaked into: {found:#?}");
}
