//! The loopback server a recorded or replayed function talks to instead of the
//! Messages API (`ANTHROPIC_BASE_URL`, or `CLAW_REPLAY_URL` under replay).
//!
//! Recording, it passes each request on to the real API (the caller's
//! `ANTHROPIC_BASE_URL`, else the public one) with the function's headers, answers
//! with what came back, and keeps every successful exchange (headers dropped,
//! secrets redacted). Replaying, it answers the n-th request with the recording's
//! n-th response when the request is the recorded one (after [`super::redact`]),
//! and a tool call with its recorded result; the first request that is not the
//! recorded one gets a 400 (not retried, so the run ends at once) and is kept,
//! with the difference, as the [`Divergence`].

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Context as _;
use serde_json::{Value, json};
use tiny_http::{Header, Request, Response, Server as Http};

use super::{Exchange, Recording, Reply, redact};

/// Where model requests go when recorded: `ANTHROPIC_BASE_URL` as claw has it,
/// else the public API.
pub fn upstream() -> String {
    std::env::var("ANTHROPIC_BASE_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "https://api.anthropic.com".into())
}

/// Where a replayed run stopped following its recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    /// The model request (1-based) that differed, or that the recording lacks.
    pub request: usize,
    /// What differed, readable.
    pub detail: String,
}

/// How a replay went.
#[derive(Debug, Clone, Default)]
pub struct Replayed {
    /// Model requests answered from the recording.
    pub served: usize,
    /// Tool calls answered from the recording.
    pub tools: usize,
    pub divergence: Option<Divergence>,
}

enum Mode {
    Idle,
    Record {
        upstream: String,
        kept: Vec<Exchange>,
    },
    Replay {
        recording: Box<Recording>,
        used: Vec<bool>,
        done: Replayed,
    },
}

pub struct Server {
    http: Arc<Http>,
    mode: Arc<Mutex<Mode>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start() -> anyhow::Result<Server> {
        let http = Arc::new(
            Http::http("127.0.0.1:0")
                .map_err(|e| anyhow::anyhow!("starting the replay server: {e}"))?,
        );
        let mode = Arc::new(Mutex::new(Mode::Idle));
        let (h, m) = (Arc::clone(&http), Arc::clone(&mode));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the replay server's runtime")?;
        let thread = std::thread::spawn(move || {
            let client = reqwest::Client::new();
            for req in h.incoming_requests() {
                serve(req, &m, &runtime, &client);
            }
        });
        Ok(Server {
            http,
            mode,
            thread: Some(thread),
        })
    }

    /// The address the function is given.
    pub fn url(&self) -> String {
        let port = self.http.server_addr().to_ip().map_or(0, |a| a.port());
        format!("http://127.0.0.1:{port}")
    }

    /// From now on, passes requests on to `upstream` and keeps the exchanges.
    pub fn record(&self, upstream: &str) {
        *self.lock() = Mode::Record {
            upstream: upstream.trim_end_matches('/').to_string(),
            kept: Vec::new(),
        };
    }

    /// The exchanges kept since [`Server::record`].
    pub fn recorded(&self) -> Vec<Exchange> {
        match std::mem::replace(&mut *self.lock(), Mode::Idle) {
            Mode::Record { kept, .. } => kept,
            _ => Vec::new(),
        }
    }

    /// From now on, answers from `recording`.
    pub fn replay(&self, recording: &Recording) {
        *self.lock() = Mode::Replay {
            used: vec![false; recording.tools.len()],
            recording: Box::new(recording.clone()),
            done: Replayed::default(),
        };
    }

    /// How the replay since [`Server::replay`] went; a recording with requests the
    /// function never made diverged at the first of them.
    pub fn replayed(&self) -> Replayed {
        match std::mem::replace(&mut *self.lock(), Mode::Idle) {
            Mode::Replay {
                recording,
                mut done,
                ..
            } => {
                let total = recording.exchanges.len();
                if done.divergence.is_none() && done.served < total {
                    done.divergence = Some(Divergence {
                        request: done.served + 1,
                        detail: format!(
                            "the function stopped after {} model request(s); the recording has {total}",
                            done.served
                        ),
                    });
                }
                done
            }
            _ => Replayed::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mode> {
        self.mode.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.http.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    mut req: Request,
    mode: &Mutex<Mode>,
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
) {
    let mut body = Vec::new();
    if req.as_reader().read_to_end(&mut body).is_err() {
        let _ = req.respond(Response::empty(400));
        return;
    }
    let mut guard = mode.lock().unwrap_or_else(|p| p.into_inner());
    let reply = match &mut *guard {
        Mode::Idle => error_reply(503, "api_error", "claw's replay server is not in use"),
        Mode::Replay {
            recording,
            used,
            done,
        } => {
            if req.url() == "/claw/tool" {
                tool(recording, used, done, &body)
            } else {
                model(recording, done, &body)
            }
        }
        Mode::Record { upstream, .. } => {
            let upstream = upstream.clone();
            // The upstream call is slow: let go of the state meanwhile.
            drop(guard);
            let (reply, headers) = runtime.block_on(forward(client, &upstream, &req, body.clone()));
            let mut guard = mode.lock().unwrap_or_else(|p| p.into_inner());
            if let (Mode::Record { kept, .. }, true) = (&mut *guard, reply.status / 100 == 2)
                && let Ok(request) = serde_json::from_slice::<Value>(&body)
            {
                kept.push(Exchange {
                    request: redact(request),
                    response: reply.clone(),
                });
            }
            drop(guard);
            respond(req, &reply, headers);
            return;
        }
    };
    drop(guard);
    respond(req, &reply, Vec::new());
}

/// The model request under replay: the next recorded response, or the divergence.
fn model(recording: &Recording, done: &mut Replayed, body: &[u8]) -> Reply {
    if done.divergence.is_some() {
        return error_reply(
            400,
            "invalid_request_error",
            "claw test: the replay has already diverged",
        );
    }
    let n = done.served;
    let sent = serde_json::from_slice::<Value>(body).map(redact);
    let detail = match (sent, recording.exchanges.get(n)) {
        (Err(e), _) => format!("the request is not JSON: {e}"),
        (Ok(_), None) => format!(
            "the recording has {} model request(s); the function made another",
            recording.exchanges.len()
        ),
        (Ok(sent), Some(ex)) if sent == ex.request => {
            done.served += 1;
            return ex.response.clone();
        }
        (Ok(sent), Some(ex)) => super::diff::requests(&ex.request, &sent),
    };
    done.divergence = Some(Divergence {
        request: n + 1,
        detail,
    });
    error_reply(
        400,
        "invalid_request_error",
        "claw test: this request is not the recorded one",
    )
}

/// A tool call under replay: the first unused recorded call of that tool with
/// that input.
fn tool(recording: &Recording, used: &mut [bool], done: &mut Replayed, body: &[u8]) -> Reply {
    let call: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let found = recording
        .tools
        .iter()
        .enumerate()
        .find(|(i, t)| !used[*i] && call["name"] == t.name && call["input"] == t.input);
    let Some((i, t)) = found else {
        let detail = format!(
            "the function called the tool `{}` with {}, which the recording does not have",
            call["name"].as_str().unwrap_or("?"),
            call["input"]
        );
        done.divergence.get_or_insert(Divergence {
            request: done.served + 1,
            detail: detail.clone(),
        });
        return json_reply(
            200,
            json!({"content": json!({"error": detail}).to_string(), "is_error": true}),
        );
    };
    used[i] = true;
    done.tools += 1;
    json_reply(200, json!({"content": t.content, "is_error": t.is_error}))
}

/// Passes a request on to the API and reads the whole answer.
async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    req: &Request,
    body: Vec<u8>,
) -> (Reply, Vec<(String, String)>) {
    let url = format!("{upstream}{}", req.url());
    let mut out = client.request(
        reqwest::Method::from_bytes(req.method().as_str().as_bytes())
            .unwrap_or(reqwest::Method::POST),
        &url,
    );
    for h in req.headers() {
        let name = h.field.as_str().as_str().to_ascii_lowercase();
        // The body is passed on whole and uncompressed.
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "accept-encoding" | "transfer-encoding"
        ) {
            out = out.header(name, h.value.as_str());
        }
    }
    let sent = match out.body(body).send().await {
        Ok(r) => r,
        Err(e) => {
            return (
                error_reply(
                    502,
                    "api_error",
                    &format!("claw could not reach {upstream}: {e}"),
                ),
                Vec::new(),
            );
        }
    };
    let status = sent.status().as_u16();
    let headers: Vec<(String, String)> = sent
        .headers()
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "content-length" | "transfer-encoding" | "connection" | "content-encoding"
            )
        })
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let content_type = headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let bytes = sent.bytes().await.unwrap_or_default();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (
        Reply {
            status,
            content_type,
            body,
        },
        headers,
    )
}

fn json_reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        content_type: "application/json".into(),
        body,
    }
}

/// An answer in the Messages API's error shape.
fn error_reply(status: u16, kind: &str, message: &str) -> Reply {
    json_reply(
        status,
        json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}

fn respond(req: Request, reply: &Reply, headers: Vec<(String, String)>) {
    let body = match &reply.body {
        Value::String(s) if !reply.content_type.contains("json") => s.clone().into_bytes(),
        v => v.to_string().into_bytes(),
    };
    let mut resp = Response::from_data(body).with_status_code(reply.status);
    let mut has_type = false;
    for (k, v) in headers {
        has_type |= k == "content-type";
        if let Ok(h) = Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            resp.add_header(h);
        }
    }
    if !has_type
        && let Ok(h) = Header::from_bytes(&b"content-type"[..], reply.content_type.as_bytes())
    {
        resp.add_header(h);
    }
    let _ = req.respond(resp);
}
