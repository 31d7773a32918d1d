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
