//! Bad input for the CLI: each case must end with a short error that names the
//! problem, a non-zero exit, no panic, within a bounded time and memory (the
//! process runs under a 1 GiB address-space limit and a 20 s watchdog).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Outcome {
    code: i32,
    stderr: String,
}

/// Runs claw with a memory limit and a watchdog, from `dir`.
fn claw(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Outcome {
    let mut script = String::from("ulimit -v 1048576; exec \"$0\"");
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${i}\""));
    }
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_claw"))
        .args(args)
        .current_dir(dir)
        .env_remove("CLAW_CONFIG")
        .env_remove("CLAW_STAGE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn claw");
    if let Some(data) = stdin {
        child.stdin.take().unwrap().write_all(data).unwrap();
    }
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("claw {args:?} did not finish within 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The common bar: exit 1, no panic or backtrace, a short error naming `mentions`.
fn refused(o: &Outcome, mentions: &[&str]) {
    assert_eq!(o.code, 1, "exit code {}\nstderr:\n{}", o.code, o.stderr);
    assert!(!o.stderr.contains("panicked"), "panic:\n{}", o.stderr);
    assert!(!o.stderr.contains("RUST_BACKTRACE"), "{}", o.stderr);
    let lines = o.stderr.lines().filter(|l| !l.trim().is_empty()).count();
    assert!(
        (1..=8).contains(&lines),
        "expected one short paragraph, got {lines} lines:\n{}",
        o.stderr
    );
    assert!(o.stderr.contains("error"), "{}", o.stderr);
    for m in mentions {
        assert!(o.stderr.contains(m), "`{m}` not in:\n{}", o.stderr);
    }
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = claw(dir.path(), &["validate"], None);
    refused(&o, &["cannot read agent.yaml", "--config"]);
}

#[test]
fn directory_instead_of_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("agent.yaml")).unwrap();
    refused(&claw(dir.path(), &["validate"], None), &["is a directory"]);
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.yaml"), "").unwrap();
    refused(
        &claw(dir.path(), &["validate"], None),
        &["agent.yaml:1:1", "the file is empty"],
    );
}

#[test]
fn binary_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 256) as u8).collect();
    std::fs::write(dir.path().join("agent.yaml"), bytes).unwrap();
    refused(&claw(dir.path(), &["validate"], None), &["not UTF-8 text"]);
}

#[test]
fn text_with_nul_bytes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.yaml"), "app: x\0\nstage: y\n").unwrap();
    refused(&claw(dir.path(), &["validate"], None), &["NUL bytes"]);
}

#[test]
fn alias_bomb() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..24 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        doc.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    std::fs::write(dir.path().join("agent.yaml"), doc).unwrap();
    refused(&claw(dir.path(), &["validate"], None), &["alias bombs"]);
}

#[test]
fn deep_nesting() {
    let dir = tempfile::tempdir().unwrap();
    let doc = format!("app: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    std::fs::write(dir.path().join("agent.yaml"), doc).unwrap();
    let o = claw(dir.path(), &["validate"], None);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("agent.yaml:1:"), "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"));
}

#[test]
fn ten_megabyte_file() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "# filler\n".repeat(10 * 1024 * 1024 / 9);
    std::fs::write(dir.path().join("agent.yaml"), doc).unwrap();
    refused(
        &claw(dir.path(), &["validate"], None),
        &["may be at most 1048576 bytes"],
    );
}

#[test]
fn yaml_that_is_not_a_mapping() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.yaml"), "- just\n- a list\n").unwrap();
    refused(
        &claw(dir.path(), &["validate"], None),
        &["agent.yaml:1:1", "the file holds a list"],
    );
}

#[test]
fn invalid_json_payload_for_invoke() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent.yaml");
    std::fs::copy(root, dir.path().join("agent.yaml")).unwrap();
    let o = claw(
        dir.path(),
        &[
            "invoke",
            "--payload",
            "{\"agent\": \"lead-qualifier\", \"message\": ",
        ],
        None,
    );
    refused(&o, &["JSON"]);
}

#[test]
fn policy_lint_on_a_file_that_is_not_a_policy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.json"), "{\"hello\": 1}").unwrap();
    refused(
        &claw(dir.path(), &["policy", "lint", "p.json"], None),
        &["p.json", "is not an IAM policy document"],
    );
}
