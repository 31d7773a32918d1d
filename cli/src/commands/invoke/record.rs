//! `claw invoke --local --record FILE`: the run's model requests pass through
//! claw's replay server on their way to the real API (`ANTHROPIC_BASE_URL` as
//! claw has it, else the public API), and the conversation is written to FILE for
//! `claw test` to replay.

use std::path::Path;

use claw_spec::Config;
use claw_spec::model::Provider;
use serde_json::{Value, json};

use crate::local::LocalOptions;
use crate::ops::local::set_env;
use crate::replay::server::{Server, upstream};
use crate::replay::{Answer, Recording};

pub(super) struct Recorder {
    server: Server,
}

/// Refuses what cannot be recorded, before anything runs: a remote or streamed
/// invocation, a continued session, an event that is not a direct invoke, an
/// agent on Bedrock.
pub(super) fn check(
    config: &Config,
    local: bool,
    stream: bool,
    session: bool,
    event: &[u8],
) -> anyhow::Result<()> {
    if !local {
        anyhow::bail!(
            "--record needs --local: a deployed function calls the model itself, so claw \
             cannot see its requests. Record with `claw invoke --local --record FILE`."
        );
    }
    if stream {
        anyhow::bail!(
            "--record and --stream: record the buffered answer (the conversation is the same)"
        );
    }
    if session {
        anyhow::bail!(
            "--record and --session: a recording starts a new conversation, since its replay \
             keeps no session"
        );
    }
    let event: Value = serde_json::from_slice(event).unwrap_or(Value::Null);
    let Some(agent) = event["agent"]
        .as_str()
        .filter(|_| event["message"].is_string())
    else {
        anyhow::bail!(
            "--record records a direct invoke: use --message (or a {{\"agent\",\"message\"}} payload)"
        );
    };
    if event.get("session_id").is_some() {
        anyhow::bail!(
            "--record: a recording starts a new conversation; drop the event's session_id"
        );
    }
    if config.model_for(agent).provider == Provider::Bedrock {
        anyhow::bail!(
            "--record: the agent `{agent}` runs on Bedrock, whose requests claw cannot pass \
             through; recordings are made with model.provider anthropic"
        );
    }
    Ok(())
}

impl Recorder {
    /// Starts the server and points the function's model calls at it.
    pub(super) fn start(opts: &mut LocalOptions) -> anyhow::Result<Recorder> {
        let server = Server::start()?;
        server.record(&upstream());
        set_env(opts, "ANTHROPIC_BASE_URL", &server.url());
        Ok(Recorder { server })
    }

    /// Writes the recording; `answer` is the function's answer (`None` when it
    /// failed: nothing is written then, and the command fails).
    pub(super) fn finish(
        self,
        path: &Path,
        event: &[u8],
        answer: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let exchanges = self.server.recorded();
        let Some(answer) = answer.and_then(Answer::of) else {
            anyhow::bail!(
                "not recorded: the invocation did not answer (see above); {} is unchanged",
                path.display()
            );
        };
        let event: Value = serde_json::from_slice(event)?;
        let agent = event["agent"].as_str().unwrap_or_default().to_string();
        let recording = Recording::new(&agent, event, exchanges, answer);
        recording.write(path)?;
        let (input, output) = recording.tokens();
        Ok(json!({
            "path": path.display().to_string(),
            "model_requests": recording.exchanges.len(),
            "tool_calls": recording.tools.len(),
            "input_tokens": input,
            "output_tokens": output,
        }))
    }
}
