//! The `http` tool kind: an HTTPS request to a fixed host. No AWS permission; the
//! function's SSRF guard (agent-fn) vets every address it connects to.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::problem::{Context, Problem};
use super::raw::{HttpAuth, HttpMethod, RawTool, default_auth_format};
use crate::net;

/// The kind-specific keys: (required, optional).
pub const KEYS: (&[&str], &[&str]) = (
    &["url"],
    &[
        "method",
        "auth",
        "timeout_ms",
        "max_response_bytes",
        "allow_private_hosts",
    ],
);

/// A validated http tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpTool {
    /// The method; GET when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HttpMethod>,
    /// An `https://` URL template; `{name}` placeholders are filled from the input.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_bytes: Option<u32>,
    /// For tests only: private, loopback and link-local hosts (and plain `http://`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_private_hosts: bool,
}

impl HttpTool {
    pub(super) fn from_raw(raw: &RawTool) -> Option<HttpTool> {
        let auth = match &raw.auth {
            None => None,
            Some(a) => Some(HttpAuth {
                secret: a.secret.clone(),
                header: a.header.clone()?,
                format: a.format.clone().unwrap_or_else(default_auth_format),
            }),
        };
        Some(HttpTool {
            method: raw.method,
            url: raw.url.clone()?,
            auth,
            timeout_ms: raw.timeout_ms,
            max_response_bytes: raw.max_response_bytes,
            allow_private_hosts: raw.allow_private_hosts,
        })
    }
}

/// `{name}` placeholders in an http tool's URL template, in order.
pub fn url_params(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = url;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(after[..end].to_string());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// The default input schema: one string property per URL placeholder.
pub fn default_schema(url: &str) -> Value {
    let params = url_params(url);
    let props: serde_json::Map<String, Value> = params
        .iter()
        .map(|p| (p.clone(), json!({"type": "string"})))
        .collect();
    json!({"type": "object", "properties": props, "required": params})
}

/// The http tool's own rules: scheme, a fixed and public host, placeholders that
/// the input schema declares, the auth header, and the limits.
pub(super) fn check(tool: &RawTool, cx: &Context, out: &mut Vec<Problem>) {
    if let Some(url) = &tool.url {
        check_url(tool, url, out);
    }
    if let Some(auth) = &tool.auth {
        match &auth.header {
            None => out.push(Problem::error(
                &["auth"],
                "missing required key `header` (the header to send, such as `Authorization`)",
            )),
            Some(header)
                if header.is_empty()
                    || !header
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                out.push(Problem::error(
                    &["auth", "header"],
                    format!("`{header}` is not an HTTP header name"),
                ))
            }
            Some(_) => {}
        }
        if auth
            .format
            .as_ref()
            .is_some_and(|f| f.matches("{}").count() != 1)
        {
            out.push(Problem::error(
                &["auth", "format"],
                "the format must contain `{}` exactly once, where the secret goes",
            ));
        }
    }
    if let Some(t) = tool.timeout_ms {
        let max = u64::from(cx.function_timeout_s) * 1000;
        Problem::range(out, "timeout_ms", t.into(), 1, max.min(300_000), " ms");
    }
    if let Some(m) = tool.max_response_bytes {
        Problem::range(
            out,
            "max_response_bytes",
            m.into(),
            1,
            10 * 1024 * 1024,
            " bytes",
        );
    }
    if tool.allow_private_hosts {
        out.push(Problem::warning(
            &["allow_private_hosts"],
            "private, loopback and link-local hosts are allowed: for tests only, never for a deployed stage",
        ));
    }
}

fn check_url(tool: &RawTool, url: &str, out: &mut Vec<Problem>) {
    let mut error = |message: String| out.push(Problem::error(&["url"], message));
    let plain_ok = tool.allow_private_hosts && url.starts_with("http://");
    if !url.starts_with("https://") && !plain_ok {
        error(format!("http tools must use `https://`; found `{url}`"));
        return;
    }
    match net::url_host(url) {
        None | Some("") => error("the URL has no host".into()),
        Some(host) if host.contains('{') || host.contains('}') => error(
            "the host must be fixed: `{placeholders}` may only fill the path and query".into(),
        ),
        Some(host) => {
            if let Some(ip) = net::parse_ip_literal(host) {
                if let Some(why) = net::forbidden_reason(ip)
                    && !tool.allow_private_hosts
                {
                    error(format!(
                        "the host `{host}` is {why}; http tools may not reach it"
                    ));
                }
            } else if (host.eq_ignore_ascii_case("localhost")
                || host.to_ascii_lowercase().ends_with(".localhost"))
                && !tool.allow_private_hosts
            {
                error(format!(
                    "the host `{host}` is loopback; http tools may not reach it"
                ));
            }
        }
    }
    let params = url_params(url);
    if let Some(props) = tool
        .input_schema
        .as_ref()
        .and_then(|s| s.get("properties"))
        .and_then(|p| p.as_object())
    {
        for param in &params {
            if !props.contains_key(param) {
                error(format!(
                    "the placeholder `{{{param}}}` is not a property of input_schema"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_params_in_order() {
        assert_eq!(
            url_params("https://x.example/{a}/b/{c}?q={d}"),
            vec!["a", "c", "d"]
        );
        assert!(url_params("https://x.example/{unclosed").is_empty());
    }
}
