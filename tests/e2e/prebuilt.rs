//! A user's own repository: a directory outside any claw checkout, holding only
//! agent.yaml, on a machine with no Rust toolchain. claw packages the prebuilt
//! function it carries (see `scripts/dist`), deploys it, and runs it locally.
//!
//! The claw under test carries the function when cargo built it with
//! `CLAW_FUNCTIONS_DIR` set, as `scripts/test` does (`scripts/dist --functions`).
//! A plain `cargo test` builds claw without it: these tests then say loudly that
//! they were skipped, and `CLAW_REQUIRE_PREBUILT=1` (set by scripts/test) turns
//! that into a failure.

use std::path::{Path, PathBuf};
use std::time::Instant;

use claw_testkit::mock_model::{MockModel, Step};
use claw_testkit::moto::Moto;
use claw_testkit::{Claw, sdk};
use serde_json::Value;

use crate::support::BIN;

const API_KEY_SECRET: &str = "acme/anthropic-api-key";

fn config(system: &str) -> String {
    format!(
        r#"app: notes
stage: dev
region: {region}
account: "123456789012"
function: {{ architecture: x86_64, memory_mb: 256, timeout_s: 30 }}
model:
  id: claude-e2e-model
  max_tokens: 512
  api_key_secret: {API_KEY_SECRET}
agents:
  summariser:
    system: "{system}"
    tools: []
"#,
        region = claw_testkit::REGION
    )
}

/// The embedded function's SHA-256 per architecture, from `claw --version`, or
/// `None` (after saying so loudly) when this claw carries none.
fn prebuilt(test: &str) -> Option<Vec<(String, String)>> {
    let out = Claw::new(BIN, std::env::temp_dir())
        .arg("--version")
        .run()
        .ok();
    let shas: Vec<(String, String)> = out
        .stdout()
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let arch = words.next()?;
            (words.next()? == "sha256").then(|| (arch.to_string(), words.next().unwrap().into()))
        })
        .collect();
    if !shas.is_empty() {
        return Some(shas);
    }
    let why = "this claw was built without the prebuilt function (cargo did not see \
               CLAW_FUNCTIONS_DIR; scripts/test sets it through `scripts/dist --functions`)";
    if std::env::var_os("CLAW_REQUIRE_PREBUILT").is_some() {
        panic!("{test}: {why}");
    }
    eprintln!("\n*** SKIPPED {test}: {why} ***\n");
    None
}

/// PATH without cargo, rustc, zig or cargo-zigbuild: the system directories that
/// hold none of them.
fn path_without_toolchain() -> String {
    let tools = ["cargo", "rustc", "zig", "cargo-zigbuild", "rustup"];
    let dirs: Vec<&str> = [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ]
    .into_iter()
    .filter(|d| !tools.iter().any(|t| Path::new(d).join(t).exists()))
    .collect();
    assert!(
        dirs.contains(&"/usr/bin") || dirs.contains(&"/bin"),
        "a Rust toolchain is installed in /usr/bin and /bin; this test needs a PATH without it"
    );
    dirs.join(":")
}

/// claw in `dir`, outside any checkout, with no toolchain on PATH.
fn claw(dir: &Path, moto: &Moto) -> Claw {
    crate::support::claw(dir, &moto.endpoint())
        .env_remove("CLAW_WORKSPACE")
        .env_remove("CARGO_TARGET_DIR")
        .env("PATH", path_without_toolchain())
}

fn user_repo(system: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.yaml"), config(system)).unwrap();
    dir
}

/// `claw build --output json`, with how long it took from the outside.
fn build(dir: &Path, moto: &Moto) -> (Value, f64) {
    let started = Instant::now();
    let doc = claw(dir, moto)
        .args(["build", "--output", "json"])
        .run()
        .ok()
        .json();
    (doc, started.elapsed().as_secs_f64())
}

fn zip_entry(zip: &Path, name: &str) -> Vec<u8> {
    let bytes = std::fs::read(zip).unwrap();
    let entries = claw::package::archive::read_zip(&bytes).unwrap();
    entries
        .into_iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("{} has no {name}", zip.display()))
        .data
}

fn sha256_hex(bytes: &[u8]) -> String {
    claw::package::archive::sha256_hex(bytes)
}

/// `claw init` in a fresh directory, as a new user starts.
fn init_repo(moto: &Moto) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    claw(dir.path(), moto)
        .args(["init", "--app", "notes", "--account", "123456789012"])
        .args(["--region", claw_testkit::REGION])
        .run()
        .ok();
    dir
}

#[tokio::test]
async fn a_repository_with_only_agent_yaml_builds_deploys_and_plans_without_a_toolchain() {
    let test = "a_repository_with_only_agent_yaml_builds_deploys_and_plans_without_a_toolchain";
    let Some(shas) = prebuilt(test) else { return };
    let moto = Moto::realistic();
    // Two machines' worth: two fresh directories, each started with `claw init`.
    let a = init_repo(&moto);
    let b = init_repo(&moto);

    claw(a.path(), &moto).arg("validate").run().ok();
    let (first, first_secs) = build(a.path(), &moto);
    let (second, second_secs) = build(b.path(), &moto);
    eprintln!("claw build with the prebuilt function: {first_secs:.2} s and {second_secs:.2} s");
    assert_eq!(first["source"], "prebuilt", "{first}");
    assert_eq!(first["cargo_seconds"], 0.0, "{first}");
    assert_eq!(
        first["code_sha256"], second["code_sha256"],
        "the same claw and config gave different zips"
    );
    let zip = PathBuf::from(first["zip"].as_str().unwrap());
    assert!(
        zip.starts_with(a.path().join(".claw").join("build")),
        "the package belongs beside agent.yaml: {}",
        zip.display()
    );
    let arch = first["arch"].as_str().unwrap();
    let bootstrap = zip_entry(&zip, "bootstrap");
    let embedded = shas
        .iter()
        .find(|(a, _)| a == arch)
        .map(|(_, sha)| sha.clone());
    assert_eq!(
        Some(sha256_hex(&bootstrap)),
        embedded,
        "the zip's bootstrap is not the {arch} function `claw --version` names"
    );

    // Deploy to moto, then a plan finds nothing to do, code included.
    let moto_claw = || claw(a.path(), &moto);
    claw_testkit::claw::set_secrets(&moto_claw(), &["notes/anthropic-api-key"], "sk-ant-test");
    let deployed = moto_claw()
        .args(["deploy", "--yes", "--output", "json"])
        .run()
        .ok()
        .json();
    assert_eq!(deployed["ok"], true, "{deployed}");
    let lambda = aws_sdk_lambda::Client::new(&sdk::config(&moto.direct_endpoint()).await);
    let live = lambda
        .get_function()
        .function_name("notes-dev")
        .send()
        .await
        .unwrap();
    assert_eq!(
        live.configuration().unwrap().code_sha256(),
        first["code_sha256"].as_str(),
        "Lambda holds another package than the one built"
    );
    moto_claw()
        .args(["plan", "--detailed-exitcode"])
        .run()
        .code(0);

    // A changed prompt is a changed package, and the plan says so without a build.
    let yaml = std::fs::read_to_string(a.path().join("agent.yaml")).unwrap();
    let edited = claw_testkit::fixtures::edit(
        &yaml,
        "You answer questions",
        "You briefly answer questions",
    );
    std::fs::write(a.path().join("agent.yaml"), edited).unwrap();
    let plan = moto_claw()
        .args(["plan", "--detailed-exitcode", "--output", "json"])
        .run()
        .code(2)
        .json();
    assert!(
        plan["plan"]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.to_string().contains("code")),
        "the plan does not show the new package: {plan}"
    );
    let changed: Vec<&str> = plan["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no_change")
        .filter_map(|c| c["kind"].as_str())
        .collect();
    assert_eq!(changed, ["function"], "only the code changes: {plan}");

    // Building from source needs a checkout, and says so.
    let r = moto_claw().args(["build", "--from-source"]).run().code(1);
    assert!(
        r.stderr().contains("cannot find the claw workspace"),
        "{}",
        r.stderr()
    );
}

#[test]
fn invoke_local_runs_the_agent_yaml_as_it_is_now() {
    let Some(_) = prebuilt("invoke_local_runs_the_agent_yaml_as_it_is_now") else {
        return;
    };
    let moto = Moto::realistic();
    let dir = user_repo("First prompt.");
    let mock = MockModel::start(
        "sk-ant-local-test",
        vec![Step::text("one"), Step::text("two")],
    );
    let run = || {
        claw(dir.path(), &moto)
            .env("ANTHROPIC_BASE_URL", mock.base_url())
            .args(["invoke", "--local", "--message", "hi", "--output", "json"])
            .run()
            .ok()
            .json()
    };
    claw_testkit::claw::set_secrets(
        &claw(dir.path(), &moto),
        &[API_KEY_SECRET],
        "sk-ant-local-test",
    );
    assert_eq!(run()["payload"]["response"], "one");
    // Edited, not rebuilt: the next run is the new prompt.
    std::fs::write(dir.path().join("agent.yaml"), config("Second prompt.")).unwrap();
    assert_eq!(run()["payload"]["response"], "two");
    let systems: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| r.body["system"].to_string())
        .collect();
    assert!(systems[0].contains("First prompt."), "{systems:?}");
    assert!(systems[1].contains("Second prompt."), "{systems:?}");
}
