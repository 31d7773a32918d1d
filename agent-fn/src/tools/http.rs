//! The `http` tool kind, and the SSRF guard every one of its requests goes through.
//!
//! The guard vets addresses, not names: a host name is resolved here (by a custom
//! reqwest resolver), every address it resolves to is checked, and the connection
//! goes to exactly those vetted addresses, so DNS rebinding between check and use is
//! not possible. IP-literal hosts bypass any resolver, so they are checked before the
//! request is sent. Redirects are followed by hand (at most [`MAX_REDIRECTS`]), each
//! hop vetted the same way, and the secret-derived auth header only follows
//! redirects that stay on the same origin. Proxies from the environment are ignored:
//! a proxy would resolve the name itself and defeat the check.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use claw_spec::tools::{HttpMethod, HttpTool};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};

use crate::agent::ToolOutput;
use crate::deadline::Deadline;

pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
pub const DEFAULT_MAX_RESPONSE_BYTES: u32 = 262_144;
pub const MAX_REDIRECTS: usize = 3;

/// Which addresses a tool may reach.
#[derive(Clone)]
pub enum AddressPolicy {
    /// Public addresses only: everything `claw_spec::net::forbidden_reason` names is
    /// refused. The default for every tool.
    Public,
    /// `allow_private_hosts: true` (tests): loopback, private and link-local are
    /// allowed, the cloud metadata endpoints still are not.
    AllowPrivate,
    /// A caller-supplied rule (tests of the guard itself), applied after the
    /// metadata check. Returns why an address is refused.
    Custom(Arc<dyn Fn(IpAddr) -> Option<String> + Send + Sync>),
}

impl std::fmt::Debug for AddressPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AddressPolicy::Public => "Public",
            AddressPolicy::AllowPrivate => "AllowPrivate",
            AddressPolicy::Custom(_) => "Custom",
        })
    }
}

impl AddressPolicy {
    pub fn for_tool(tool: &HttpTool) -> AddressPolicy {
        if tool.allow_private_hosts {
            AddressPolicy::AllowPrivate
        } else {
            AddressPolicy::Public
        }
    }

    /// Why `ip` must not be reached, or `None` when it may.
    pub fn refuse(&self, ip: IpAddr) -> Option<String> {
        if is_metadata(ip) {
            return Some(format!("{ip} is the instance metadata service"));
        }
        match self {
            AddressPolicy::Public => {
                claw_spec::net::forbidden_reason(ip).map(|why| format!("{ip} is {why}"))
            }
            AddressPolicy::AllowPrivate => None,
            AddressPolicy::Custom(f) => f(ip),
        }
    }

    /// Plain `http://` is only for tools that may reach private test servers.
    fn allows_plain_http(&self) -> bool {
        !matches!(self, AddressPolicy::Public)
    }
}

/// Metadata and credential endpoints (EC2 IMDS v4/v6, ECS task credentials), refused
/// whatever the policy: reaching them from a tool would hand out the role's keys.
fn is_metadata(ip: IpAddr) -> bool {
    let v4 = match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    };
    if let Some(v4) = v4 {
        return v4 == Ipv4Addr::new(169, 254, 169, 254) || v4 == Ipv4Addr::new(169, 254, 170, 2);
    }
    ip == IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254))
}

/// A resolver that refuses names resolving to any address the policy forbids.
/// One bad address is enough: the connector could pick any of them.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: AddressPolicy,
}

impl GuardedResolver {
    pub fn new(policy: AddressPolicy) -> GuardedResolver {
        GuardedResolver { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| format!("resolving `{host}`: {e}"))?
                .collect();
            if addrs.is_empty() {
                return Err(format!("`{host}` resolves to no address").into());
            }
            for a in &addrs {
                if let Some(why) = policy.refuse(a.ip()) {
                    return Err(Box::new(Refused(format!("`{host}` resolves to {why}")))
                        as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The guard's refusal, found again in reqwest's error chain to report it as such.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Builds the client an http tool uses: guarded resolver, no proxies, no automatic
/// redirects, no cookies. One per tool, reused across invocations.
pub fn client(policy: AddressPolicy) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .dns_resolver(GuardedResolver::new(policy))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("claw-agent/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Checks a URL before any connection: scheme, and the host when it is an IP
/// literal (names are checked by the resolver at connect time).
pub fn vet_url(url: &Url, policy: &AddressPolicy) -> Result<(), String> {
    match url.scheme() {
        "https" => {}
        "http" if policy.allows_plain_http() => {}
        other => return Err(format!("the scheme `{other}` is not allowed; use https")),
    }
    let host = url.host_str().ok_or("the URL has no host")?;
    // IPv6 literals come bracketed; IPv4 ones already normalised by the URL parser
    // (`2130706433`, `0x7f.1` and `127.1` all become `127.0.0.1`). Names are left to
    // the resolver, which vets what they resolve to at connect time.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip = bare
        .parse::<IpAddr>()
        .ok()
        .or_else(|| claw_spec::net::parse_ip_literal(bare));
    match ip {
        Some(ip) => policy.refuse(ip).map_or(Ok(()), Err),
        None => Ok(()),
    }
}

/// What an http tool call needs besides the client.
#[derive(Debug)]
pub struct HttpCall<'a> {
    pub tool: &'a HttpTool,
    pub policy: &'a AddressPolicy,
    /// The auth header, already formatted from the secret.
    pub auth: Option<(HeaderName, HeaderValue)>,
}

/// Fills the URL template and splits the remaining input into query or body.
pub fn build_request(
    tool: &HttpTool,
    input: &Value,
) -> Result<(Method, Url, Option<Value>), String> {
    let template = tool.url.as_str();
    let obj = match input {
        Value::Object(m) => m.clone(),
        Value::Null => serde_json::Map::new(),
        _ => return Err("the input must be a JSON object".into()),
    };
    let params = claw_spec::tools::url_params(template);
    let mut filled = String::with_capacity(template.len());
    let mut rest = template;
    for p in &params {
        let marker = format!("{{{p}}}");
        let Some(at) = rest.find(&marker) else { break };
        filled.push_str(&rest[..at]);
        let value = match obj.get(p) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(_) => return Err(format!("`{p}` must be a string or a number")),
            None => return Err(format!("the input is missing `{p}`")),
        };
        if value.is_empty() || value == "." || value == ".." {
            return Err(format!("`{p}` must not be empty, `.` or `..`"));
        }
        filled.push_str(&percent_encode(&value));
        rest = &rest[at + marker.len()..];
    }
    filled.push_str(rest);
    let mut url = Url::parse(&filled).map_err(|e| format!("the filled URL is invalid: {e}"))?;
    // Encoding keeps input out of the authority; check anyway, it is cheap. Both
    // sides go through the URL parser so odd host spellings compare equal.
    let mut bare = template.to_string();
    for p in &params {
        bare = bare.replace(&format!("{{{p}}}"), "x");
    }
    let template_host = Url::parse(&bare)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string));
    if template_host.is_none() || template_host.as_deref() != url.host_str() {
        return Err("the input changed the URL's host".into());
    }
    let extra: BTreeMap<&String, &Value> =
        obj.iter().filter(|(k, _)| !params.contains(k)).collect();
    let method = tool.method.unwrap_or(HttpMethod::Get);
    let body = match method {
        HttpMethod::Get | HttpMethod::Delete => {
            if !extra.is_empty() {
                let mut q = url.query_pairs_mut();
                for (k, v) in &extra {
                    match v {
                        Value::Null => {}
                        Value::String(s) => {
                            q.append_pair(k, s);
                        }
                        other => {
                            q.append_pair(k, &other.to_string());
                        }
                    }
                }
            }
            None
        }
        HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch => Some(Value::Object(
            extra
                .into_iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )),
    };
    let method = Method::from_bytes(method.as_str().as_bytes()).map_err(|e| e.to_string())?;
    Ok((method, url, body))
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so input can
/// neither add path segments nor reach the query, fragment or authority.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Runs one http tool call. Errors come back as `is_error` results for the model.
pub async fn call(
    client: &reqwest::Client,
    call: HttpCall<'_>,
    input: &Value,
    deadline: Deadline,
) -> ToolOutput {
    let (method, url, body) = match build_request(call.tool, input) {
        Ok(r) => r,
        Err(e) => return ToolOutput::error(e),
    };
    let timeout = Duration::from_millis(u64::from(
        call.tool.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
    ))
    .min(deadline.budget(Duration::from_millis(500)));
    let cap = call
        .tool
        .max_response_bytes
        .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES) as usize;
    match tokio::time::timeout(timeout, send(client, &call, method, url, body, cap)).await {
        Ok(Ok(v)) => {
            let failed = v["status"].as_u64().is_some_and(|s| s >= 400);
            let mut out = ToolOutput::ok(&v);
            out.is_error = failed;
            out
        }
        Ok(Err(e)) => ToolOutput::error(e),
        Err(_) => ToolOutput::error(format!(
            "the request timed out after {} ms",
            timeout.as_millis()
        )),
    }
}

async fn send(
    client: &reqwest::Client,
    call: &HttpCall<'_>,
    mut method: Method,
    mut url: Url,
    mut body: Option<Value>,
    cap: usize,
) -> Result<Value, String> {
    let origin = url.origin();
    for hop in 0..=MAX_REDIRECTS {
        vet_url(&url, call.policy).map_err(|e| refused(hop, &e))?;
        let mut req = client
            .request(method.clone(), url.clone())
            .header("accept", "application/json");
        if let Some((name, value)) = &call.auth
            && url.origin() == origin
        {
            req = req.header(name.clone(), value.clone());
        }
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| match find_refusal(&e) {
            Some(why) => refused(hop, &why),
            None => format!("the request failed: {}", chain(&e)),
        })?;
        let status = resp.status();
        if status.is_redirection()
            && let Some(loc) = resp.headers().get("location")
        {
            if hop == MAX_REDIRECTS {
                return Err(format!("more than {MAX_REDIRECTS} redirects"));
            }
            let loc = loc
                .to_str()
                .map_err(|_| "a redirect Location is not text".to_string())?;
            url = url
                .join(loc)
                .map_err(|e| format!("a redirect Location is not a URL: {e}"))?;
            if !matches!(
                status,
                StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
            ) {
                method = Method::GET;
                body = None;
            }
            continue;
        }
        return read_capped(resp, cap).await;
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

fn refused(hop: usize, why: &str) -> String {
    if hop == 0 {
        format!("refused: {why}")
    } else {
        format!("refused a redirect: {why}")
    }
}

fn find_refusal(e: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<Refused>() {
            return Some(r.0.clone());
        }
        source = s.source();
    }
    None
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Reads at most `cap` bytes, chunk by chunk, and never buffers more.
async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<Value, String> {
    let status = resp.status().as_u16();
    let is_json = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    let mut buf: Vec<u8> = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading the response failed: {}", chain(&e)))?
    {
        let room = cap - buf.len();
        if chunk.len() > room {
            buf.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        buf.extend_from_slice(&chunk);
    }
    let body = if is_json && !truncated {
        serde_json::from_slice(&buf)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&buf).into_owned()))
    } else {
        Value::String(String::from_utf8_lossy(&buf).into_owned())
    };
    Ok(json!({"status": status, "body": body, "truncated": truncated}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(url: &str, method: HttpMethod) -> HttpTool {
        serde_json::from_value(json!({
            "url": url,
            "method": method,
        }))
        .unwrap()
    }

    #[test]
    fn placeholders_are_encoded_and_extra_input_becomes_the_query() {
        let t = tool(
            "https://crm.example.com/v2/leads/{lead_id}",
            HttpMethod::Get,
        );
        let (m, url, body) = build_request(
            &t,
            &json!({"lead_id": "a/b?c#d e", "page": 2, "q": "x&y", "none": null}),
        )
        .unwrap();
        assert_eq!(m, Method::GET);
        assert_eq!(
            url.as_str(),
            "https://crm.example.com/v2/leads/a%2Fb%3Fc%23d%20e?page=2&q=x%26y"
        );
        assert!(body.is_none());
    }

    #[test]
    fn post_sends_remaining_input_as_json() {
        let t = tool(
            "https://crm.example.com/v2/leads/{id}/notes",
            HttpMethod::Post,
        );
        let (m, url, body) = build_request(&t, &json!({"id": 7, "text": "hi"})).unwrap();
        assert_eq!(m, Method::POST);
        assert_eq!(url.as_str(), "https://crm.example.com/v2/leads/7/notes");
        assert_eq!(body, Some(json!({"text": "hi"})));
    }

    #[test]
    fn input_cannot_escape_the_template() {
        let t = tool("https://crm.example.com/v2/leads/{id}", HttpMethod::Get);
        for bad in [json!({"id": ".."}), json!({"id": "."}), json!({"id": ""})] {
            assert!(build_request(&t, &bad).is_err(), "{bad}");
        }
        assert!(
            build_request(&t, &json!({}))
                .unwrap_err()
                .contains("missing `id`")
        );
        assert!(build_request(&t, &json!({"id": {"a": 1}})).is_err());
        assert!(build_request(&t, &json!("str")).is_err());
        // Encoded dot-segments stay data.
        let (_, url, _) = build_request(&t, &json!({"id": "%2e%2e"})).unwrap();
        assert_eq!(url.path(), "/v2/leads/%252e%252e");
        let t = tool("https://crm.example.com/{p}", HttpMethod::Get);
        let (_, url, _) = build_request(&t, &json!({"p": "@evil.example"})).unwrap();
        assert_eq!(url.host_str(), Some("crm.example.com"));
    }

    #[test]
    fn ip_literals_are_vetted_before_connecting() {
        let public = AddressPolicy::Public;
        for bad in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f000001/",
            "https://127.1/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://10.0.0.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fd00:ec2::254]/",
        ] {
            let url = Url::parse(bad).unwrap();
            assert!(vet_url(&url, &public).is_err(), "{bad} should be refused");
        }
        assert!(vet_url(&Url::parse("https://93.184.216.34/").unwrap(), &public).is_ok());
        assert!(vet_url(&Url::parse("https://crm.example.com/").unwrap(), &public).is_ok());
        // Plain http only where private hosts are allowed.
        assert!(vet_url(&Url::parse("http://crm.example.com/").unwrap(), &public).is_err());
        assert!(
            vet_url(
                &Url::parse("file:///etc/passwd").unwrap(),
                &AddressPolicy::AllowPrivate
            )
            .is_err()
        );
    }

    #[test]
    fn metadata_is_refused_even_when_private_hosts_are_allowed() {
        let p = AddressPolicy::AllowPrivate;
        assert!(p.refuse("127.0.0.1".parse().unwrap()).is_none());
        assert!(p.refuse("10.1.2.3".parse().unwrap()).is_none());
        for md in [
            "169.254.169.254",
            "::ffff:169.254.169.254",
            "fd00:ec2::254",
            "169.254.170.2",
        ] {
            assert!(p.refuse(md.parse().unwrap()).is_some(), "{md}");
        }
    }
}
