//! The `function` and `vpc` sections: Lambda's limits, reserved names, and no
//! secrets in the environment.

use super::check::{Check, p};
use crate::yaml::PathSeg;

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

pub(super) fn function(c: &mut Check) {
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

pub(super) fn vpc(c: &mut Check) {
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

fn is_aws_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
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
