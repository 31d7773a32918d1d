//! `claw init`: a new repository's starting point, written outside any claw
//! checkout with no terminal on stdin, as CI or a script runs it. It validates,
//! matches its own lockfile, never overwrites a file, and says what it needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use claw_testkit::{Claw, Output};

use crate::support::BIN;

const FLAGS: &[&str] = &[
    "--app",
    "support-bot",
    "--region",
    "eu-west-1",
    "--account",
    "210987654321",
];

/// What `claw init` writes for app `support-bot`, stage `dev`.
const FILES: &[&str] = &[
    "agent.yaml",
    "tests/agents/repository.json",
    "tests/agents/repository.yaml",
    ".gitignore",
    "policies/support-bot-dev/role.json",
    "policies/support-bot-dev/trust.json",
    "policies/support-bot-dev/invoke.json",
    "policies/support-bot-dev/deployer.json",
    "policies/support-bot-dev/boundary.json",
    "policies/support-bot-dev/plan.json",
    ".github/workflows/claw.yml",
];

/// claw run from `dir`, stdin closed (not a terminal), no AWS endpoint needed.
fn claw(dir: &Path, args: &[&str]) -> Output {
    Claw::new(BIN, dir)
        .args(args)
        .env_remove("CLAW_WORKSPACE")
        .run()
}

/// Every file under `dir`, relative, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("reading a directory") {
            let path = e.expect("a directory entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root").to_path_buf();
                out.insert(rel, std::fs::read(&path).expect("reading a file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn listed(doc: &serde_json::Value, key: &str, dir: &Path) -> Vec<String> {
    doc[key]
        .as_array()
        .unwrap_or_else(|| panic!("no `{key}` list in {doc}"))
        .iter()
        .map(|v| {
            let path = v.as_str().or_else(|| v["path"].as_str()).expect("a path");
            Path::new(path)
                .strip_prefix(dir)
                .unwrap_or_else(|_| panic!("{path} is not under {}", dir.display()))
                .display()
                .to_string()
        })
        .collect()
}

#[test]
fn init_writes_a_repository_that_validates_and_never_overwrites() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().join("support-bot");
    let dir_arg = dir.display().to_string();

    let mut args = vec!["--output", "json", "init", dir_arg.as_str()];
    args.extend_from_slice(FLAGS);
    let first = claw(tmp.path(), &args).ok().json();
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(listed(&first, "written", &dir), FILES, "{first}");
    assert!(listed(&first, "skipped", &dir).is_empty(), "{first}");
    let files = snapshot(&dir);
    assert_eq!(
        files
            .keys()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .len(),
        FILES.len()
    );
    let gitignore = String::from_utf8_lossy(&files[Path::new(".gitignore")]).into_owned();
    assert!(gitignore.lines().any(|l| l == "/.claw/"), "{gitignore}");

    // The new directory is a working claw project: it validates without a
    // warning, and its lockfile is what claw generates for it.
    let v = claw(&dir, &["validate"]).ok();
    assert!(
        v.stdout()
            .starts_with("OK agent.yaml: support-bot-dev in eu-west-1"),
        "{}",
        v.all()
    );
    assert!(v.stderr().is_empty(), "warnings: {}", v.stderr());
    claw(&dir, &["policy", "diff", "--against", "policies"]).ok();

    // Again, in text mode: nothing changes, every file is reported skipped, and
    // the run still succeeds.
    let mut again = vec!["init", dir_arg.as_str()];
    again.extend_from_slice(FLAGS);
    let second = claw(tmp.path(), &again).ok();
    assert_eq!(snapshot(&dir), files, "a second claw init changed files");
    for f in FILES {
        let line = format!("skipped {}: exists", dir.join(f).display());
        assert!(
            second.stdout().contains(&line),
            "`{line}` not in:\n{}",
            second.stdout()
        );
    }
    assert!(
        second.stdout().contains("Next steps:"),
        "{}",
        second.stdout()
    );
    assert!(
        second
            .stdout()
            .contains("claw secrets set support-bot/anthropic-api-key"),
        "{}",
        second.stdout()
    );

    // An edited file stays edited; a missing one is written again; a .gitignore
    // without /.claw/ is kept and named as lacking it.
    std::fs::write(dir.join(".gitignore"), "target/\n").expect("editing .gitignore");
    std::fs::remove_file(dir.join(".github/workflows/claw.yml")).expect("removing the workflow");
    let mut json = vec!["--output", "json"];
    json.extend_from_slice(&again);
    let third = claw(tmp.path(), &json).ok().json();
    assert_eq!(
        listed(&third, "written", &dir),
        [".github/workflows/claw.yml"],
        "{third}"
    );
    let skipped = third["skipped"].as_array().expect("skipped");
    let gi = skipped
        .iter()
        .find(|s| {
            s["path"]
                .as_str()
                .is_some_and(|p| p.ends_with(".gitignore"))
        })
        .expect(".gitignore skipped");
    assert!(gi["reason"].as_str().unwrap().contains("/.claw/"), "{gi}");
    assert_eq!(
        std::fs::read_to_string(dir.join(".gitignore")).unwrap(),
        "target/\n"
    );
    assert_eq!(
        std::fs::read(dir.join(".github/workflows/claw.yml")).unwrap(),
        files[Path::new(".github/workflows/claw.yml")]
    );
}

#[test]
fn without_a_terminal_a_missing_account_is_an_error() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let out = claw(
        tmp.path(),
        &["init", "new", "--app", "new", "--region", "eu-west-1"],
    );
    out.refused(&["--account is required when stdin is not a terminal"]);
    assert!(
        !tmp.path().join("new").exists(),
        "nothing is created on refusal"
    );

    let doc = claw(
        tmp.path(),
        &["--output", "json", "init", "new", "--app", "new"],
    )
    .code(1)
    .json();
    assert_eq!(doc["ok"], false);
    assert_eq!(
        doc["error"],
        "--region and --account are required when stdin is not a terminal"
    );

    // A wrong value is checked as agent.yaml checks it.
    let out = claw(
        tmp.path(),
        &[
            "init",
            "new",
            "--app",
            "new",
            "--region",
            "eu-west-1",
            "--account",
            "12345",
        ],
    );
    out.refused(&["--account", "not an AWS account id"]);
    assert!(!tmp.path().join("new").exists());
}

#[test]
fn init_follows_an_existing_agent_yaml() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path();
    std::fs::write(
        dir.join("agent.yaml"),
        claw_testkit::fixtures::root_config(),
    )
    .expect("writing agent.yaml");
    // No flags needed: the agent.yaml there says who the app is.
    let doc = claw(dir, &["--output", "json", "init"]).ok().json();
    let config = claw_testkit::snapshot::load_config(&dir.join("agent.yaml"));
    let names = claw_spec::Names::new(&config);
    assert_eq!(doc["app"], config.app.as_str(), "{doc}");
    // Paths are as given: DIR defaults to `.`.
    let here = Path::new(".");
    // The example conversation is with init's own agent: not written here.
    assert_eq!(
        listed(&doc, "skipped", here),
        [
            "agent.yaml",
            "tests/agents/repository.json",
            "tests/agents/repository.yaml"
        ],
        "{doc}"
    );
    assert!(!dir.join("tests/agents").exists());
    assert!(
        listed(&doc, "written", here)
            .iter()
            .any(|p| p == &format!("policies/{}/role.json", names.function)),
        "{doc}"
    );
    claw(dir, &["policy", "diff", "--against", "policies"]).ok();
}
