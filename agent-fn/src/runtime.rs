//! The Lambda Runtime API client (version 2018-06-01,
//! https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html): poll
//! `GET /runtime/invocation/next`, answer `…/{id}/response` (whole, or streamed
//! in Lambda's streaming response mode) or `…/{id}/error`.
//!
//! Its own rather than `lambda_runtime`'s because a streamed answer is many
//! small writes on a connection that just carried the event: without
//! `TCP_NODELAY` (which `lambda_runtime` 1.5 leaves off and offers no way to
//! set), each small write after the first waits for the Runtime API's delayed
//! ACK, about 40 ms on Linux, before it leaves. Measured under claw's Runtime
//! API: 40 ms added to the first byte of every streamed answer. reqwest sets
//! `TCP_NODELAY`.
//!
//! Streaming response mode
//! (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming):
//! `Lambda-Runtime-Function-Response-Mode: streaming`, a chunked body, and,
//! with the content type `application/vnd.awslambda.http-integration-response`,
//! a JSON prelude (`statusCode`, `headers`, `cookies`) ended by 8 NUL bytes
//! before the payload: what a function URL turns into its HTTP response.

use std::time::Duration;

use futures::StreamExt as _;
use serde_json::{Value, json};
use tokio::sync::mpsc;

const PREFIX: &str = "2018-06-01/runtime";

/// The content type of a streamed answer with an HTTP prelude.
pub const HTTP_INTEGRATION: &str = "application/vnd.awslambda.http-integration-response";

/// One event from `next`.
#[derive(Debug)]
pub struct Next {
    pub request_id: String,
    /// `Lambda-Runtime-Deadline-Ms`: epoch milliseconds.
    pub deadline_ms: u64,
    /// `Lambda-Runtime-Trace-Id`, when Lambda sent one.
    pub trace_id: Option<String>,
    pub payload: Value,
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// `api` is `AWS_LAMBDA_RUNTIME_API` (`host:port`, or a URL).
    pub fn new(api: &str) -> Result<Client, String> {
        let base = if api.starts_with("http://") || api.starts_with("https://") {
            api.trim_end_matches('/').to_string()
        } else {
            format!("http://{api}")
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            // `next` is a long poll: no overall timeout; connecting is local.
            .connect_timeout(Duration::from_secs(5))
            // Plain HTTP on the sandbox's loopback: no trust store to load
            // (the platform verifier reads the system's certificates), which
            // keeps it off the cold-start path.
            .tls_certs_only(std::iter::empty())
            .build()
            .map_err(|e| format!("building the Runtime API client: {e}"))?;
        Ok(Client { http, base })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{PREFIX}/{path}", self.base)
    }

    /// Waits for the next event.
    pub async fn next(&self) -> Result<Next, String> {
        let resp = self
            .http
            .get(self.url("invocation/next"))
            .send()
            .await
            .map_err(|e| format!("GET next: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("GET next answered {status}"));
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let request_id = header("lambda-runtime-aws-request-id")
            .filter(|id| !id.is_empty())
            .ok_or("GET next: no Lambda-Runtime-Aws-Request-Id")?;
        let deadline_ms = header("lambda-runtime-deadline-ms")
            .and_then(|d| d.parse().ok())
            .ok_or("GET next: no valid Lambda-Runtime-Deadline-Ms")?;
        let trace_id = header("lambda-runtime-trace-id");
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("GET next: reading the event: {e}"))?;
        // An event that is not JSON is the handler's to refuse, as any other
        // bad event: it becomes a string it will not recognise.
        let payload = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok(Next {
            request_id,
            deadline_ms,
            trace_id,
            payload,
        })
    }

    /// Answers `id` with `body`.
    pub async fn respond(&self, id: &str, body: &Value) -> Result<(), String> {
        let resp = self
            .http
            .post(self.url(&format!("invocation/{id}/response")))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| format!("POST response: {e}"))?;
        accepted(resp, "response").await
    }

    /// Fails `id` (`errorType` in the header and the body).
    pub async fn error(&self, id: &str, error_type: &str, message: &str) -> Result<(), String> {
        let resp = self
            .http
            .post(self.url(&format!("invocation/{id}/error")))
            .header("content-type", "application/json")
            .header("lambda-runtime-function-error-type", error_type)
            .body(json!({"errorType": error_type, "errorMessage": message}).to_string())
            .send()
            .await
            .map_err(|e| format!("POST error: {e}"))?;
        accepted(resp, "error").await
    }

    /// Reports a failed initialisation (`POST /runtime/init/error`).
    pub async fn init_error(&self, message: &str) -> Result<(), String> {
        let resp = self
            .http
            .post(self.url("init/error"))
            .header("content-type", "application/json")
            .header("lambda-runtime-function-error-type", "Runtime.InitError")
            .body(json!({"errorType": "Runtime.InitError", "errorMessage": message}).to_string())
            .send()
            .await
            .map_err(|e| format!("POST init/error: {e}"))?;
        accepted(resp, "init error").await
    }

    /// Answers `id` in streaming response mode: `prelude`, 8 NUL bytes, then
    /// each piece from `pieces` as it comes, until the channel closes.
    pub async fn respond_stream(
        &self,
        id: &str,
        prelude: &Value,
        pieces: mpsc::Receiver<String>,
    ) -> Result<(), String> {
        let mut head = prelude.to_string().into_bytes();
        head.extend_from_slice(&[0u8; 8]);
        let body = futures::stream::once(async move { head })
            .chain(tokio_stream(pieces).map(String::into_bytes))
            .map(Ok::<_, std::io::Error>);
        let resp = self
            .http
            .post(self.url(&format!("invocation/{id}/response")))
            .header("content-type", HTTP_INTEGRATION)
            .header("lambda-runtime-function-response-mode", "streaming")
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .map_err(|e| format!("POST streamed response: {e}"))?;
        accepted(resp, "streamed response").await
    }
}

/// The receiver as a stream, ending when every sender is gone.
fn tokio_stream(mut rx: mpsc::Receiver<String>) -> impl futures::Stream<Item = String> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn accepted(resp: reqwest::Response, what: &str) -> Result<(), String> {
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    // The Runtime API says why (413 for an answer over 6 MB, 400 for an id not
    // in flight) in `{"errorType","errorMessage"}`.
    let body = resp.text().await.unwrap_or_default();
    Err(format!(
        "POST {what} answered {status}: {}",
        body.chars().take(300).collect::<String>()
    ))
}
