use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use claw_testkit::mock_model::{message, stream, text_block, tool_use_block};

fn parse_all(chunks: &[&[u8]]) -> Vec<Event> {
    let mut p = Parser::default();
    let mut out = Vec::new();
    for c in chunks {
        out.extend(p.feed(c).unwrap());
    }
    out
}

fn assemble(events: &[Event]) -> Result<(MessagesResponse, Vec<Progress>), StreamError> {
    let mut a = Assembler::default();
    let mut progress = Vec::new();
    for e in events {
        if let Some(p) = a.apply(e)? {
            progress.push(p);
        }
    }
    Ok((a.finish()?, progress))
}

/// The example stream of the Messages API's streaming page, verbatim in shape:
/// text, then a tool call whose input arrives in pieces.
const DOC_STREAM: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2}}}\n\
\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\
\n\
event: ping\n\
data: {\"type\": \"ping\"}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay, let's check\"}}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" the weather.\"}}\n\
\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\
\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"get_weather\",\"input\":{}}}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\":\"}}\n\
\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"San Francisco, CA\\\"}\"}}\n\
\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":1}\n\
\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\
\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\
\n";

#[test]
fn the_documented_stream_assembles_into_the_message() {
    let events = parse_all(&[DOC_STREAM.as_bytes()]);
    assert_eq!(events.len(), 13);
    let (m, progress) = assemble(&events).unwrap();
    assert_eq!(m.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(m.usage.input_tokens, 472);
    assert_eq!(m.usage.output_tokens, 89);
    assert_eq!(
        Value::Array(m.content),
        json!([
            {"type": "text", "text": "Okay, let's check the weather."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather",
             "input": {"location": "San Francisco, CA"}}
        ])
    );
    assert_eq!(
        progress,
        vec![
            Progress::Text("Okay, let's check".into()),
            Progress::Text(" the weather.".into()),
            Progress::ToolUse {
                id: "toolu_01".into(),
                name: "get_weather".into()
            },
        ]
    );
}

#[test]
fn line_endings_comments_and_multi_line_data_follow_the_event_stream_rules() {
    // CR LF, lone CR and LF all end lines; a comment is skipped; two data lines
    // join with LF; an event with no data is not dispatched; the default name
    // is `message`; one leading space after the colon is dropped, not two.
    let raw = b": keep-alive\r\nevent: a\r\ndata: one\rdata:  two\n\nevent: empty\n\ndata\n\n";
    let events = parse_all(&[raw]);
    assert_eq!(
        events,
        vec![
            Event {
                event: "a".into(),
                data: "one\n two".into()
            },
            Event {
                event: "message".into(),
                data: String::new()
            },
        ]
    );
}

#[test]
fn a_cr_at_the_end_of_one_chunk_and_an_lf_at_the_start_of_the_next_are_one_line_end() {
    let events = parse_all(&[b"data: x\r", b"\n\r", b"\n"]);
    assert_eq!(
        events,
        vec![Event {
            event: "message".into(),
            data: "x".into()
        }]
    );
}

#[test]
fn an_error_event_fails_the_call_with_its_type() {
    let raw = format!(
        "{}{}",
        stream::events(&message(vec![text_block("hi")], "end_turn"))[0],
        stream::error_event("overloaded_error", "Overloaded")
    );
    let events = parse_all(&[raw.as_bytes()]);
    let err = assemble(&events).unwrap_err();
    assert_eq!(err.error_type.as_deref(), Some("overloaded_error"));
    assert_eq!(err.message, "Overloaded");
}

#[test]
fn a_stream_that_stops_early_is_an_error_not_a_short_answer() {
    let all = stream::events(&message(vec![text_block("a longer answer")], "end_turn"));
    for cut in 0..all.len() {
        let raw: String = all[..cut].concat();
        let events = parse_all(&[raw.as_bytes()]);
        assert!(assemble(&events).is_err(), "cut after {cut} events");
    }
}

#[test]
fn malformed_events_are_errors_never_panics() {
    for data in [
        "{",
        r#"{"type":"message_start","message":[]}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}"#,
        r#"{"type":"content_block_start","index":99999999999,"content_block":{"type":"text"}}"#,
        r#"{"type":"message_delta","delta":{}}"#,
    ] {
        let mut a = Assembler::default();
        let e = Event {
            event: "x".into(),
            data: data.into(),
        };
        assert!(a.apply(&e).is_err(), "{data}");
    }
}

#[test]
fn an_overlong_line_is_refused() {
    let mut p = Parser::default();
    let big = vec![b'a'; MAX_LINE + 1];
    assert!(p.feed(&big).is_err());
}

fn sample() -> Value {
    let mut m = message(
        vec![
            json!({"type": "thinking", "thinking": "Let me think, ünïcödé 🦀.", "signature": "sig=="}),
            text_block("Here is what I found: ✓ lots of text\nacross lines."),
            tool_use_block(
                "toolu_7",
                "lookup",
                json!({"id": "42", "deep": {"a": [1, 2, "ß"]}}),
            ),
        ],
        "tool_use",
    );
    m["usage"] = json!({"input_tokens": 120, "output_tokens": 40,
        "cache_creation_input_tokens": 30, "cache_read_input_tokens": 10});
    m["id"] = json!("msg_9");
    m["model"] = json!("claude-sonnet-4-5");
    m
}

#[test]
fn the_mock_stream_of_a_message_assembles_into_the_same_message() {
    let m = sample();
    let raw: String = stream::events(&m).concat();
    let (got, _) = assemble(&parse_all(&[raw.as_bytes()])).unwrap();
    let want: MessagesResponse = serde_json::from_value(m.clone()).unwrap();
    assert_eq!(got.content, want.content);
    assert_eq!(got.stop_reason, want.stop_reason);
    assert_eq!(got.usage, want.usage);
}

#[test]
fn split_at_every_byte_boundary_gives_the_same_events() {
    let raw = stream::events(&sample()).concat().replace('\n', "\r\n");
    let bytes = raw.as_bytes();
    let whole = parse_all(&[bytes]);
    for i in 0..=bytes.len() {
        assert_eq!(
            parse_all(&[&bytes[..i], &bytes[i..]]),
            whole,
            "split at {i}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any chunking, any of the three line endings: the same events.
    #[test]
    fn any_chunking_gives_the_same_events(
        cuts in proptest::collection::vec(0usize..4000, 0..40),
        ending in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
    ) {
        let raw = stream::events(&sample()).concat().replace('\n', ending);
        let bytes = raw.as_bytes();
        let whole = parse_all(&[bytes]);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut at = 0;
        for c in cuts {
            pieces.push(&bytes[at..c]);
            at = c;
        }
        pieces.push(&bytes[at..]);
        prop_assert_eq!(parse_all(&pieces), whole);
    }

    /// Arbitrary bytes never panic the parser or the assembler.
    #[test]
    fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16)) {
        let mut p = Parser::default();
        let mut a = Assembler::default();
        for c in &chunks {
            if let Ok(events) = p.feed(c) {
                for e in events {
                    let _ = a.apply(&e);
                }
            }
        }
        let _ = a.finish();
    }
}
