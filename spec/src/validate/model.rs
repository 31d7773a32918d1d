//! The `model`, `limits`, `sessions` and `secrets` sections.

use super::check::{Check, p};
use crate::bedrock::BedrockId;
use crate::model::{ApiAuth, CacheTtl, PriceOverride, Provider};
use crate::pricing::approx_tokens;
use crate::rules::is_table_name;
use crate::yaml::PathSeg;

pub(super) fn model(c: &mut Check) {
    let m = &c.config.model;
    model_id(c, p(&["model", "id"]), &m.id);
    c.range(
        p(&["model", "max_tokens"]),
        m.max_tokens.into(),
        1,
        128_000,
        "",
    );
    if let Some(prices) = &m.prices {
        check_prices(c, &["model", "prices"], prices);
    }
    let cfg = c.config;
    for (name, agent) in &cfg.agents {
        let Some(o) = &agent.model else { continue };
        if let Some(id) = &o.id {
            model_id(c, p(&["agents", name, "model", "id"]), id);
        }
        if let Some(n) = o.max_tokens {
            c.range(
                p(&["agents", name, "model", "max_tokens"]),
                n.into(),
                1,
                128_000,
                "",
            );
        }
        if let Some(prices) = &o.prices {
            check_prices(c, &["agents", name, "model", "prices"], prices);
        }
    }
    bedrock(c);
    let anthropic_agents: Vec<&String> = cfg
        .agents
        .keys()
        .filter(|a| cfg.model_for(a).provider == Provider::Anthropic)
        .collect();
    if m.api_key_secret.is_none()
        && (m.provider == Provider::Anthropic || !anthropic_agents.is_empty())
    {
        let who = if m.provider == Provider::Anthropic {
            String::new()
        } else {
            format!(" (agent `{}` uses `anthropic`)", anthropic_agents[0])
        };
        c.key_error(
            p(&["model"]),
            format!("missing required key `api_key_secret`: the Secrets Manager name of the Anthropic API key{who}"),
        );
    }
    for name in cfg.agents.keys() {
        cache_and_cost_notes(c, name);
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
    c.range(
        p(&["limits", "job_max_minutes"]),
        l.job_max_minutes.into(),
        1,
        1440,
        "",
    );
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

fn model_id(c: &mut Check, path: Vec<PathSeg>, id: &str) {
    if id.trim().is_empty() || id.contains(char::is_whitespace) {
        c.error(
            path,
            "the model id must be one word, such as `claude-sonnet-5`",
        );
    }
}

/// Each Bedrock model id an agent runs on (checked once where it is written):
/// a Claude model or inference profile id, not an ARN; `inference_regions` only
/// for a geographic profile, and Region names.
fn bedrock(c: &mut Check) {
    let cfg = c.config;
    let mut seen = std::collections::BTreeSet::new();
    for (name, agent) in &cfg.agents {
        let resolved = cfg.model_for(name);
        if resolved.provider != Provider::Bedrock {
            continue;
        }
        let o = agent.model.as_ref();
        let at: Vec<&str> = if o.is_some_and(|o| o.id.is_some()) {
            vec!["agents", name, "model"]
        } else {
            vec!["model"]
        };
        if !seen.insert(at.join(".")) {
            continue;
        }
        let mut id_path = p(&at);
        id_path.push(PathSeg::Key("id".into()));
        let id = resolved.id.as_str();
        if id.starts_with("arn:") {
            c.error(
                id_path,
                "use the Bedrock model id or inference profile id, not its ARN \
                 (such as `us.anthropic.claude-haiku-4-5-20251001-v1:0`)",
            );
        } else if !id.contains("anthropic.claude") {
            c.error(
                id_path,
                format!(
                    "`{id}` is not a Claude model on Bedrock: the function speaks the Anthropic \
                     Messages format, so use an id such as `anthropic.claude-haiku-4-5-20251001-v1:0` \
                     or a profile such as `us.anthropic.claude-haiku-4-5-20251001-v1:0`"
                ),
            );
        }
        let Some(regions) = &resolved.inference_regions else {
            continue;
        };
        let mut path = p(&at);
        path.push(PathSeg::Key("inference_regions".into()));
        match BedrockId::parse(id) {
            BedrockId::Profile { geo, .. } if geo != "global" => {
                for r in regions {
                    if !is_region(r) {
                        c.error(path.clone(), format!("`{r}` is not an AWS Region name"));
                    }
                }
            }
            _ => c.error(
                path,
                "only a geographic inference profile (`us.`, `eu.`, `apac.`, …) routes to \
                 other Regions: remove this key",
            ),
        }
    }
}

fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

fn check_prices(c: &mut Check, at: &[&str], prices: &PriceOverride) {
    let fields = [
        ("input", Some(prices.input)),
        ("output", Some(prices.output)),
        ("cache_write_5m", prices.cache_write_5m),
        ("cache_write_1h", prices.cache_write_1h),
        ("cache_read", prices.cache_read),
    ];
    for (key, value) in fields {
        if let Some(v) = value
            && !(v.is_finite() && (0.0..=1000.0).contains(&v))
        {
            let mut path = p(at);
            path.push(PathSeg::Key(key.into()));
            c.error(
                path,
                format!("must be US dollars per million tokens, from 0 to 1000, found {v}"),
            );
        }
    }
}

/// Advice on an agent's model: a prompt too short to cache (no breakpoint is sent,
/// so caching costs and saves nothing), and a model with no known price (no cost
/// figures until `model.prices` gives one).
fn cache_and_cost_notes(c: &mut Check, agent: &str) {
    let cfg = c.config;
    let resolved = cfg.model_for(agent);
    let a = &cfg.agents[agent];
    if resolved.cache != CacheTtl::Off
        && let Some(min) = resolved.min_cache_tokens
    {
        let tool_bytes: usize = a
            .tools
            .iter()
            .filter_map(|t| cfg.tools.get(t).map(|def| (t, def)))
            .map(|(t, def)| {
                t.len()
                    + def.description.as_deref().map_or(0, str::len)
                    + def
                        .input_schema
                        .as_ref()
                        .map_or(64, |s| s.to_string().len())
            })
            .sum();
        let tokens = approx_tokens(a.system.len() + tool_bytes);
        if tokens < u64::from(min) {
            c.note(
                p(&["agents", agent, "system"]),
                format!(
                    "the prompt is too short to cache: about {tokens} tokens with its tools, \
                     and `{}` caches prefixes of {min} or more; the function sends no \
                     breakpoint for it until the conversation is long enough",
                    resolved.id
                ),
            );
        }
    }
    if resolved.prices.is_none() {
        let path = if a.model.as_ref().is_some_and(|m| m.id.is_some()) {
            p(&["agents", agent, "model", "id"])
        } else {
            p(&["model", "id"])
        };
        c.note(
            path,
            format!(
                "claw knows no price for `{}`: set `prices` beside it for cost figures \
                 (`cost_usd`, `CostMicroUSD`, `alarms.cost_usd_per_day`)",
                resolved.id
            ),
        );
    }
}

fn is_secret_name(s: &str) -> bool {
    (1..=512).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
}
