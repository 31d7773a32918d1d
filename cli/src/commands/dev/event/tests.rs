use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::*;

fn ctx(route: &str, params: &[(&str, &str)]) -> Context {
    Context {
        account: "123456789012".into(),
        api_id: "dev0api0".into(),
        domain_name: "127.0.0.1:8787".into(),
        route_key: route.into(),
        request_id: "req-1".into(),
        path_params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        authorizer: None,
        now: UNIX_EPOCH + Duration::from_millis(1_583_348_638_390),
    }
}

fn req(method: &str, path: &str, query: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpIn {
    HttpIn {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
        source_ip: "127.0.0.1".into(),
    }
}

#[test]
fn the_event_is_payload_2_0() {
    let r = req(
        "POST",
        "/agents/qualifier",
        "a=1&b=x%20y&a=2&flag",
        &[
            ("Content-Type", "application/json"),
            ("X-Tag", "one"),
            ("x-tag", "two"),
            ("User-Agent", "curl/8"),
            ("Cookie", "s=1; theme=dark"),
        ],
        br#"{"message":"hi"}"#,
    );
    let e = request_event(&r, &ctx("POST /agents/{agent}", &[("agent", "qualifier")]));
    assert_eq!(e["version"], "2.0");
    assert_eq!(e["routeKey"], "POST /agents/{agent}");
    assert_eq!(e["rawPath"], "/agents/qualifier");
    assert_eq!(e["rawQueryString"], "a=1&b=x%20y&a=2&flag");
    assert_eq!(
        e["queryStringParameters"],
        json!({"a": "1,2", "b": "x y", "flag": ""})
    );
    assert_eq!(e["headers"]["x-tag"], "one,two");
    assert_eq!(e["headers"]["content-type"], "application/json");
    assert!(e["headers"].get("cookie").is_none());
    assert_eq!(e["cookies"], json!(["s=1", "theme=dark"]));
    assert_eq!(e["pathParameters"], json!({"agent": "qualifier"}));
    assert_eq!(e["body"], r#"{"message":"hi"}"#);
    assert_eq!(e["isBase64Encoded"], false);
    let rc = &e["requestContext"];
    assert_eq!(rc["accountId"], "123456789012");
    assert_eq!(rc["stage"], "$default");
    assert_eq!(rc["routeKey"], "POST /agents/{agent}");
    assert_eq!(rc["requestId"], "req-1");
    assert_eq!(rc["timeEpoch"], 1_583_348_638_390u64);
    assert_eq!(rc["time"], "04/Mar/2020:19:03:58 +0000");
    assert_eq!(
        rc["http"],
        json!({"method": "POST", "path": "/agents/qualifier", "protocol": "HTTP/1.1",
               "sourceIp": "127.0.0.1", "userAgent": "curl/8"})
    );
    assert!(rc.get("authorizer").is_none());
}

#[test]
fn optional_fields_are_absent_when_empty() {
    let e = request_event(&req("GET", "/", "", &[], b""), &ctx("GET /", &[]));
    for k in ["cookies", "queryStringParameters", "pathParameters", "body"] {
        assert!(e.get(k).is_none(), "{k}: {e}");
    }
}

#[test]
fn binary_bodies_are_base64() {
    let bytes = [0u8, 159, 146, 150, b'a'];
    let e = request_event(
        &req(
            "POST",
            "/up",
            "",
            &[("content-type", "application/octet-stream")],
            &bytes,
        ),
        &ctx("POST /up", &[]),
    );
    assert_eq!(e["isBase64Encoded"], true);
    assert_eq!(e["body"], "AJ+SlmE=");
    // A form is not text to API Gateway either, nor a body without a type.
    for ct in [Some("application/x-www-form-urlencoded"), None] {
        let headers: Vec<(&str, &str)> = ct.map(|c| ("content-type", c)).into_iter().collect();
        let e = request_event(
            &req("POST", "/up", "", &headers, b"a=1"),
            &ctx("POST /up", &[]),
        );
        assert_eq!(e["isBase64Encoded"], true, "{ct:?}");
        assert_eq!(e["body"], "YT0x");
    }
    assert!(is_text(Some("text/plain; charset=utf-8")));
    assert!(is_text(Some("application/vnd.api+json")));
    assert!(!is_text(Some("image/png")));
}

#[test]
fn a_shaped_answer_maps_status_headers_cookies_and_base64() {
    let out = response(
        json!({
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain", "x-n": 3},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": "aGVsbG8=",
            "isBase64Encoded": true,
        })
        .to_string()
        .as_bytes(),
    );
    assert_eq!(out.status, 201);
    assert_eq!(out.body, b"hello");
    assert_eq!(
        out.headers,
        vec![
            ("content-type".to_string(), "text/plain".to_string()),
            ("x-n".into(), "3".into()),
            ("set-cookie".into(), "a=1; Path=/".into()),
            ("set-cookie".into(), "b=2".into()),
        ]
    );
}

#[test]
fn an_unshaped_answer_is_200_json() {
    let out = response(br#"{"response":"hi"}"#);
    assert_eq!(out.status, 200);
    assert_eq!(out.body, br#"{"response":"hi"}"#);
    assert_eq!(
        out.headers,
        vec![("content-type".to_string(), "application/json".to_string())]
    );
    assert_eq!(response(b"\"text\"").status, 200);
    let bad = response(br#"{"statusCode":"x"}"#);
    assert_eq!(bad.status, 500);
    assert_eq!(bad.body, br#"{"message":"Internal Server Error"}"#);
}

#[test]
fn clf_time_is_api_gateways() {
    assert_eq!(clf_time(0), "01/Jan/1970:00:00:00 +0000");
    assert_eq!(clf_time(951_782_400), "29/Feb/2000:00:00:00 +0000");
}

#[test]
fn a_stream_prelude_gives_the_status_headers_and_cookies() {
    let p = json!({"statusCode": 201, "headers": {"Content-Type": "text/event-stream"},
                   "cookies": ["s=1"]});
    assert_eq!(
        stream_head(Some(&p)),
        (
            201,
            vec![
                ("content-type".to_string(), "text/event-stream".to_string()),
                ("set-cookie".into(), "s=1".into()),
            ]
        )
    );
    assert_eq!(stream_head(None).0, 200);
}
