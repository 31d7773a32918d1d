//! The output contract every command keeps, and the order deploy works in:
//! - `--output json` prints exactly one JSON document on stdout, success or
//!   failure, with `ok` and, on failure, `error`;
//! - a command reads agent.yaml once (a deploy cannot package one version of the
//!   file and plan IAM from another);
//! - a deploy that will be refused is refused before it builds anything.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use claw_testkit::fixtures::{root_config, write_zip};
use claw_testkit::moto::Moto;

const SECRETS: &[&str] = &[
    "production/ai-agent/anthropic-api-key",
    "production/ai-agent/crm-token",
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(mut c: Command, stdin: Option<&[u8]>) -> Run {
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        c.stdin(Stdio::piped());
    }
    let mut child = c.spawn().expect("cannot run claw");
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Checks the JSON contract on one run and returns the document: stdout is exactly
/// one JSON object; `ok` is a bool that is false exactly when claw exited 1; a
/// failure has a non-empty `error` and a success has none.
fn one_document(what: &str, r: &Run) -> serde_json::Value {
    let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&r.stdout)
        .into_iter::<serde_json::Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| {
            panic!(
                "{what}: stdout is not JSON ({e}):\n{}\n--- stderr\n{}",
                r.stdout, r.stderr
            )
        });
    assert_eq!(
        docs.len(),
        1,
        "{what}: expected one JSON document on stdout, got {}:\n{}",
        docs.len(),
        r.stdout
    );
    let doc = docs.into_iter().next().unwrap();
    let ok = doc
        .get("ok")
        .and_then(|v| v.as_bool())
        .unwrap_or_else(|| panic!("{what}: no boolean `ok` in {doc}"));
    assert_eq!(
        ok,
        r.code != 1,
        "{what}: ok={ok} but exit code {}; {doc}\n--- stderr\n{}",
        r.code,
        r.stderr
    );
    match doc.get("error") {
        Some(serde_json::Value::String(e)) if !ok => assert!(!e.is_empty(), "{what}: {doc}"),
        None if ok => {}
        other => panic!("{what}: ok={ok} with error {other:?}: {doc}"),
    }
    doc
}

/// A work directory with the root agent.yaml and a package, against one moto.
struct World {
    moto: Moto,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("agent.yaml"), root_config()).unwrap();
        write_zip(&dir.path().join("function.zip"), "v1");
        World {
            moto: Moto::realistic(),
            dir,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = crate::support::claw(self.dir.path(), &self.moto.endpoint()).command();
        c.args(args).env_remove("CLAW_WORKSPACE");
        c
    }

    /// `claw --output json ARGS`, checked against the contract.
    fn json(&self, args: &[&str], stdin: Option<&[u8]>) -> (i32, serde_json::Value) {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        let r = run(self.command(&all), stdin);
        let doc = one_document(&args.join(" "), &r);
        (r.code, doc)
    }
}

#[test]
fn every_command_prints_one_json_document_on_failure_and_on_success() {
    let w = World::new();
    let dir = w.dir.path();
    std::fs::write(
        dir.join("broken.yaml"),
        "app: x\nstage: dev\nfunction: {memroy_mb: 1}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("bad-policy.json"),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    )
    .unwrap();

    // Failures: each exits 1 with one document carrying `error`.
    let failures: &[(&[&str], Option<&[u8]>)] = &[
        (&["--config", "broken.yaml", "validate"], None),
        (&["--config", "missing.yaml", "plan"], None),
        // Secrets are not set yet: the plan has blockers and deploy refuses.
        (&["plan", "--zip", "function.zip"], None),
        (&["deploy", "--yes", "--zip", "function.zip"], None),
        (&["policy", "lint", "bad-policy.json"], None),
        (&["policy", "diff", "--against", "no-such-dir"], None),
        (&["secrets", "set", "not/declared"], Some(b"v")),
        (&["invoke", "--message", "hi"], None),
        (&["invoke", "--payload", "not json"], None),
        (
            &[
                "invoke",
                "--local",
                "--zip",
                "no-such.zip",
                "--message",
                "hi",
            ],
            None,
        ),
        (&["logs", "--since", "1m"], None),
        (&["status", "--since", "10s"], None),
        // The root agent.yaml has no `rollout:`: there is no alias to read or move.
        (&["rollout", "status"], None),
        (&["rollback", "--yes"], None),
        // Outside a claw workspace, building from source fails.
        (&["build", "--from-source"], None),
        // No terminal to ask on: the missing --region and --account are an error.
        (&["init", "new-app", "--app", "new-app"], None),
        (&["policy", "show", "--kind", "ci-trust"], None),
        (&["bootstrap", "--yes"], None),
        // No terminal and no --yes: refused, nothing made.
        (&["bootstrap", "--github-repo", "acme/agents"], None),
    ];
    for (args, stdin) in failures {
        let (code, doc) = w.json(args, *stdin);
        assert_eq!(code, 1, "{args:?} should fail: {doc}");
    }
    // The refused deploy carries its plan beside the error, in the one document.
    let (_, doc) = w.json(&["deploy", "--yes", "--zip", "function.zip"], None);
    assert!(
        doc["plan"]["blockers"]
            .as_array()
            .is_some_and(|b| !b.is_empty()),
        "{doc}"
    );
    assert!(
        doc["error"].as_str().unwrap().contains("deploy refused"),
        "{doc}"
    );

    // Successes, in the order a user would run them.
    let successes: &[(&[&str], Option<&[u8]>)] = &[
        (
            &[
                "init",
                "new-app",
                "--app",
                "new-app",
                "--region",
                "ap-southeast-2",
                "--account",
                "123456789012",
            ],
            None,
        ),
        (&["completions", "bash"], None),
        (&["validate"], None),
        (&["schema"], None),
        (&["policy", "show"], None),
        (&["policy", "show", "--kind", "role"], None),
        (&["policy", "write", "--dir", "policies"], None),
        (&["policy", "lint"], None),
        (&["policy", "diff", "--against", "policies"], None),
        (&["secrets", "set", SECRETS[0]], Some(b"dummy-value")),
        (&["secrets", "set", SECRETS[1]], Some(b"dummy-value")),
        (
            &[
                "policy",
                "show",
                "--kind",
                "ci-trust",
                "--github-repo",
                "acme/agents",
            ],
            None,
        ),
        (
            &["bootstrap", "--github-repo", "acme/agents", "--yes"],
            None,
        ),
        (
            &["bootstrap", "--github-repo", "acme/agents", "--yes"],
            None,
        ),
        (&["plan", "--zip", "function.zip"], None),
        (&["deploy", "--yes", "--zip", "function.zip"], None),
        (&["deploy", "--yes", "--zip", "function.zip"], None),
        (&["policy", "diff"], None),
        (&["status", "--zip", "function.zip"], None),
        (&["logs", "--since", "1m"], None),
        (&["unlock"], None),
        (&["destroy", "--yes"], None),
        (&["destroy", "--yes"], None),
    ];
    for (args, stdin) in successes {
        let (code, doc) = w.json(args, *stdin);
        assert_eq!(code, 0, "{args:?} should succeed: {doc}");
    }
}

/// Serves `text` through a FIFO at `path` to every reader, counting the readers.
struct CountingFifo {
    path: PathBuf,
    opens: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl CountingFifo {
    fn new(path: &Path, text: String) -> CountingFifo {
        let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
        assert!(status.success(), "mkfifo {}", path.display());
        let opens = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (path, opens, stop) = (path.to_path_buf(), opens.clone(), stop.clone());
            std::thread::spawn(move || {
                loop {
                    // Opening a FIFO for writing blocks until a reader opens it.
                    let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) else {
                        return;
                    };
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    opens.fetch_add(1, Ordering::SeqCst);
                    let _ = f.write_all(text.as_bytes());
                    drop(f);
                    // A reader still holding the FIFO would let the next open
                    // succeed at once and read the text twice: wait until it closed.
                    while held_open(&path) {
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                }
            })
        };
        CountingFifo {
            path: path.to_path_buf(),
            opens,
            stop,
            writer: Some(writer),
        }
    }

    /// How many times the file was read since the last call.
    fn take(&self) -> usize {
        self.opens.swap(0, Ordering::SeqCst)
    }
}

/// Whether any process has `path` open (a scan of /proc/*/fd).
fn held_open(path: &Path) -> bool {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|p| {
        std::fs::read_dir(p.path().join("fd")).is_ok_and(|fds| {
            fds.flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == path))
        })
    })
}

impl Drop for CountingFifo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Unblock the writer's pending open with a reader of our own.
        let _ = std::fs::File::open(&self.path);
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

#[test]
fn each_command_reads_agent_yaml_once() {
    let w = World::new();
    let text = std::fs::read_to_string(w.dir.path().join("agent.yaml")).unwrap();
    let fifo = w.dir.path().join("fifo.yaml");
    let served = CountingFifo::new(&fifo, text);
    let config = fifo.display().to_string();
    // Deploy refuses (no secrets set) after planning: before, it read the file once
    // to package and again to plan.
    for args in [
        &["deploy", "--yes", "--zip", "function.zip"][..],
        &["plan", "--zip", "function.zip"],
        &["validate"],
        &["policy", "diff", "--against", "policies"],
        &["destroy", "--yes"],
        &["bootstrap", "--github-repo", "acme/agents", "--yes"],
    ] {
        let mut all = vec!["--config", config.as_str()];
        all.extend_from_slice(args);
        let r = run(w.command(&all), None);
        assert_ne!(r.code, -1, "{args:?} was killed");
        assert_eq!(
            served.take(),
            1,
            "claw {args:?} read agent.yaml a number of times other than once\n--- stderr\n{}",
            r.stderr
        );
    }
}

#[test]
fn a_deploy_that_will_be_refused_is_refused_before_building() {
    // Only agent.yaml, outside any claw workspace: the refusal for the missing
    // secrets must come before any packaging (prebuilt or from source).
    let w = World::new();
    std::fs::remove_file(w.dir.path().join("function.zip")).unwrap();
    let r = run(w.command(&["deploy", "--yes"]), None);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("deploy refused") && r.stderr.contains(SECRETS[0]),
        "expected a refusal naming the missing secret before any build:\n{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("workspace")
            && !r.stderr.contains("cargo")
            && !r.stderr.contains("prebuilt"),
        "deploy tried to build before its checks:\n{}",
        r.stderr
    );
}
