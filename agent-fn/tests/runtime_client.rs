//! The Runtime API client against a loopback stand-in: what it reads from
//! `next`, and what it posts for a whole, a streamed and a failed answer.

use std::sync::{Arc, Mutex};

use agent_fn::runtime::{Client, HTTP_INTEGRATION};
use claw_testkit::http::{Reply, Request, Response, Server};
use serde_json::json;

type Seen = Arc<Mutex<Vec<Request>>>;

/// Answers `next` with one event (or without the request id when `broken`),
/// 202 to posts, 413 to a response for `too-big`.
fn runtime_api(broken: bool) -> (Server, Seen) {
    let seen: Seen = Arc::default();
    let s = Arc::clone(&seen);
    let server = Server::start(move |req: Request| -> Reply {
        let line = req.head.lines().next().unwrap_or_default().to_string();
        s.lock().unwrap().push(req);
        let mut headers = vec![
            (
                "Lambda-Runtime-Deadline-Ms".to_string(),
                "1767225600000".to_string(),
            ),
            (
                "Lambda-Runtime-Trace-Id".to_string(),
                "Root=1-abc;Sampled=1".to_string(),
            ),
        ];
        if !broken {
            headers.push(("Lambda-Runtime-Aws-Request-Id".into(), "req-9".into()));
        }
        let (status, headers, body) = if line.starts_with("GET /2018-06-01/runtime/invocation/next")
        {
            (200, headers, br#"{"agent":"a","message":"m"}"#.to_vec())
        } else if line.contains("/too-big/") {
            (
                413,
                vec![],
                br#"{"errorType":"RequestEntityTooLarge","errorMessage":"payload too large"}"#
                    .to_vec(),
            )
        } else {
            (202, vec![], br#"{"status":"OK"}"#.to_vec())
        };
        Response {
            status,
            headers,
            body,
        }
        .into()
    });
    (server, seen)
}

#[tokio::test]
async fn next_reads_the_event_and_lambdas_headers() {
    let (server, _) = runtime_api(false);
    let c = Client::new(&server.addr().to_string()).unwrap();
    let n = c.next().await.unwrap();
    assert_eq!(n.request_id, "req-9");
    assert_eq!(n.deadline_ms, 1_767_225_600_000);
    assert_eq!(n.trace_id.as_deref(), Some("Root=1-abc;Sampled=1"));
    assert_eq!(n.payload, json!({"agent": "a", "message": "m"}));

    let (server, _) = runtime_api(true);
    let c = Client::new(&server.url()).unwrap();
    let e = c.next().await.unwrap_err();
    assert!(e.contains("Lambda-Runtime-Aws-Request-Id"), "{e}");
}

#[tokio::test]
async fn a_streamed_answer_is_the_prelude_eight_nuls_then_the_pieces_in_order() {
    let (server, seen) = runtime_api(false);
    let c = Client::new(&server.addr().to_string()).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let send = async move {
        for piece in [
            "event: text\ndata: {\"text\":\"a\"}\n\n",
            "event: done\ndata: {}\n\n",
        ] {
            tx.send(piece.to_string()).await.unwrap();
        }
    };
    let prelude = json!({"statusCode": 200, "headers": {}, "cookies": []});
    let ((), sent) = tokio::join!(send, c.respond_stream("req-9", &prelude, rx));
    sent.unwrap();
    let seen = seen.lock().unwrap();
    let req = seen.last().unwrap();
    assert!(
        req.head
            .starts_with("POST /2018-06-01/runtime/invocation/req-9/response ")
    );
    assert_eq!(
        req.header("lambda-runtime-function-response-mode"),
        Some("streaming")
    );
    assert_eq!(req.header("content-type"), Some(HTTP_INTEGRATION));
    assert_eq!(req.header("transfer-encoding"), Some("chunked"));
    let mut want = prelude.to_string().into_bytes();
    want.extend_from_slice(&[0; 8]);
    want.extend_from_slice(b"event: text\ndata: {\"text\":\"a\"}\n\nevent: done\ndata: {}\n\n");
    assert_eq!(req.body, want);
}

#[tokio::test]
async fn errors_and_refusals() {
    let (server, seen) = runtime_api(false);
    let c = Client::new(&server.addr().to_string()).unwrap();
    c.error("req-9", "AgentError", "agent error (request req-9)")
        .await
        .unwrap();
    {
        let seen = seen.lock().unwrap();
        let req = seen.last().unwrap();
        assert!(
            req.head
                .starts_with("POST /2018-06-01/runtime/invocation/req-9/error ")
        );
        assert_eq!(
            req.header("lambda-runtime-function-error-type"),
            Some("AgentError")
        );
        assert_eq!(
            req.json(),
            json!({"errorType": "AgentError", "errorMessage": "agent error (request req-9)"})
        );
    }
    c.init_error("no agent.json").await.unwrap();
    assert!(
        seen.lock()
            .unwrap()
            .last()
            .unwrap()
            .head
            .starts_with("POST /2018-06-01/runtime/init/error ")
    );
    // The Runtime API refusing an answer (over 6 MB) is reported with its reason.
    let e = c.respond("too-big", &json!({"x": 1})).await.unwrap_err();
    assert!(e.contains("413") && e.contains("payload too large"), "{e}");
}
