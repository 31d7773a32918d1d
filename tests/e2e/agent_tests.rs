//! `claw invoke --local --record` and `claw test`, end to end with the real
//! binaries: a conversation recorded against the mock Messages API, moto (the
//! API key and the CRM token in Secrets Manager) and a loopback CRM; then replayed
//! with no model, no AWS and no CRM; a changed system prompt failing with the
//! difference; assertion files; `--update` and `--live`; `--junit`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use claw_testkit::mock_model::{MockModel, Step};
use claw_testkit::moto::Moto;
use serde_json::{Value, json};

use crate::support::{BIN, claw};

const API_KEY: &str = "sk-ant-rec-5e0b1f93c2";
const CRM_TOKEN: &str = "crm-rec-token-71d2a0";
const ANSWER: &str = "Lead L-42 scores 87: Acme is an enterprise customer.";
const PROMPT: &str = "You qualify leads. Fetch the lead, then answer with a score.";

/// A loopback CRM: answers every request with a lead and counts them.
struct Crm {
    server: Arc<tiny_http::Server>,
    hits: Arc<Mutex<usize>>,
}

impl Crm {
    fn start() -> Crm {
        Crm::answering(r#"{"id":"L-42","company":"Acme","tier":"enterprise"}"#)
    }

    fn answering(body: &'static str) -> Crm {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let hits = Arc::new(Mutex::new(0));
        let (s, h) = (Arc::clone(&server), Arc::clone(&hits));
        std::thread::spawn(move || {
            for req in s.incoming_requests() {
                *h.lock().unwrap() += 1;
                let _ = req.respond(tiny_http::Response::from_string(body));
            }
        });
        Crm { server, hits }
    }

    fn port(&self) -> u16 {
        self.server.server_addr().to_ip().unwrap().port()
    }

    fn hits(&self) -> usize {
        *self.hits.lock().unwrap()
    }
}

impl Drop for Crm {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn write_config(dir: &Path, prompt: &str, crm_port: u16) {
    let yaml = format!(
        r#"app: e2e-record
stage: test
region: ap-southeast-2
account: "123456789012"
function: {{ architecture: x86_64, memory_mb: 256, timeout_s: 30 }}
model: {{ id: claude-e2e-model, max_tokens: 512, api_key_secret: rec/anthropic-key }}
agents:
  qualifier:
    system: {prompt}
    tools: [get_lead]
tools:
  get_lead:
    kind: http
    description: Fetch a lead from the CRM
    method: GET
    url: http://127.0.0.1:{crm_port}/leads/{{lead_id}}
    allow_private_hosts: true
    auth: {{ secret: rec/crm-token, header: Authorization, format: "Bearer {{}}" }}
    input_schema:
      type: object
      properties: {{ lead_id: {{ type: string }} }}
      required: [lead_id]
"#
    );
    std::fs::write(dir.join("agent.yaml"), yaml).unwrap();
}

fn seed(moto: &Moto) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sdk = claw_testkit::sdk::config(&moto.direct_endpoint()).await;
        let sm = aws_sdk_secretsmanager::Client::new(&sdk);
        for (name, value) in [("rec/anthropic-key", API_KEY), ("rec/crm-token", CRM_TOKEN)] {
            sm.create_secret()
                .name(name)
                .secret_string(value)
                .send()
                .await
                .unwrap();
        }
    });
}

/// The conversation the mock plays: one tool call, then the answer.
fn script() -> Vec<Step> {
    vec![
        Step::tool_use("toolu_lead", "get_lead", json!({"lead_id": "L-42"})).with_usage(120, 30),
        Step::text(ANSWER).with_usage(180, 25),
    ]
}

/// A work directory with agent.yaml, the CRM it calls, moto holding the key and
/// the CRM token, and the mock model with [`script`].
fn world() -> (tempfile::TempDir, Crm, Moto, MockModel) {
    let dir = tempfile::tempdir().unwrap();
    let crm = Crm::start();
    write_config(dir.path(), PROMPT, crm.port());
    let moto = Moto::start();
    seed(&moto);
    (dir, crm, moto, MockModel::start(API_KEY, script()))
}

/// Records the case `qualify` with the mock as the model.
fn record(dir: &Path, moto: &Moto, mock: &MockModel) -> claw_testkit::Output {
    claw(dir, &moto.endpoint())
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .args(["invoke", "--local", "--record", "tests/agents/qualify.json"])
        .args(["-m", "Qualify lead L-42"])
        .run()
        .ok()
}

/// `claw test` with no AWS endpoint, no model and no credentials of any use.
fn claw_test(dir: &Path, args: &[&str]) -> claw_testkit::Output {
    claw_testkit::Claw::new(BIN, dir)
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .arg("test")
        .args(args)
        .run()
}

#[test]
fn a_recorded_conversation_replays_offline_and_a_changed_prompt_fails_with_the_difference() {
    let (dir, crm, moto, mock) = world();

    // Record: the function runs for real (key and token from moto, the CRM
    // called), its model requests pass through claw to the mock.
    let out = record(dir.path(), &moto, &mock);
    assert!(
        out.stderr().contains(
            "recorded 2 model request(s) and 1 tool call(s) to tests/agents/qualify.json"
        ),
        "{}",
        out.all()
    );
    assert_eq!(mock.request_count(), 2);
    assert_eq!(crm.hits(), 1);
    let file = dir.path().join("tests/agents/qualify.json");
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in [API_KEY, CRM_TOKEN] {
        assert!(
            !text.contains(secret),
            "the recording holds a secret:\n{text}"
        );
    }
    let rec: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(rec["claw_recording"], 1);
    assert_eq!(
        rec["event"],
        json!({"agent": "qualifier", "message": "Qualify lead L-42"})
    );
    assert_eq!(rec["exchanges"].as_array().unwrap().len(), 2);
    assert_eq!(
        rec["exchanges"][0]["request"]["system"][0]["text"], PROMPT,
        "{text}"
    );
    assert_eq!(rec["tools"][0]["name"], "get_lead");
    assert_eq!(rec["tools"][0]["input"], json!({"lead_id": "L-42"}));
    assert!(
        rec["tools"][0]["content"]
            .as_str()
            .unwrap()
            .contains("enterprise"),
        "{text}"
    );
    assert_eq!(rec["answer"]["response"], ANSWER);

    // Replay: no model (none is reachable), no AWS, the CRM not called.
    std::fs::write(
        dir.path().join("tests/agents/qualify.yaml"),
        "expect:\n  tools:\n    - name: get_lead\n      input: { lead_id: L-42 }\n  answer:\n    contains: [scores]\n    matches: '\\b\\d{1,3}\\b'\n",
    )
    .unwrap();
    let junit = dir.path().join("out/junit.xml");
    let out = claw_test(dir.path(), &["--junit", junit.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout()
            .contains("ok      qualify  replayed 2 model request(s), 1 tool call(s)"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout()
            .contains("claw test: 1 passed, 0 failed, 0 skipped"),
        "{}",
        out.all()
    );
    assert_eq!(
        (mock.request_count(), crm.hits()),
        (2, 1),
        "the replay reached the model or a tool"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"1\" failures=\"0\""), "{xml}");

    // A changed system prompt: the first request is no longer the recorded one.
    write_config(
        dir.path(),
        &PROMPT.replace("a score", "a score from 0 to 100"),
        crm.port(),
    );
    let out = claw_test(dir.path(), &["--junit", junit.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.all());
    let shown = out.stdout();
    assert!(
        shown.contains("FAIL    qualify  diverged from the recording at model request 1 of 2"),
        "{shown}"
    );
    assert!(shown.contains("  at system[0].text (the system prompt):\n    - You qualify leads. Fetch the lead, then answer with a score.\n    + You qualify leads. Fetch the lead, then answer with a score from 0 to 100.\n"), "{shown}");
    assert!(
        shown.contains("claw test: 0 passed, 1 failed, 0 skipped"),
        "{shown}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("failures=\"1\"")
            && xml.contains(
                "<failure message=\"diverged from the recording at model request 1 of 2\">"
            ),
        "{xml}"
    );
    let doc = claw_test(dir.path(), &["--output", "json"]).json();
    assert_eq!(doc["ok"], false, "{doc}");
    assert_eq!(doc["cases"][0]["divergence"]["request"], 1, "{doc}");

    // --update: the change is meant; the case is recorded again (the mock plays
    // the conversation once more, the CRM is called once more).
    let mock2 = MockModel::start(API_KEY, script());
    let out = claw(dir.path(), &moto.endpoint())
        .env("ANTHROPIC_BASE_URL", mock2.base_url())
        .args(["test", "--update"])
        .run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout().contains("updated qualify  re-recorded"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout()
            .contains("1 re-recorded; the live model was sent 300 input tokens and answered 55"),
        "{}",
        out.all()
    );
    assert_eq!((mock2.request_count(), crm.hits()), (2, 2));
    let rec: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(
        rec["exchanges"][0]["request"]["system"][0]["text"]
            .as_str()
            .unwrap()
            .ends_with("from 0 to 100.")
    );
    let out = claw_test(dir.path(), &[]);
    assert_eq!(out.code, 0, "{}", out.all());
}

#[test]
fn assertion_failures_name_the_case_the_file_and_the_rule_and_live_runs_say_the_tokens() {
    let (dir, _crm, moto, mock) = world();
    record(dir.path(), &moto, &mock);
    let agents = dir.path().join("tests/agents");
    std::fs::write(
        agents.join("qualify.yaml"),
        "expect:\n  tools:\n    - name: get_lead\n      input: { lead_id: L-7 }\n  answer:\n    contains: [scores, declined]\n    schema: { type: object }\n",
    )
    .unwrap();
    // A case of its own, with no recording: run by --live only, skipped (and
    // said) otherwise.
    std::fs::write(
        agents.join("live-only.yaml"),
        "agent: qualifier\nmessage: Qualify lead L-42\nexpect:\n  tools:\n    - name: get_lead\n",
    )
    .unwrap();
    let junit = dir.path().join("junit.xml");
    let out = claw_test(dir.path(), &["--junit", junit.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.all());
    let shown = out.stdout();
    assert!(
        shown.contains("skip    live-only  no recording: run it with `claw test --live`"),
        "{shown}"
    );
    assert!(shown.contains("FAIL    qualify  3 check(s) in "), "{shown}");
    assert!(shown.contains("qualify.yaml: expect.tools[0]: `get_lead` was not called with input {\"lead_id\":\"L-7\"}; it was called with {\"lead_id\":\"L-42\"}"), "{shown}");
    assert!(
        shown.contains(
            "qualify.yaml: expect.answer.contains[1]: the answer does not contain \"declined\""
        ),
        "{shown}"
    );
    assert!(
        shown.contains("qualify.yaml: expect.answer.schema: the answer is not JSON"),
        "{shown}"
    );
    assert!(
        shown.contains("claw test: 0 passed, 1 failed, 1 skipped"),
        "{shown}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"1\""),
        "{xml}"
    );
    assert!(xml.contains("<skipped message="), "{xml}");

    // A broken assertion file is an error naming its line and key, not a skip.
    std::fs::write(agents.join("broken.yaml"), "expect:\n  toolz: []\n").unwrap();
    let out = claw_test(dir.path(), &[]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(
        out.stderr().contains("broken.yaml:2:") && out.stderr().contains("toolz"),
        "{}",
        out.all()
    );
    std::fs::remove_file(agents.join("broken.yaml")).unwrap();

    // --live: the checks run on new conversations with the live model (the
    // mock), which costs tokens, said per case and in all.
    let live = MockModel::with_options(
        claw_testkit::mock_model::MockOptions {
            api_key: API_KEY.into(),
            expect_model: None,
            repeat: true,
            cache_min_tokens: None,
        },
        script(),
    );
    let out = claw(dir.path(), &moto.endpoint())
        .env("ANTHROPIC_BASE_URL", live.base_url())
        .args(["test", "--live", "live-only"])
        .run();
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout()
            .contains("ok      live-only  live: 2 model request(s), 1 tool call(s)"),
        "{}",
        out.all()
    );
    assert!(
        out.stdout().contains("300 input + 55 output tokens"),
        "{}",
        out.all()
    );
    assert_eq!(live.request_count(), 2);
    let out = claw_test(dir.path(), &["nope"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr().contains("no case `nope`"), "{}", out.all());
}

#[test]
fn record_refuses_what_it_cannot_replay_before_running_anything() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), PROMPT, 9);
    let run = |args: &[&str]| {
        claw_testkit::Claw::new(BIN, dir.path())
            .args(["invoke", "--record", "r.json"])
            .args(args)
            .run()
    };
    let out = run(&["-m", "hi"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr().contains("--record needs --local"),
        "{}",
        out.all()
    );
    let out = run(&["--local", "-m", "hi", "--session", "s1"]);
    assert!(
        out.stderr()
            .contains("a recording starts a new conversation"),
        "{}",
        out.all()
    );
    let out = run(&[
        "--local",
        "--payload",
        r#"{"version":"2.0","requestContext":{}}"#,
    ]);
    assert!(
        out.stderr().contains("--record records a direct invoke"),
        "{}",
        out.all()
    );
    assert!(!dir.path().join("r.json").exists());
}

/// The example `claw init` writes (`cli/src/commands/init/example.json`) replays
/// green against the agent.yaml it writes, offline. With `CLAW_BLESS=1` the test
/// first records it again: init's agent.yaml, its tool pointed at a loopback
/// stand-in for GitHub (the model is sent the tool's name, description and
/// schema, never its URL), against the mock model.
#[test]
fn the_example_claw_init_writes_replays_green() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    claw_testkit::Claw::new(BIN, tmp.path())
        .args(["--region", "ap-southeast-2", "init", "demo"])
        .args(["--app", "demo", "--account", "123456789012"])
        .run()
        .ok();
    let example = claw_testkit::fixtures::repo_root().join("cli/src/commands/init/example.json");
    if std::env::var_os("CLAW_BLESS").is_some() {
        bless(&dir, &example);
        panic!(
            "CLAW_BLESS: wrote {}; rebuild claw and run again without it",
            example.display()
        );
    }
    let out = claw_test(&dir, &["--arch", "x86_64"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(
        out.stdout()
            .contains("ok      repository  replayed 2 model request(s), 1 tool call(s)"),
        "{}",
        out.all()
    );
}

fn bless(dir: &Path, example: &Path) {
    let github = Crm::answering(
        r#"{"full_name":"rust-lang/rust","description":"Empowering everyone to build reliable and efficient software.","language":"Rust","stargazers_count":100000}"#,
    );
    let yaml = std::fs::read_to_string(dir.join("agent.yaml"))
        .unwrap()
        .replace(
            "url: https://api.github.com/repos/{owner}/{repo}",
            &format!(
                "url: http://127.0.0.1:{}/repos/{{owner}}/{{repo}}\n    allow_private_hosts: true",
                github.port()
            ),
        );
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("agent.yaml"), yaml).unwrap();
    let moto = Moto::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sdk = claw_testkit::sdk::config(&moto.direct_endpoint()).await;
        aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name("demo/anthropic-api-key")
            .secret_string(API_KEY)
            .send()
            .await
            .unwrap();
    });
    let mock = MockModel::start(
        API_KEY,
        vec![
            Step::tool_uses(
                Some("I'll look the repository up."),
                &[("toolu_01", "get_repository", json!({"owner": "rust-lang", "repo": "rust"}))],
            )
            .with_usage(1250, 60),
            Step::text("rust-lang/rust is the Rust compiler and standard library, written in Rust, with about 100,000 stars.")
                .with_usage(1330, 40),
        ],
    );
    claw(work.path(), &moto.endpoint())
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .args(["invoke", "--local", "--arch", "x86_64", "--record"])
        .arg(example)
        .args([
            "-m",
            "What is rust-lang/rust written in, and how popular is it?",
        ])
        .run()
        .ok();
}
