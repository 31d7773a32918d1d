use super::*;

#[test]
fn user_text_merges_into_trailing_tool_results() {
    let mut m = vec![
        Message::user_text("hi"),
        Message {
            role: Role::Assistant,
            content: vec![json!({"type":"tool_use","id":"a","name":"t","input":{}})],
        },
        Message {
            role: Role::User,
            content: vec![json!({"type":"tool_result","tool_use_id":"a","content":"x"})],
        },
    ];
    push_user_text(&mut m, "again");
    assert_eq!(m.len(), 3);
    assert_eq!(m[2].content.len(), 2);
    assert_eq!(m[2].content[1]["text"], "again");
    let mut fresh = Vec::new();
    push_user_text(&mut fresh, "first");
    assert_eq!(fresh, vec![Message::user_text("first")]);
}

#[test]
fn dangling_tool_uses_get_error_results() {
    let mut m = vec![
        Message::user_text("hi"),
        Message {
            role: Role::Assistant,
            content: vec![
                json!({"type":"text","text":"looking"}),
                json!({"type":"tool_use","id":"a","name":"t","input":{}}),
                json!({"type":"tool_use","id":"b","name":"t","input":{}}),
            ],
        },
    ];
    answer_dangling_tool_uses(&mut m, &Stop::MaxTokens);
    assert_eq!(m.len(), 3);
    let ids: Vec<&str> = m[2]
        .content
        .iter()
        .map(|b| b["tool_use_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(m[2].content.iter().all(|b| b["is_error"] == true));
}

#[test]
fn oversized_tool_results_stay_json() {
    let big = json!({"body": "x".repeat(MAX_TOOL_RESULT_BYTES * 2)});
    let out = ToolOutput::ok(&big);
    assert!(out.content.len() <= MAX_TOOL_RESULT_BYTES);
    let v: Value = serde_json::from_str(&out.content).unwrap();
    assert_eq!(v["truncated"], true);
}

#[test]
fn stop_reasons_map_to_outcomes() {
    assert_eq!(Stop::EndTurn.outcome(), "ok");
    assert_eq!(Stop::MaxToolCalls.outcome(), "limit");
    assert_eq!(Stop::MaxTurns.outcome(), "limit");
    assert_eq!(Stop::Deadline.outcome(), "deadline");
    assert_eq!(Stop::Refusal.outcome(), "refusal");
    assert_eq!(Stop::MaxTokens.as_str(), "max_tokens");
}
