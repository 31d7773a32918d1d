//! A small typed client for the Anthropic Messages API (`POST /v1/messages`).
//!
//! Only what the agent loop needs is typed. Content blocks stay `serde_json::Value`
//! so the assistant's turns go back to the API exactly as it sent them: block types
//! this build does not know (thinking, server tools, …) are API output and therefore
//! valid API input, and rewriting them could drop fields the API requires.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use crate::deadline::Deadline;
use crate::stream::Sink;

/// The default API endpoint; `ANTHROPIC_BASE_URL` overrides it (tests, proxies).
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const API_VERSION: &str = "2023-06-01";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One conversation turn. `content` is always a list of blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Value>,
}

impl Message {
    pub fn user_text(text: &str) -> Message {
        Message {
            role: Role::User,
            content: vec![serde_json::json!({"type": "text", "text": text})],
        }
    }
}

mod ratelimit;
pub mod sse;
mod usage;

pub use ratelimit::{RateLimit, rfc3339_epoch_ms};
pub use usage::{CacheCreation, Usage};

/// A tool as the model sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MessagesResponse {
    #[serde(default)]
    pub content: Vec<Value>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Set with `stop_reason: refusal`: `{"type":"refusal","category":…,"explanation":…}`.
    #[serde(default)]
    pub stop_details: Option<Value>,
    #[serde(default)]
    pub usage: Usage,
}

impl MessagesResponse {
    /// The policy category of a refusal, when the API named one.
    pub fn refusal_category(&self) -> Option<&str> {
        self.stop_details
            .as_ref()?
            .get("category")?
            .as_str()
            // It goes into the audit category and the caller's message: a short
            // identifier or nothing.
            .filter(|c| {
                !c.is_empty()
                    && c.len() <= 64
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            })
    }
}

/// The parts of a content block the loop acts on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Block<'a> {
    Text(&'a str),
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: &'a Value,
    },
    Other,
}

impl<'a> Block<'a> {
    pub fn of(v: &'a Value) -> Block<'a> {
        match v.get("type").and_then(Value::as_str) {
            Some("text") => Block::Text(v.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => match (
                v.get("id").and_then(Value::as_str),
                v.get("name").and_then(Value::as_str),
            ) {
                (Some(id), Some(name)) => Block::ToolUse {
                    id,
                    name,
                    input: v.get("input").unwrap_or(&Value::Null),
                },
                _ => Block::Other,
            },
            _ => Block::Other,
        }
    }
}

/// How model calls are retried. Production uses [`RetryPolicy::default`]; tests
/// shrink the delays so they run fast.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base: Duration,
    pub cap: Duration,
    /// A server-sent `retry-after` longer than this is ignored in favour of backoff,
    /// like the official SDKs do, so one odd header cannot park the function.
    pub max_server_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(8),
            max_server_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Whether to retry after `attempt` (0-based) failed with `status` and
    /// `headers`, and how long to wait first. `x-should-retry` overrides the status
    /// rule both ways; `retry-after-ms`, then `retry-after` (seconds), set the wait
    /// when they are sane, else jittered exponential backoff does.
    pub fn decide(
        &self,
        attempt: u32,
        status: Option<StatusCode>,
        headers: Option<&HeaderMap>,
    ) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        let header = |name: &str| {
            headers
                .and_then(|h| h.get(name))
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let should = match header("x-should-retry") {
            Some("true") => true,
            Some("false") => false,
            _ => status.is_none_or(retryable_status),
        };
        if !should {
            return None;
        }
        let server = header("retry-after-ms")
            .and_then(|v| v.parse::<f64>().ok())
            .map(|ms| ms / 1000.0)
            .or_else(|| header("retry-after").and_then(|v| v.parse::<f64>().ok()))
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .filter(|d| *d <= self.max_server_delay);
        Some(server.unwrap_or_else(|| self.backoff(attempt)))
    }

    /// `base * 2^attempt`, capped, minus up to 25% jitter so a fleet of functions
    /// that failed together does not retry together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX));
        let d = exp.min(self.cap);
        let jitter: f64 = 1.0 - rand::random::<f64>() * 0.25;
        d.mul_f64(jitter)
    }
}

/// 408, 409, 429, 5xx (529 included): transient by the API's own documentation.
pub fn retryable_status(s: StatusCode) -> bool {
    matches!(s.as_u16(), 408 | 409 | 429) || s.is_server_error() || s.as_u16() == 529
}

/// Why a model call failed. `Display` is a short category, safe for logs and audit.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The deadline (minus the margin) left no time for the call or another retry.
    #[error("{}", deadline_message(.last.as_deref()))]
    Deadline { last: Option<Box<ModelError>> },
    /// A non-success status the client would not (or no longer) retry.
    #[error(
        "the Messages API answered {status} ({})",
        .error_type.as_deref().unwrap_or("no error type")
    )]
    Status {
        status: u16,
        error_type: Option<String>,
    },
    /// Could not connect, or the connection broke.
    #[error("calling the Messages API failed: {0}")]
    Transport(String),
    /// A 200 whose body was not a Messages response.
    #[error("the Messages API reply was not understood: {0}")]
    Decode(String),
}

fn deadline_message(last: Option<&ModelError>) -> String {
    match last {
        None => "no time left before the deadline for a model call".into(),
        Some(e) => format!("gave up before the deadline; last failure: {e}"),
    }
}

impl ModelError {
    /// A short category for the audit line (`model_http_429`, `model_transport`, …).
    pub fn category(&self) -> String {
        match self {
            ModelError::Deadline { .. } => "model_deadline".into(),
            ModelError::Status { status, .. } => format!("model_http_{status}"),
            ModelError::Transport(_) => "model_transport".into(),
            ModelError::Decode(_) => "model_bad_response".into(),
        }
    }
}

/// A successful call and what it cost.
#[derive(Debug)]
pub struct Reply {
    pub response: MessagesResponse,
    /// The rate-limit headers of the successful attempt.
    pub ratelimit: RateLimit,
    /// Time spent in HTTP attempts (not in backoff sleeps).
    pub latency: Duration,
    pub attempts: u32,
}

/// The Messages API client. Cheap to share; holds one connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    pub retry: RetryPolicy,
}

impl Client {
    /// `base` is the API origin, such as `https://api.anthropic.com`.
    pub fn new(base: &str, retry: RetryPolicy) -> Result<Client, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Client {
            http,
            url: format!("{}/v1/messages", base.trim_end_matches('/')),
            retry,
        })
    }

    /// One Messages call with retries. Nothing (attempt or sleep) runs past
    /// `deadline - margin`. `betas` go in the `anthropic-beta` header.
    ///
    /// With a `sink` the call streams (`"stream": true`): text and tool calls
    /// go to the sink as they arrive, and the reply is the same message,
    /// assembled. An attempt is retried only while it has sent nothing: once
    /// text went out, a failure ends the call (a retry would repeat it).
    pub async fn create(
        &self,
        api_key: &str,
        request: &Value,
        betas: &[&str],
        deadline: Deadline,
        margin: Duration,
        sink: Option<&Sink>,
    ) -> Result<Reply, ModelError> {
        let body = match sink {
            None => serde_json::to_vec(request),
            Some(_) => {
                let mut streamed = request.clone();
                streamed["stream"] = Value::Bool(true);
                serde_json::to_vec(&streamed)
            }
        }
        .map_err(|e| ModelError::Decode(format!("encoding the request: {e}")))?;
        let mut key = HeaderValue::from_str(api_key)
            .map_err(|_| ModelError::Transport("the API key is not a valid header value".into()))?;
        key.set_sensitive(true);
        let betas = betas.join(",");
        let ((response, headers), latency, attempts) =
            with_retries(&self.retry, deadline, margin, |budget| {
                self.attempt(&key, &betas, &body, budget, sink)
            })
            .await?;
        Ok(Reply {
            response,
            ratelimit: RateLimit::from_headers(&headers),
            latency,
            attempts,
        })
    }

    async fn attempt(
        &self,
        key: &HeaderValue,
        betas: &str,
        body: &[u8],
        budget: Duration,
        sink: Option<&Sink>,
    ) -> Result<(MessagesResponse, HeaderMap), Attempt> {
        let mut send = self
            .http
            .post(&self.url)
            .header("x-api-key", key.clone())
            .header("anthropic-version", API_VERSION)
            .header("content-type", "application/json");
        if !betas.is_empty() {
            send = send.header("anthropic-beta", betas);
        }
        let send = send.body(body.to_vec()).send();
        let call = async {
            let mut resp = send.await.map_err(|e| Attempt::transport(&e))?;
            let status = resp.status();
            let headers = resp.headers().clone();
            if let (Some(sink), true) = (sink, status.is_success()) {
                return sse::read(&mut resp, sink)
                    .await
                    .map(|m| (m, headers.clone()))
                    .map_err(|(error, sent)| match (error, sent) {
                        (error, true) => Attempt::Fatal(error),
                        (error @ ModelError::Status { status, .. }, false) => Attempt::Failed {
                            error,
                            status: StatusCode::from_u16(status).ok(),
                            headers: Some(headers.clone()),
                        },
                        (error, false) => Attempt::Failed {
                            error,
                            status: None,
                            headers: Some(headers.clone()),
                        },
                    });
            }
            let bytes = resp.bytes().await.map_err(|e| Attempt::transport(&e))?;
            if !status.is_success() {
                let error_type = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
                    v.pointer("/error/type")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
                return Err(Attempt::Failed {
                    error: ModelError::Status {
                        status: status.as_u16(),
                        error_type,
                    },
                    status: Some(status),
                    headers: Some(headers),
                });
            }
            // A corrupt or truncated 200 is a transport failure in effect: retry it.
            match serde_json::from_slice::<MessagesResponse>(&bytes) {
                Ok(r) => Ok((r, headers)),
                Err(e) => Err(Attempt::Failed {
                    error: ModelError::Decode(e.to_string()),
                    status: None,
                    headers: Some(headers),
                }),
            }
        };
        match tokio::time::timeout(budget, call).await {
            Ok(r) => r,
            Err(_) => Err(Attempt::Timeout),
        }
    }
}

/// Runs `attempt` (handed each attempt's time budget) until it succeeds, the
/// retry rule gives up, or the deadline comes: nothing, attempt or sleep, runs
/// past `deadline - margin`. Both providers call the model through it, so one
/// rule decides. Returns the value, the time spent in attempts (not in sleeps)
/// and the number of attempts.
pub(crate) async fn with_retries<T, F, Fut>(
    retry: &RetryPolicy,
    deadline: Deadline,
    margin: Duration,
    mut attempt: F,
) -> Result<(T, Duration, u32), ModelError>
where
    F: FnMut(Duration) -> Fut,
    Fut: std::future::Future<Output = Result<T, Attempt>>,
{
    let mut latency = Duration::ZERO;
    let mut n = 0u32;
    loop {
        let budget = deadline.budget(margin);
        if budget.is_zero() {
            return Err(ModelError::Deadline { last: None });
        }
        let started = Instant::now();
        let outcome = attempt(budget).await;
        latency += started.elapsed();
        let (err, status, headers) = match outcome {
            Ok(v) => return Ok((v, latency, n + 1)),
            Err(Attempt::Timeout) => return Err(ModelError::Deadline { last: None }),
            Err(Attempt::Fatal(error)) => return Err(error),
            Err(Attempt::Failed {
                error,
                status,
                headers,
            }) => (error, status, headers),
        };
        let Some(wait) = retry.decide(n, status, headers.as_ref()) else {
            return Err(err);
        };
        // Sleeping only makes sense if a call can still finish afterwards.
        if wait >= deadline.budget(margin) {
            return Err(ModelError::Deadline {
                last: Some(Box::new(err)),
            });
        }
        tokio::time::sleep(wait).await;
        n += 1;
    }
}

/// How one attempt failed: out of its time budget, or with an error the retry
/// rule judges by its status and headers.
pub(crate) enum Attempt {
    Timeout,
    /// Not to be retried whatever its status (a stream that already sent text).
    Fatal(ModelError),
    Failed {
        error: ModelError,
        status: Option<StatusCode>,
        headers: Option<HeaderMap>,
    },
}

impl Attempt {
    fn transport(e: &reqwest::Error) -> Attempt {
        // reqwest's Display never includes header values, so the key cannot leak here.
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            source = s.source();
        }
        Attempt::Failed {
            error: ModelError::Transport(msg),
            status: None,
            headers: None,
        }
    }
}

#[cfg(test)]
mod tests;
