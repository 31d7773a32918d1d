//! Replay: the function under `claw test`, which answers its model requests and
//! tool calls from a recorded conversation.
//!
//! `CLAW_REPLAY_URL` (set only by `claw test` on a local run; agent.yaml cannot
//! set a `CLAW_*` variable) names claw's replay server. With it:
//! - the Messages API is that server (as `ANTHROPIC_BASE_URL` would make it), and
//!   every secret reads as a placeholder, so no Secrets Manager call is made and
//!   no key reaches the recording;
//! - a tool call is posted to `{url}/claw/tool` as `{"name", "input"}` and its
//!   recorded result (`{"content", "is_error"}`) is what the model gets: no tool
//!   runs;
//! - sessions and budgets are off: a recorded conversation starts afresh, and
//!   nothing is read from or written to DynamoDB.
//!
//! Everything else (the loop, limits, request shapes, the answer) is the code that
//! runs in Lambda.

use std::time::Duration;

use serde_json::{Value, json};

use crate::outcome::ToolOutput;

/// The variable `claw test` sets.
pub const ENV: &str = "CLAW_REPLAY_URL";

/// What every secret reads as under replay.
pub const PLACEHOLDER: &str = "claw-replay";

/// The replay server's address, from the environment.
pub fn from_env() -> Option<String> {
    std::env::var(ENV)
        .ok()
        .map(|s| s.trim().trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty())
}

/// Asks the replay server for a tool call's recorded result.
#[derive(Debug, Clone)]
pub struct Replay {
    base: String,
    client: reqwest::Client,
}

impl Replay {
    pub fn new(base: &str) -> Replay {
        Replay {
            base: base.trim_end_matches('/').to_string(),
            // Loopback only: the server answers at once or not at all.
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .no_proxy()
                .build()
                .unwrap_or_default(),
        }
    }

    /// The recorded result of calling `name` with `input`; a call the recording
    /// does not have comes back as the server's error (and fails the replay).
    pub async fn tool(&self, name: &str, input: &Value) -> ToolOutput {
        let sent = self
            .client
            .post(format!("{}/claw/tool", self.base))
            .json(&json!({"name": name, "input": input}))
            .send()
            .await;
        let body: Result<Value, String> = match sent {
            Ok(r) => r.json().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match body {
            Ok(v) => ToolOutput {
                content: v["content"].as_str().unwrap_or_default().to_string(),
                is_error: v["is_error"].as_bool().unwrap_or(true),
            },
            Err(e) => ToolOutput::error(format!("replay server: {e}")),
        }
    }
}
