//! A scripted stand-in for the Anthropic Messages API, for tests only.
//!
//! It listens on 127.0.0.1 (an ephemeral port), answers `POST /v1/messages` from a
//! script of [`Step`]s — canned replies and injected faults — and records every
//! request so a test can assert on what the agent sent. It checks what the real API
//! would reject, so a bug in the agent shows up as a failed test rather than as a
//! surprise in production:
//!
//! - `x-api-key` must equal the expected key (401 otherwise) and `anthropic-version`
//!   must be present (400 otherwise);
//! - the body must carry `model`, `max_tokens` and a non-empty `messages` array
//!   starting with a user turn;
//! - every `tool_result` must answer a `tool_use` id of the assistant turn just before
//!   it, and every `tool_use` of an earlier assistant turn must be answered in the
//!   next user turn;
//! - the MCP connector's parts (`mcp_servers`, `mcp_toolset` tools, `mcp_tool_use`
//!   and `mcp_tool_result` blocks) follow its documented shapes and come with its
//!   beta header (see `mcp`).
//!
//! Requests that fail these checks get an Anthropic-style error body
//! (`{"type":"error","error":{"type":"invalid_request_error","message":…}}`) and do
//! not consume a step. When the script runs out the mock answers 400 (not retryable),
//! so a test that expected fewer calls fails quickly instead of retrying.
//!
//! It depends only on std, serde_json and this crate's [`crate::http`] server.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::http::{Reply, Request, Response, Server};

use serde_json::{Value, json};

mod bedrock;
mod cache;
pub mod eventstream;
mod mcp;
pub mod stream;

pub use mcp::BETA as MCP_BETA;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Step {
    /// 200 with this message as the JSON body. `id` and `model` are filled in when
    /// absent (the model echoes the request's).
    Reply(Value),
    /// Any status with these headers and this raw body: rate limits, overload, 5xx.
    Fault {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Wait, then answer with the inner step: a slow model.
    Delay(Duration, Box<Step>),
    /// The inner step with extra response headers (`anthropic-ratelimit-*`, …).
    Headers(Vec<(String, String)>, Box<Step>),
    /// Streamed (`"stream": true`): wait this long before each delta, a model
    /// generating at a fixed pace. Buffered: the inner step.
    Paced(Duration, Box<Step>),
    /// Streamed: the first `after` events, then an `error` event of this type
    /// (the API failing after it answered 200). Buffered: the inner step.
    Broken {
        after: usize,
        kind: String,
        inner: Box<Step>,
    },
}

impl Step {
    /// A final answer: one text block, `stop_reason: end_turn`.
    pub fn text(text: &str) -> Step {
        Step::Reply(message(vec![text_block(text)], "end_turn"))
    }

    /// One tool call: `stop_reason: tool_use`.
    pub fn tool_use(id: &str, name: &str, input: Value) -> Step {
        Step::Reply(message(vec![tool_use_block(id, name, input)], "tool_use"))
    }

    /// Several tool calls in one turn, optionally after some text.
    pub fn tool_uses(text: Option<&str>, calls: &[(&str, &str, Value)]) -> Step {
        let mut content = Vec::new();
        if let Some(t) = text {
            content.push(text_block(t));
        }
        for (id, name, input) in calls {
            content.push(tool_use_block(id, name, input.clone()));
        }
        Step::Reply(message(content, "tool_use"))
    }

    /// Any content with any stop reason (`max_tokens`, `refusal`, `stop_sequence`, …).
    pub fn reply(content: Vec<Value>, stop_reason: &str) -> Step {
        Step::Reply(message(content, stop_reason))
    }

    /// `stop_reason: refusal` with `stop_details` naming `category`.
    pub fn refusal(category: &str) -> Step {
        let mut m = message(Vec::new(), "refusal");
        m["stop_details"] =
            json!({"type": "refusal", "category": category, "explanation": "mock: declined"});
        Step::Reply(m)
    }

    /// `stop_reason: pause_turn`: a server-side loop paused; the client sends the
    /// conversation back (ending on this assistant turn) to let it continue.
    pub fn pause_turn(text: &str) -> Step {
        Step::Reply(message(vec![text_block(text)], "pause_turn"))
    }

    /// 429 with `retry-after: <seconds>`.
    pub fn rate_limited(retry_after_s: u64) -> Step {
        Step::error(429, "rate_limit_error", "mock: rate limited")
            .with_header("retry-after", &retry_after_s.to_string())
    }

    /// 429 with `retry-after-ms: <ms>` (and a `retry-after` the client should not prefer).
    pub fn rate_limited_ms(retry_after_ms: u64) -> Step {
        Step::error(429, "rate_limit_error", "mock: rate limited")
            .with_header("retry-after-ms", &retry_after_ms.to_string())
            .with_header("retry-after", &(retry_after_ms / 1000 + 1).to_string())
    }

    /// 529 overloaded.
    pub fn overloaded() -> Step {
        Step::error(529, "overloaded_error", "mock: overloaded")
    }

    /// 500 internal error.
    pub fn server_error() -> Step {
        Step::error(500, "api_error", "mock: internal error")
    }

    /// Any status with an Anthropic-style error body.
    pub fn error(status: u16, kind: &str, msg: &str) -> Step {
        Step::Fault {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: error_body(kind, msg).to_string(),
        }
    }

    /// 200 whose body is JSON cut off halfway (a truncated or corrupted reply).
    pub fn malformed() -> Step {
        Step::Fault {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: r#"{"id":"msg_trunc","type":"message","role":"assistant","content":[{"type":"text","te"#
                .into(),
        }
    }

    /// The same answer, after a delay.
    pub fn delayed(self, delay: Duration) -> Step {
        Step::Delay(delay, Box::new(self))
    }

    /// Streamed, one delta every `pace`.
    pub fn paced(self, pace: Duration) -> Step {
        Step::Paced(pace, Box::new(self))
    }

    /// Streamed, cut after `after` events by an `error` event of type `kind`.
    pub fn broken_after(self, after: usize, kind: &str) -> Step {
        Step::Broken {
            after,
            kind: kind.into(),
            inner: Box::new(self),
        }
    }

    /// Adds a response header (`x-should-retry`, `retry-after`, …).
    pub fn with_header(self, name: &str, value: &str) -> Step {
        match self {
            Step::Fault {
                status,
                mut headers,
                body,
            } => {
                headers.push((name.into(), value.into()));
                Step::Fault {
                    status,
                    headers,
                    body,
                }
            }
            Step::Headers(mut headers, inner) => {
                headers.push((name.into(), value.into()));
                Step::Headers(headers, inner)
            }
            Step::Delay(d, inner) => Step::Delay(d, Box::new(inner.with_header(name, value))),
            reply @ (Step::Reply(_) | Step::Paced(..) | Step::Broken { .. }) => {
                Step::Headers(vec![(name.into(), value.into())], Box::new(reply))
            }
        }
    }

    /// Sets the reply's token usage (defaults: 10 in, 5 out).
    pub fn with_usage(self, input_tokens: u64, output_tokens: u64) -> Step {
        match self {
            Step::Reply(mut v) => {
                v["usage"] = json!({"input_tokens": input_tokens, "output_tokens": output_tokens});
                Step::Reply(v)
            }
            Step::Delay(d, inner) => {
                Step::Delay(d, Box::new(inner.with_usage(input_tokens, output_tokens)))
            }
            Step::Headers(h, inner) => {
                Step::Headers(h, Box::new(inner.with_usage(input_tokens, output_tokens)))
            }
            other => other,
        }
    }
}

/// A `text` content block.
pub fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

/// A `tool_use` content block.
pub fn tool_use_block(id: &str, name: &str, input: Value) -> Value {
    json!({"type": "tool_use", "id": id, "name": name, "input": input})
}

/// An assistant message as the API returns it.
pub fn message(content: Vec<Value>, stop_reason: &str) -> Value {
    json!({
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 5}
    })
}

/// An Anthropic-style error body.
pub fn error_body(kind: &str, msg: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": msg}})
}

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON, or `Null` when it was not JSON.
    pub body: Value,
    /// The status the mock answered with.
    pub status: u16,
    /// The body it answered with, parsed (`Null` when not JSON).
    pub response: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `messages` array of the request.
    pub fn messages(&self) -> &[Value] {
        self.body["messages"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The content blocks of the last message (the new user turn or tool results).
    pub fn last_content(&self) -> Vec<Value> {
        match self.messages().last().map(|m| &m["content"]) {
            Some(Value::Array(blocks)) => blocks.clone(),
            Some(Value::String(s)) => vec![text_block(s)],
            _ => Vec::new(),
        }
    }

    /// The request's `mcp_servers` entries (empty without them).
    pub fn mcp_servers(&self) -> &[Value] {
        self.body["mcp_servers"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The `anthropic-beta` values, in order.
    pub fn betas(&self) -> Vec<&str> {
        self.header("anthropic-beta")
            .map(|b| b.split(',').map(str::trim).collect())
            .unwrap_or_default()
    }

    /// The `tool_result` blocks of the last message, in order.
    pub fn tool_results(&self) -> Vec<Value> {
        self.last_content()
            .into_iter()
            .filter(|b| b["type"] == "tool_result")
            .collect()
    }
}

/// How to start a mock.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// The `x-api-key` the mock accepts.
    pub api_key: String,
    /// When set, the request's `model` must equal it (400 otherwise).
    pub expect_model: Option<String>,
    /// Start the script again when it runs out (for benchmarks that loop).
    pub repeat: bool,
    /// Play the prompt cache (see `cache`): replies report input and cache
    /// tokens counted from the request, prefixes of at least this many tokens
    /// are cached. `None`: replies carry their scripted usage.
    pub cache_min_tokens: Option<u64>,
}

struct State {
    script: Vec<Step>,
    pending: VecDeque<Step>,
    requests: Vec<Recorded>,
    cache: cache::Cache,
    /// The stop reason of the last reply: after `pause_turn` the conversation
    /// may end on the assistant's turn.
    last_stop: Option<String>,
    marks: Vec<StreamMark>,
}

/// When a streamed answer's request arrived and its first text was sent: the
/// model's time to first token, as the caller's figures subtract it.
#[derive(Debug, Clone, Copy)]
pub struct StreamMark {
    pub received: std::time::Instant,
    pub first_delta: Option<std::time::Instant>,
}

/// A running mock Messages API. Dropping it stops the server.
pub struct MockModel {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl MockModel {
    /// Starts a mock that accepts `api_key` and plays `script` once.
    pub fn start(api_key: &str, script: Vec<Step>) -> MockModel {
        MockModel::with_options(
            MockOptions {
                api_key: api_key.into(),
                expect_model: None,
                repeat: false,
                cache_min_tokens: None,
            },
            script,
        )
    }

    pub fn with_options(options: MockOptions, script: Vec<Step>) -> MockModel {
        let state = Arc::new(Mutex::new(State {
            pending: script.iter().cloned().collect(),
            script,
            requests: Vec::new(),
            cache: cache::Cache::default(),
            last_stop: None,
            marks: Vec::new(),
        }));
        let server = {
            let state = Arc::clone(&state);
            let counter = AtomicU64::new(0);
            Server::start(move |request| serve(request, &state, &options, &counter))
        };
        MockModel { server, state }
    }

    /// `http://127.0.0.1:PORT`: the value for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        self.server.url()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr()
    }

    /// Every request received so far, valid or not, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    pub fn request_count(&self) -> usize {
        lock(&self.state).requests.len()
    }

    /// One mark per streamed answer, in order.
    pub fn stream_marks(&self) -> Vec<StreamMark> {
        lock(&self.state).marks.clone()
    }

    /// Steps not yet played.
    pub fn steps_left(&self) -> usize {
        lock(&self.state).pending.len()
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A panicking test thread must not hide the recorded requests from the others.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn serve(
    request: Request,
    state: &Arc<Mutex<State>>,
    options: &MockOptions,
    counter: &AtomicU64,
) -> Reply {
    let received = std::time::Instant::now();
    let method = request.method().to_string();
    let path = request
        .head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let headers: Vec<(String, String)> = request
        .head
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let raw = String::from_utf8(request.body);
    let read_ok = raw.is_ok();
    let raw = raw.unwrap_or_default();
    let body: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };

    // Amazon Bedrock's InvokeModel: `POST /model/{modelId}/invoke`, SigV4-signed.
    let bedrock = bedrock::model_id(&method, &path);
    let bedrock_streams = bedrock::streams(&path);
    let rejection = if let Some(id) = &bedrock {
        bedrock::check(id, &headers, &body, options)
            .err()
            .map(|msg| (400, error_body("invalid_request_error", &msg)))
    } else if method != "POST" || path.split('?').next() != Some("/v1/messages") {
        Some((
            404,
            error_body(
                "not_found_error",
                &format!("mock: no route {method} {path}"),
            ),
        ))
    } else if header("x-api-key") != Some(options.api_key.as_str()) {
        Some((
            401,
            error_body("authentication_error", "mock: invalid x-api-key"),
        ))
    } else if header("anthropic-version").is_none() {
        Some((
            400,
            error_body(
                "invalid_request_error",
                "mock: anthropic-version header is required",
            ),
        ))
    } else if !read_ok || body.is_null() {
        Some((
            400,
            error_body("invalid_request_error", "mock: body is not JSON"),
        ))
    } else {
        None
    };
    // The checks that depend on the conversation so far, and the cache.
    let mut cache_usage = None;
    let rejection = rejection.or_else(|| {
        let mut st = lock(state);
        let paused = st.last_stop.as_deref() == Some("pause_turn");
        let checked = validate(&body, options, paused, bedrock.is_some())
            .and_then(|()| mcp::validate(&body, header("anthropic-beta")))
            .and_then(|()| match options.cache_min_tokens {
                Some(min) => st.cache.usage(&body, min).map(Some),
                None => Ok(None),
            });
        match checked {
            Ok(u) => {
                cache_usage = u;
                None
            }
            Err(msg) => Some((400, error_body("invalid_request_error", &msg))),
        }
    });

    let step = if rejection.is_some() {
        None
    } else {
        let mut st = lock(state);
        if st.pending.is_empty() && options.repeat {
            let again: Vec<Step> = st.script.clone();
            st.pending.extend(again);
        }
        st.pending.pop_front()
    };
    let (pace, cut) = step.as_ref().map(stream_shape).unwrap_or_default();
    let (status, headers_out, body_out, delay) = match (rejection, step) {
        (Some((status, err)), _) => (status, json_headers(), err.to_string(), None),
        (None, None) => (
            400,
            json_headers(),
            error_body("invalid_request_error", "mock: script exhausted").to_string(),
            None,
        ),
        (None, Some(step)) => render(step, &body, counter, cache_usage.as_ref()),
    };
    // Bedrock answers errors its own way: the exception name in a header.
    let (headers_out, body_out) = match &bedrock {
        Some(_) if status >= 400 => bedrock::error(status, &body_out),
        _ => (headers_out, body_out),
    };
    if status == 200 {
        lock(state).last_stop = serde_json::from_str::<Value>(&body_out)
            .ok()
            .and_then(|v| v["stop_reason"].as_str().map(str::to_string));
    }
    lock(state).requests.push(Recorded {
        method,
        path,
        headers,
        body,
        status,
        response: serde_json::from_str(&body_out).unwrap_or(Value::Null),
    });
    if let Some(d) = delay {
        // The client may give up meanwhile (deadline tests); its connection
        // then fails to take the answer, which is not the mock's error.
        std::thread::sleep(d);
    }
    let streamed = match &bedrock {
        Some(_) => bedrock_streams,
        None => recorded_stream(state),
    };
    if status == 200 && streamed {
        let message: Value = serde_json::from_str(&body_out).unwrap_or(Value::Null);
        let mut events = stream::events(&message);
        if let Some((after, kind)) = cut {
            events.truncate(after);
            events.push(stream::error_event(&kind, "mock: the stream broke"));
        }
        let chunks: Vec<(Duration, Vec<u8>)> = events
            .into_iter()
            .map(|e| {
                let wait = if stream::is_delta(&e) {
                    pace
                } else {
                    Duration::ZERO
                };
                (wait, e.into_bytes())
            })
            .collect();
        let first = chunks
            .iter()
            .position(|(_, c)| stream::is_delta(&String::from_utf8_lossy(c)));
        let mut headers = headers_out;
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        let (kind, chunks) = match &bedrock {
            // InvokeModelWithResponseStream: the same events, framed.
            Some(_) => (
                "application/vnd.amazon.eventstream",
                chunks
                    .into_iter()
                    .map(|(wait, c)| (wait, bedrock::frame(&String::from_utf8_lossy(&c))))
                    .collect(),
            ),
            None => ("text/event-stream", chunks),
        };
        headers.push(("content-type".into(), kind.into()));
        let mark = {
            let mut st = lock(state);
            st.marks.push(StreamMark {
                received,
                first_delta: None,
            });
            st.marks.len() - 1
        };
        let state = Arc::clone(state);
        return Reply::Chunked {
            status,
            headers,
            chunks,
            on_sent: Some(Box::new(move |i, at| {
                if Some(i) == first {
                    lock(&state).marks[mark].first_delta = Some(at);
                }
            })),
        };
    }
    Response {
        status,
        headers: headers_out,
        body: body_out.into_bytes(),
    }
    .into()
}

/// Whether the request just recorded asked for a stream.
fn recorded_stream(state: &Mutex<State>) -> bool {
    lock(state)
        .requests
        .last()
        .is_some_and(|r| r.body["stream"] == json!(true))
}

/// A streamed answer's pace and cut, from the wrappers around the reply.
fn stream_shape(step: &Step) -> (Duration, Option<(usize, String)>) {
    match step {
        Step::Paced(d, inner) => (*d, stream_shape(inner).1),
        Step::Broken { after, kind, inner } => {
            (stream_shape(inner).0, Some((*after, kind.clone())))
        }
        Step::Delay(_, inner) | Step::Headers(_, inner) => stream_shape(inner),
        Step::Reply(_) | Step::Fault { .. } => (Duration::ZERO, None),
    }
}

fn json_headers() -> Vec<(String, String)> {
    vec![("content-type".into(), "application/json".into())]
}

fn render(
    step: Step,
    request: &Value,
    counter: &AtomicU64,
    cache_usage: Option<&Value>,
) -> (u16, Vec<(String, String)>, String, Option<Duration>) {
    match step {
        Step::Reply(mut v) => {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            if v.get("id").is_none() {
                v["id"] = json!(format!("msg_mock_{n}"));
            }
            if v.get("model").is_none() {
                v["model"] = request["model"].clone();
            }
            if let (Some(u), Some(usage)) = (
                cache_usage.and_then(Value::as_object),
                v["usage"].as_object_mut(),
            ) {
                for (k, x) in u {
                    usage.insert(k.clone(), x.clone());
                }
            }
            (200, json_headers(), v.to_string(), None)
        }
        Step::Headers(extra, inner) => {
            let (s, mut h, b, d) = render(*inner, request, counter, cache_usage);
            h.extend(extra);
            (s, h, b, d)
        }
        Step::Fault {
            status,
            headers,
            body,
        } => (status, headers, body, None),
        Step::Delay(d, inner) => {
            let (s, h, b, inner_delay) = render(*inner, request, counter, cache_usage);
            (s, h, b, Some(d + inner_delay.unwrap_or_default()))
        }
        Step::Paced(_, inner) | Step::Broken { inner, .. } => {
            render(*inner, request, counter, cache_usage)
        }
    }
}

/// What the real API rejects with 400, checked here so agent bugs fail tests.
fn validate(
    body: &Value,
    options: &MockOptions,
    paused: bool,
    bedrock: bool,
) -> Result<(), String> {
    // On Bedrock the model is in the path (checked there), never in the body.
    if !bedrock {
        let model = body["model"]
            .as_str()
            .ok_or("mock: `model` must be a string")?;
        if let Some(want) = &options.expect_model
            && model != want
        {
            return Err(format!("mock: expected model `{want}`, got `{model}`"));
        }
    }
    if !body["max_tokens"].is_u64() {
        return Err("mock: `max_tokens` must be a positive integer".into());
    }
    let messages = body["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or("mock: `messages` must be a non-empty array")?;
    if messages[0]["role"] != "user" {
        return Err("mock: the first message must have role `user`".into());
    }
    if let Some(tools) = body.get("tools") {
        let tools = tools.as_array().ok_or("mock: `tools` must be an array")?;
        // MCP toolsets are checked with the servers they name (`mcp`).
        for t in tools.iter().filter(|t| t["type"] != "mcp_toolset") {
            if !t["name"].is_string() || !t["input_schema"].is_object() {
                return Err("mock: every tool needs `name` and an object `input_schema`".into());
            }
        }
    }
    let blocks = |m: &Value| -> Vec<Value> {
        match &m["content"] {
            Value::Array(b) => b.clone(),
            Value::String(s) => vec![text_block(s)],
            _ => Vec::new(),
        }
    };
    let mut prev_tool_uses: HashSet<String> = HashSet::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or_default();
        if role != "user" && role != "assistant" {
            return Err(format!("messages.{i}.role: must be `user` or `assistant`"));
        }
        let content = blocks(m);
        if content.is_empty() {
            return Err(format!("messages.{i}: content must not be empty"));
        }
        if role == "user" {
            let mut answered = HashSet::new();
            for b in &content {
                if b["type"] == "tool_result" {
                    let id = b["tool_use_id"].as_str().unwrap_or_default().to_string();
                    if !prev_tool_uses.contains(&id) {
                        return Err(format!(
                            "messages.{i}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. \
                             Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                        ));
                    }
                    answered.insert(id);
                }
            }
            if let Some(missing) = prev_tool_uses.iter().find(|id| !answered.contains(*id)) {
                return Err(format!(
                    "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {missing}"
                ));
            }
            prev_tool_uses.clear();
        } else {
            if !prev_tool_uses.is_empty() {
                return Err(format!(
                    "messages.{i}: `tool_use` blocks of the previous assistant turn were not answered"
                ));
            }
            prev_tool_uses = content
                .iter()
                .filter(|b| b["type"] == "tool_use")
                .filter_map(|b| b["id"].as_str().map(str::to_string))
                .collect();
        }
    }
    // After `pause_turn` the paused assistant turn goes back as the last message.
    if messages.last().map(|m| &m["role"]) != Some(&json!("user")) && !paused {
        return Err("mock: the last message must have role `user`".into());
    }
    Ok(())
}
