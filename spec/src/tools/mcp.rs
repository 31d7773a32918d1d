//! The `mcp` tool kind: a remote MCP server that the Messages API itself connects
//! to (the "MCP connector",
//! <https://platform.claude.com/docs/en/agents-and-tools/mcp-connector>). The
//! function sends the server's URL, name and token with each request and never
//! calls the server itself, so the kind has no AWS permission and no local input
//! schema. The tool's name (its key under `tools:`) is the server's name in the
//! request. The connector is not available on Amazon Bedrock.

use serde::{Deserialize, Serialize};

use super::problem::Problem;
use super::raw::RawTool;
use crate::net;

/// The kind-specific keys: (required, optional).
pub const KEYS: (&[&str], &[&str]) = (&["url"], &["auth", "allowed_tools"]);

/// The longest MCP tool name; with the characters allowed, from the MCP
/// specification's tool names guidance
/// (<https://modelcontextprotocol.io/specification/2025-06-18/server/tools>).
pub const MAX_TOOL_NAME: usize = 128;

/// A validated mcp tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpTool {
    /// The server's `https://` URL (Streamable HTTP or SSE).
    pub url: String,
    /// The bearer token, from Secrets Manager; none for an open server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<McpAuth>,
    /// Only these of the server's tools; all of them when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_tools: Option<Vec<String>>,
}

/// Where an mcp tool's token comes from. The API sends it to the server as an
/// OAuth bearer token (`Authorization: Bearer …`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpAuth {
    /// Secrets Manager name holding the token.
    pub secret: String,
}

impl McpTool {
    pub(super) fn from_raw(raw: &RawTool) -> Option<McpTool> {
        Some(McpTool {
            url: raw.url.clone()?,
            auth: raw.auth.as_ref().map(|a| McpAuth {
                secret: a.secret.clone(),
            }),
            allowed_tools: raw.allowed_tools.clone(),
        })
    }
}

/// Whether `name` can be one of an MCP server's tools.
pub fn is_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOOL_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The mcp tool's own rules: the URL (the http kind's address rules: https, a
/// fixed public host, and no credentials in it), the token's source, and the
/// allow-list.
pub(super) fn check(tool: &RawTool, out: &mut Vec<Problem>) {
    if let Some(url) = &tool.url {
        check_url(url, out);
    }
    if tool.input_schema.is_some() {
        out.push(Problem::error(
            &["input_schema"],
            "does not apply to an `mcp` tool: the server describes its own tools",
        ));
    }
    if let Some(auth) = &tool.auth {
        for (key, set) in [
            ("header", auth.header.is_some()),
            ("format", auth.format.is_some()),
        ] {
            if set {
                out.push(Problem::error(
                    &["auth", key],
                    "does not apply to an `mcp` tool: the token is sent as `Authorization: Bearer <token>`",
                ));
            }
        }
    }
    if let Some(names) = &tool.allowed_tools {
        if names.is_empty() {
            out.push(Problem::error(
                &["allowed_tools"],
                "an empty list allows no tool; name at least one, or leave the key out to allow them all",
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for n in names {
            if !is_tool_name(n) {
                out.push(Problem::error(
                    &["allowed_tools"],
                    format!(
                        "`{n}` is not an MCP tool name (1-{MAX_TOOL_NAME} of letters, digits, `_`, `-`, `.`)"
                    ),
                ));
            } else if !seen.insert(n) {
                out.push(Problem::error(
                    &["allowed_tools"],
                    format!("`{n}` is listed twice"),
                ));
            }
        }
    }
}

fn check_url(url: &str, out: &mut Vec<Problem>) {
    let mut error = |message: String| out.push(Problem::error(&["url"], message));
    // Checked first, and the URL never quoted: it may hold a password.
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        error(
            "the URL carries credentials (`user:password@`); put the token in a secret and name it in `auth.secret`"
                .into(),
        );
        return;
    }
    if scheme != "https" {
        error(format!(
            "an MCP server URL must start with `https://` (the API connects only over TLS); found `{}`",
            if scheme.is_empty() {
                "no scheme".to_string()
            } else {
                format!("{scheme}://")
            }
        ));
        return;
    }
    if url.contains('{') || url.contains('}') {
        error("an MCP server URL is fixed: it takes no `{placeholders}`".into());
        return;
    }
    match net::url_host(url) {
        None | Some("") => error("the URL has no host".into()),
        Some(host) => {
            let why = match net::parse_ip_literal(host) {
                Some(ip) => net::forbidden_reason(ip),
                None if host.eq_ignore_ascii_case("localhost")
                    || host.to_ascii_lowercase().ends_with(".localhost") =>
                {
                    Some("loopback")
                }
                None => None,
            };
            if let Some(why) = why {
                error(format!(
                    "the host `{host}` is {why}; an MCP server must be reachable from the internet"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(extra: serde_json::Value) -> RawTool {
        let mut v = serde_json::json!({"kind": "mcp", "url": "https://mcp.example.com/sse"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    fn problems(extra: serde_json::Value) -> Vec<String> {
        let mut out = Vec::new();
        check(&raw(extra), &mut out);
        out.into_iter()
            .map(|p| format!("{}: {}", p.keys.join("."), p.message))
            .collect()
    }

    #[test]
    fn a_public_https_server_is_fine() {
        assert!(problems(serde_json::json!({})).is_empty());
        assert!(
            problems(serde_json::json!({
                "auth": {"secret": "prod/crm-mcp"}, "allowed_tools": ["get_lead", "search.leads"]
            }))
            .is_empty()
        );
    }

    #[test]
    fn urls_follow_the_http_rules() {
        for (url, want) in [
            ("http://mcp.example.com/sse", "must start with `https://`"),
            ("https://10.0.0.8/sse", "a private address"),
            ("https://169.254.169.254/", "the instance metadata service"),
            ("https://0x7f000001/mcp", "a loopback address"),
            ("https://[::1]/mcp", "a loopback address"),
            ("https://mcp.localhost/", "loopback"),
            ("https://u:p@mcp.example.com/sse", "carries credentials"),
            (
                "http://u:hunter2@mcp.example.com/sse",
                "carries credentials",
            ),
            ("mcp.example.com/sse", "found `no scheme`"),
            (
                "https://mcp.example.com/{tenant}",
                "takes no `{placeholders}`",
            ),
            ("https:///sse", "no host"),
        ] {
            let p = problems(serde_json::json!({"url": url}));
            assert!(
                p.len() == 1 && p[0].starts_with("url: ") && p[0].contains(want),
                "{url}: {p:?}"
            );
            assert!(!p[0].contains("hunter2"), "{p:?}");
        }
    }

    #[test]
    fn http_only_keys_and_bad_allow_lists_are_refused() {
        let p = problems(serde_json::json!({
            "auth": {"secret": "s", "header": "X-Token", "format": "Bearer {}"},
            "input_schema": {"type": "object"},
            "allowed_tools": ["ok", "ok", "has space", ""]
        }));
        let keys: Vec<&str> = p.iter().map(|l| l.split(':').next().unwrap()).collect();
        assert_eq!(
            keys,
            [
                "input_schema",
                "auth.header",
                "auth.format",
                "allowed_tools",
                "allowed_tools",
                "allowed_tools"
            ],
            "{p:#?}"
        );
        assert!(problems(serde_json::json!({"allowed_tools": []}))[0].contains("allows no tool"));
    }

    #[test]
    fn the_validated_tool_keeps_only_the_secret_name() {
        let tool = McpTool::from_raw(&raw(serde_json::json!({
            "auth": {"secret": "prod/crm-mcp"}, "allowed_tools": ["get_lead"]
        })))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&tool).unwrap(),
            serde_json::json!({
                "url": "https://mcp.example.com/sse",
                "auth": {"secret": "prod/crm-mcp"},
                "allowed_tools": ["get_lead"]
            })
        );
    }
}
