//! Every event shape and its malformed variants, as pure functions.

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
            session_id: Some("s-1".into()),
            caller: None,
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
            session_id: None,
            caller: None,
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

#[test]
fn the_caller_is_the_jwt_sub_and_never_the_body() {
    let mut ev = apigw(
        "POST /agents/{agent}",
        json!({"agent": "lead-qualifier"}),
        Some(r#"{"message":"hi","caller":"mallory"}"#),
        false,
    );
    let Event::Http(req) = detect(&ev).unwrap() else {
        panic!("not http")
    };
    assert_eq!(req.caller, None);
    assert_eq!(req.agent_request().unwrap().caller, None);
    ev["requestContext"]["authorizer"] = json!({"jwt": {"claims": {"sub": "user-7", "iss": "https://auth.example.com/"}, "scopes": null}});
    let Event::Http(req) = detect(&ev).unwrap() else {
        panic!("not http")
    };
    assert_eq!(
        req.agent_request().unwrap().caller.as_deref(),
        Some("user-7")
    );
    // Jobs carry the submitter's `sub` through the queue; direct invocations cannot set one.
    let body = r#"{"job_id":"j1","agent":"a","message":"m","caller":"user-7"}"#;
    let Event::Sqs(records) = detect(&json!({"Records": [sqs_record("m1", body)]})).unwrap() else {
        panic!("not sqs")
    };
    let job = records[0].job.as_ref().unwrap();
    assert_eq!(job.request.caller.as_deref(), Some("user-7"));
    let direct = json!({"agent": "a", "message": "m", "caller": "user-7"});
    let Event::Direct(Ok(r)) = detect(&direct).unwrap() else {
        panic!("not direct")
    };
    assert_eq!(r.caller, None);
}
