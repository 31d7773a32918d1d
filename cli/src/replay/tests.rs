use super::*;
use serde_json::json;

fn request_with_tools() -> Value {
    json!({
        "model": "m",
        "mcp_servers": [{"type": "url", "url": "https://mcp.example.com", "name": "docs", "authorization_token": "s3cret"}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Qualify lead 42"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Looking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_lead", "input": {"lead_id": "42"}},
                {"type": "tool_use", "id": "toolu_2", "name": "lookup_company", "input": {"key": {"domain": "a.com"}}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "{\"error\":\"no\"}", "is_error": true},
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "{\"id\":\"42\"}"}]}
            ]}
        ]
    })
}

#[test]
fn tool_calls_pair_each_tool_use_with_its_result_in_order_of_the_calls() {
    let calls = tool_calls(&request_with_tools());
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].id.as_str(), calls[0].name.as_str()),
        ("toolu_1", "get_lead")
    );
    assert_eq!(calls[0].input, json!({"lead_id": "42"}));
    assert_eq!(
        (calls[0].content.as_str(), calls[0].is_error),
        ("{\"id\":\"42\"}", false)
    );
    assert_eq!(
        (calls[1].content.as_str(), calls[1].is_error),
        ("{\"error\":\"no\"}", true)
    );
}

#[test]
fn a_recording_keeps_no_token_and_round_trips_through_its_file() {
    let reply = Reply {
        status: 200,
        content_type: "application/json".into(),
        body: json!({"usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 7}}),
    };
    let exchanges = vec![Exchange {
        request: redact(request_with_tools()),
        response: reply,
    }];
    let answer = Answer::of(
        &json!({"response": "Lead 42 scores 70.", "stop_reason": "end_turn", "session_id": "x"}),
    )
    .unwrap();
    let r = Recording::new(
        "lead-qualifier",
        json!({"agent": "lead-qualifier", "message": "Qualify lead 42"}),
        exchanges,
        answer,
    );
    assert_eq!(r.tools.len(), 2);
    assert_eq!(r.tokens(), (15, 7));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tests/agents/qualify.json");
    r.write(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains(REDACTED));
    assert_eq!(Recording::read(&path).unwrap(), r);
    // The function's error object is no answer to record.
    assert_eq!(
        Answer::of(&json!({"error": "agent error", "status": 500})),
        None
    );
}

#[test]
fn a_file_that_is_not_a_recording_is_refused_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.json");
    std::fs::write(&path, "{\"claw_recording\": 1,\n \"agent\": 3}").unwrap();
    let e = Recording::read(&path).unwrap_err().to_string();
    assert!(
        e.contains("x.json:2:") && e.contains("not a claw recording"),
        "{e}"
    );
    std::fs::write(&path, serde_json::to_string(&json!({"claw_recording": 9, "agent": "a", "event": {}, "exchanges": [], "tools": [], "answer": {"response": "", "stop_reason": ""}})).unwrap()).unwrap();
    let e = Recording::read(&path).unwrap_err().to_string();
    assert!(e.contains("recording format 9"), "{e}");
}
