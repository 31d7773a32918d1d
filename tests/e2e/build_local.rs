//! `claw build` and `claw invoke --local` end to end, with the real binaries.
//!
//! The function is cross-built from this checkout (`CLAW_WORKSPACE`), packaged, and
//! run under claw's embedded Runtime API against the scripted mock Messages API
//! and moto: the API key and the http tool's token come from moto's Secrets
//! Manager, the `dynamodb_get` tool reads moto's DynamoDB, and the `http` tool
//! calls a loopback server. The arm64 package runs the same way under
//! qemu-aarch64-static.
//!
//! Needs `bash scripts/setup` (cargo-zigbuild, zig, the aarch64 Rust target, moto,
//! qemu-user-static). A cold cross-build takes minutes; later ones are incremental.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use claw_testkit::mock_model::{MockModel, Step};
use claw_testkit::moto::Moto;
use claw_testkit::{Claw, repo_root as workspace};
use serde_json::{Value, json};

use crate::support::BIN;

/// Secret values: they must reach the function and appear nowhere in claw's output.
const API_KEY: &str = "sk-ant-e2e-4f1c9d2b7a";
const CRM_TOKEN: &str = "crm-e2e-token-8c3e51";
const FINAL_TEXT: &str = "Lead L-42 scores 87: Acme Corp is an existing enterprise customer.";

/// The claw binary, building from this checkout, with no AWS endpoint.
fn claw(dir: &Path) -> Claw {
    Claw::new(BIN, dir).env("CLAW_WORKSPACE", workspace())
}

fn write_config(dir: &Path, app: &str, arch: &str, crm_port: u16) -> PathBuf {
    let yaml = format!(
        r#"app: {app}
stage: test
region: ap-southeast-2
account: "123456789012"
function:
  architecture: {arch}
  memory_mb: 256
  timeout_s: 60
  tracing: active
  environment: {{ LOG_LEVEL: debug }}
model:
  id: claude-e2e-model
  max_tokens: 1024
  api_key_secret: e2e/anthropic-key
limits: {{ max_tool_calls: 5, max_turns: 4 }}
agents:
  qualifier:
    system: You qualify leads. Fetch the lead and look up its company.
    tools: [get_lead, lookup_company]
tools:
  get_lead:
    kind: http
    description: Fetch a lead from the CRM
    method: GET
    url: http://127.0.0.1:{crm_port}/v2/leads/{{lead_id}}
    allow_private_hosts: true
    auth: {{ secret: e2e/crm-token, header: Authorization, format: "Bearer {{}}" }}
    input_schema:
      type: object
      properties: {{ lead_id: {{ type: string }} }}
      required: [lead_id]
  lookup_company:
    kind: dynamodb_get
    description: Look up a company by domain
    table: Companies
api:
  mode: sync
  routes: ["POST /agents/{{agent}}"]
  auth: iam
"#
    );
    let path = dir.join("agent.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// `claw build --output json`; panics with claw's output on failure.
fn build(dir: &Path, arch: &str) -> Value {
    claw(dir)
        .args(["build", "--arch", arch, "--output", "json"])
        .run()
        .ok()
        .json()
}

/// One request the CRM stand-in received: its URL and lower-cased headers.
type Seen = (String, Vec<(String, String)>);

/// A loopback stand-in for the CRM: records each request, answers with a lead.
struct Crm {
    server: Arc<tiny_http::Server>,
    seen: Arc<Mutex<Vec<Seen>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Crm {
    fn start() -> Crm {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let server = Arc::clone(&server);
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                for mut req in server.incoming_requests() {
                    let headers = req
                        .headers()
                        .iter()
                        .map(|h| {
                            (
                                h.field.to_string().to_ascii_lowercase(),
                                h.value.to_string(),
                            )
                        })
                        .collect();
                    let mut body = String::new();
                    let _ = req.as_reader().read_to_string(&mut body);
                    seen.lock().unwrap().push((req.url().to_string(), headers));
                    let lead = json!({"id": "L-42", "name": "Jane Doe", "company": "acme.com"});
                    let _ = req.respond(
                        tiny_http::Response::from_string(lead.to_string()).with_header(
                            tiny_http::Header::from_bytes("Content-Type", "application/json")
                                .unwrap(),
                        ),
                    );
                }
            })
        };
        Crm {
            server,
            seen,
            thread: Some(thread),
        }
    }

    fn port(&self) -> u16 {
        self.server.server_addr().to_ip().unwrap().port()
    }
}

impl Drop for Crm {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The two secrets, and a Companies table with one item, in moto.
fn seed_moto(moto: &Moto) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
        ScalarAttributeType,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sdk = claw_testkit::sdk::config(&moto.direct_endpoint()).await;
        let sm = aws_sdk_secretsmanager::Client::new(&sdk);
        for (name, value) in [("e2e/anthropic-key", API_KEY), ("e2e/crm-token", CRM_TOKEN)] {
            sm.create_secret()
                .name(name)
                .secret_string(value)
                .send()
                .await
                .unwrap_or_else(|e| panic!("creating secret {name} in moto: {e:?}"));
        }
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        ddb.create_table()
            .table_name("Companies")
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("domain")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("domain")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("creating the Companies table in moto");
        ddb.put_item()
            .table_name("Companies")
            .item("domain", AttributeValue::S("acme.com".into()))
            .item("name", AttributeValue::S("Acme Corp".into()))
            .item("tier", AttributeValue::S("enterprise".into()))
            .item("employees", AttributeValue::N("5200".into()))
            .send()
            .await
            .expect("putting the Acme item in moto");
    });
}

/// Build for `arch`, then `claw invoke --local` a two-turn conversation with two
/// concurrent tool calls, and check everything the function did.
fn build_and_invoke(arch: &str) {
    let dir = tempfile::tempdir().unwrap();
    let crm = Crm::start();
    let app = format!("e2e-local-{}", arch.replace('_', "-"));
    write_config(dir.path(), &app, arch, crm.port());
    let built = build(dir.path(), arch);
    assert_eq!(built["arch"], arch);

    let moto = Moto::realistic();
    seed_moto(&moto);
    let mock = MockModel::start(
        API_KEY,
        vec![
            Step::tool_uses(
                Some("Let me look that up."),
                &[
                    ("toolu_lead", "get_lead", json!({"lead_id": "L-42"})),
                    (
                        "toolu_company",
                        "lookup_company",
                        json!({"key": {"domain": "acme.com"}}),
                    ),
                ],
            ),
            Step::text(FINAL_TEXT),
            Step::text("second answer"),
        ],
    );

    let out = claw(dir.path())
        .args([
            "invoke",
            "--local",
            "--arch",
            arch,
            "--message",
            "Qualify lead L-42",
        ])
        .endpoint(&moto.endpoint())
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .run()
        .ok();
    let (stdout, stderr) = (out.stdout.as_str(), out.stderr.as_str());
    let context = format!("stdout:\n{stdout}\nstderr:\n{stderr}");

    // The response carries the model's final text.
    let response: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the response is not JSON ({e})\n{context}"));
    assert_eq!(response["response"], FINAL_TEXT, "{context}");

    // The model was called twice with the key from Secrets Manager (the mock
    // refuses any other key), and the second call carried both tool results.
    let requests = mock.requests();
    assert_eq!(requests.len(), 2, "{context}");
    for r in &requests {
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.header("x-api-key"), Some(API_KEY));
        assert_eq!(r.body["model"], "claude-e2e-model");
    }
    let results = requests[1].tool_results();
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["tool_use_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["toolu_lead", "toolu_company"], "{results:?}");
    for r in &results {
        assert_ne!(r["is_error"], true, "a tool failed: {r}\n{context}");
    }
    let lead_result = results[0].to_string();
    assert!(lead_result.contains("Jane Doe"), "{lead_result}");
    // The dynamodb_get tool read the item from moto.
    let company_result = results[1].to_string();
    assert!(
        company_result.contains("Acme Corp") && company_result.contains("enterprise"),
        "{company_result}"
    );

    // The http tool reached the loopback server with the secret-derived header.
    let seen = crm.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, "/v2/leads/L-42");
    let auth = seen[0]
        .1
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.as_str());
    assert_eq!(auth, Some(format!("Bearer {CRM_TOKEN}").as_str()));

    // One audit line for the invocation, and Lambda's START/END/REPORT lines.
    let audits: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "audit")
        .collect();
    assert_eq!(audits.len(), 1, "{context}");
    let audit = &audits[0];
    assert_eq!(audit["agent"], "qualifier", "{audit}");
    assert_eq!(audit["tool_calls"], 2, "{audit}");
    let request_id = audit["request_id"].as_str().unwrap();
    assert!(
        stderr.contains(&format!("START RequestId: {request_id} Version: $LATEST")),
        "{context}"
    );
    assert!(
        stderr.contains(&format!("END RequestId: {request_id}")),
        "{context}"
    );
    let report = stderr
        .lines()
        .find(|l| l.starts_with("REPORT RequestId: "))
        .unwrap_or_else(|| panic!("no REPORT line\n{context}"));
    for field in [
        "Duration: ",
        "Billed Duration: ",
        "Memory Size: 256 MB",
        "Max Memory Used: ",
        "Init Duration: ",
    ] {
        assert!(report.contains(field), "{field} missing from {report}");
    }

    // The function's X-Ray subsegments came back as a timeline: a model call,
    // the two tools at once, the second model call.
    let timeline = stderr
        .lines()
        .find_map(|l| l.strip_prefix("timeline: "))
        .unwrap_or_else(|| panic!("no timeline\n{context}"));
    let shape: Vec<&str> = timeline
        .split(" → ")
        .map(|step| {
            if step.contains("get_lead") && step.contains("lookup_company") {
                "tools"
            } else {
                step.split(' ').next().unwrap_or("")
            }
        })
        .collect();
    assert_eq!(shape, ["model", "tools", "model"], "{timeline}");
    assert!(!timeline.contains("(error)"), "{timeline}");

    // The secret values appear nowhere in what claw printed.
    for secret in [API_KEY, CRM_TOKEN] {
        assert!(!stdout.contains(secret), "{secret} leaked to stdout");
        assert!(!stderr.contains(secret), "{secret} leaked to stderr");
    }
    eprintln!("{arch}: {report}\n{arch}: timeline: {timeline}");

    // --payload @file and --output json: one JSON document on stdout.
    let event = dir.path().join("event.json");
    std::fs::write(&event, r#"{"agent":"qualifier","message":"And now?"}"#).unwrap();
    let out = claw(dir.path())
        .args(["invoke", "--local", "--arch", arch, "--output", "json"])
        .arg("--payload")
        .arg(format!("@{}", event.display()))
        .endpoint(&moto.endpoint())
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .run()
        .ok();
    let doc = out.json();
    assert_eq!(doc["ok"], true, "{doc}");
    assert_eq!(doc["payload"]["response"], "second answer", "{doc}");
    assert_eq!(doc["memory_size_mb"], 256);
    assert!(doc["duration_ms"].as_f64().unwrap() > 0.0, "{doc}");
    assert!(doc["init_duration_ms"].as_f64().unwrap() > 0.0, "{doc}");
    assert!(doc["max_memory_used_mb"].as_u64().unwrap() > 0, "{doc}");
    // One model call this time: one span, with its figures, and no text.
    let spans = doc["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 1, "{doc}");
    assert_eq!(spans[0]["name"], "model");
    assert_eq!(spans[0]["annotations"]["stop_reason"], "end_turn");
    assert_eq!(spans[0]["annotations"]["agent"], "qualifier");
    assert!(
        doc["timeline"].as_str().unwrap().starts_with("model "),
        "{doc}"
    );
    assert!(!doc["spans"].to_string().contains("second answer"), "{doc}");
    assert_eq!(mock.requests()[2].last_content()[0]["text"], "And now?");
}

#[test]
fn x86_64_package_runs_locally_against_the_mock_model_and_moto() {
    build_and_invoke("x86_64");
}

fn qemu_aarch64() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("qemu-aarch64-static"))
        .find(|p| p.is_file())
}

#[test]
fn arm64_package_runs_locally_under_qemu() {
    if cfg!(not(target_arch = "aarch64")) && qemu_aarch64().is_none() {
        eprintln!(
            "\n*** SKIPPED arm64_package_runs_locally_under_qemu: qemu-aarch64-static is not \
             on PATH (`bash scripts/setup` installs qemu-user-static and libc6-arm64-cross) ***\n"
        );
        return;
    }
    build_and_invoke("arm64");
}

#[test]
fn two_builds_give_byte_identical_zips() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "e2e-determinism", "x86_64", 8080);
    let bootstrap_sha = |zip: &Path| -> Value {
        let m: Value =
            serde_json::from_slice(&std::fs::read(zip.with_file_name("function.json")).unwrap())
                .unwrap();
        m["bootstrap_sha256"].clone()
    };
    let mut attempt = 0;
    let (first, second, zip_path, first_bytes, second_bytes) = loop {
        attempt += 1;
        let first = build(dir.path(), "x86_64");
        let zip_path = PathBuf::from(first["zip"].as_str().unwrap());
        let first_bytes = std::fs::read(&zip_path).unwrap();
        let first_bin = bootstrap_sha(&zip_path);
        std::fs::remove_file(&zip_path).unwrap();
        // Zip timestamps have 2-second resolution: a clock-dependent writer would differ.
        std::thread::sleep(Duration::from_millis(2100));
        let second = build(dir.path(), "x86_64");
        let second_bytes = std::fs::read(&zip_path).unwrap();
        // Same inputs are the premise: if agent-fn's source changed between the
        // two builds (edited while the test ran), the pair proves nothing.
        if first_bin != bootstrap_sha(&zip_path) {
            assert!(attempt < 3, "agent-fn kept changing during the test");
            eprintln!(
                "NOTE: the bootstrap changed between the two builds; building the pair again"
            );
            continue;
        }
        break (first, second, zip_path, first_bytes, second_bytes);
    };
    assert!(first_bytes == second_bytes, "the two zips differ");
    assert_eq!(first["code_sha256"], second["code_sha256"]);

    // CodeSha256 is base64 of the SHA-256 of the bytes, as Lambda reports it.
    use base64::Engine as _;
    use sha2::Digest as _;
    let sha = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&second_bytes));
    assert_eq!(second["code_sha256"], sha.as_str());
    assert_eq!(second["size"], second_bytes.len() as u64);
    assert!(
        zip_path.ends_with("claw/e2e-determinism-test/x86_64/function.zip"),
        "{}",
        zip_path.display()
    );

    // Sorted entries, DOS-epoch timestamps, Unix modes 0755 and 0644.
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&second_bytes)).unwrap();
    let mut names = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        assert_eq!(f.last_modified(), Some(zip::DateTime::default()), "{name}");
        let mode = f.unix_mode().unwrap();
        let want = if name == "bootstrap" {
            0o100755
        } else {
            0o100644
        };
        assert_eq!(mode, want, "{name} has mode {mode:o}");
        if name == "agent.json" {
            let mut json = String::new();
            f.read_to_string(&mut json).unwrap();
            let v: Value = serde_json::from_str(&json).unwrap();
            assert_eq!(v["app"], "e2e-determinism");
            assert_eq!(v["model"]["api_key_secret"], "e2e/anthropic-key");
            assert_eq!(v["tools"]["get_lead"]["auth"]["secret"], "e2e/crm-token");
            assert!(!json.contains(API_KEY) && !json.contains(CRM_TOKEN));
        }
        names.push(name);
    }
    assert_eq!(names, ["agent.json", "bootstrap"]);

    // The manifest beside the zip agrees.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(zip_path.with_file_name("function.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["code_sha256"], sha.as_str());
    assert_eq!(manifest["arch"], "x86_64");
    assert_eq!(manifest["function"], "e2e-determinism-test");

    // A different config is a different package.
    let yaml = std::fs::read_to_string(&config)
        .unwrap()
        .replace("max_tokens: 1024", "max_tokens: 2048");
    std::fs::write(&config, yaml).unwrap();
    let third = build(dir.path(), "x86_64");
    assert_ne!(third["code_sha256"], second["code_sha256"]);
}

/// GLIBC versions the binary requires, from `objdump -T` (undefined symbols).
fn objdump_glibc(bootstrap: &Path, arch: &str) -> BTreeSet<String> {
    let cross = "aarch64-linux-gnu-objdump";
    let tool = if arch == "arm64" && Command::new(cross).arg("--version").output().is_ok() {
        cross
    } else {
        // GNU objdump reads the dynamic symbol table of any ELF64 little-endian file.
        "objdump"
    };
    let out = Command::new(tool)
        .arg("-T")
        .arg(bootstrap)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} (apt-get install binutils): {e}"));
    assert!(
        out.status.success(),
        "{tool} -T failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("*UND*"))
        .filter_map(|l| {
            let start = l.find("(GLIBC_")?;
            let end = l[start..].find(')')?;
            Some(l[start + 1..start + end].to_string())
        })
        .collect()
}

fn check_glibc(arch: &str) {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &format!("e2e-glibc-{}", arch.replace('_', "-")),
        arch,
        8080,
    );
    let built = build(dir.path(), arch);
    let zip = std::fs::read(built["zip"].as_str().unwrap()).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&zip)).unwrap();
    let mut bootstrap = Vec::new();
    archive
        .by_name("bootstrap")
        .unwrap()
        .read_to_end(&mut bootstrap)
        .unwrap();
    let path = dir.path().join("bootstrap");
    std::fs::write(&path, &bootstrap).unwrap();

    let from_objdump = objdump_glibc(&path, arch);
    assert!(!from_objdump.is_empty(), "objdump found no GLIBC symbols");
    let max = from_objdump
        .iter()
        .filter_map(|v| claw::package::elf::parse_glibc(v))
        .max()
        .unwrap();
    assert!(
        max <= (2, 17, 0),
        "{arch} bootstrap needs GLIBC {max:?}: {from_objdump:?}"
    );

    // claw's own reader (used by `claw build`) agrees with objdump.
    let needs = claw::package::elf::version_needs(&bootstrap).unwrap();
    let from_claw: BTreeSet<String> = needs
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| v.starts_with("GLIBC_2"))
        .collect();
    assert_eq!(from_claw, from_objdump);
    let shown = match max {
        (a, b, 0) => format!("{a}.{b}"),
        (a, b, c) => format!("{a}.{b}.{c}"),
    };
    assert_eq!(
        built["glibc"],
        shown.as_str(),
        "claw build reports the same version"
    );
    eprintln!("{arch}: newest GLIBC symbol {max:?} of {from_objdump:?}");
}

#[test]
fn x86_64_bootstrap_needs_at_most_glibc_2_17() {
    check_glibc("x86_64");
}

#[test]
fn arm64_bootstrap_needs_at_most_glibc_2_17() {
    check_glibc("arm64");
}

#[test]
fn build_says_what_to_install_when_tools_are_missing() {
    // A workspace with agent-fn but no cargo-zigbuild anywhere claw looks.
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(
        ws.path().join("Cargo.toml"),
        "[workspace]\nmembers = [\"agent-fn\"]\n",
    )
    .unwrap();
    std::fs::create_dir_all(ws.path().join("agent-fn")).unwrap();
    std::fs::write(ws.path().join("agent-fn/Cargo.toml"), "[package]\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "e2e-no-tools", "arm64", 8080);
    let out = claw(dir.path())
        .args(["build"])
        .env("CLAW_WORKSPACE", ws.path())
        .env("PATH", "/nonexistent")
        .run();
    let stderr = &out.stderr;
    assert_eq!(out.code, 1, "{stderr}");
    assert!(
        stderr.contains("cargo-zigbuild is not installed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pip install cargo-zigbuild ziglang"),
        "{stderr}"
    );
    assert!(stderr.contains("bash scripts/setup"), "{stderr}");
}

#[test]
fn invoke_local_explains_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "e2e-errors", "x86_64", 8080);

    let garbage = dir.path().join("garbage.zip");
    std::fs::write(&garbage, b"definitely not a zip").unwrap();
    let out = claw(dir.path())
        .args(["invoke", "--local", "--message", "hi", "--zip"])
        .arg(&garbage)
        .run();
    let stderr = &out.stderr;
    assert_eq!(out.code, 1, "{stderr}");
    assert!(
        stderr.contains("garbage.zip") && stderr.contains("not a valid zip"),
        "{stderr}"
    );

    let out = claw(dir.path())
        .args(["invoke", "--local", "--payload", "{not json"])
        .run();
    let stderr = &out.stderr;
    assert_eq!(out.code, 1, "{stderr}");
    assert!(stderr.contains("not valid JSON"), "{stderr}");

    let out = claw(dir.path())
        .args(["invoke", "--local", "--message", "hi", "--agent", "nobody"])
        .run();
    let stderr = &out.stderr;
    assert_eq!(out.code, 1, "{stderr}");
    assert!(
        stderr.contains("nobody") && stderr.contains("qualifier"),
        "{stderr}"
    );

    // Built from source outside a checkout: say where claw looked and what to do.
    let out = Claw::new(BIN, dir.path())
        .env_remove("CLAW_WORKSPACE")
        .args(["invoke", "--local", "--from-source", "--message", "hi"])
        .run();
    let stderr = &out.stderr;
    assert_eq!(out.code, 1, "{stderr}");
    assert!(
        stderr.contains("cannot find the claw workspace") && stderr.contains("CLAW_WORKSPACE="),
        "{stderr}"
    );
}

#[test]
fn ensure_built_keeps_an_unchanged_package_and_rebuilds_a_changed_one() {
    use claw::package::{BuildParams, BuildProgress, Profile, Source, Workspace};
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "e2e-ensure", "x86_64", 8080);
    let built = build(dir.path(), "x86_64");
    let zip = PathBuf::from(built["zip"].as_str().unwrap());
    let modified = std::fs::metadata(&zip).unwrap().modified().unwrap();

    let load = || {
        claw::load_config(&path, &Default::default())
            .unwrap()
            .config
    };
    let params = |config| BuildParams {
        config,
        arch: claw_spec::model::Architecture::X86_64,
        profile: Profile::Release,
        source: Source::Workspace(Workspace::at(&workspace()).unwrap()),
        progress: BuildProgress::Quiet,
        verbose: false,
    };
    let same = claw::package::ensure_built(&params(load())).unwrap();
    assert!(
        !same.changed,
        "nothing changed, yet the package was rewritten"
    );
    assert_eq!(same.zip_path, zip);
    assert_eq!(same.code_sha256, built["code_sha256"].as_str().unwrap());
    assert_eq!(
        std::fs::metadata(&zip).unwrap().modified().unwrap(),
        modified
    );

    let mut config = load();
    config.limits.max_turns = 3;
    let changed = claw::package::ensure_built(&params(config)).unwrap();
    assert!(changed.changed);
    assert_ne!(changed.code_sha256, same.code_sha256);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(&changed.manifest_path).unwrap()).unwrap();
    assert_eq!(manifest["code_sha256"], changed.code_sha256.as_str());
}
