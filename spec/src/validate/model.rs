//! The `model`, `limits`, `sessions` and `secrets` sections.

use super::check::{Check, p};
use crate::model::{ApiAuth, Provider};
use crate::rules::is_table_name;
use crate::yaml::PathSeg;

pub(super) fn model(c: &mut Check) {
    let m = &c.config.model;
    if m.id.trim().is_empty() || m.id.contains(char::is_whitespace) {
        c.error(
            p(&["model", "id"]),
            "the model id must be one word, such as `claude-sonnet-5`",
        );
    }
    c.range(
        p(&["model", "max_tokens"]),
        m.max_tokens.into(),
        1,
        128_000,
        "",
    );
    match (m.provider, &m.api_key_secret) {
        (Provider::Anthropic, None) => c.key_error(
            p(&["model"]),
            "missing required key `api_key_secret`: the Secrets Manager name of the Anthropic API key",
        ),
        (Provider::Bedrock, _) => c.error(
            p(&["model", "provider"]),
            "`bedrock` is planned but not supported by this version of claw; use `anthropic`",
        ),
        _ => {}
    }
    let l = &c.config.limits;
    c.range(
        p(&["limits", "max_tool_calls"]),
        l.max_tool_calls.into(),
        1,
        1000,
        "",
    );
    c.range(p(&["limits", "max_turns"]), l.max_turns.into(), 1, 100, "");
    budgets(c);
    if let Some(s) = &c.config.sessions {
        if !is_table_name(&s.table) {
            c.error(
                p(&["sessions", "table"]),
                format!(
                    "`{}` is not a DynamoDB table name (3-255 of letters, digits, `_-.`)",
                    s.table
                ),
            );
        }
        c.range(
            p(&["sessions", "ttl_days"]),
            s.ttl_days.into(),
            1,
            365,
            " days",
        );
    }
}

/// Most tokens a daily budget may name: far beyond any real day of one session or
/// caller, low enough that a typo of a few extra zeros is caught.
const MAX_TOKENS_PER_DAY: u64 = 10_000_000_000;
/// Most requests a per-minute budget may name.
const MAX_REQUESTS_PER_MINUTE: u64 = 100_000;

/// `limits.{session,caller}_{tokens_per_day,requests_per_minute}`: ranges, and
/// what they need. The counters are items in the sessions table, so every budget
/// needs `sessions:`; callers are told apart by the JWT's `sub` claim, so caller
/// budgets need `api.auth: jwt`.
fn budgets(c: &mut Check) {
    let l = &c.config.limits;
    let keys = [
        ("session_tokens_per_day", l.session_tokens_per_day, false),
        (
            "session_requests_per_minute",
            l.session_requests_per_minute,
            false,
        ),
        ("caller_tokens_per_day", l.caller_tokens_per_day, true),
        (
            "caller_requests_per_minute",
            l.caller_requests_per_minute,
            true,
        ),
    ];
    let sessions = c.config.sessions.is_some();
    let jwt = c.config.api.auth == ApiAuth::Jwt;
    for (key, value, per_caller) in keys {
        let Some(value) = value else { continue };
        let (hi, unit) = if key.ends_with("per_day") {
            (MAX_TOKENS_PER_DAY, " tokens")
        } else {
            (MAX_REQUESTS_PER_MINUTE, " requests")
        };
        c.range(p(&["limits", key]), value, 1, hi, unit);
        if !sessions {
            c.key_error(
                p(&["limits", key]),
                format!(
                    "`limits.{key}` needs `sessions:`: budget counters are kept in the sessions table; add `sessions: {{ table: ... }}` or remove the budget"
                ),
            );
        }
        if per_caller && !jwt {
            c.key_error(
                p(&["limits", key]),
                format!(
                    "`limits.{key}` needs `api.auth: jwt`: callers are told apart by the JWT's `sub` claim; use `session_{}` for a budget per session",
                    &key["caller_".len()..]
                ),
            );
        }
    }
}

pub(super) fn secrets(c: &mut Check) {
    let cfg = c.config;
    let check_name = |c: &mut Check, path: Vec<PathSeg>, name: &str| {
        if !is_secret_name(name) {
            c.error(
                path,
                format!(
                    "`{name}` is not a Secrets Manager name (1-512 of letters, digits, `/_+=.@-`)"
                ),
            );
        }
    };
    if let Some(s) = &cfg.model.api_key_secret {
        check_name(c, p(&["model", "api_key_secret"]), s);
    }
    for (i, s) in cfg.secrets.iter().enumerate() {
        let mut path = p(&["secrets"]);
        path.push(PathSeg::Index(i));
        check_name(c, path, s);
    }
    for (name, tool) in &cfg.tools {
        if let Some(auth) = &tool.auth {
            check_name(c, p(&["tools", name, "auth", "secret"]), &auth.secret);
        }
    }
}

fn is_secret_name(s: &str) -> bool {
    (1..=512).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
}
