//! The event `claw invoke` sends, local or remote: `--payload` as given, or the
//! direct-invoke event built from `--message`.

use std::io::Read as _;

use anyhow::Context as _;
use claw_spec::Config;

/// Where the event comes from (the invoke command's flags).
#[derive(Debug, Clone, Default)]
pub struct EventSource<'a> {
    /// JSON text, `@FILE`, or `-` for stdin.
    pub payload: Option<&'a str>,
    pub message: Option<&'a str>,
    pub agent: Option<&'a str>,
    pub session: Option<&'a str>,
}

/// The event bytes from --payload or --message, checked to be JSON.
pub fn event(src: &EventSource<'_>, config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(text) = src.message {
        let agent = match src.agent {
            Some(a) => {
                if !config.agents.contains_key(a) {
                    let known: Vec<&str> = config.agents.keys().map(String::as_str).collect();
                    anyhow::bail!(
                        "--agent {a}: no such agent in the config (agents: {})",
                        known.join(", ")
                    );
                }
                a.to_string()
            }
            None => config
                .agents
                .keys()
                .next()
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("the config defines no agents"))?,
        };
        let mut event = serde_json::json!({"agent": agent, "message": text});
        if let Some(s) = src.session {
            event["session_id"] = serde_json::Value::String(s.to_string());
        }
        return Ok(serde_json::to_vec(&event)?);
    }
    let Some(spec) = src.payload else {
        anyhow::bail!(
            "nothing to send: pass --message TEXT (a direct invoke of --agent, default the \
             first agent) or --payload JSON|@FILE|-"
        );
    };
    let (bytes, source) = if spec == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read the payload from stdin")?;
        (buf, "stdin".to_string())
    } else if let Some(path) = spec.strip_prefix('@') {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read --payload @{path}"))?;
        (bytes, path.to_string())
    } else {
        (spec.as_bytes().to_vec(), "--payload".to_string())
    };
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        anyhow::bail!(
            "the payload from {source} is not valid JSON ({e}); Lambda events are JSON. To \
             send a plain message use --message TEXT"
        );
    }
    Ok(bytes)
}
