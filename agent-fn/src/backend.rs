//! Where model calls go: the Anthropic API with a key, or Bedrock with the
//! execution role. The loop sends the same Messages body to either.

use std::time::Duration;

use serde_json::Value;

use crate::anthropic::{self, ModelError, Reply, RetryPolicy};
use crate::bedrock;
use crate::deadline::Deadline;

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
    pub async fn create(
        &self,
        body: &Value,
        betas: &[&str],
        deadline: Deadline,
        margin: Duration,
    ) -> Result<Reply, ModelError> {
        match self {
            Backend::Anthropic { client, api_key } => {
                client.create(api_key, body, betas, deadline, margin).await
            }
            Backend::Bedrock { client } => {
                let model = body["model"].as_str().unwrap_or_default();
                if betas.is_empty() {
                    return client.create(model, body, deadline, margin).await;
                }
                let mut body = body.clone();
                body["anthropic_beta"] = Value::from(betas.to_vec());
                client.create(model, &body, deadline, margin).await
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
