//! Which event this is, told apart by shape (Lambda does not say), and the request
//! it carries. Everything here is pure so each shape and each malformed variant is
//! tested without a runtime.
//!
//! Shapes, checked in this order:
//! - SQS batch: `Records`, each with `eventSource: "aws:sqs"`;
//! - API Gateway HTTP API (payload 2.0): `requestContext.http` and `routeKey`;
//! - EventBridge: `detail-type` and `detail`;
//! - direct invoke: `{"agent","message","session_id"?}`.

use aws_lambda_events::event::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

/// Longest user message accepted, in bytes. API Gateway allows 10 MB bodies; a
/// message this long is a mistake or an attack on the token bill.
pub const MAX_MESSAGE_BYTES: usize = 100_000;

/// A request the caller got wrong. The message names the problem; it is returned
/// to the caller, so it never carries anything but what the caller sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

/// What the caller asks an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRequest {
    /// `None` when the shape leaves it to the route (API Gateway).
    pub agent: Option<String>,
    pub message: String,
    pub session_id: Option<String>,
    /// The JWT's `sub` claim (`auth: jwt` routes, and the jobs they queue): whose
    /// budget the request is charged to. Never read from a request body.
    pub caller: Option<String>,
}

/// An API Gateway HTTP API request, reduced to what routing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// Such as `POST /agents/{agent}`.
    pub route_key: String,
    pub path: String,
    pub path_params: Vec<(String, String)>,
    /// The body, base64-decoded when API Gateway encoded it.
    pub body: Result<Option<String>, BadRequest>,
    /// When API Gateway received the request (`requestContext.timeEpoch`, ms).
    pub time_epoch_ms: Option<u64>,
    /// `requestContext.authorizer.jwt.claims.sub`, set by a JWT authorizer.
    pub caller: Option<String>,
}

impl HttpRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as an agent request: `{"message","session_id"?}` (an `agent` field
    /// is read too, for routes without `{agent}`).
    pub fn agent_request(&self) -> Result<AgentRequest, BadRequest> {
        let body = self.body.clone()?;
        let body = body.ok_or_else(|| {
            BadRequest("the request has no body; send {\"message\": \"...\"}".into())
        })?;
        let v: Value = serde_json::from_str(&body)
            .map_err(|e| BadRequest(format!("the body is not valid JSON: {e}")))?;
        let mut r = agent_request(&v, "the body")?;
        r.caller = self.caller.clone();
        Ok(r)
    }
}

/// One SQS record: an async job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsRecord {
    /// The id SQS wants back in `batchItemFailures`.
    pub message_id: String,
    pub job: Result<Job, BadRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub job_id: String,
    pub request: AgentRequest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Http(HttpRequest),
    Sqs(Vec<SqsRecord>),
    EventBridge(Result<AgentRequest, BadRequest>),
    Direct(Result<AgentRequest, BadRequest>),
}

impl Event {
    /// The audit `source`.
    pub fn source(&self) -> &'static str {
        match self {
            Event::Http(_) => "apigw",
            Event::Sqs(_) => "sqs",
            Event::EventBridge(_) => "eventbridge",
            Event::Direct(_) => "direct",
        }
    }
}

const EXPECTED: &str = "expected an API Gateway HTTP API (payload 2.0) request, an SQS batch, \
an EventBridge event, or {\"agent\": \"...\", \"message\": \"...\"}";

/// Tells the event's shape. `Err` when it is none of the four.
pub fn detect(payload: &Value) -> Result<Event, BadRequest> {
    let Some(obj) = payload.as_object() else {
        return Err(BadRequest(format!(
            "the event is {}, not a JSON object; {EXPECTED}",
            type_name(payload)
        )));
    };
    if let Some(records) = obj.get("Records") {
        let list = records
            .as_array()
            .ok_or_else(|| BadRequest("`Records` is not an array".into()))?;
        if list.is_empty() {
            return Err(BadRequest("`Records` is empty".into()));
        }
        let sources: Vec<&str> = list
            .iter()
            .map(|r| r.get("eventSource").and_then(Value::as_str).unwrap_or("?"))
            .collect();
        if let Some(other) = sources.iter().find(|s| **s != "aws:sqs") {
            return Err(BadRequest(format!(
                "records from `{}` are not supported; only SQS (`aws:sqs`) batches are",
                truncate(other, 64)
            )));
        }
        let event: SqsEvent = serde_json::from_value(payload.clone())
            .map_err(|e| BadRequest(format!("the SQS batch is malformed: {e}")))?;
        return Ok(Event::Sqs(
            event
                .records
                .into_iter()
                .map(|r| SqsRecord {
                    message_id: r.message_id.unwrap_or_default(),
                    job: parse_job(r.body.as_deref()),
                })
                .collect(),
        ));
    }
    if let Some(ctx) = obj.get("requestContext") {
        if ctx.get("http").is_some_and(Value::is_object) && obj.contains_key("routeKey") {
            let req: ApiGatewayV2httpRequest = serde_json::from_value(payload.clone())
                .map_err(|e| BadRequest(format!("the API Gateway request is malformed: {e}")))?;
            let body = decode_body(req.body, req.is_base64_encoded);
            let caller = req
                .request_context
                .authorizer
                .and_then(|a| a.jwt)
                .and_then(|mut j| j.claims.remove("sub"));
            let mut path_params: Vec<(String, String)> = req.path_parameters.into_iter().collect();
            path_params.sort();
            return Ok(Event::Http(HttpRequest {
                method: req.request_context.http.method.as_str().to_string(),
                route_key: req.route_key.unwrap_or_default(),
                path: req.raw_path.unwrap_or_default(),
                path_params,
                body,
                time_epoch_ms: u64::try_from(req.request_context.time_epoch)
                    .ok()
                    .filter(|t| *t > 0),
                caller,
            }));
        }
        if obj.contains_key("httpMethod") {
            return Err(BadRequest(
                "API Gateway REST (payload 1.0) events are not supported; use an HTTP API with payload format 2.0".into(),
            ));
        }
    }
    if obj.contains_key("detail-type") && obj.contains_key("detail") {
        let event: EventBridgeEvent<Value> = serde_json::from_value(payload.clone())
            .map_err(|e| BadRequest(format!("the EventBridge event is malformed: {e}")))?;
        return Ok(Event::EventBridge(
            agent_request(&event.detail, "`detail`").and_then(|r| {
                if r.agent.is_none() {
                    Err(BadRequest("`detail` is missing `agent`".into()))
                } else {
                    Ok(r)
                }
            }),
        ));
    }
    if obj.contains_key("agent") || obj.contains_key("message") {
        return Ok(Event::Direct(agent_request(payload, "the event").and_then(
            |r| {
                if r.agent.is_none() {
                    Err(BadRequest("the event is missing `agent`".into()))
                } else {
                    Ok(r)
                }
            },
        )));
    }
    Err(BadRequest(format!("unrecognised event; {EXPECTED}")))
}

fn decode_body(body: Option<String>, base64: bool) -> Result<Option<String>, BadRequest> {
    let Some(body) = body else { return Ok(None) };
    if !base64 {
        return Ok(Some(body));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| BadRequest(format!("the body is marked base64 but is not: {e}")))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| BadRequest("the body is not UTF-8 text".into()))
}

#[derive(Deserialize)]
struct RawRequest {
    #[serde(default)]
    agent: Option<String>,
    message: String,
    #[serde(default)]
    session_id: Option<String>,
}

#[derive(Deserialize)]
struct RawJob {
    job_id: String,
    #[serde(default)]
    caller: Option<String>,
    #[serde(flatten)]
    request: RawRequest,
}

/// `{"agent"?,"message","session_id"?}` from `v`; `what` names it in errors.
pub fn agent_request(v: &Value, what: &str) -> Result<AgentRequest, BadRequest> {
    if !v.is_object() {
        return Err(BadRequest(format!(
            "{what} must be a JSON object, not {}",
            type_name(v)
        )));
    }
    let raw: RawRequest = serde_json::from_value(v.clone())
        .map_err(|e| BadRequest(format!("{what} is malformed: {e}")))?;
    checked(raw, what)
}

fn checked(raw: RawRequest, what: &str) -> Result<AgentRequest, BadRequest> {
    if raw.message.trim().is_empty() {
        return Err(BadRequest(format!("{what}: `message` is empty")));
    }
    if raw.message.len() > MAX_MESSAGE_BYTES {
        return Err(BadRequest(format!(
            "{what}: `message` is longer than {MAX_MESSAGE_BYTES} bytes"
        )));
    }
    if let Some(s) = &raw.session_id {
        check_id(s, "session_id")?;
    }
    if let Some(a) = &raw.agent
        && a.is_empty()
    {
        return Err(BadRequest(format!("{what}: `agent` is empty")));
    }
    Ok(AgentRequest {
        agent: raw.agent,
        message: raw.message,
        session_id: raw.session_id,
        caller: None,
    })
}

fn parse_job(body: Option<&str>) -> Result<Job, BadRequest> {
    let body = body.ok_or_else(|| BadRequest("the SQS message has no body".into()))?;
    let raw: RawJob = serde_json::from_str(body)
        .map_err(|e| BadRequest(format!("the SQS message body is malformed: {e}")))?;
    check_id(&raw.job_id, "job_id")?;
    let mut request = checked(raw.request, "the SQS message body")?;
    request.caller = raw.caller;
    if request.agent.is_none() {
        return Err(BadRequest("the SQS message body is missing `agent`".into()));
    }
    Ok(Job {
        job_id: raw.job_id,
        request,
    })
}

/// Session and job ids become DynamoDB keys and log fields: 1 to 128 characters
/// of `A-Z a-z 0-9 - _ . :`.
pub fn check_id(id: &str, what: &str) -> Result<(), BadRequest> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(BadRequest(format!(
            "`{what}` must be 1 to 128 characters of letters, digits, `-`, `_`, `.` and `:`"
        )))
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// At most `n` characters, for echoing caller input in messages.
pub fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests;
