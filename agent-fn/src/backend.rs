//! Where model calls go: the Anthropic API with a key, or Bedrock with the
//! execution role. The loop sends the same Messages body to either.

use std::time::Duration;

use serde_json::Value;

use crate::anthropic::{self, Block, ModelError, Reply, RetryPolicy};
use crate::bedrock;
use crate::deadline::Deadline;
use crate::stream::{self, Sink, Update};

#[derive(Debug, Clone, Copy)]
pub enum Backend<'a> {
    Anthropic {
        client: &'a anthropic::Client,
        api_key: &'a str,
    },
    Bedrock {
        client: &'a bedrock::Client,
    },
}

impl Backend<'_> {
    /// One call with retries, `body` as `crate::request::body` built it.
    /// `betas` go in the `anthropic-beta` header, or in the body on Bedrock.
    /// With a `sink`, text and tool calls go to it as they arrive: from the
    /// Anthropic API, and from Bedrock's InvokeModelWithResponseStream when the
    /// role may call it (`api.stream`); else from Bedrock's InvokeModel once
    /// each turn's answer is complete.
    pub async fn create(
        &self,
        body: &Value,
        betas: &[&str],
        deadline: Deadline,
        margin: Duration,
        sink: Option<&Sink>,
    ) -> Result<Reply, ModelError> {
        match self {
            Backend::Anthropic { client, api_key } => {
                client
                    .create(api_key, body, betas, deadline, margin, sink)
                    .await
            }
            Backend::Bedrock { client } => {
                let model = body["model"].as_str().unwrap_or_default();
                let mut body = body.clone();
                if !betas.is_empty() {
                    body["anthropic_beta"] = Value::from(betas.to_vec());
                }
                if let (Some(sink), true) = (sink, client.streams) {
                    return client
                        .create_streamed(model, &body, deadline, margin, sink)
                        .await;
                }
                let reply = client.create(model, &body, deadline, margin).await?;
                for block in &reply.response.content {
                    let update = match Block::of(block) {
                        Block::Text(t) => Update::Text(t.to_string()),
                        Block::ToolUse { id, name, .. } => Update::ToolUse {
                            id: id.to_string(),
                            name: name.to_string(),
                        },
                        _ => continue,
                    };
                    stream::send(sink, update).await;
                }
                Ok(reply)
            }
        }
    }

    pub fn retry(&self) -> &RetryPolicy {
        match self {
            Backend::Anthropic { client, .. } => &client.retry,
            Backend::Bedrock { client } => &client.retry,
        }
    }
}
