//! Bad input for the CLI: each case must end with a short error that names the
//! problem, a non-zero exit, no panic, within a bounded time and memory (the
//! process runs under a 1 GiB address-space limit and a 20 s watchdog).

use std::path::Path;

use claw_testkit::fixtures::repo_root;
use claw_testkit::{Claw, Output};

use crate::support::BIN;

/// Runs claw with a memory limit and a watchdog, from `dir`.
fn claw(dir: &Path, args: &[&str]) -> Output {
    Claw::new(BIN, dir).args(args).limited().run()
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    claw(dir.path(), &["validate"]).refused(&["cannot read agent.yaml", "--config"]);
}

#[test]
fn directory_instead_of_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("agent.yaml")).unwrap();
    claw(dir.path(), &["validate"]).refused(&["is a directory"]);
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.yaml"), "").unwrap();
    claw(dir.path(), &["validate"]).refused(&["agent.yaml:1:1", "the file is empty"]);
}

#[test]
fn binary_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 256) as u8).collect();
    std::fs::write(dir.path().join("agent.yaml"), bytes).unwrap();
    claw(dir.path(), &["validate"]).refused(&["not UTF-8 text"]);
}

#[test]
fn text_with_nul_bytes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.yaml"), "app: x\0\nstage: y\n").unwrap();
    claw(dir.path(), &["validate"]).refused(&["NUL bytes"]);
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
    claw(dir.path(), &["validate"]).refused(&["alias bombs"]);
}

#[test]
fn deep_nesting() {
    let dir = tempfile::tempdir().unwrap();
    let doc = format!("app: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    std::fs::write(dir.path().join("agent.yaml"), doc).unwrap();
    let o = claw(dir.path(), &["validate"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("agent.yaml:1:"), "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"));
}

#[test]
fn ten_megabyte_file() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "# filler\n".repeat(10 * 1024 * 1024 / 9);
    std::fs::write(dir.path().join("agent.yaml"), doc).unwrap();
    claw(dir.path(), &["validate"]).refused(&["may be at most 1048576 bytes"]);
}

#[test]
fn yaml_that_is_not_a_mapping() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.yaml"), "- just\n- a list\n").unwrap();
    claw(dir.path(), &["validate"]).refused(&["agent.yaml:1:1", "the file holds a list"]);
}

#[test]
fn invalid_json_payload_for_invoke() {
    let dir = tempfile::tempdir().unwrap();
    let root = repo_root().join("agent.yaml");
    std::fs::copy(root, dir.path().join("agent.yaml")).unwrap();
    let o = claw(
        dir.path(),
        &[
            "invoke",
            "--payload",
            "{\"agent\": \"lead-qualifier\", \"message\": ",
        ],
    );
    o.refused(&["JSON"]);
}

#[test]
fn policy_lint_on_a_file_that_is_not_a_policy() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.json"), "{\"hello\": 1}").unwrap();
    claw(dir.path(), &["policy", "lint", "p.json"])
        .refused(&["p.json", "is not an IAM policy document"]);
}
