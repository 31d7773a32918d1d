//! `claw invoke --local --stream` end to end: the built function answers in
//! Lambda's streaming response mode (the HTTP-integration prelude, 8 NUL bytes,
//! a chunked body) under claw's embedded Runtime API, while the mock model
//! streams its tokens at a fixed pace.

use std::path::Path;
use std::time::Duration;

use claw_testkit::mock_model::{MockModel, Step};
use claw_testkit::moto::Moto;
use claw_testkit::{Claw, repo_root as workspace};
use serde_json::{Value, json};

use crate::support::BIN;

const API_KEY: &str = "sk-ant-e2e-stream-6d1f";
const ANSWER: &str = "Lead L-7 is qualified: a named buyer, a budget approved for Q3, and a \
                      pilot date. Next step: send the proposal to the buyer this week.";

fn claw(dir: &Path) -> Claw {
    Claw::new(BIN, dir).env("CLAW_WORKSPACE", workspace())
}

fn setup(dir: &Path, moto: &Moto) {
    std::fs::write(
        dir.join("agent.yaml"),
        r#"app: e2e-stream
stage: test
region: ap-southeast-2
account: "123456789012"
function: { architecture: x86_64, memory_mb: 256, timeout_s: 60 }
model:
  id: claude-e2e-model
  max_tokens: 1024
  api_key_secret: e2e/stream-key
agents:
  qualifier:
    system: You qualify leads.
"#,
    )
    .unwrap();
    claw_testkit::sdk::create_secrets(&moto.direct_endpoint(), &[("e2e/stream-key", API_KEY)]);
}

#[test]
fn a_streamed_answer_arrives_in_pieces_and_ends_with_done() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::realistic();
    setup(dir.path(), &moto);
    let mock = MockModel::start(
        API_KEY,
        vec![
            Step::tool_use("toolu_1", "crm_lookup", json!({"id": "L-7"})),
            Step::text(ANSWER).paced(Duration::from_millis(15)),
            Step::text("buffered answer"),
        ],
    );
    let run = |args: &[&str]| {
        claw(dir.path())
            .args(["invoke", "--local", "--message", "Qualify lead L-7"])
            .args(args)
            .endpoint(&moto.endpoint())
            .env("ANTHROPIC_BASE_URL", mock.base_url())
            .run()
    };

    let out = run(&["--stream", "--output", "json"]).ok();
    let doc = out.json();
    let context = format!("{doc}\nstderr:\n{}", out.stderr);
    assert_eq!(doc["ok"], true, "{context}");
    let stream = &doc["stream"];
    assert_eq!(stream["text"], ANSWER, "{context}");
    assert_eq!(stream["last_event"], "done", "{context}");
    // The prelude Lambda turns into the HTTP response of a function URL.
    assert_eq!(stream["prelude"]["statusCode"], 200, "{context}");
    assert_eq!(
        stream["prelude"]["headers"]["content-type"], "text/event-stream",
        "{context}"
    );
    // Paced tokens came through as they were generated, not in one piece.
    assert!(stream["chunks"].as_u64().unwrap() > 5, "{context}");
    assert!(stream["first_byte_ms"].as_f64().is_some(), "{context}");
    // The report's payload is the `done` event: the answer's fields but the text.
    let done = &doc["payload"];
    assert_eq!(done["stop_reason"], "end_turn", "{context}");
    assert!(done.get("response").is_none(), "{context}");
    assert_eq!(done["usage"]["output_tokens"], 10, "{context}");
    // Tool events went to stderr, the audit line says the run went well.
    assert!(
        out.stderr.contains("[tool] crm_lookup (toolu_1)"),
        "{context}"
    );
    assert!(out.stderr.contains("[tool] crm_lookup: error"), "{context}");
    let audit: Value = out
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["type"] == "audit")
        .unwrap_or_else(|| panic!("no audit line\n{context}"));
    assert_eq!(audit["outcome"], "ok", "{audit}");
    assert_eq!(audit["turns"], 2, "{audit}");
    for r in mock.requests() {
        assert_eq!(r.body["stream"], true);
    }
    assert!(!out.stdout.contains(API_KEY) && !out.stderr.contains(API_KEY));

    // Without --output json the text itself is stdout, and without --stream the
    // same function answers buffered.
    let out = run(&[]).ok();
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["response"], "buffered answer", "{}", out.stdout);
    assert_eq!(mock.requests().last().unwrap().body.get("stream"), None);
}

#[test]
fn stream_refuses_events_that_cannot_stream() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("agent.yaml"),
        claw_testkit::fixtures::root_config(),
    )
    .unwrap();
    let out = claw(dir.path())
        .args([
            "invoke",
            "--local",
            "--stream",
            "--payload",
            r#"{"Records":[]}"#,
        ])
        .run();
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("--stream: only a direct-invoke event"),
        "{}",
        out.stderr
    );
}

/// `claw invoke --stream` without `--local`: Lambda's InvokeWithResponseStream.
/// moto lacks it; the realism layer answers in its event-stream framing
/// (`PayloadChunk`s, then `InvokeComplete`) around what the function streams:
/// here the function's own format, an HTTP prelude and server-sent events,
/// split where Lambda may split it (inside the prelude, inside an event).
#[test]
fn invoke_stream_reads_lambdas_response_stream() {
    use claw_testkit::realism::response_stream::Streamed;
    let env = crate::support::Env::new();
    let function = env.names().function;
    let prelude = br#"{"statusCode":200,"headers":{"content-type":"text/event-stream"}}"#;
    let first = prelude[..20].to_vec();
    let mut second = prelude[20..].to_vec();
    second.extend_from_slice(&[0u8; 8]);
    second.extend_from_slice(b"event: tool_use\ndata: {\"id\":\"toolu_1\",\"name\":\"get_lead\"}\n\nevent: text\ndata: {\"text\":\"Lead 42 \"}\n\nevent: te");
    let third = b"xt\ndata: {\"text\":\"is qualified.\"}\n\nevent: done\ndata: {\"session_id\":\"s-1\",\"stop_reason\":\"end_turn\",\"tool_calls\":1}\n\n".to_vec();
    env.realism().set_response_stream(
        &function,
        Streamed {
            content_type: "application/vnd.awslambda.http-integration-response".into(),
            chunks: vec![first.clone(), second.clone(), third.clone()],
            error: None,
        },
    );
    let ask = ["invoke", "--stream", "--message", "Qualify lead 42"];
    let out = env
        .command()
        .args(ask)
        .args(["--output", "json"])
        .run()
        .ok();
    let doc = out.json();
    let stream = &doc["stream"];
    assert_eq!(stream["text"], "Lead 42 is qualified.", "{doc}");
    assert_eq!(stream["last_event"], "done", "{doc}");
    assert_eq!(stream["prelude"]["statusCode"], 200, "{doc}");
    assert_eq!(
        stream["chunks"], 2,
        "the prelude's bytes are not the answer's: {doc}"
    );
    assert_eq!(doc["payload"]["stop_reason"], "end_turn", "{doc}");
    assert_eq!(doc["executed_version"], "$LATEST", "{doc}");
    assert_eq!(
        env.realism()
            .count("lambda: InvokeWithResponseStream served"),
        1
    );

    // In text mode the answer is stdout, the tool call stderr.
    let out = env.command().args(ask).run().ok();
    assert_eq!(out.stdout.trim(), "Lead 42 is qualified.", "{}", out.stderr);
    assert!(
        out.stderr.contains("[tool] get_lead (toolu_1)"),
        "{}",
        out.stderr
    );

    // A stream without a prelude reads the same.
    let bare = b"event: text\ndata: {\"text\":\"Lead 42 \"}\n\nevent: te".to_vec();
    env.realism().set_response_stream(
        &function,
        Streamed {
            content_type: "text/event-stream".into(),
            chunks: vec![bare, third.clone()],
            error: None,
        },
    );
    let doc = env
        .command()
        .args(ask)
        .args(["--output", "json"])
        .run()
        .ok()
        .json();
    assert_eq!(doc["stream"]["last_event"], "done", "{doc}");
    assert_eq!(doc["stream"]["prelude"], serde_json::Value::Null, "{doc}");

    // A function that fails mid-stream: Lambda says so in InvokeComplete.
    env.realism().set_response_stream(
        &function,
        Streamed {
            content_type: "application/vnd.awslambda.http-integration-response".into(),
            chunks: vec![first, second],
            error: Some(("Runtime.ExitError".into(), "the function exited".into())),
        },
    );
    let out = env.command().args(ask).run().code(1);
    assert!(
        out.stderr
            .contains("Runtime.ExitError: the function exited"),
        "{}",
        out.stderr
    );
}
