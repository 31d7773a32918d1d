use super::*;
use crate::replay::{Answer, ToolCall};
use serde_json::json;

fn conversation(answer: &str, tools: &[(&str, Value)]) -> Recording {
    Recording {
        claw_recording: 1,
        agent: "a".into(),
        event: json!({}),
        exchanges: vec![],
        tools: tools
            .iter()
            .map(|(n, i)| ToolCall {
                id: "t".into(),
                name: n.to_string(),
                input: i.clone(),
                content: "{}".into(),
                is_error: false,
            })
            .collect(),
        answer: Answer {
            response: answer.into(),
            stop_reason: "end_turn".into(),
        },
    }
}

fn checks(yaml: &str) -> anyhow::Result<Checks> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("case.yaml");
    std::fs::write(&path, yaml).unwrap();
    Checks::read(&path)
}

#[test]
fn each_rule_that_fails_is_named_with_why() {
    let c = checks(
        "expect:\n  tools:\n    - name: get_lead\n      input: { lead_id: \"42\" }\n    - name: lookup_company\n      called: false\n    - name: send_email\n  answer:\n    contains: [score, reason]\n    matches: '\\b\\d{1,3}\\b'\n    schema: { type: object, required: [score] }\n",
    )
    .unwrap();
    let ok = conversation(
        "```json\n{\"score\": 70, \"reason\": \"ok\"}\n```",
        &[("get_lead", json!({"lead_id": "42", "x": 1}))],
    );
    assert_eq!(
        c.check(&ok),
        vec![Failure {
            rule: "expect.tools[2]".into(),
            message: "`send_email` was not called".into()
        }]
    );
    let bad = conversation(
        "no",
        &[
            ("get_lead", json!({"lead_id": "7"})),
            ("lookup_company", json!({})),
        ],
    );
    let got: Vec<(String, String)> = c
        .check(&bad)
        .into_iter()
        .map(|f| (f.rule, f.message))
        .collect();
    let rules: Vec<&str> = got.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        rules,
        [
            "expect.tools[0]",
            "expect.tools[1]",
            "expect.tools[2]",
            "expect.answer.contains[0]",
            "expect.answer.contains[1]",
            "expect.answer.matches",
            "expect.answer.schema"
        ]
    );
    assert_eq!(
        got[0].1,
        "`get_lead` was not called with input {\"lead_id\":\"42\"}; it was called with {\"lead_id\":\"7\"}"
    );
    assert_eq!(got[1].1, "`lookup_company` was called (1×)");
    assert!(
        got[6].1.starts_with("the answer is not JSON"),
        "{}",
        got[6].1
    );
}

#[test]
fn a_bad_file_is_refused_with_its_line_and_key() {
    let e = checks("expect:\n  tools:\n    - name: get_lead\n      calld: false\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("case.yaml:4:") && e.contains("calld"), "{e}");
    let e = checks("expect:\n  answer:\n    matches: '('\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("expect.answer.matches: not a regular expression"),
        "{e}"
    );
    let e = checks("expect:\n  answer:\n    schema: { anyOf: [] }\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`anyOf` is not a keyword claw test applies"),
        "{e}"
    );
}

#[test]
fn the_recording_is_the_file_s_namesake_unless_named() {
    let c = checks("expect: {}\n").unwrap();
    assert_eq!(
        c.recording_path(Path::new("tests/agents/q.yaml")),
        Path::new("tests/agents/q.json")
    );
    let c = checks("recording: other.json\n").unwrap();
    assert_eq!(
        c.recording_path(Path::new("tests/agents/q.yaml")),
        Path::new("tests/agents/other.json")
    );
}
