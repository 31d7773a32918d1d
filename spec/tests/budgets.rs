//! `limits.session_*` and `limits.caller_*`: their ranges, what they need
//! (`sessions:`, and `api.auth: jwt` for caller budgets), where errors point, and
//! the IAM they add.

use claw_spec::Diagnostic;
use claw_spec::policy::{PolicyKind, generate};

mod support;

const BASE: &str = "app: demo
stage: dev
region: us-east-1
account: \"123456789012\"
model:
  id: claude-sonnet-5
  api_key_secret: demo/key
agents:
  a:
    system: hi
    tools: []
";

const SESSIONS: &str = "sessions:\n  table: Sessions\n";
const JWT: &str =
    "api:\n  auth: jwt\n  jwt:\n    issuer: https://auth.example.com/\n    audience: [api]\n";

fn load(extra: &str) -> Result<claw_spec::Config, Vec<Diagnostic>> {
    support::load(&format!("{BASE}{extra}"))
}

fn errors(extra: &str) -> Vec<Diagnostic> {
    support::errors(&format!("{BASE}{extra}"))
}

/// An error at `path`, at `line`, whose message contains `text`.
fn assert_error(extra: &str, path: &str, line: usize, text: &str) {
    support::assert_error(&format!("{BASE}{extra}"), path, line, text)
}

#[test]
fn budgets_with_sessions_and_jwt_are_valid() {
    let limits = "limits:\n  session_tokens_per_day: 200000\n  session_requests_per_minute: 10\n  caller_tokens_per_day: 1000000\n  caller_requests_per_minute: 30\n";
    let c = load(&format!("{SESSIONS}{JWT}{limits}")).unwrap();
    assert_eq!(c.limits.session_tokens_per_day, Some(200_000));
    assert_eq!(c.limits.caller_requests_per_minute, Some(30));
    assert!(c.limits.has_budget());
    // Session budgets need no JWT.
    load(&format!(
        "{SESSIONS}limits:\n  session_requests_per_minute: 5\n"
    ))
    .unwrap();
    // Absent means off.
    assert!(!load(SESSIONS).unwrap().limits.has_budget());
}

#[test]
fn every_budget_needs_the_sessions_table() {
    for key in [
        "session_tokens_per_day",
        "session_requests_per_minute",
        "caller_tokens_per_day",
        "caller_requests_per_minute",
    ] {
        assert_error(
            &format!("{JWT}limits:\n  {key}: 100\n"),
            &format!("limits.{key}"),
            18,
            "needs `sessions:`: budget counters are kept in the sessions table",
        );
    }
}

#[test]
fn caller_budgets_need_jwt_auth() {
    for key in ["caller_tokens_per_day", "caller_requests_per_minute"] {
        assert_error(
            &format!("{SESSIONS}limits:\n  {key}: 100\n"),
            &format!("limits.{key}"),
            15,
            "needs `api.auth: jwt`: callers are told apart by the JWT's `sub` claim",
        );
    }
    assert_error(
        &format!("{SESSIONS}api:\n  auth: iam\nlimits:\n  caller_tokens_per_day: 9\n"),
        "limits.caller_tokens_per_day",
        17,
        "use `session_tokens_per_day` for a budget per session",
    );
}

#[test]
fn budgets_are_range_checked() {
    let cases = [
        (
            "session_tokens_per_day: 0",
            "must be from 1 to 10000000000 tokens, found 0",
        ),
        (
            "session_tokens_per_day: 10000000001",
            "must be from 1 to 10000000000 tokens",
        ),
        (
            "session_requests_per_minute: 0",
            "must be from 1 to 100000 requests, found 0",
        ),
        (
            "caller_requests_per_minute: 100001",
            "must be from 1 to 100000 requests",
        ),
    ];
    for (line, text) in cases {
        let key = line.split(':').next().unwrap();
        assert_error(
            &format!("{SESSIONS}{JWT}limits:\n  {line}\n"),
            &format!("limits.{key}"),
            20,
            text,
        );
    }
    // Not a number at all: the parser says so.
    assert!(
        !errors(&format!(
            "{SESSIONS}limits:\n  session_tokens_per_day: lots\n"
        ))
        .is_empty()
    );
}

#[test]
fn budgets_let_the_role_update_the_sessions_table() {
    let actions = |extra: &str| {
        let c = load(extra).unwrap();
        let role = serde_json::to_value(generate(PolicyKind::Role, &c, None).unwrap()).unwrap();
        let st = role["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "SessionMemory")
            .cloned()
            .unwrap();
        assert_eq!(
            st["Resource"],
            serde_json::json!(["arn:aws:dynamodb:us-east-1:123456789012:table/Sessions"])
        );
        st["Action"].clone()
    };
    assert_eq!(
        actions(SESSIONS),
        serde_json::json!(["dynamodb:GetItem", "dynamodb:PutItem"])
    );
    assert_eq!(
        actions(&format!(
            "{SESSIONS}limits:\n  session_tokens_per_day: 5000\n"
        )),
        serde_json::json!([
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem"
        ])
    );
}
