//! The agent loop against the scripted mock Messages API: every stop condition,
//! tool execution (concurrency, order, refusals, failures), retries and deadlines.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use agent_fn::agent::{self, LoopEnd, Settings, Stop, ToolOutput, ToolRunner};
use agent_fn::anthropic::{Client, Message, ModelError, RetryPolicy, Role, ToolDef, Usage};
use agent_fn::backend::Backend;
use agent_fn::budget::{self, Budget, Denied, Gate, OverBudget};
use agent_fn::deadline::Deadline;
use claw_spec::model::CacheTtl;
use claw_testkit::mock_model::{MockModel, Step, text_block, tool_use_block};
use futures::future::BoxFuture;
use serde_json::{Value, json};

const KEY: &str = "sk-test-key";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 4,
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
        max_server_delay: Duration::from_secs(60),
    }
}

fn defs(names: &[&str]) -> Vec<ToolDef> {
    names
        .iter()
        .map(|n| ToolDef {
            name: n.to_string(),
            description: format!("the {n} tool"),
            input_schema: json!({"type": "object", "properties": {}}),
        })
        .collect()
}

fn settings(tools: &[ToolDef]) -> Settings<'_> {
    Settings {
        model: "claude-test-model",
        max_tokens: 1024,
        system: "You are a test agent.",
        tools,
        max_tool_calls: 20,
        max_turns: 12,
        margin: Duration::from_millis(200),
        cache: CacheTtl::Off,
        min_cache_tokens: None,
        prices: None,
        gate: None,
        mcp: &[],
        sink: None,
        job: None,
        needs_approval: &[],
    }
}

/// A tool runner that records calls and answers by name:
/// `echo` returns its input, `fail` fails, `slow` sleeps `input.ms` first,
/// `barrier` waits until all its siblings started (proof of concurrency).
#[derive(Default)]
struct Tools {
    calls: Mutex<Vec<String>>,
    finished: Mutex<Vec<String>>,
    barrier: Option<Arc<tokio::sync::Barrier>>,
}

impl ToolRunner for Tools {
    async fn run(&self, name: &str, input: &Value, _deadline: Deadline) -> ToolOutput {
        let tag = input["tag"].as_str().unwrap_or(name).to_string();
        self.calls.lock().unwrap().push(tag.clone());
        if let Some(ms) = input["ms"].as_u64() {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if name == "barrier" {
            let b = self.barrier.clone().expect("a barrier");
            if tokio::time::timeout(Duration::from_secs(10), b.wait())
                .await
                .is_err()
            {
                return ToolOutput::error("siblings never started: tools ran one after another");
            }
        }
        self.finished.lock().unwrap().push(tag);
        match name {
            "fail" => ToolOutput::error("the backend is down"),
            _ => ToolOutput::ok(&json!({"echo": input})),
        }
    }
}

async fn run_with(
    mock: &MockModel,
    settings: &Settings<'_>,
    allowed: &[&str],
    tools: &Tools,
    deadline: Deadline,
) -> Result<LoopEnd, agent::Failure> {
    let client = Client::new(&mock.base_url(), fast_retry()).unwrap();
    let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
    agent::run(
        &Backend::Anthropic {
            client: &client,
            api_key: KEY,
        },
        settings,
        &allowed,
        tools,
        vec![Message::user_text("hello")],
        deadline,
    )
    .await
}

fn later() -> Deadline {
    Deadline::after(Duration::from_secs(60))
}

#[tokio::test]
async fn end_turn_returns_the_text_and_sends_a_valid_request() {
    let mock = MockModel::start(
        KEY,
        vec![Step::text("Lead 42 scores 80.").with_usage(120, 30)],
    );
    let tools = defs(&["echo"]);
    let out = run_with(
        &mock,
        &settings(&tools),
        &["echo"],
        &Tools::default(),
        later(),
    )
    .await
    .unwrap();
    assert_eq!(out.stop, Stop::EndTurn);
    assert_eq!(out.text, "Lead 42 scores 80.");
    assert_eq!(out.stats.turns, 1);
    assert_eq!(out.stats.usage.input_tokens, 120);
    assert_eq!(out.stats.usage.output_tokens, 30);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-api-key"), Some(KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body["model"], "claude-test-model");
    assert_eq!(r.body["max_tokens"], 1024);
    assert_eq!(r.body["system"], "You are a test agent.");
    assert_eq!(r.body["tools"][0]["name"], "echo");
    assert_eq!(r.body["tools"][0]["input_schema"]["type"], "object");
    // The history ends with the assistant's answer.
    assert_eq!(out.messages.len(), 2);
    assert_eq!(out.messages[1].role, Role::Assistant);
}

#[tokio::test]
async fn tool_use_then_result_then_end_turn() {
    let mock = MockModel::start(
        KEY,
        vec![
            Step::tool_use("toolu_1", "echo", json!({"lead_id": "42"})),
            Step::text("done"),
        ],
    );
    let tools = defs(&["echo"]);
    let runner = Tools::default();
    let out = run_with(&mock, &settings(&tools), &["echo"], &runner, later())
        .await
        .unwrap();
    assert_eq!(out.stop, Stop::EndTurn);
    assert_eq!(out.text, "done");
    assert_eq!(out.stats.turns, 2);
    assert_eq!(out.stats.tool_calls, 1);
    assert_eq!(out.stats.usage.input_tokens, 20);
    let reqs = mock.requests();
    assert_eq!(
        reqs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 200]
    );
    let results = reqs[1].tool_results();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["tool_use_id"], "toolu_1");
    assert!(results[0].get("is_error").is_none());
    let content: Value = serde_json::from_str(results[0]["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["echo"]["lead_id"], "42");
}

#[tokio::test]
async fn tools_of_one_turn_run_concurrently_and_answer_in_order() {
    let calls = [
        ("t_a", "barrier", json!({"tag": "a", "ms": 60})),
        ("t_b", "barrier", json!({"tag": "b", "ms": 30})),
        ("t_c", "barrier", json!({"tag": "c"})),
    ];
    let mock = MockModel::start(
        KEY,
        vec![
            Step::tool_uses(Some("checking three things"), &calls),
            Step::text("ok"),
        ],
    );
    let tools = defs(&["barrier"]);
    let runner = Tools {
        barrier: Some(Arc::new(tokio::sync::Barrier::new(3))),
        ..Tools::default()
    };
    let out = run_with(&mock, &settings(&tools), &["barrier"], &runner, later())
        .await
        .unwrap();
    assert_eq!(out.stop, Stop::EndTurn);
    assert_eq!(out.stats.tool_calls, 3);
    let results = mock.requests()[1].tool_results();
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["tool_use_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["t_a", "t_b", "t_c"],
        "results must follow the tool_use order"
    );
    assert!(
        results.iter().all(|r| r.get("is_error").is_none()),
        "every tool passed the barrier: {results:?}"
    );
    // All three met at the barrier; none finished before all had started.
    assert_eq!(runner.calls.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn failing_and_forbidden_tools_become_error_results_and_the_run_goes_on() {
    let calls = [
        ("t1", "fail", json!({})),
        ("t2", "delete_everything", json!({})),
        ("t3", "echo", json!({"x": 1})),
    ];
    let mock = MockModel::start(
        KEY,
        vec![Step::tool_uses(None, &calls), Step::text("recovered")],
    );
    let tools = defs(&["fail", "echo"]);
    let runner = Tools::default();
    let out = run_with(
        &mock,
        &settings(&tools),
        &["fail", "echo"],
        &runner,
        later(),
    )
    .await
    .unwrap();
    assert_eq!(out.stop, Stop::EndTurn);
    assert_eq!(out.text, "recovered");
    // The forbidden tool was never run nor counted.
    assert_eq!(*runner.calls.lock().unwrap(), ["fail", "echo"]);
    assert_eq!(out.stats.tool_calls, 2);
    let results = mock.requests()[1].tool_results();
    assert_eq!(results[0]["is_error"], true);
    assert!(
        results[0]["content"]
            .as_str()
            .unwrap()
            .contains("backend is down")
    );
    assert_eq!(results[1]["is_error"], true);
    assert!(
        results[1]["content"]
            .as_str()
            .unwrap()
            .contains("not available to this agent")
    );
    assert!(results[2].get("is_error").is_none());
}

/// Outside a job nothing can wait for a person: a call that needs approval is
/// answered as not run, and the rest of the turn goes on.
#[tokio::test]
async fn a_call_that_needs_approval_is_not_run_outside_a_job() {
    let calls = [
        ("t1", "refund", json!({"order": 7})),
        ("t2", "echo", json!({})),
    ];
    let mock = MockModel::start(KEY, vec![Step::tool_uses(None, &calls), Step::text("ok")]);
    let tools = defs(&["refund", "echo"]);
    let runner = Tools::default();
    let approval = vec!["refund".to_string()];
    let s = Settings {
        needs_approval: &approval,
        ..settings(&tools)
    };
    let out = run_with(&mock, &s, &["refund", "echo"], &runner, later())
        .await
        .unwrap();
    assert_eq!(out.stop, Stop::EndTurn);
    assert_eq!(*runner.calls.lock().unwrap(), ["echo"]);
    let results = mock.requests()[1].tool_results();
    assert_eq!(results[0]["is_error"], true);
    assert!(
        results[0]["content"]
            .as_str()
            .unwrap()
            .contains("only an async job"),
        "{results:?}"
    );
}

#[tokio::test]
async fn stops_at_the_tool_call_limit() {
    let calls = [
        ("t1", "echo", json!({"tag": "1"})),
        ("t2", "echo", json!({"tag": "2"})),
        ("t3", "echo", json!({"tag": "3"})),
    ];
    let mock = MockModel::start(
        KEY,
        vec![Step::tool_uses(None, &calls), Step::text("never")],
    );
    let tools = defs(&["echo"]);
    let mut s = settings(&tools);
    s.max_tool_calls = 2;
    let runner = Tools::default();
    let out = run_with(&mock, &s, &["echo"], &runner, later())
        .await
        .unwrap();
    assert_eq!(out.stop, Stop::MaxToolCalls);
    assert_eq!(out.stop.outcome(), "limit");
    assert_eq!(out.stats.tool_calls, 2);
    assert_eq!(*runner.calls.lock().unwrap(), ["1", "2"]);
    assert_eq!(mock.request_count(), 1);
    // The stored history answers every tool_use, the refused one with an error.
    let last = out.messages.last().unwrap();
    assert_eq!(last.role, Role::User);
    assert_eq!(last.content.len(), 3);
    assert_eq!(last.content[2]["is_error"], true);
}

#[tokio::test]
async fn stops_at_the_turn_limit() {
    let mock = MockModel::start(
        KEY,
        vec![
            Step::tool_use("t1", "echo", json!({})),
            Step::tool_use("t2", "echo", json!({})),
            Step::tool_use("t3", "echo", json!({})),
        ],
    );
    let tools = defs(&["echo"]);
    let mut s = settings(&tools);
    s.max_turns = 2;
    let runner = Tools::default();
    let out = run_with(&mock, &s, &["echo"], &runner, later())
        .await
        .unwrap();
    assert_eq!(out.stop, Stop::MaxTurns);
    assert_eq!(out.stats.turns, 2);
    assert_eq!(mock.request_count(), 2);
    // The second turn's tool call was not run: no turn is left to read its result.
    assert_eq!(out.stats.tool_calls, 1);
    let last = out.messages.last().unwrap();
    assert_eq!(last.content[0]["tool_use_id"], "t2");
    assert_eq!(last.content[0]["is_error"], true);
}

#[tokio::test]
async fn terminal_stop_reasons_are_reported_as_such() {
    for (reason, stop) in [
        ("max_tokens", Stop::MaxTokens),
        ("refusal", Stop::Refusal),
        ("stop_sequence", Stop::StopSequence),
        ("model_context_window_exceeded", Stop::ContextWindow),
        (
            "a_reason_from_the_future",
            Stop::Other("a_reason_from_the_future".into()),
        ),
    ] {
        let mock = MockModel::start(KEY, vec![Step::reply(vec![text_block("partial")], reason)]);
        let tools = defs(&[]);
        let out = run_with(&mock, &settings(&tools), &[], &Tools::default(), later())
            .await
            .unwrap();
        assert_eq!(out.stop, stop, "{reason}");
        assert_eq!(out.text, "partial");
        assert_eq!(mock.request_count(), 1);
    }
}

#[tokio::test]
async fn max_tokens_in_the_middle_of_a_tool_call_leaves_a_valid_history() {
    let mock = MockModel::start(
        KEY,
        vec![Step::reply(
            vec![
                text_block("let me"),
                tool_use_block("t1", "echo", json!({})),
            ],
            "max_tokens",
        )],
    );
    let tools = defs(&["echo"]);
    let runner = Tools::default();
    let out = run_with(&mock, &settings(&tools), &["echo"], &runner, later())
        .await
        .unwrap();
    assert_eq!(out.stop, Stop::MaxTokens);
    assert!(runner.calls.lock().unwrap().is_empty());
    assert_eq!(out.messages.last().unwrap().content[0]["tool_use_id"], "t1");
}

#[tokio::test]
async fn unknown_blocks_are_kept_and_echoed_back() {
    let odd = json!({"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {}});
    let mock = MockModel::start(
        KEY,
        vec![
            Step::reply(
                vec![odd.clone(), tool_use_block("t1", "echo", json!({}))],
                "tool_use",
            ),
            Step::text("fine"),
        ],
    );
    let tools = defs(&["echo"]);
    let out = run_with(
        &mock,
        &settings(&tools),
        &["echo"],
        &Tools::default(),
        later(),
    )
    .await
    .unwrap();
    assert_eq!(out.text, "fine");
    let second = &mock.requests()[1];
    assert_eq!(second.messages()[1]["content"][0], odd);
}

#[tokio::test]
async fn stops_before_the_first_call_when_the_deadline_is_too_close() {
    let mock = MockModel::start(KEY, vec![Step::text("unused")]);
    let tools = defs(&[]);
    let mut s = settings(&tools);
    s.margin = Duration::from_secs(2);
    let out = run_with(
        &mock,
        &s,
        &[],
        &Tools::default(),
        Deadline::after(Duration::from_secs(1)),
    )
    .await
    .unwrap();
    assert_eq!(out.stop, Stop::Deadline);
    assert_eq!(out.stats.turns, 0);
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test]
async fn stops_between_turns_when_tools_used_up_the_time() {
    let mock = MockModel::start(
        KEY,
        vec![
            Step::tool_use("t1", "slow", json!({"ms": 700})),
            Step::text("unused"),
        ],
    );
    let tools = defs(&["slow"]);
    let mut s = settings(&tools);
    s.margin = Duration::from_millis(500);
    let out = run_with(
        &mock,
        &s,
        &["slow"],
        &Tools::default(),
        Deadline::after(Duration::from_millis(1000)),
    )
    .await
    .unwrap();
    assert_eq!(out.stop, Stop::Deadline);
    assert_eq!(out.stop.outcome(), "deadline");
    assert_eq!(out.stats.turns, 1);
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn a_slow_model_is_cut_off_at_the_deadline() {
    let mock = MockModel::start(
        KEY,
        vec![Step::text("too late").delayed(Duration::from_secs(20))],
    );
    let tools = defs(&[]);
    let mut s = settings(&tools);
    s.margin = Duration::from_millis(300);
    let err = run_with(
        &mock,
        &s,
        &[],
        &Tools::default(),
        Deadline::after(Duration::from_millis(800)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err.error, ModelError::Deadline { .. }),
        "{:?}",
        err.error
    );
    assert_eq!(err.stats.turns, 0);
}

#[tokio::test]
async fn a_slow_second_turn_ends_the_run_with_what_there_is() {
    let mock = MockModel::start(
        KEY,
        vec![
            Step::reply(
                vec![text_block("first"), tool_use_block("t1", "echo", json!({}))],
                "tool_use",
            ),
            Step::text("too late").delayed(Duration::from_secs(20)),
        ],
    );
    let tools = defs(&["echo"]);
    let mut s = settings(&tools);
    s.margin = Duration::from_millis(300);
    let out = run_with(
        &mock,
        &s,
        &["echo"],
        &Tools::default(),
        Deadline::after(Duration::from_millis(1200)),
    )
    .await
    .unwrap();
    assert_eq!(out.stop, Stop::Deadline);
    assert_eq!(out.text, "first");
    assert_eq!(out.stats.turns, 1);
}

#[tokio::test]
async fn transient_failures_are_retried() {
    let mock = MockModel::start(
        KEY,
        vec![
            Step::rate_limited_ms(20),
            Step::overloaded(),
            Step::server_error(),
            Step::malformed(),
            Step::text("finally"),
        ],
    );
    let tools = defs(&[]);
    let out = run_with(&mock, &settings(&tools), &[], &Tools::default(), later())
        .await
        .unwrap();
    assert_eq!(out.text, "finally");
    let statuses: Vec<u16> = mock.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 529, 500, 200, 200]);
    assert_eq!(out.stats.turns, 1);
}

#[tokio::test]
async fn retries_are_bounded() {
    let mock = MockModel::start(KEY, (0..6).map(|_| Step::server_error()).collect());
    let tools = defs(&[]);
    let err = run_with(&mock, &settings(&tools), &[], &Tools::default(), later())
        .await
        .unwrap_err();
    assert!(
        matches!(err.error, ModelError::Status { status: 500, .. }),
        "{:?}",
        err.error
    );
    assert_eq!(err.error.category(), "model_http_500");
    assert_eq!(mock.request_count(), 5, "one call and four retries");
}

#[tokio::test]
async fn x_should_retry_is_obeyed_both_ways() {
    let mock = MockModel::start(
        KEY,
        vec![
            Step::error(400, "invalid_request_error", "odd").with_header("x-should-retry", "true"),
            Step::text("ok"),
        ],
    );
    let tools = defs(&[]);
    let out = run_with(&mock, &settings(&tools), &[], &Tools::default(), later())
        .await
        .unwrap();
    assert_eq!(out.text, "ok");
    assert_eq!(mock.request_count(), 2);

    let mock = MockModel::start(
        KEY,
        vec![
            Step::error(503, "api_error", "no").with_header("x-should-retry", "false"),
            Step::text("unused"),
        ],
    );
    let err = run_with(&mock, &settings(&tools), &[], &Tools::default(), later())
        .await
        .unwrap_err();
    assert!(matches!(err.error, ModelError::Status { status: 503, .. }));
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let mock = MockModel::start("another-key", vec![Step::text("unused")]);
    let tools = defs(&[]);
    let err = run_with(&mock, &settings(&tools), &[], &Tools::default(), later())
        .await
        .unwrap_err();
    match &err.error {
        ModelError::Status { status, error_type } => {
            assert_eq!(*status, 401);
            assert_eq!(error_type.as_deref(), Some("authentication_error"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.request_count(), 1);
    assert!(!err.error.to_string().contains(KEY));
}

#[tokio::test]
async fn retry_after_past_the_deadline_gives_up_without_sleeping() {
    let mock = MockModel::start(KEY, vec![Step::rate_limited(30), Step::text("unused")]);
    let tools = defs(&[]);
    let mut s = settings(&tools);
    s.margin = Duration::from_secs(1);
    let err = run_with(
        &mock,
        &s,
        &[],
        &Tools::default(),
        Deadline::after(Duration::from_secs(5)),
    )
    .await
    .unwrap_err();
    match &err.error {
        ModelError::Deadline { last: Some(last) } => {
            assert!(
                matches!(**last, ModelError::Status { status: 429, .. }),
                "{last:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(mock.request_count(), 1);
    // Had it slept out the 30 s and retried, the second step would have answered.
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported() {
    // A port nothing listens on: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::new(&format!("http://127.0.0.1:{port}"), fast_retry()).unwrap();
    let tools = defs(&[]);
    let err = agent::run(
        &Backend::Anthropic {
            client: &client,
            api_key: KEY,
        },
        &settings(&tools),
        &[],
        &Tools::default(),
        vec![Message::user_text("hi")],
        later(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err.error, ModelError::Transport(_)),
        "{:?}",
        err.error
    );
    assert_eq!(err.error.category(), "model_transport");
}

#[tokio::test]
async fn a_session_history_continues_after_a_limit_stop() {
    // Turn 1 stops at the tool-call limit; turn 2 sends that history plus a new
    // question, which the mock accepts only if every tool_use is answered.
    let mock = MockModel::start(
        KEY,
        vec![
            Step::tool_uses(
                None,
                &[("t1", "echo", json!({})), ("t2", "echo", json!({}))],
            ),
            Step::text("answer two"),
        ],
    );
    let tools = defs(&["echo"]);
    let mut s = settings(&tools);
    s.max_tool_calls = 1;
    let client = Client::new(&mock.base_url(), fast_retry()).unwrap();
    let allowed = vec!["echo".to_string()];
    let first = agent::run(
        &Backend::Anthropic {
            client: &client,
            api_key: KEY,
        },
        &s,
        &allowed,
        &Tools::default(),
        vec![Message::user_text("one")],
        later(),
    )
    .await
    .unwrap();
    assert_eq!(first.stop, Stop::MaxToolCalls);
    let mut history = first.messages;
    agent::push_user_text(&mut history, "two");
    let second = agent::run(
        &Backend::Anthropic {
            client: &client,
            api_key: KEY,
        },
        &s,
        &allowed,
        &Tools::default(),
        history,
        later(),
    )
    .await
    .unwrap();
    assert_eq!(second.text, "answer two");
    assert_eq!(mock.requests()[1].status, 200);
}

#[tokio::test]
async fn the_mock_rejects_what_the_real_api_rejects() {
    let mock = MockModel::start(KEY, vec![Step::text("unused")]);
    let url = format!("{}/v1/messages", mock.base_url());
    let http = reqwest::Client::new();
    let post = |body: Value, key: &'static str| {
        http.post(&url)
            .header("x-api-key", key)
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
    };
    let unanswered = json!({
        "model": "m", "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [tool_use_block("t1", "echo", json!({}))]},
            {"role": "user", "content": [{"type": "text", "text": "no result"}]}
        ]
    });
    let wrong_id = json!({
        "model": "m", "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [tool_use_block("t1", "echo", json!({}))]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t9", "content": "x"}]}
        ]
    });
    for body in [
        unanswered,
        wrong_id,
        json!({"model": "m", "max_tokens": 10, "messages": []}),
    ] {
        let resp = post(body, KEY).await.unwrap();
        assert_eq!(resp.status(), 400);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error");
    }
    let ok =
        json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(post(ok.clone(), "bad").await.unwrap().status(), 401);
    assert_eq!(mock.steps_left(), 1, "rejected requests consume no step");
    assert_eq!(post(ok, KEY).await.unwrap().status(), 200);
    assert_eq!(mock.steps_left(), 0);
}

/// A gate that allows `allow` model calls and records what each one used.
struct CountingGate {
    allow: usize,
    checks: Mutex<usize>,
    charged: Mutex<Vec<u64>>,
}

impl Gate for CountingGate {
    fn check(&self) -> BoxFuture<'_, Result<(), Denied>> {
        let mut checks = self.checks.lock().unwrap();
        *checks += 1;
        let over = *checks > self.allow;
        Box::pin(async move {
            if over {
                Err(Denied::Over(OverBudget {
                    budget: Budget::SessionTokens,
                    retry_after_s: 5,
                }))
            } else {
                Ok(())
            }
        })
    }

    fn charge(&self, usage: Usage) -> BoxFuture<'_, ()> {
        self.charged.lock().unwrap().push(budget::billable(&usage));
        Box::pin(async {})
    }
}

#[tokio::test]
async fn the_gate_is_asked_before_each_call_and_told_each_calls_usage() {
    let turn = || Step::tool_use("toolu_1", "echo", json!({})).with_usage(30, 7);
    let mock = MockModel::start(KEY, vec![turn(), turn(), turn(), turn()]);
    let tools = defs(&["echo"]);
    let gate = CountingGate {
        allow: 2,
        checks: Mutex::new(0),
        charged: Mutex::new(Vec::new()),
    };
    let mut s = settings(&tools);
    s.gate = Some(&gate);
    let out = run_with(&mock, &s, &["echo"], &Tools::default(), later())
        .await
        .unwrap();
    let Stop::Budget(Denied::Over(o)) = &out.stop else {
        panic!("{:?}", out.stop)
    };
    assert_eq!(o.budget, Budget::SessionTokens);
    assert_eq!(out.stop.outcome(), "over_budget");
    assert_eq!(out.stop.as_str(), "over_budget");
    assert_eq!(mock.request_count(), 2, "no call after the refusal");
    assert_eq!(*gate.charged.lock().unwrap(), [37, 37]);
    assert_eq!(*gate.checks.lock().unwrap(), 3);
    // The stored history ends on the tool results: a valid next turn.
    assert_eq!(out.messages.last().unwrap().role, Role::User);
}

/// Prompt caching, cost, and the stop reasons and rate-limit headers of today's API.
#[path = "agent_loop/wave_two.rs"]
mod wave_two;
