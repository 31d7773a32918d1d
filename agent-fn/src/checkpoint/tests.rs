use serde_json::json;

use super::*;

fn usage(input: u64, output: u64, read: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_input_tokens: read,
        ..Usage::default()
    }
}

/// A resumed invocation's audit line and metrics count only what it did itself:
/// the job's totals less the checkpoint it started from.
#[test]
fn one_invocations_figures_are_the_totals_less_the_checkpoint() {
    let base = Progress {
        turns: 2,
        tool_calls: 3,
        mcp_calls: 0,
        usage: usage(1000, 200, 50),
        cost_usd: Some(0.01),
        model_latency_ms: 900,
    };
    let now = Stats {
        turns: 5,
        tool_calls: 4,
        usage: usage(2500, 260, 700),
        cost_usd: Some(0.025),
        model_latency: Duration::from_millis(2000),
        ..Stats::default()
    };
    let own = base.since(&now);
    assert_eq!((own.turns, own.tool_calls), (3, 1));
    assert_eq!(own.usage, usage(1500, 60, 650));
    assert!((own.cost_usd.unwrap() - 0.015).abs() < 1e-12);
    assert_eq!(own.model_latency, Duration::from_millis(1100));
    // Carrying on from a checkpoint starts from its counters.
    let carried = base.stats();
    assert_eq!(Progress::of(&carried), base);
    assert_eq!(base.since(&carried).turns, 0);
}

#[test]
fn checkpoints_keep_their_shape_through_json() {
    let mut cp = Checkpoint {
        messages: vec![
            Message::user_text("find acme"),
            Message {
                role: Role::Assistant,
                content: vec![
                    json!({"type": "text", "text": "looking"}),
                    json!({"type": "tool_use", "id": "tu_1", "name": "get_lead", "input": {"q": "acme"}}),
                    json!({"type": "tool_use", "id": "tu_2", "name": "save_lead", "input": {}}),
                ],
            },
        ],
        progress: Progress {
            turns: 1,
            usage: usage(10, 5, 0),
            ..Progress::default()
        },
        session_version: 4,
        ..Checkpoint::default()
    };
    cp.tools_done.insert(
        "tu_1".into(),
        SavedOutput {
            content: "{\"lead\":1}".into(),
            is_error: false,
        },
    );
    let text = serde_json::to_string(&cp).unwrap();
    let back: Checkpoint = serde_json::from_str(&text).unwrap();
    assert_eq!(back, cp);
    // The last turn's calls are what a resumed run does first.
    let pending = pending_calls(&back.messages);
    let ids: Vec<&str> = pending.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids, ["tu_1", "tu_2"]);
    assert_eq!(last_text(&back.messages), "looking");
    // Nothing is pending once the user's turn is last.
    assert!(pending_calls(&back.messages[..1]).is_empty());
}

#[test]
fn an_ended_run_resumes_as_its_stop() {
    for reason in ["end_turn", "max_tokens", "refusal", "stop_sequence"] {
        let e = Ended {
            stop_reason: reason.into(),
            refusal_category: None,
        };
        assert_eq!(e.stop().as_str(), reason);
    }
    assert_eq!(Stop::from_model("tool_use"), None);
    assert_eq!(Stop::from_model("pause_turn"), None);
}
