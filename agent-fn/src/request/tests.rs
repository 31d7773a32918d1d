use super::*;
use crate::anthropic::Role;

fn tool(name: &str) -> ToolDef {
    ToolDef {
        name: name.into(),
        description: format!("the {name} tool"),
        input_schema: json!({"type": "object"}),
    }
}

fn shape<'a>(
    tools: &'a [ToolDef],
    system: &'a str,
    cache: CacheTtl,
    min: Option<u32>,
) -> Shape<'a> {
    Shape {
        model: "claude-test",
        max_tokens: 100,
        system,
        tools,
        cache,
        min_cache_tokens: min,
        mcp: &[],
    }
}

fn turn(text: &str) -> Message {
    Message::user_text(text)
}

fn tool_loop() -> Vec<Message> {
    vec![
        turn("qualify lead 42"),
        Message {
            role: Role::Assistant,
            content: vec![json!({"type":"tool_use","id":"t1","name":"a","input":{}})],
        },
        Message {
            role: Role::User,
            content: vec![json!({"type":"tool_result","tool_use_id":"t1","content":"{}"})],
        },
    ]
}

#[test]
fn off_sends_no_breakpoint_and_a_plain_system_string() {
    let tools = [tool("a"), tool("b")];
    let (body, mark) = body(
        &shape(&tools, "sys", CacheTtl::Off, None),
        &tool_loop(),
        None,
    );
    assert_eq!(body["system"], "sys");
    assert!(breakpoints(&body).is_empty(), "{body}");
    assert_eq!(mark, None);
    assert_eq!(body["tools"].as_array().unwrap().len(), 2);
}

#[test]
fn five_minutes_marks_tools_system_and_the_conversation_end() {
    let tools = [tool("a"), tool("b")];
    let msgs = tool_loop();
    let (body, mark) = body(
        &shape(&tools, "sys", CacheTtl::FiveMinutes, None),
        &msgs,
        None,
    );
    assert_eq!(
        breakpoints(&body),
        ["tools[1] 5m", "system[0] 5m", "messages[2][0] 5m"]
    );
    assert_eq!(body["system"][0]["text"], "sys");
    assert_eq!(mark, Some((2, 0)));
    // The conversation itself is untouched.
    assert!(
        !serde_json::to_string(&msgs)
            .unwrap()
            .contains("cache_control")
    );
}

#[test]
fn one_hour_entries_come_before_five_minute_ones() {
    let tools = [tool("a")];
    let (body, _) = body(
        &shape(&tools, "sys", CacheTtl::OneHour, None),
        &tool_loop(),
        None,
    );
    let marks = breakpoints(&body);
    assert_eq!(marks, ["tools[0] 1h", "system[0] 1h", "messages[2][0] 5m"]);
    let first_5m = marks.iter().position(|m| m.ends_with("5m")).unwrap();
    assert!(marks[first_5m..].iter().all(|m| m.ends_with("5m")));
}

#[test]
fn the_previous_turns_mark_stays_and_never_more_than_four() {
    let tools = [tool("a")];
    let mut msgs = tool_loop();
    let s = shape(&tools, "sys", CacheTtl::FiveMinutes, None);
    let (_, first) = body(&s, &msgs, None);
    msgs.push(Message {
        role: Role::Assistant,
        content: vec![json!({"type":"tool_use","id":"t2","name":"a","input":{}})],
    });
    msgs.push(Message {
        role: Role::User,
        content: vec![json!({"type":"tool_result","tool_use_id":"t2","content":"{}"})],
    });
    let (b, second) = body(&s, &msgs, first);
    assert_eq!(
        breakpoints(&b),
        [
            "tools[0] 5m",
            "system[0] 5m",
            "messages[2][0] 5m",
            "messages[4][0] 5m"
        ]
    );
    assert_eq!(second, Some((4, 0)));
}

#[test]
fn a_prefix_below_the_minimum_gets_no_breakpoint() {
    let tools = [tool("a")];
    let (short, mark) = body(
        &shape(&tools, "short prompt", CacheTtl::FiveMinutes, Some(1024)),
        &tool_loop(),
        None,
    );
    assert!(breakpoints(&short).is_empty(), "{short}");
    assert_eq!(mark, None);
    assert_eq!(short["system"][0]["text"], "short prompt");
    // A long system prompt is cached; the conversation after it is too.
    let long = "x".repeat(3 * 1024);
    let (b, _) = body(
        &shape(&tools, &long, CacheTtl::FiveMinutes, Some(1024)),
        &tool_loop(),
        None,
    );
    assert_eq!(breakpoints(&b), ["system[0] 5m", "messages[2][0] 5m"]);
}

#[test]
fn the_mark_skips_blocks_the_api_cannot_cache() {
    let msgs = vec![
        turn("hi"),
        Message {
            role: Role::Assistant,
            content: vec![
                json!({"type":"text","text":"thinking done"}),
                json!({"type":"thinking","thinking":"…","signature":"s"}),
            ],
        },
    ];
    let (b, mark) = body(&shape(&[], "", CacheTtl::FiveMinutes, None), &msgs, None);
    assert_eq!(mark, Some((1, 0)));
    assert_eq!(breakpoints(&b), ["messages[1][0] 5m"]);
    assert!(b.get("system").is_none());
    assert!(b.get("tools").is_none());
}
