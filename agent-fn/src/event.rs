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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub String);

impl std::fmt::Display for BadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the caller asks an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRequest {
    /// `None` when the shape leaves it to the route (API Gateway).
    pub agent: Option<String>,
    pub message: String,
    pub session_id: Option<String>,
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
        agent_request(&v, "the body")
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
            let mut path_params: Vec<(String, String)> = req.path_parameters.into_iter().collect();
            path_params.sort();
            return Ok(Event::Http(HttpRequest {
                method: req.request_context.http.method.as_str().to_string(),
                route_key: req.route_key.unwrap_or_default(),
                path: req.raw_path.unwrap_or_default(),
                path_params,
                body,
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
    })
}

fn parse_job(body: Option<&str>) -> Result<Job, BadRequest> {
    let body = body.ok_or_else(|| BadRequest("the SQS message has no body".into()))?;
    let raw: RawJob = serde_json::from_str(body)
        .map_err(|e| BadRequest(format!("the SQS message body is malformed: {e}")))?;
    check_id(&raw.job_id, "job_id")?;
    let request = checked(raw.request, "the SQS message body")?;
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
mod tests {
    use super::*;
    use serde_json::json;

    fn apigw(route: &str, params: Value, body: Option<&str>, b64: bool) -> Value {
        let (method, path) = route.split_once(' ').unwrap();
        json!({
            "version": "2.0",
            "routeKey": route,
            "rawPath": path.replace("{agent}", "lead-qualifier"),
            "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "pathParameters": params,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "curl"},
                "requestId": "r1",
                "routeKey": route,
                "stage": "$default",
                "time": "12/Mar/2024:19:03:58 +0000",
                "timeEpoch": 1710270238000u64
            },
            "body": body,
            "isBase64Encoded": b64
        })
    }

    #[test]
    fn detects_api_gateway_http_requests() {
        let ev = apigw(
            "POST /agents/{agent}",
            json!({"agent": "lead-qualifier"}),
            Some(r#"{"message":"score lead 42","session_id":"s-1"}"#),
            false,
        );
        let Event::Http(req) = detect(&ev).unwrap() else {
            panic!("not http")
        };
        assert_eq!(req.method, "POST");
        assert_eq!(req.route_key, "POST /agents/{agent}");
        assert_eq!(req.param("agent"), Some("lead-qualifier"));
        assert_eq!(
            req.agent_request().unwrap(),
            AgentRequest {
                agent: None,
                message: "score lead 42".into(),
                session_id: Some("s-1".into())
            }
        );
    }

    #[test]
    fn decodes_base64_bodies() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(r#"{"message":"hi"}"#);
        let ev = apigw(
            "POST /agents/{agent}",
            json!({"agent": "a"}),
            Some(&b64),
            true,
        );
        let Event::Http(req) = detect(&ev).unwrap() else {
            panic!()
        };
        assert_eq!(req.agent_request().unwrap().message, "hi");
        let ev = apigw(
            "POST /agents/{agent}",
            json!({"agent": "a"}),
            Some("%%%"),
            true,
        );
        let Event::Http(req) = detect(&ev).unwrap() else {
            panic!()
        };
        assert!(req.agent_request().unwrap_err().0.contains("base64"));
    }

    #[test]
    fn malformed_http_bodies_name_the_problem() {
        let cases = [
            (None, "no body"),
            (Some("not json"), "not valid JSON"),
            (Some("[1]"), "must be a JSON object"),
            (Some(r#"{"session_id":"x"}"#), "missing field `message`"),
            (Some(r#"{"message":5}"#), "invalid type"),
            (Some(r#"{"message":"  "}"#), "`message` is empty"),
            (Some(r#"{"message":"hi","session_id":"a b"}"#), "session_id"),
        ];
        for (body, want) in cases {
            let ev = apigw("POST /agents/{agent}", json!({"agent": "a"}), body, false);
            let Event::Http(req) = detect(&ev).unwrap() else {
                panic!()
            };
            let err = req.agent_request().unwrap_err();
            assert!(err.0.contains(want), "{body:?}: {err}");
        }
        let long = json!({"message": "x".repeat(MAX_MESSAGE_BYTES + 1)}).to_string();
        let ev = apigw(
            "POST /agents/{agent}",
            json!({"agent": "a"}),
            Some(&long),
            false,
        );
        let Event::Http(req) = detect(&ev).unwrap() else {
            panic!()
        };
        assert!(req.agent_request().unwrap_err().0.contains("longer than"));
    }

    #[test]
    fn detects_direct_invocations() {
        let ev = json!({"agent": "lead-qualifier", "message": "hi"});
        assert_eq!(
            detect(&ev).unwrap(),
            Event::Direct(Ok(AgentRequest {
                agent: Some("lead-qualifier".into()),
                message: "hi".into(),
                session_id: None
            }))
        );
        let Event::Direct(Err(e)) = detect(&json!({"message": "hi"})).unwrap() else {
            panic!()
        };
        assert!(e.0.contains("missing `agent`"));
        let Event::Direct(Err(e)) = detect(&json!({"agent": "a"})).unwrap() else {
            panic!()
        };
        assert!(e.0.contains("missing field `message`"));
        let Event::Direct(Err(e)) = detect(&json!({"agent": 1, "message": "m"})).unwrap() else {
            panic!()
        };
        assert!(e.0.contains("invalid type"));
    }

    fn sqs_record(id: &str, body: &str) -> Value {
        json!({
            "messageId": id,
            "receiptHandle": "rh",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "x",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:ap-southeast-2:123456789012:crm-leads-dev-jobs",
            "awsRegion": "ap-southeast-2"
        })
    }

    #[test]
    fn detects_sqs_batches_record_by_record() {
        let ev = json!({"Records": [
            sqs_record("m1", r#"{"job_id":"j1","agent":"a","message":"hi","session_id":"s"}"#),
            sqs_record("m2", "garbage"),
            sqs_record("m3", r#"{"job_id":"j3","message":"hi"}"#),
        ]});
        let Event::Sqs(records) = detect(&ev).unwrap() else {
            panic!()
        };
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].message_id, "m1");
        let job = records[0].job.as_ref().unwrap();
        assert_eq!(job.job_id, "j1");
        assert_eq!(job.request.session_id.as_deref(), Some("s"));
        assert!(records[1].job.as_ref().unwrap_err().0.contains("malformed"));
        assert!(
            records[2]
                .job
                .as_ref()
                .unwrap_err()
                .0
                .contains("missing `agent`")
        );
    }

    #[test]
    fn refuses_other_record_sources() {
        let mut r = sqs_record("m1", "{}");
        r["eventSource"] = json!("aws:s3");
        let e = detect(&json!({"Records": [r]})).unwrap_err();
        assert!(e.0.contains("aws:s3"), "{e}");
        assert!(
            detect(&json!({"Records": []}))
                .unwrap_err()
                .0
                .contains("empty")
        );
        assert!(
            detect(&json!({"Records": 5}))
                .unwrap_err()
                .0
                .contains("not an array")
        );
    }

    #[test]
    fn detects_eventbridge_events() {
        let ev = json!({
            "version": "0", "id": "e1", "detail-type": "LeadCreated", "source": "crm",
            "account": "123456789012", "time": "2024-03-12T19:03:58Z", "region": "ap-southeast-2",
            "resources": [], "detail": {"agent": "a", "message": "new lead 42"}
        });
        let Event::EventBridge(Ok(req)) = detect(&ev).unwrap() else {
            panic!()
        };
        assert_eq!(req.agent.as_deref(), Some("a"));
        let mut bad = ev.clone();
        bad["detail"] = json!({"message": "x"});
        let Event::EventBridge(Err(e)) = detect(&bad).unwrap() else {
            panic!()
        };
        assert!(e.0.contains("missing `agent`"));
        bad["detail"] = json!("text");
        let Event::EventBridge(Err(e)) = detect(&bad).unwrap() else {
            panic!()
        };
        assert!(e.0.contains("must be a JSON object"));
        let mut no_source = ev.clone();
        no_source.as_object_mut().unwrap().remove("source");
        assert!(
            detect(&no_source)
                .unwrap_err()
                .0
                .contains("EventBridge event is malformed")
        );
    }

    #[test]
    fn unknown_shapes_are_bad_requests() {
        for ev in [
            json!("hello"),
            json!([1, 2]),
            json!(null),
            json!({}),
            json!({"foo": "bar"}),
            json!({"httpMethod": "POST", "requestContext": {"stage": "prod"}, "resource": "/x"}),
        ] {
            let e = detect(&ev).unwrap_err();
            assert!(!e.0.is_empty(), "{ev}");
        }
        assert!(
            detect(&json!({"httpMethod": "POST", "requestContext": {}}))
                .unwrap_err()
                .0
                .contains("payload 1.0")
        );
        // An HTTP API request whose method is not a method.
        let mut ev = apigw("POST /agents/{agent}", json!({}), None, false);
        ev["requestContext"]["http"]["method"] = json!(42);
        assert!(
            detect(&ev)
                .unwrap_err()
                .0
                .contains("API Gateway request is malformed")
        );
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id("abc-123_x.y:z", "id").is_ok());
        for bad in ["", "a b", "a/b", &"x".repeat(129), "é"] {
            assert!(check_id(bad, "id").is_err(), "{bad}");
        }
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("ab", 3), "ab");
    }
}
