//! An HTTP request as the API Gateway payload 2.0 event Lambda receives, and the
//! function's answer as the HTTP response API Gateway makes of it.
//!
//! Both follow "Create AWS Lambda proxy integrations for HTTP APIs in API
//! Gateway" (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html):
//! header names lower-cased, repeated headers and query parameters joined with
//! commas (format 2.0 has no multiValue fields), every `Cookie` header in
//! `cookies`, and on the way back each of `cookies` a `set-cookie` header; an
//! answer without `statusCode` that is valid JSON becomes 200 with
//! `content-type: application/json` and the answer as the body. A function URL
//! request has the same format
//! (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::routes::decode;

/// An HTTP request as received.
#[derive(Debug, Clone, Default)]
pub struct HttpIn {
    pub method: String,
    /// The path without the query string, as sent.
    pub path: String,
    /// What followed `?`, as sent.
    pub query: String,
    /// Names as sent, in order; repeated names are kept.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub source_ip: String,
}

impl HttpIn {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What API Gateway (or the function URL) adds to the request.
#[derive(Debug, Clone)]
pub struct Context {
    pub account: String,
    pub api_id: String,
    pub domain_name: String,
    pub route_key: String,
    pub request_id: String,
    pub path_params: Vec<(String, String)>,
    /// `requestContext.authorizer`: `{"jwt": …}` or `{"iam": …}`; none for `auth: none`.
    pub authorizer: Option<Value>,
    pub now: SystemTime,
}

/// The payload 2.0 event for `req`.
pub fn request_event(req: &HttpIn, ctx: &Context) -> Value {
    let mut headers: Map<String, Value> = Map::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in &req.headers {
        let name = name.to_ascii_lowercase();
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(String::from),
            );
            continue;
        }
        match headers.get_mut(&name) {
            Some(Value::String(v)) => {
                v.push(',');
                v.push_str(value);
            }
            _ => {
                headers.insert(name, Value::String(value.clone()));
            }
        }
    }
    let mut query: Map<String, Value> = Map::new();
    for pair in req.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
        match query.get_mut(&k) {
            Some(Value::String(old)) => {
                old.push(',');
                old.push_str(&v);
            }
            _ => {
                query.insert(k, Value::String(v));
            }
        }
    }
    let epoch_ms = ctx
        .now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let http = json!({
        "method": req.method,
        "path": req.path,
        "protocol": "HTTP/1.1",
        "sourceIp": req.source_ip,
        "userAgent": req.header("user-agent").unwrap_or(""),
    });
    let mut request_context = json!({
        "accountId": ctx.account,
        "apiId": ctx.api_id,
        "domainName": ctx.domain_name,
        "domainPrefix": ctx.domain_name.split('.').next().unwrap_or(""),
        "http": http,
        "requestId": ctx.request_id,
        "routeKey": ctx.route_key,
        "stage": "$default",
        "time": clf_time(epoch_ms / 1000),
        "timeEpoch": epoch_ms,
    });
    if let Some(a) = &ctx.authorizer {
        request_context["authorizer"] = a.clone();
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": ctx.route_key,
        "rawPath": req.path,
        "rawQueryString": req.query,
        "headers": headers,
        "requestContext": request_context,
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !ctx.path_params.is_empty() {
        let params: Map<String, Value> = ctx
            .path_params
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        event["pathParameters"] = Value::Object(params);
    }
    if !req.body.is_empty() {
        let text = is_text(req.header("content-type"));
        match std::str::from_utf8(&req.body) {
            Ok(s) if text => event["body"] = Value::String(s.to_string()),
            _ => {
                event["body"] =
                    Value::String(base64::engine::general_purpose::STANDARD.encode(&req.body));
                event["isBase64Encoded"] = Value::Bool(true);
            }
        }
    }
    event
}

/// Whether API Gateway passes a body of this content type as text: `text/*`,
/// JSON, XML and JavaScript; anything else (or none) is base64-encoded.
pub fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime.starts_with("text/")
        || mime == "application/json"
        || mime.ends_with("+json")
        || mime == "application/xml"
        || mime.ends_with("+xml")
        || mime == "application/javascript"
}

/// An HTTP response to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOut {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpOut {
    /// API Gateway's own answer: `{"message": …}` as JSON.
    pub fn gateway(status: u16, message: &str) -> HttpOut {
        HttpOut {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: json!({ "message": message }).to_string().into_bytes(),
        }
    }
}

/// The HTTP response API Gateway makes of a payload 2.0 answer. A malformed
/// shaped answer (a status that is not a number, a bad base64 body) is API
/// Gateway's 500 `{"message":"Internal Server Error"}`.
pub fn response(payload: &[u8]) -> HttpOut {
    let parsed: Option<Value> = serde_json::from_slice(payload).ok();
    let Some(Value::Object(obj)) = parsed.as_ref() else {
        return json_body(payload);
    };
    let Some(status) = obj.get("statusCode") else {
        return json_body(payload);
    };
    let Some(status) = status.as_u64().and_then(|s| u16::try_from(s).ok()) else {
        return HttpOut::gateway(500, "Internal Server Error");
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(Value::Object(h)) = obj.get("headers") {
        for (k, v) in h {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            headers.push((k.to_ascii_lowercase(), v));
        }
    }
    if let Some(Value::Array(cookies)) = obj.get("cookies") {
        for c in cookies.iter().filter_map(Value::as_str) {
            headers.push(("set-cookie".into(), c.to_string()));
        }
    }
    let body = match obj.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => {
            if obj.get("isBase64Encoded") == Some(&Value::Bool(true)) {
                match base64::engine::general_purpose::STANDARD.decode(s.trim()) {
                    Ok(b) => b,
                    Err(_) => return HttpOut::gateway(500, "Internal Server Error"),
                }
            } else {
                s.clone().into_bytes()
            }
        }
        Some(other) => other.to_string().into_bytes(),
    };
    HttpOut {
        status,
        headers,
        body,
    }
}

/// A streamed answer's status and headers.
pub type StreamHead = (u16, Vec<(String, String)>);

/// The status and headers of a streamed answer, from its HTTP prelude as a
/// function URL reads it (`statusCode`, `headers`, `cookies`); without one,
/// 200 and `application/octet-stream`
/// (https://docs.aws.amazon.com/lambda/latest/dg/config-rs-write-functions.html).
pub fn stream_head(prelude: Option<&Value>) -> StreamHead {
    let Some(p) = prelude else {
        return (
            200,
            vec![("content-type".into(), "application/octet-stream".into())],
        );
    };
    let status = p["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(200);
    let mut headers = Vec::new();
    if let Some(h) = p["headers"].as_object() {
        for (k, v) in h {
            let v = v
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string());
            headers.push((k.to_ascii_lowercase(), v));
        }
    }
    for c in p["cookies"].as_array().into_iter().flatten() {
        if let Some(c) = c.as_str() {
            headers.push(("set-cookie".into(), c.to_string()));
        }
    }
    (status, headers)
}

fn json_body(payload: &[u8]) -> HttpOut {
    HttpOut {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: payload.to_vec(),
    }
}

/// `12/Mar/2020:19:03:58 +0000`, the format of `requestContext.time`.
pub fn clf_time(epoch_s: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = (epoch_s / 86_400) as i64;
    let secs = epoch_s % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests;
