//! Bounded fuzzing of the parsers that read untrusted bytes: the event parser
//! (every Lambda event shape, and the API Gateway body inside it), the Messages
//! API response parser with its content-block reader, and the streamed answer's
//! event-stream parser with the assembler behind it. Seeds are committed under
//! `fuzz/corpus/`; zero panics allowed (`-- --nocapture` prints the executions).

use std::path::PathBuf;
use std::time::Duration;

use agent_fn::anthropic::{Block, MessagesResponse};
use claw_testkit::fuzz;
use serde_json::Value;

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(name)
}

const JSON_TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"1e999",
    b"-0",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"18446744073709551616",
    b"\"Records\"",
    b"\"eventSource\"",
    b"\"aws:sqs\"",
    b"\"requestContext\"",
    b"\"isBase64Encoded\":true",
    b"\"body\"",
    b"\"detail-type\"",
    b"\"detail\"",
    b"\"agent\"",
    b"\"message\"",
    b"\"type\":\"tool_use\"",
    b"\"content\"",
    b"\"input\"",
    b"\"stop_reason\"",
    b"\n\n",
    b"\r\n",
    b"\r",
    b"data: ",
    b"event: ",
    b"\"content_block_delta\"",
    b"\"input_json_delta\"",
    b"\"partial_json\"",
    b"\"message_stop\"",
    b"\"index\":",
];

#[test]
fn event_parser() {
    let report = fuzz::run(
        "event",
        &corpus("event"),
        JSON_TOKENS,
        0x0e7e_4711,
        Duration::from_secs(12),
        300_000,
        |bytes| {
            if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
                if let Ok(event) = agent_fn::event::detect(&v) {
                    let _ = event.source();
                    if let agent_fn::event::Event::Http(req) = &event {
                        let _ = req.agent_request();
                        let _ = req.param("agent");
                    }
                }
                let _ = agent_fn::event::agent_request(&v, "the event");
            }
        },
    );
    println!("{report}");
    assert!(report.executions > report.seeds as u64);
}

#[test]
fn messages_response_parser() {
    let report = fuzz::run(
        "messages",
        &corpus("messages"),
        JSON_TOKENS,
        0x3e55_a6e5,
        Duration::from_secs(12),
        300_000,
        |bytes| {
            if let Ok(r) = serde_json::from_slice::<MessagesResponse>(bytes) {
                for b in &r.content {
                    if let Block::ToolUse { input, .. } = Block::of(b) {
                        let _ = input.to_string();
                    }
                }
            }
        },
    );
    println!("{report}");
    assert!(report.executions > report.seeds as u64);
}

#[test]
fn event_stream_parser() {
    use agent_fn::anthropic::sse::{Assembler, Parser};
    let report = fuzz::run(
        "sse",
        &corpus("sse"),
        JSON_TOKENS,
        0x55e0_57e4,
        Duration::from_secs(12),
        300_000,
        |bytes| {
            // Fed in two pieces, as a network would, then assembled.
            let cut = bytes.len() / 3;
            let mut parser = Parser::default();
            let mut assembler = Assembler::default();
            for piece in [&bytes[..cut], &bytes[cut..]] {
                if let Ok(events) = parser.feed(piece) {
                    for e in events {
                        let _ = assembler.apply(&e);
                    }
                }
            }
            let _ = assembler.usage();
            let _ = assembler.finish();
        },
    );
    println!("{report}");
    assert!(report.executions > report.seeds as u64);
}
