//! An embedded Lambda Runtime API (version 2018-06-01) on 127.0.0.1.
//!
//! The function's runtime long-polls `GET /runtime/invocation/next` for an event,
//! then posts `…/{id}/response` or `…/{id}/error`; a failing initialisation posts
//! `/runtime/init/error`. This server hands out the invocations queued with
//! [`RuntimeApi::queue`] one at a time and reports everything the function does as
//! [`ApiEvent`]s, timestamped on arrival, for the caller to measure and enforce
//! deadlines. Paths, headers and status codes follow the AWS documentation of the
//! Runtime API.

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tiny_http::{Header, Method, Request, Response, Server};

/// Largest synchronous request and response payload Lambda allows (6 MB).
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// The content type of a streamed response that starts with an HTTP prelude.
pub const HTTP_INTEGRATION: &str = "application/vnd.awslambda.http-integration-response";

const PREFIX: &str = "/2018-06-01/runtime";

/// One invocation to hand out.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub payload: Vec<u8>,
    /// The deadline is set when the function receives the event: now + timeout.
    pub timeout: Duration,
    pub function_arn: String,
    pub trace_id: String,
}

/// Something the function did.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiEvent {
    /// The function asked for the next event (the first time: init is done).
    Next { at: Instant },
    /// An event was handed to the function.
    Delivered {
        request_id: String,
        at: Instant,
        deadline_ms: u64,
    },
    /// The function returned a result.
    Response {
        request_id: String,
        body: Vec<u8>,
        at: Instant,
    },
    /// The function began a streamed response (`Lambda-Runtime-Function-Response-Mode:
    /// streaming`); `prelude` is its HTTP metadata (`statusCode`, `headers`,
    /// `cookies`) when it sent one (`application/vnd.awslambda.http-integration-response`).
    StreamStart {
        request_id: String,
        prelude: Option<serde_json::Value>,
        at: Instant,
    },
    /// Bytes of a streamed response, as they arrived.
    StreamChunk {
        request_id: String,
        bytes: Vec<u8>,
        at: Instant,
    },
    /// A streamed response ended: `bytes` in all (prelude excluded), or the
    /// error that cut it.
    StreamEnd {
        request_id: String,
        bytes: u64,
        error: Option<FunctionError>,
        at: Instant,
    },
    /// The function reported an error for an invocation.
    Error {
        request_id: String,
        error: FunctionError,
        at: Instant,
    },
    /// The function failed before asking for its first event.
    InitError { error: FunctionError, at: Instant },
    /// A request this API could not accept (unknown id, oversize body, bad path).
    Rejected { reason: String, at: Instant },
}

/// An error the function reported: Lambda's `{"errorType","errorMessage"}` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    pub error_type: String,
    pub error_message: String,
    /// The body as posted, for callers that want the stack trace.
    pub body: Vec<u8>,
}

impl FunctionError {
    fn parse(body: Vec<u8>, header_type: Option<String>) -> FunctionError {
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let field = |k: &str| {
            json.as_ref()
                .and_then(|v| v.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        FunctionError {
            error_type: field("errorType")
                .or(header_type)
                .unwrap_or_else(|| "Unknown".into()),
            error_message: field("errorMessage")
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(1000).collect()),
            body,
        }
    }
}

struct Shared {
    work: Mutex<Receiver<Invocation>>,
    events: Sender<ApiEvent>,
    /// The request id handed out and not yet answered.
    inflight: Mutex<Option<String>>,
}

/// The running server. Dropping it stops the server and releases any `next` poll.
pub struct RuntimeApi {
    server: Arc<Server>,
    addr: SocketAddr,
    work: Option<Sender<Invocation>>,
    events: Receiver<ApiEvent>,
    accept: Option<JoinHandle<()>>,
}

impl RuntimeApi {
    /// Starts the server on 127.0.0.1 with a port the OS picks.
    pub fn start() -> anyhow::Result<RuntimeApi> {
        let server = Server::http("127.0.0.1:0")
            .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1 for the Runtime API: {e}"))?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow::anyhow!("the Runtime API server has no IP address"))?;
        let server = Arc::new(server);
        let (work_tx, work_rx) = channel();
        let (events_tx, events_rx) = channel();
        let shared = Arc::new(Shared {
            work: Mutex::new(work_rx),
            events: events_tx,
            inflight: Mutex::new(None),
        });
        let accept = {
            let server = Arc::clone(&server);
            std::thread::Builder::new()
                .name("runtime-api".into())
                .spawn(move || {
                    // One thread per request: `next` blocks until there is work,
                    // and the function may post an error meanwhile.
                    for request in server.incoming_requests() {
                        let shared = Arc::clone(&shared);
                        let _ = std::thread::Builder::new()
                            .name("runtime-api-request".into())
                            .spawn(move || handle(&shared, request));
                    }
                })?
        };
        Ok(RuntimeApi {
            server,
            addr,
            work: Some(work_tx),
            events: events_rx,
            accept: Some(accept),
        })
    }

    /// `127.0.0.1:PORT`: what Lambda puts in `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// Queues an invocation; the function receives it on its next poll.
    pub fn queue(&self, inv: Invocation) {
        if let Some(work) = &self.work {
            let _ = work.send(inv);
        }
    }

    /// Waits up to `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<ApiEvent, RecvTimeoutError> {
        self.events.recv_timeout(timeout)
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        // Closing the work channel answers a pending `next` poll; unblock ends the
        // accept loop.
        self.work = None;
        self.server.unblock();
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap_or_else(|()| {
        Header::from_bytes(&b"X-Invalid"[..], &b"1"[..]).expect("valid header")
    })
}

fn json_response(status: u16, body: serde_json::Value) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_data(body.to_string().into_bytes())
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"))
}

fn api_error(status: u16, error_type: &str, message: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    json_response(
        status,
        serde_json::json!({"errorType": error_type, "errorMessage": message}),
    )
}

/// Reads at most `MAX_PAYLOAD_BYTES`; None when the body is larger.
fn read_body(request: &mut Request) -> std::io::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_PAYLOAD_BYTES as u64 + 1)
        .read_to_end(&mut body)?;
    if body.len() > MAX_PAYLOAD_BYTES {
        // Drain the rest so the connection stays usable.
        let _ = std::io::copy(request.as_reader(), &mut std::io::sink());
        return Ok(None);
    }
    Ok(Some(body))
}

fn error_type_header(request: &Request) -> Option<String> {
    header_value(request, "Lambda-Runtime-Function-Error-Type")
}

fn header_value(request: &Request, name: &'static str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str().to_string())
}

/// Passes a streamed response on as [`ApiEvent`]s while it arrives.
fn read_stream(shared: &Shared, request: &mut Request, id: &str) {
    let has_prelude = header_value(request, "Content-Type")
        .is_some_and(|c| c.eq_ignore_ascii_case(HTTP_INTEGRATION));
    let request_id = || id.to_string();
    stream::read(request.as_reader(), has_prelude, &mut |piece| {
        let at = Instant::now();
        let event = match piece {
            stream::Piece::Start(prelude) => ApiEvent::StreamStart {
                request_id: request_id(),
                prelude,
                at,
            },
            stream::Piece::Chunk(bytes) => ApiEvent::StreamChunk {
                request_id: request_id(),
                bytes,
                at,
            },
            stream::Piece::End { bytes, error } => ApiEvent::StreamEnd {
                request_id: request_id(),
                bytes,
                error: error.map(|(ty, message)| FunctionError {
                    error_type: ty.into(),
                    body: serde_json::json!({"errorType": ty, "errorMessage": message})
                        .to_string()
                        .into_bytes(),
                    error_message: message,
                }),
                at,
            },
        };
        let _ = shared.events.send(event);
    });
}

fn handle(shared: &Shared, mut request: Request) {
    let url = request.url().to_string();
    let path = url.split('?').next().unwrap_or("").to_string();
    let method = request.method().clone();
    let reject = |reason: String| {
        let _ = shared.events.send(ApiEvent::Rejected {
            reason,
            at: Instant::now(),
        });
    };

    let Some(rest) = path.strip_prefix(PREFIX) else {
        reject(format!("{method} {path}: not a Runtime API path"));
        let _ = request.respond(api_error(404, "NotFound", "unknown path"));
        return;
    };

    match (&method, rest) {
        (Method::Get, "/invocation/next") => {
            let _ = shared.events.send(ApiEvent::Next { at: Instant::now() });
            let next = shared.work.lock().map(|rx| rx.recv());
            let Ok(Ok(inv)) = next else {
                // The server is shutting down.
                let _ = request.respond(api_error(500, "ServiceShuttingDown", "shutting down"));
                return;
            };
            let deadline_ms = now_ms() + inv.timeout.as_millis() as u64;
            if let Ok(mut f) = shared.inflight.lock() {
                *f = Some(inv.request_id.clone());
            }
            let response = Response::from_data(inv.payload)
                .with_status_code(200)
                .with_header(header("Content-Type", "application/json"))
                .with_header(header("Lambda-Runtime-Aws-Request-Id", &inv.request_id))
                .with_header(header(
                    "Lambda-Runtime-Deadline-Ms",
                    &deadline_ms.to_string(),
                ))
                .with_header(header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    &inv.function_arn,
                ))
                .with_header(header("Lambda-Runtime-Trace-Id", &inv.trace_id));
            let _ = shared.events.send(ApiEvent::Delivered {
                request_id: inv.request_id,
                at: Instant::now(),
                deadline_ms,
            });
            let _ = request.respond(response);
        }
        (Method::Post, "/init/error") => {
            let at = Instant::now();
            let ty = error_type_header(&request);
            let body = read_body(&mut request).ok().flatten().unwrap_or_default();
            let _ = shared.events.send(ApiEvent::InitError {
                error: FunctionError::parse(body, ty),
                at,
            });
            let _ = request.respond(json_response(202, serde_json::json!({"status": "OK"})));
        }
        (Method::Post, rest) if rest.starts_with("/invocation/") => {
            let at = Instant::now();
            let tail = &rest["/invocation/".len()..];
            let (id, kind) = match tail.rsplit_once('/') {
                Some((id, kind @ ("response" | "error"))) => (id.to_string(), kind),
                _ => {
                    reject(format!("POST {path}: not a Runtime API path"));
                    let _ = request.respond(api_error(404, "NotFound", "unknown path"));
                    return;
                }
            };
            let matches = shared
                .inflight
                .lock()
                .map(|f| f.as_deref() == Some(id.as_str()))
                .unwrap_or(false);
            if !matches {
                reject(format!("POST {path}: request id {id} is not in flight"));
                let _ = request.respond(api_error(
                    400,
                    "InvalidRequestID",
                    "the request id is not in flight",
                ));
                return;
            }
            let ty = error_type_header(&request);
            if kind == "response"
                && header_value(&request, "Lambda-Runtime-Function-Response-Mode")
                    .is_some_and(|m| m.eq_ignore_ascii_case("streaming"))
            {
                read_stream(shared, &mut request, &id);
                clear_inflight(shared);
                let _ = request.respond(json_response(202, serde_json::json!({"status": "OK"})));
                return;
            }
            let body = match read_body(&mut request) {
                Ok(Some(b)) => b,
                Ok(None) => {
                    clear_inflight(shared);
                    let message = format!(
                        "Response payload size exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."
                    );
                    let _ = shared.events.send(ApiEvent::Error {
                        request_id: id,
                        error: FunctionError {
                            error_type: "Function.ResponseSizeTooLarge".into(),
                            error_message: message.clone(),
                            body: serde_json::json!({
                                "errorType": "Function.ResponseSizeTooLarge",
                                "errorMessage": message,
                            })
                            .to_string()
                            .into_bytes(),
                        },
                        at,
                    });
                    let _ = request.respond(api_error(
                        413,
                        "RequestEntityTooLarge",
                        "payload too large",
                    ));
                    return;
                }
                Err(e) => {
                    reject(format!("POST {path}: cannot read the body: {e}"));
                    let _ = request.respond(api_error(400, "InvalidRequest", "unreadable body"));
                    return;
                }
            };
            clear_inflight(shared);
            let event = if kind == "response" {
                ApiEvent::Response {
                    request_id: id,
                    body,
                    at,
                }
            } else {
                ApiEvent::Error {
                    request_id: id,
                    error: FunctionError::parse(body, ty),
                    at,
                }
            };
            let _ = shared.events.send(event);
            let _ = request.respond(json_response(202, serde_json::json!({"status": "OK"})));
        }
        _ => {
            reject(format!("{method} {path}: not a Runtime API operation"));
            let _ = request.respond(api_error(404, "NotFound", "unknown path"));
        }
    }
}

fn clear_inflight(shared: &Shared) {
    if let Ok(mut f) = shared.inflight.lock() {
        *f = None;
    }
}

mod stream;
#[cfg(test)]
mod tests;
