//! The Runtime API server driven over HTTP as a runtime client would.

use super::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

/// A raw HTTP/1.1 exchange: returns (status, headers, body).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    extra: &str,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut body = Vec::new();
    r.read_to_end(&mut body).unwrap();
    (status, headers, body)
}

fn get<'a>(headers: &'a [(String, String)], k: &str) -> &'a str {
    headers
        .iter()
        .find(|(h, _)| h == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no header {k} in {headers:?}"))
}

fn invocation(id: &str) -> Invocation {
    Invocation {
        request_id: id.into(),
        payload: br#"{"hello":"world"}"#.to_vec(),
        timeout: Duration::from_secs(3),
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
        trace_id: "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
    }
}

fn next_event(api: &RuntimeApi) -> ApiEvent {
    api.recv_timeout(Duration::from_secs(5)).unwrap()
}

#[test]
fn next_hands_out_the_event_with_lambda_headers() {
    let api = RuntimeApi::start().unwrap();
    api.queue(invocation("req-1"));
    let before = now_ms();
    let (status, headers, body) = http(
        api.address(),
        "GET",
        "/2018-06-01/runtime/invocation/next",
        b"",
        "",
    );
    assert_eq!(status, 200);
    assert_eq!(body, br#"{"hello":"world"}"#);
    assert_eq!(get(&headers, "lambda-runtime-aws-request-id"), "req-1");
    let deadline: u64 = get(&headers, "lambda-runtime-deadline-ms").parse().unwrap();
    assert!(deadline >= before + 3000 && deadline <= now_ms() + 3000);
    assert_eq!(
        get(&headers, "lambda-runtime-invoked-function-arn"),
        "arn:aws:lambda:us-east-1:123456789012:function:f"
    );
    assert!(get(&headers, "lambda-runtime-trace-id").starts_with("Root=1-"));
    assert!(matches!(next_event(&api), ApiEvent::Next { .. }));
    assert!(
        matches!(next_event(&api), ApiEvent::Delivered { request_id, .. } if request_id == "req-1")
    );

    let (status, _, _) = http(
        api.address(),
        "POST",
        "/2018-06-01/runtime/invocation/req-1/response",
        b"\"done\"",
        "",
    );
    assert_eq!(status, 202);
    match next_event(&api) {
        ApiEvent::Response {
            request_id, body, ..
        } => {
            assert_eq!(request_id, "req-1");
            assert_eq!(body, b"\"done\"");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_are_parsed_and_unknown_ids_refused() {
    let api = RuntimeApi::start().unwrap();
    api.queue(invocation("req-2"));
    let (status, _, _) = http(
        api.address(),
        "GET",
        "/2018-06-01/runtime/invocation/next",
        b"",
        "",
    );
    assert_eq!(status, 200);
    let (status, _, _) = http(
        api.address(),
        "POST",
        "/2018-06-01/runtime/invocation/someone-else/response",
        b"{}",
        "",
    );
    assert_eq!(status, 400);
    let (status, _, _) = http(
        api.address(),
        "POST",
        "/2018-06-01/runtime/invocation/req-2/error",
        br#"{"errorType":"Handler","errorMessage":"boom"}"#,
        "Lambda-Runtime-Function-Error-Type: Unhandled\r\n",
    );
    assert_eq!(status, 202);
    let mut saw_reject = false;
    loop {
        match next_event(&api) {
            ApiEvent::Rejected { reason, .. } => {
                assert!(reason.contains("someone-else"), "{reason}");
                saw_reject = true;
            }
            ApiEvent::Error {
                request_id, error, ..
            } => {
                assert_eq!(request_id, "req-2");
                assert_eq!(error.error_type, "Handler");
                assert_eq!(error.error_message, "boom");
                break;
            }
            _ => {}
        }
    }
    assert!(saw_reject);
    // Answered once; a second answer is refused.
    let (status, _, _) = http(
        api.address(),
        "POST",
        "/2018-06-01/runtime/invocation/req-2/response",
        b"{}",
        "",
    );
    assert_eq!(status, 400);
}

#[test]
fn init_error_and_unknown_paths() {
    let api = RuntimeApi::start().unwrap();
    let (status, _, _) = http(
        api.address(),
        "POST",
        "/2018-06-01/runtime/init/error",
        b"not json",
        "Lambda-Runtime-Function-Error-Type: Runtime.Config\r\n",
    );
    assert_eq!(status, 202);
    match next_event(&api) {
        ApiEvent::InitError { error, .. } => {
            assert_eq!(error.error_type, "Runtime.Config");
            assert_eq!(error.error_message, "not json");
        }
        other => panic!("{other:?}"),
    }
    let (status, _, _) = http(api.address(), "GET", "/2015-03-31/functions", b"", "");
    assert_eq!(status, 404);
}

#[test]
fn oversize_responses_become_function_errors() {
    let api = RuntimeApi::start().unwrap();
    api.queue(invocation("big"));
    http(
        api.address(),
        "GET",
        "/2018-06-01/runtime/invocation/next",
        b"",
        "",
    );
    let body = vec![b'x'; MAX_PAYLOAD_BYTES + 10];
    let (status, _, _) = http(
        api.address(),
        "POST",
        "/2018-06-01/runtime/invocation/big/response",
        &body,
        "",
    );
    assert_eq!(status, 413);
    loop {
        if let ApiEvent::Error { error, .. } = next_event(&api) {
            assert_eq!(error.error_type, "Function.ResponseSizeTooLarge");
            break;
        }
    }
}

#[test]
fn dropping_the_api_releases_a_pending_poll() {
    let api = RuntimeApi::start().unwrap();
    let addr = api.address();
    let poll = std::thread::spawn(move || {
        http(addr, "GET", "/2018-06-01/runtime/invocation/next", b"", "").0
    });
    assert!(matches!(next_event(&api), ApiEvent::Next { .. }));
    drop(api);
    assert_eq!(poll.join().unwrap(), 500);
}

/// Posts a streamed response as a runtime does: chunked, in these pieces,
/// with a pause between them; returns the status.
fn post_stream(addr: SocketAddr, id: &str, content_type: &str, pieces: &[&[u8]]) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: x\r\n\
         Connection: close\r\nTransfer-Encoding: chunked\r\n\
         Lambda-Runtime-Function-Response-Mode: streaming\r\nContent-Type: {content_type}\r\n\
         Trailer: Lambda-Runtime-Function-Error-Type\r\n\r\n"
    )
    .unwrap();
    for p in pieces {
        write!(s, "{:x}\r\n", p.len()).unwrap();
        s.write_all(p).unwrap();
        s.write_all(b"\r\n").unwrap();
        s.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    s.write_all(b"0\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

fn deliver(api: &RuntimeApi, id: &str) {
    api.queue(invocation(id));
    http(
        api.address(),
        "GET",
        "/2018-06-01/runtime/invocation/next",
        b"",
        "",
    );
}

/// The events about `id` after delivery, up to the stream's end.
fn stream_events(api: &RuntimeApi, id: &str) -> Vec<ApiEvent> {
    let mut out = Vec::new();
    loop {
        let e = next_event(api);
        let end = matches!(&e, ApiEvent::StreamEnd { request_id, .. } if request_id == id);
        if matches!(
            &e,
            ApiEvent::StreamStart { .. } | ApiEvent::StreamChunk { .. }
        ) || end
        {
            out.push(e);
        }
        if end {
            return out;
        }
    }
}

#[test]
fn a_streamed_response_is_passed_on_piece_by_piece_after_its_prelude() {
    let api = RuntimeApi::start().unwrap();
    deliver(&api, "req-s");
    // The prelude's end (8 NULs) split across two pieces, text after it.
    let status = post_stream(
        api.address(),
        "req-s",
        HTTP_INTEGRATION,
        &[
            br#"{"statusCode":200,"headers":{"content-type":"text/event-stream"},"cookies":[]}"#,
            b"\0\0\0\0\0",
            b"\0\0\0event: text\n",
            b"data: {\"text\":\"hi\"}\n\n",
        ],
    );
    assert_eq!(status, 202);
    let events = stream_events(&api, "req-s");
    let ApiEvent::StreamStart { prelude, .. } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(prelude.as_ref().unwrap()["statusCode"], 200);
    let body: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            ApiEvent::StreamChunk { bytes, .. } => Some(bytes.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(body, b"event: text\ndata: {\"text\":\"hi\"}\n\n");
    let chunks = events
        .iter()
        .filter(|e| matches!(e, ApiEvent::StreamChunk { .. }))
        .count();
    assert!(chunks >= 2, "passed on as it came: {events:?}");
    let Some(ApiEvent::StreamEnd { bytes, error, .. }) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(*bytes, body.len() as u64);
    assert_eq!(*error, None);
    // The invocation is over: a second answer for it is refused.
    let (status, _, _) = http(
        api.address(),
        "POST",
        "/2018-06-01/runtime/invocation/req-s/response",
        b"{}",
        "",
    );
    assert_eq!(status, 400);
}

#[test]
fn a_stream_without_a_prelude_content_type_is_all_payload() {
    let api = RuntimeApi::start().unwrap();
    deliver(&api, "req-p");
    post_stream(
        api.address(),
        "req-p",
        "application/octet-stream",
        &[b"raw ", b"bytes"],
    );
    let events = stream_events(&api, "req-p");
    assert!(matches!(
        &events[0],
        ApiEvent::StreamStart { prelude: None, .. }
    ));
    let Some(ApiEvent::StreamEnd { bytes, error, .. }) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!((*bytes, error.is_none()), (9, true));
}

#[test]
fn a_prelude_that_never_ends_or_is_not_json_is_the_functions_error() {
    let api = RuntimeApi::start().unwrap();
    for (id, pieces) in [
        ("req-a", vec![&b"{\"statusCode\":200}"[..]]),
        (
            "req-b",
            vec![&b"not json"[..], &b"\0\0\0\0\0\0\0\0text"[..]],
        ),
    ] {
        deliver(&api, id);
        post_stream(api.address(), id, HTTP_INTEGRATION, &pieces);
        let events = stream_events(&api, id);
        let Some(ApiEvent::StreamEnd { error: Some(e), .. }) = events.last() else {
            panic!("{events:?}")
        };
        assert_eq!(e.error_type, "Runtime.InvalidStreamingResponse", "{id}");
    }
}
