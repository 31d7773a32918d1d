//! Rules that AWS or Anthropic would enforce later (or that keep a deployment safe),
//! checked before any network call. Each problem carries its key path; the loader
//! turns paths into `file:line:column`.

use std::collections::BTreeSet;

use crate::model::{ApiAuth, ApiMode, Config, Provider, ToolKind};
use crate::names::Names;
use crate::net;
use crate::tools;
use crate::yaml::{PathSeg, suggest};

/// How serious a finding is. Errors stop every command; warnings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A finding before it is located in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub severity: Severity,
    pub path: Vec<PathSeg>,
    pub message: String,
    /// Point at the key itself rather than its value (for "not allowed here").
    pub at_key: bool,
}

/// CloudWatch Logs' allowed retention periods, in days.
pub const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Environment variable names Lambda reserves.
const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

struct Check<'a> {
    out: Vec<Finding>,
    config: &'a Config,
}

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_string())
}

fn p(parts: &[&str]) -> Vec<PathSeg> {
    parts.iter().map(|k| key(k)).collect()
}

impl Check<'_> {
    fn error(&mut self, path: Vec<PathSeg>, message: impl Into<String>) {
        self.out.push(Finding {
            severity: Severity::Error,
            path,
            message: message.into(),
            at_key: false,
        });
    }

    fn key_error(&mut self, path: Vec<PathSeg>, message: impl Into<String>) {
        self.out.push(Finding {
            severity: Severity::Error,
            path,
            message: message.into(),
            at_key: true,
        });
    }

    fn warn(&mut self, path: Vec<PathSeg>, message: impl Into<String>) {
        self.out.push(Finding {
            severity: Severity::Warning,
            path,
            message: message.into(),
            at_key: false,
        });
    }

    fn range(&mut self, path: Vec<PathSeg>, value: u64, lo: u64, hi: u64, unit: &str) {
        if value < lo || value > hi {
            self.error(
                path,
                format!("must be from {lo} to {hi}{unit}, found {value}"),
            );
        }
    }
}

fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn is_slug(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.ends_with('-')
        && !s.contains("--")
}

fn is_aws_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

fn is_table_name(s: &str) -> bool {
    (3..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn is_secret_name(s: &str) -> bool {
    (1..=512).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
}

fn is_bucket_name(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        && !s.contains("..")
        && net::parse_ip_literal(s).is_none()
}

/// Why `value` looks like a secret, or `None`. Used on environment values (and on
/// anything else that ends up in plain configuration).
pub fn looks_like_secret(value: &str) -> Option<&'static str> {
    let v = value.trim();
    if v.contains("sk-ant-") {
        return Some("an Anthropic API key (sk-ant-…)");
    }
    for prefix in ["AKIA", "ASIA"] {
        if let Some(i) = v.find(prefix) {
            let rest = &v[i + 4..];
            if rest.len() >= 16
                && rest[..16]
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                return Some("an AWS access key id");
            }
        }
    }
    for prefix in [
        "ghp_",
        "gho_",
        "github_pat_",
        "xoxb-",
        "xoxp-",
        "glpat-",
        "sk_live_",
    ] {
        if v.starts_with(prefix) {
            return Some("an access token");
        }
    }
    if v.contains("-----BEGIN") {
        return Some("a private key");
    }
    // Long runs of base64 or hex: keys, tokens, passwords.
    let longest = v
        .split(|c: char| !(c.is_ascii_alphanumeric() || "+/=_-".contains(c)))
        .map(|run| {
            let hex = run.len() >= 32 && run.bytes().all(|b| b.is_ascii_hexdigit());
            let b64 = run.len() >= 32
                && run.bytes().any(|b| b.is_ascii_digit())
                && run.bytes().any(|b| b.is_ascii_lowercase())
                && run.bytes().any(|b| b.is_ascii_uppercase());
            if hex || b64 { run.len() } else { 0 }
        })
        .max()
        .unwrap_or(0);
    if longest > 0 {
        return Some("a long random-looking token (base64 or hex)");
    }
    None
}

fn secret_named(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    [
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// Checks a route `METHOD /path`; returns the problem, if any.
pub fn route_problem(route: &str) -> Option<String> {
    let Some((method, path)) = route.split_once(' ') else {
        return Some(format!(
            "`{route}` is not a route: write `METHOD /path`, such as `POST /agents/{{agent}}`"
        ));
    };
    const METHODS: &[&str] = &[
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
    ];
    if !METHODS.contains(&method) {
        let mut m = format!("`{method}` is not an HTTP method ({})", METHODS.join(", "));
        if let Some(s) = suggest(method, METHODS) {
            m.push_str(&format!("; did you mean `{s}`?"));
        }
        return Some(m);
    }
    if !path.starts_with('/') || path.contains(' ') {
        return Some(format!(
            "the path `{path}` must start with `/` and contain no spaces"
        ));
    }
    if path.len() > 1 && path.ends_with('/') {
        return Some(format!("the path `{path}` must not end with `/`"));
    }
    for seg in path.split('/').skip(1) {
        if path == "/" {
            break;
        }
        let ok = if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let inner = inner.strip_suffix('+').unwrap_or(inner);
            is_name(inner, 64)
        } else {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        };
        if !ok {
            return Some(format!(
                "the path segment `{seg}` is not allowed: use letters, digits, `-._~`, or `{{name}}`"
            ));
        }
    }
    None
}

/// Runs every rule on a deserialized config.
pub fn check(config: &Config) -> Vec<Finding> {
    let mut c = Check {
        out: Vec::new(),
        config,
    };
    identity(&mut c);
    function(&mut c);
    vpc(&mut c);
    model(&mut c);
    secrets(&mut c);
    agents(&mut c);
    tools_rules(&mut c);
    api(&mut c);
    alarms(&mut c);
    tags(&mut c);
    c.out
}

fn identity(c: &mut Check) {
    let cfg = c.config;
    if !is_slug(&cfg.app) {
        c.error(
            p(&["app"]),
            format!(
                "`{}` is not a valid app name: use lowercase letters, digits and single hyphens, starting with a letter",
                cfg.app
            ),
        );
    }
    if !is_slug(&cfg.stage) {
        c.error(
            p(&["stage"]),
            format!(
                "`{}` is not a valid stage name: use lowercase letters, digits and single hyphens, starting with a letter",
                cfg.stage
            ),
        );
    }
    if !is_region(&cfg.region) {
        c.error(
            p(&["region"]),
            format!(
                "`{}` is not an AWS region name (such as `ap-southeast-2`)",
                cfg.region
            ),
        );
    }
    if cfg.account.len() != 12 || !cfg.account.bytes().all(|b| b.is_ascii_digit()) {
        c.error(
            p(&["account"]),
            format!(
                "`{}` is not an AWS account id: write the 12 digits, quoted (\"012345678901\")",
                cfg.account
            ),
        );
    }
    let names = Names::new(cfg);
    for (what, name, limit) in names.checked() {
        if name.len() > limit {
            c.error(
                p(&["app"]),
                format!(
                    "the {what} `{name}` is {} characters; AWS allows {limit}. Shorten `app` or `stage`",
                    name.len()
                ),
            );
        }
    }
}

fn function(c: &mut Check) {
    let f = &c.config.function;
    c.range(
        p(&["function", "memory_mb"]),
        f.memory_mb.into(),
        128,
        10240,
        " MB",
    );
    c.range(
        p(&["function", "timeout_s"]),
        f.timeout_s.into(),
        1,
        900,
        " seconds",
    );
    if !LOG_RETENTION_DAYS.contains(&f.log_retention_days) {
        let nearest = LOG_RETENTION_DAYS
            .iter()
            .min_by_key(|d| d.abs_diff(f.log_retention_days))
            .copied()
            .unwrap_or(30);
        c.error(
            p(&["function", "log_retention_days"]),
            format!(
                "CloudWatch does not allow {} days; allowed: {}. Nearest: {nearest}",
                f.log_retention_days,
                LOG_RETENTION_DAYS
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    if let Some(rc) = f.reserved_concurrency {
        if rc == 0 {
            c.error(
                p(&["function", "reserved_concurrency"]),
                "0 would reject every invocation; remove the key to reserve nothing",
            );
        } else if rc > 10_000 {
            c.error(
                p(&["function", "reserved_concurrency"]),
                format!("{rc} is more than any account's concurrency quota allows"),
            );
        }
    }
    let mut total = 0;
    for (name, value) in &f.environment {
        let path = p(&["function", "environment", name]);
        total += name.len() + value.len();
        let valid = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            c.key_error(
                path.clone(),
                format!("`{name}` is not a valid environment variable name (letters, digits, `_`, starting with a letter)"),
            );
        } else if RESERVED_ENV.contains(&name.as_str()) || name.starts_with("AWS_LAMBDA_") {
            c.key_error(path.clone(), format!("`{name}` is reserved by Lambda"));
        } else if name.starts_with("CLAW_") {
            c.key_error(
                path.clone(),
                format!("`{name}` is reserved by claw (CLAW_*)"),
            );
        } else if name == "ANTHROPIC_API_KEY" || secret_named(name) {
            c.key_error(
                path.clone(),
                format!(
                    "`{name}` names a secret; secrets never go in environment variables. \
                     Store it in Secrets Manager (`claw secrets set NAME`) and list it under `secrets:`"
                ),
            );
        }
        if let Some(why) = looks_like_secret(value) {
            c.error(
                path,
                format!(
                    "the value looks like {why}; secrets never go in environment variables \
                     (anyone with lambda:GetFunctionConfiguration can read them). Use Secrets Manager"
                ),
            );
        }
    }
    if total > 4096 {
        c.error(
            p(&["function", "environment"]),
            format!("the environment is {total} bytes; Lambda allows 4096"),
        );
    }
}

fn vpc(c: &mut Check) {
    let Some(v) = &c.config.vpc else { return };
    if v.subnet_ids.is_empty() || v.subnet_ids.len() > 16 {
        c.error(
            p(&["vpc", "subnet_ids"]),
            format!("list 1 to 16 subnet ids, found {}", v.subnet_ids.len()),
        );
    }
    if v.security_group_ids.is_empty() || v.security_group_ids.len() > 5 {
        c.error(
            p(&["vpc", "security_group_ids"]),
            format!(
                "list 1 to 5 security group ids, found {}",
                v.security_group_ids.len()
            ),
        );
    }
    for (i, s) in v.subnet_ids.iter().enumerate() {
        if !is_aws_id(s, "subnet-") {
            let mut path = p(&["vpc", "subnet_ids"]);
            path.push(PathSeg::Index(i));
            c.error(
                path,
                format!("`{s}` is not a subnet id (`subnet-` and 8 or 17 hex digits)"),
            );
        }
    }
    for (i, s) in v.security_group_ids.iter().enumerate() {
        if !is_aws_id(s, "sg-") {
            let mut path = p(&["vpc", "security_group_ids"]);
            path.push(PathSeg::Index(i));
            c.error(
                path,
                format!("`{s}` is not a security group id (`sg-` and 8 or 17 hex digits)"),
            );
        }
    }
}

fn model(c: &mut Check) {
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

fn secrets(c: &mut Check) {
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

fn agents(c: &mut Check) {
    let cfg = c.config;
    if cfg.agents.is_empty() {
        c.error(p(&["agents"]), "define at least one agent");
    }
    let tool_names: Vec<&str> = cfg.tools.keys().map(|s| s.as_str()).collect();
    for (name, agent) in &cfg.agents {
        if !is_name(name, 64) {
            c.key_error(
                p(&["agents", name]),
                format!("`{name}` is not a valid agent name (1-64 of letters, digits, `_`, `-`)"),
            );
        }
        if agent.system.trim().is_empty() {
            c.error(p(&["agents", name, "system"]), "the system prompt is empty");
        }
        let mut seen = BTreeSet::new();
        for (i, tool) in agent.tools.iter().enumerate() {
            let mut path = p(&["agents", name, "tools"]);
            path.push(PathSeg::Index(i));
            if !seen.insert(tool) {
                c.error(path, format!("`{tool}` is listed twice"));
            } else if !cfg.tools.contains_key(tool) {
                let mut m = format!("no tool named `{tool}` is defined under `tools:`");
                if let Some(s) = suggest(tool, &tool_names) {
                    m.push_str(&format!("; did you mean `{s}`?"));
                }
                c.error(path, m);
            }
        }
    }
}

fn tools_rules(c: &mut Check) {
    let cfg = c.config;
    for (name, tool) in &cfg.tools {
        let base = |more: &[&str]| {
            let mut v = p(&["tools", name]);
            v.extend(more.iter().map(|k| key(k)));
            v
        };
        if !is_name(name, 64) {
            c.key_error(
                base(&[]),
                format!("`{name}` is not a valid tool name: Anthropic requires 1-64 of letters, digits, `_`, `-`"),
            );
        }
        if tool.description.trim().is_empty() {
            c.error(
                base(&["description"]),
                "the description is empty; the model needs it to choose the tool",
            );
        }
        let (required, optional) = tools::kind_keys(tool.kind);
        let set = tools::keys_set(tool);
        for r in required {
            if !set.contains(r) {
                c.key_error(
                    base(&[]),
                    format!(
                        "missing required key `{r}` for a `{}` tool",
                        tool.kind.name()
                    ),
                );
            }
        }
        for s in &set {
            if !required.contains(s) && !optional.contains(s) {
                c.key_error(
                    base(&[s]),
                    format!(
                        "`{s}` does not apply to a `{}` tool (it takes: {})",
                        tool.kind.name(),
                        required
                            .iter()
                            .chain(optional.iter())
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        if let Some(schema) = &tool.input_schema {
            let is_object_schema = schema
                .as_object()
                .is_some_and(|o| o.get("type").and_then(|t| t.as_str()) == Some("object"));
            if !is_object_schema {
                c.error(
                    base(&["input_schema"]),
                    "must be a JSON Schema for an object: a mapping with `type: object`",
                );
            }
        }
        match tool.kind {
            ToolKind::Http => http_tool(c, name, tool),
            ToolKind::DynamodbGet | ToolKind::DynamodbPut | ToolKind::DynamodbQuery => {
                if let Some(t) = &tool.table
                    && !is_table_name(t)
                {
                    c.error(
                        base(&["table"]),
                        format!("`{t}` is not a DynamoDB table name"),
                    );
                }
                if let Some(i) = &tool.index
                    && !is_table_name(i)
                {
                    c.error(
                        base(&["index"]),
                        format!("`{i}` is not a DynamoDB index name"),
                    );
                }
            }
            ToolKind::S3Get | ToolKind::S3Put => {
                if let Some(b) = &tool.bucket
                    && !is_bucket_name(b)
                {
                    c.error(base(&["bucket"]), format!("`{b}` is not an S3 bucket name"));
                }
                if let Some(pre) = &tool.prefix
                    && (pre.starts_with('/') || pre.contains('*') || pre.contains(".."))
                {
                    c.error(
                        base(&["prefix"]),
                        "the prefix must not start with `/` or contain `*` or `..`",
                    );
                }
            }
            ToolKind::SqsSend => {
                if let Some(q) = &tool.queue {
                    let stem = q.strip_suffix(".fifo").unwrap_or(q);
                    if !is_name(stem, 80) {
                        c.error(base(&["queue"]), format!("`{q}` is not an SQS queue name"));
                    }
                }
            }
            ToolKind::LambdaInvoke => {
                if let Some(f) = &tool.function {
                    if !is_name(f, 64) {
                        c.error(
                            base(&["function"]),
                            format!("`{f}` is not a Lambda function name"),
                        );
                    } else if *f == Names::new(cfg).function {
                        c.error(
                            base(&["function"]),
                            "a tool may not invoke this agent's own function (it would recurse)",
                        );
                    }
                }
            }
            ToolKind::EventbridgePut => {
                if let Some(b) = &tool.bus
                    && (!b
                        .bytes()
                        .all(|x| x.is_ascii_alphanumeric() || b"._-/".contains(&x))
                        || b.is_empty())
                {
                    c.error(base(&["bus"]), format!("`{b}` is not an event bus name"));
                }
                if let Some(s) = &tool.source
                    && (s.starts_with("aws.") || s.trim().is_empty())
                {
                    c.error(
                        base(&["source"]),
                        "the source must be set and must not start with `aws.` (reserved)",
                    );
                }
            }
        }
    }
}

fn http_tool(c: &mut Check, name: &str, tool: &crate::model::Tool) {
    let base = |more: &str| p(&["tools", name, more]);
    if let Some(url) = &tool.url {
        let plain_ok = tool.allow_private_hosts && url.starts_with("http://");
        if !url.starts_with("https://") && !plain_ok {
            c.error(
                base("url"),
                format!("http tools must use `https://`; found `{url}`"),
            );
        } else {
            match net::url_host(url) {
                None | Some("") => c.error(base("url"), "the URL has no host"),
                Some(host) if host.contains('{') || host.contains('}') => c.error(
                    base("url"),
                    "the host must be fixed: `{placeholders}` may only fill the path and query",
                ),
                Some(host) => {
                    if let Some(ip) = net::parse_ip_literal(host) {
                        if let Some(why) = net::forbidden_reason(ip)
                            && !tool.allow_private_hosts
                        {
                            c.error(
                                base("url"),
                                format!("the host `{host}` is {why}; http tools may not reach it"),
                            );
                        }
                    } else if (host.eq_ignore_ascii_case("localhost")
                        || host.to_ascii_lowercase().ends_with(".localhost"))
                        && !tool.allow_private_hosts
                    {
                        c.error(
                            base("url"),
                            format!("the host `{host}` is loopback; http tools may not reach it"),
                        );
                    }
                }
            }
            let params = tools::url_params(url);
            if let Some(props) = tool
                .input_schema
                .as_ref()
                .and_then(|s| s.get("properties"))
                .and_then(|p| p.as_object())
            {
                for param in &params {
                    if !props.contains_key(param) {
                        c.error(
                            base("url"),
                            format!(
                                "the placeholder `{{{param}}}` is not a property of input_schema"
                            ),
                        );
                    }
                }
            }
        }
    }
    if let Some(auth) = &tool.auth {
        let mut apath = p(&["tools", name, "auth"]);
        if auth.header.is_empty()
            || !auth
                .header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            apath.push(key("header"));
            c.error(
                apath.clone(),
                format!("`{}` is not an HTTP header name", auth.header),
            );
            apath.pop();
        }
        if auth.format.matches("{}").count() != 1 {
            apath.push(key("format"));
            c.error(
                apath,
                "the format must contain `{}` exactly once, where the secret goes",
            );
        }
    }
    if let Some(t) = tool.timeout_ms {
        let max = u64::from(c.config.function.timeout_s) * 1000;
        c.range(base("timeout_ms"), t.into(), 1, max.min(300_000), " ms");
    }
    if let Some(m) = tool.max_response_bytes {
        c.range(
            base("max_response_bytes"),
            m.into(),
            1,
            10 * 1024 * 1024,
            " bytes",
        );
    }
    if tool.allow_private_hosts {
        c.warn(
            base("allow_private_hosts"),
            "private, loopback and link-local hosts are allowed: for tests only, never for a deployed stage",
        );
    }
}

fn api(c: &mut Check) {
    let cfg = c.config;
    let a = &cfg.api;
    if a.routes.is_empty() && a.mode == ApiMode::Sync {
        c.error(
            p(&["api", "routes"]),
            "list at least one route, such as `POST /agents/{agent}`",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, route) in a.routes.iter().enumerate() {
        let mut path = p(&["api", "routes"]);
        path.push(PathSeg::Index(i));
        if let Some(problem) = route_problem(route) {
            c.error(path, problem);
        } else if !seen.insert(route.as_str()) {
            c.error(path, format!("`{route}` is listed twice"));
        } else if a.mode == ApiMode::Sync && crate::model::ASYNC_ROUTES.contains(&route.as_str()) {
            c.error(path, format!("`{route}` is reserved for `api.mode: async`"));
        }
    }
    match (a.auth, &a.jwt) {
        (ApiAuth::Jwt, None) => c.key_error(
            p(&["api"]),
            "`auth: jwt` needs a `jwt:` block with `issuer` and `audience`",
        ),
        (ApiAuth::Jwt, Some(j)) => {
            if !j.issuer.starts_with("https://") {
                c.error(
                    p(&["api", "jwt", "issuer"]),
                    "the issuer must be an `https://` URL",
                );
            }
            if j.audience.is_empty() {
                c.error(p(&["api", "jwt", "audience"]), "list at least one audience");
            }
        }
        (_, Some(_)) => c.key_error(p(&["api", "jwt"]), "`jwt` applies only with `auth: jwt`"),
        _ => {}
    }
    if a.auth == ApiAuth::None {
        c.warn(
            p(&["api", "auth"]),
            "the API is open to anyone on the internet; every request may spend model tokens",
        );
    }
    if !(a.throttle.rate > 0.0 && a.throttle.rate <= 10_000.0) {
        c.error(
            p(&["api", "throttle", "rate"]),
            format!(
                "must be above 0 and at most 10000, found {}",
                a.throttle.rate
            ),
        );
    }
    c.range(
        p(&["api", "throttle", "burst"]),
        a.throttle.burst.into(),
        1,
        5000,
        "",
    );
    if a.mode == ApiMode::Sync && cfg.function.timeout_s > 30 {
        c.warn(
            p(&["function", "timeout_s"]),
            format!(
                "API Gateway stops waiting after 30 s, but the function may run {} s; \
                 long agents should use `api.mode: async`",
                cfg.function.timeout_s
            ),
        );
    }
}

fn alarms(c: &mut Check) {
    let cfg = c.config;
    let a = &cfg.alarms;
    if let Some(topic) = &a.notify {
        let parts: Vec<&str> = topic.splitn(6, ':').collect();
        let ok = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "sns"
            && parts[5]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !parts[5].is_empty();
        if !ok {
            c.error(
                p(&["alarms", "notify"]),
                format!("`{topic}` is not an SNS topic ARN"),
            );
        } else if !cfg.region.is_empty() && parts[3] != cfg.region {
            // (An empty region stands in for a missing one, already reported.)
            c.error(
                p(&["alarms", "notify"]),
                format!(
                    "the topic is in {}, but alarms can only notify topics in {}",
                    parts[3], cfg.region
                ),
            );
        }
    }
    c.range(p(&["alarms", "errors"]), a.errors.into(), 1, 1_000_000, "");
    c.range(
        p(&["alarms", "throttles"]),
        a.throttles.into(),
        1,
        1_000_000,
        "",
    );
    if !(a.duration_p99_ratio > 0.0 && a.duration_p99_ratio <= 1.0) {
        c.error(
            p(&["alarms", "duration_p99_ratio"]),
            format!(
                "must be above 0 and at most 1 (a fraction of the timeout), found {}",
                a.duration_p99_ratio
            ),
        );
    }
    if a.invocations_per_5min == Some(0) {
        c.error(p(&["alarms", "invocations_per_5min"]), "must be at least 1");
    }
    if a.output_tokens_per_hour == Some(0) {
        c.error(
            p(&["alarms", "output_tokens_per_hour"]),
            "must be at least 1",
        );
    }
}

fn tags(c: &mut Check) {
    let cfg = c.config;
    if cfg.tags.len() > 48 {
        c.error(
            p(&["tags"]),
            format!("{} tags; AWS allows 50 and claw adds 2", cfg.tags.len()),
        );
    }
    for (k, v) in &cfg.tags {
        let path = p(&["tags", k]);
        if k.is_empty() || k.len() > 128 {
            c.key_error(path.clone(), "tag keys are 1 to 128 characters");
        } else if k.to_ascii_lowercase().starts_with("aws:") || k.starts_with("claw:") {
            c.key_error(
                path.clone(),
                format!("`{k}`: the `aws:` and `claw:` prefixes are reserved"),
            );
        }
        if v.len() > 256 {
            c.error(path, "tag values are at most 256 characters");
        }
    }
}
