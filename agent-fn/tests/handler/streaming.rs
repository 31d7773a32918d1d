//! Streamed answers (`"stream": true`, function URLs): the events in order, the
//! last one `done` or `error`, and the same audit line as a buffered answer.

use std::time::Duration;

use agent_fn::app::{App, Invocation};
use agent_fn::deadline::Deadline;
use claw_testkit::mock_model::Step;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Harness, KEY, apigw};

impl Harness {
    /// Runs a streamed invocation; the events as `(name, data)`.
    async fn stream(&self, payload: Value) -> Vec<(String, Value)> {
        assert!(App::wants_stream(&payload), "{payload}");
        let inv = Invocation {
            request_id: "req-s".into(),
            deadline: Deadline::after(Duration::from_secs(30)),
            trace_header: None,
        };
        let (tx, mut rx) = mpsc::channel::<String>(4);
        let collect = async {
            let mut raw = String::new();
            while let Some(e) = rx.recv().await {
                raw.push_str(&e);
            }
            raw
        };
        let ((), raw) = tokio::join!(self.app.handle_stream(payload, &inv, tx), collect);
        assert!(!raw.contains(KEY));
        raw.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                let (head, data) = e.split_once('\n').unwrap();
                let name = head.strip_prefix("event: ").unwrap().to_string();
                let data = data.strip_prefix("data: ").unwrap();
                (name, serde_json::from_str(data).unwrap())
            })
            .collect()
    }
}

fn direct(message: &str) -> Value {
    json!({"agent": "lead-qualifier", "message": message, "session_id": "s-1", "stream": true})
}

fn text_of(events: &[(String, Value)]) -> String {
    events
        .iter()
        .filter(|(n, _)| n == "text")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn text_tool_calls_and_results_stream_then_done_carries_the_answer_fields() {
    let answer = "The lead from Acme is qualified: budget, authority and a date.";
    let h = Harness::new(
        vec![
            Step::tool_use("toolu_1", "crm_lookup", json!({"id": "42"})),
            Step::text(answer).with_usage(50, 7),
        ],
        |_| {},
    );
    let events = h.stream(direct("qualify lead 42")).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[..2], ["tool_use", "tool_result"]);
    assert_eq!(events[0].1, json!({"id": "toolu_1", "name": "crm_lookup"}));
    // Not one of this agent's tools: the model is told, the caller sees `error`.
    assert_eq!(
        events[1].1,
        json!({"id": "toolu_1", "name": "crm_lookup", "status": "error"})
    );
    assert!(names[2..names.len() - 1].iter().all(|n| *n == "text"));
    assert!(names.len() > 4, "the answer came in pieces: {names:?}");
    assert_eq!(text_of(&events), answer);
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "done");
    assert!(done.get("response").is_none(), "{done}");
    assert_eq!(done["session_id"], "s-1");
    assert_eq!(done["stop_reason"], "end_turn");
    assert_eq!(done["tool_calls"], 0);
    assert_eq!(done["usage"]["input_tokens"], 60);
    assert_eq!(done["usage"]["output_tokens"], 12);
    // Both model calls streamed.
    for r in h.mock.requests() {
        assert_eq!(r.body["stream"], true);
    }
    let a = h.audit();
    assert_eq!(a["status"], 200);
    assert_eq!(a["outcome"], "ok");
    assert_eq!(a["turns"], 2);
    assert_eq!(a["source"], "direct");
    assert_eq!(h.emf()["Errors"], 0);
}

#[tokio::test]
async fn a_stream_that_breaks_after_text_ends_with_an_error_event_and_is_not_retried() {
    let h = Harness::new(
        vec![Step::text("a partial answer that will be cut").broken_after(6, "overloaded_error")],
        |_| {},
    );
    let events = h.stream(direct("hi")).await;
    assert!(!text_of(&events).is_empty(), "{events:?}");
    let (last, err) = events.last().unwrap();
    assert_eq!(last, "error");
    assert_eq!(err["status"], 500);
    assert_eq!(err["request_id"], "req-s");
    // A retry would have repeated the text already sent.
    assert_eq!(h.mock.request_count(), 1);
    let a = h.audit();
    assert_eq!(a["status"], 500);
    assert_eq!(a["error"], "model_http_529");
    // Lambda counts the invocation a success; the function's own metric does not.
    assert_eq!(h.emf()["Errors"], 1);
}

#[tokio::test]
async fn a_stream_that_breaks_before_any_text_is_retried_like_a_buffered_call() {
    let h = Harness::new(
        vec![
            Step::text("never shown").broken_after(1, "overloaded_error"),
            Step::text("shown"),
        ],
        |_| {},
    );
    let events = h.stream(direct("hi")).await;
    assert_eq!(text_of(&events), "shown");
    assert_eq!(events.last().unwrap().0, "done");
    assert_eq!(h.mock.request_count(), 2);
}

#[tokio::test]
async fn a_refused_request_is_one_error_event_with_its_status() {
    let h = Harness::new(vec![], |_| {});
    let mut payload = direct("hi");
    payload["agent"] = json!("nobody");
    let events = h.stream(payload).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "error");
    assert_eq!(events[0].1["status"], 404);
    assert_eq!(h.audit()["status"], 404);
    assert_eq!(h.mock.request_count(), 0);
}

#[tokio::test]
async fn a_function_url_request_streams_and_a_buffered_shape_does_not() {
    let mut url = apigw(
        "POST /",
        json!({}),
        Some(r#"{"agent":"lead-qualifier","message":"hi"}"#),
    );
    url["routeKey"] = json!("$default");
    url["requestContext"]["domainName"] = json!("abc123.lambda-url.ap-southeast-2.on.aws");
    let h = Harness::new(vec![Step::text("hello there")], |_| {});
    let events = h.stream(url).await;
    assert_eq!(text_of(&events), "hello there");
    assert_eq!(events.last().unwrap().0, "done");
    assert_eq!(h.audit()["source"], "apigw");

    assert!(!App::wants_stream(&apigw(
        "POST /agents/{agent}",
        json!({}),
        None
    )));
    assert!(!App::wants_stream(
        &json!({"agent": "a", "message": "m", "stream": false})
    ));
}

/// On Bedrock with `api.stream` (whose role may call it), a streamed answer
/// comes from InvokeModelWithResponseStream: the mock frames the Messages API's
/// events as AWS event-stream `chunk`s, and they reach the caller in pieces.
#[tokio::test]
async fn on_bedrock_with_api_stream_the_answer_streams_from_invoke_model_with_response_stream() {
    let answer = "Lead 42 is qualified: a named buyer, a budget, and a pilot date.";
    let h = Harness::with_bedrock(
        vec![
            Step::tool_use("toolu_1", "crm_lookup", json!({"id": "42"})),
            Step::text(answer).with_usage(80, 9),
        ],
        |c| {
            super::on_bedrock(c);
            c["api"] = json!({"stream": {"allow": ["210987654321"]}});
        },
    )
    .await;
    let events = h.stream(direct("qualify lead 42")).await;
    assert_eq!(events[0].1, json!({"id": "toolu_1", "name": "crm_lookup"}));
    assert_eq!(text_of(&events), answer);
    let texts = events.iter().filter(|(n, _)| n == "text").count();
    assert!(texts > 3, "the answer came in pieces: {events:?}");
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "done", "{events:?}");
    assert_eq!(done["usage"]["input_tokens"], 90);
    for r in h.mock.requests() {
        assert!(
            r.path.ends_with("/invoke-with-response-stream"),
            "{}",
            r.path
        );
        // Bedrock takes the stream from the path, never from the body.
        assert_eq!(r.body.get("stream"), None);
        assert_eq!(r.body["anthropic_version"], "bedrock-2023-05-31");
    }
    assert_eq!(h.audit()["outcome"], "ok");
}

/// Without `api.stream` the role has InvokeModel only: the same streamed
/// request is answered turn by turn from InvokeModel.
#[tokio::test]
async fn on_bedrock_without_api_stream_each_turn_is_sent_whole() {
    let h = Harness::with_bedrock(vec![Step::text("whole answer")], super::on_bedrock).await;
    let events = h.stream(direct("hi")).await;
    assert_eq!(text_of(&events), "whole answer");
    assert_eq!(events.iter().filter(|(n, _)| n == "text").count(), 1);
    assert!(h.mock.requests()[0].path.ends_with("/invoke"));
}

/// An exception in Bedrock's stream after text went out ends the answer with
/// an `error` event, and is not retried.
#[tokio::test]
async fn a_bedrock_stream_exception_after_text_ends_with_an_error_event() {
    let h = Harness::with_bedrock(
        vec![Step::text("a partial answer that will be cut").broken_after(6, "overloaded_error")],
        |c| {
            super::on_bedrock(c);
            c["api"] = json!({"stream": {"allow": ["210987654321"]}});
        },
    )
    .await;
    let events = h.stream(direct("hi")).await;
    assert!(!text_of(&events).is_empty(), "{events:?}");
    let (last, err) = events.last().unwrap();
    assert_eq!(last, "error", "{events:?}");
    assert_eq!(err["status"], 500);
    assert_eq!(h.mock.request_count(), 1);
    // ModelStreamErrorException is 424 in InvokeModelWithResponseStream's reference.
    assert_eq!(h.audit()["error"], "model_http_424");
}
