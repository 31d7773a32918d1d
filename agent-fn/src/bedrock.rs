//! Claude through Amazon Bedrock's InvokeModel, authorised by the execution role
//! (SigV4 by the AWS SDK): no API key anywhere.
//!
//! The body is the Messages request without `model` (the model id is in the
//! path) and with `anthropic_version: bedrock-2023-05-31`; betas go in the body as
//! `anthropic_beta`, not as a header. The reply body is a Messages response
//! (<https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html>).
//! Prompt-cache breakpoints travel in the body unchanged.
//!
//! The SDK's own retries are off: the loop's [`RetryPolicy`] decides, with the
//! same statuses and the same deadline rule as the Anthropic API. Errors are
//! mapped to [`ModelError::Status`] with Bedrock's status and exception name
//! (`ThrottlingException` 429, `ServiceUnavailableException` 503,
//! `ModelTimeoutException` 408 are retried; `ValidationException` 400,
//! `AccessDeniedException` 403 are not), per the InvokeModel API reference
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html>).
//!
//! A streamed answer with `api.stream` calls InvokeModelWithResponseStream: its
//! `chunk` events each carry one Messages API stream event as JSON bytes
//! (<https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html>),
//! assembled by the same [`Assembler`] as the Anthropic API's server-sent
//! events. Errors in the stream are exceptions with the statuses that page
//! gives (`ModelStreamErrorException` 424, `ThrottlingException` 429, …).

use std::time::Duration;

use aws_sdk_bedrockruntime::error::SdkError;
use aws_sdk_bedrockruntime::primitives::Blob;
use reqwest::StatusCode;
use serde_json::Value;

use crate::anthropic::sse::{Assembler, forward, stream_error};
use crate::anthropic::{
    Attempt, MessagesResponse, ModelError, RateLimit, Reply, RetryPolicy, with_retries,
};
use crate::deadline::Deadline;
use crate::stream::Sink;

/// The `anthropic_version` Bedrock requires in the body.
pub const BEDROCK_VERSION: &str = "bedrock-2023-05-31";

/// The InvokeModel client. Built on first use (the SDK client is not free).
#[derive(Debug, Clone)]
pub struct Client {
    sdk: aws_sdk_bedrockruntime::Client,
    pub retry: RetryPolicy,
    /// Streamed answers call InvokeModelWithResponseStream (the role has it
    /// with `api.stream`); else each turn's text is sent when the turn ends.
    pub streams: bool,
}

impl Client {
    /// `endpoint` overrides the SDK's (tests); the SDK otherwise honours
    /// `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` and the function's Region.
    pub fn new(
        config: &aws_config::SdkConfig,
        endpoint: Option<&str>,
        retry: RetryPolicy,
        streams: bool,
    ) -> Client {
        let mut b = aws_sdk_bedrockruntime::config::Builder::from(config)
            .retry_config(aws_sdk_bedrockruntime::config::retry::RetryConfig::disabled());
        if let Some(e) = endpoint {
            b = b.endpoint_url(e);
        }
        Client {
            sdk: aws_sdk_bedrockruntime::Client::from_conf(b.build()),
            retry,
            streams,
        }
    }

    /// One InvokeModel call with retries; nothing runs past `deadline - margin`.
    pub async fn create(
        &self,
        model_id: &str,
        request: &Value,
        deadline: Deadline,
        margin: Duration,
    ) -> Result<Reply, ModelError> {
        let body = serde_json::to_vec(&bedrock_body(request))
            .map_err(|e| ModelError::Decode(format!("encoding the request: {e}")))?;
        let (response, latency, attempts) = with_retries(&self.retry, deadline, margin, |budget| {
            let call = self
                .sdk
                .invoke_model()
                .model_id(model_id)
                .content_type("application/json")
                .accept("application/json")
                .body(Blob::new(body.clone()))
                .send();
            async move {
                let failed = |(error, status)| Attempt::Failed {
                    error,
                    status,
                    headers: None,
                };
                match tokio::time::timeout(budget, call).await {
                    Err(_) => Err(Attempt::Timeout),
                    Ok(Err(e)) => Err(failed(map_error(&e))),
                    // A corrupt 200 is retried like a broken connection.
                    Ok(Ok(out)) => serde_json::from_slice::<MessagesResponse>(out.body().as_ref())
                        .map_err(|e| failed((ModelError::Decode(e.to_string()), None))),
                }
            }
        })
        .await?;
        Ok(Reply {
            response,
            ratelimit: RateLimit::default(),
            latency,
            attempts,
        })
    }
}

impl Client {
    /// One InvokeModelWithResponseStream call with retries: text and tool calls
    /// go to `sink` as they arrive. An attempt is retried only while it has sent
    /// nothing (a retry would repeat the text).
    pub async fn create_streamed(
        &self,
        model_id: &str,
        request: &Value,
        deadline: Deadline,
        margin: Duration,
        sink: &Sink,
    ) -> Result<Reply, ModelError> {
        let body = serde_json::to_vec(&bedrock_body(request))
            .map_err(|e| ModelError::Decode(format!("encoding the request: {e}")))?;
        let (response, latency, attempts) = with_retries(&self.retry, deadline, margin, |budget| {
            let call = self
                .sdk
                .invoke_model_with_response_stream()
                .model_id(model_id)
                .content_type("application/json")
                .accept("application/json")
                .body(Blob::new(body.clone()))
                .send();
            async move {
                let run = async {
                    let mut out = call.await.map_err(|e| {
                        let (error, status) = map_error(&e);
                        Attempt::Failed {
                            error,
                            status,
                            headers: None,
                        }
                    })?;
                    read(&mut out.body, sink)
                        .await
                        .map_err(|(error, sent)| match (error, sent) {
                            (error, true) => Attempt::Fatal(error),
                            (error, false) => Attempt::Failed {
                                status: match &error {
                                    ModelError::Status { status, .. } => {
                                        StatusCode::from_u16(*status).ok()
                                    }
                                    _ => None,
                                },
                                error,
                                headers: None,
                            },
                        })
                };
                match tokio::time::timeout(budget, run).await {
                    Err(_) => Err(Attempt::Timeout),
                    Ok(r) => r,
                }
            }
        })
        .await?;
        Ok(Reply {
            response,
            ratelimit: RateLimit::default(),
            latency,
            attempts,
        })
    }
}

type Events = aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver<
    aws_sdk_bedrockruntime::types::ResponseStream,
    aws_sdk_bedrockruntime::types::error::ResponseStreamError,
>;

/// Reads the stream to its end: the assembled message, or the failure and
/// whether anything was sent to the sink before it.
async fn read(events: &mut Events, sink: &Sink) -> Result<MessagesResponse, (ModelError, bool)> {
    use aws_sdk_bedrockruntime::types::ResponseStream;
    let mut assembler = Assembler::default();
    let mut sent = false;
    loop {
        let part = match events.recv().await {
            Ok(Some(ResponseStream::Chunk(part))) => part,
            // A kind of event this SDK does not know: nothing to assemble.
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => return Err((stream_exception(&e), sent)),
        };
        let bytes = part.bytes().map(|b| b.as_ref()).unwrap_or_default();
        let data = String::from_utf8_lossy(bytes).into_owned();
        let event = serde_json::from_str::<Value>(&data)
            .ok()
            .and_then(|v| v["type"].as_str().map(str::to_string))
            .unwrap_or_default();
        let event = claw_spec::sse::Event { event, data };
        forward(&mut assembler, &event, sink, &mut sent).await?;
        if assembler.is_done() {
            break;
        }
    }
    assembler.finish().map_err(|e| (stream_error(e), sent))
}

/// An exception in the stream, with the status InvokeModelWithResponseStream's
/// reference gives it; anything else (a broken connection, a bad frame) as a
/// transport failure.
fn stream_exception<R: std::fmt::Debug>(
    e: &SdkError<aws_sdk_bedrockruntime::types::error::ResponseStreamError, R>,
) -> ModelError {
    use aws_sdk_bedrockruntime::error::ProvideErrorMetadata;
    use aws_sdk_bedrockruntime::types::error::ResponseStreamError as E;
    let Some(err) = e.as_service_error() else {
        return ModelError::Transport(crate::aws::describe(e));
    };
    let (status, name) = match err {
        E::ValidationException(_) => (400, "ValidationException"),
        E::ModelTimeoutException(_) => (408, "ModelTimeoutException"),
        E::ModelStreamErrorException(_) => (424, "ModelStreamErrorException"),
        E::ThrottlingException(_) => (429, "ThrottlingException"),
        E::ServiceUnavailableException(_) => (503, "ServiceUnavailableException"),
        E::InternalServerException(_) => (500, "InternalServerException"),
        other => (500, other.code().unwrap_or("UnknownStreamException")),
    };
    ModelError::Status {
        status,
        error_type: Some(name.to_string()),
    }
}

/// The Messages request as Bedrock takes it.
pub fn bedrock_body(request: &Value) -> Value {
    let mut body = request.clone();
    if let Some(o) = body.as_object_mut() {
        o.remove("model");
        o.remove("stream");
        o.insert("anthropic_version".into(), Value::from(BEDROCK_VERSION));
    }
    body
}

/// A Bedrock failure as a [`ModelError`], with the status the retry rule reads.
fn map_error<E, R>(e: &SdkError<E, R>) -> (ModelError, Option<StatusCode>)
where
    E: aws_sdk_bedrockruntime::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HasStatus,
{
    match e {
        SdkError::ServiceError(s) => {
            let status = s.raw().status_u16();
            let code = s.err().code().map(str::to_string);
            (
                ModelError::Status {
                    status,
                    error_type: code,
                },
                StatusCode::from_u16(status).ok(),
            )
        }
        // Could not sign (no credentials), could not connect, or the connection
        // broke: the SDK's Display and source chain never carry credentials.
        other => (ModelError::Transport(crate::aws::describe(other)), None),
    }
}

/// The HTTP status of a raw SDK response.
pub trait HasStatus {
    fn status_u16(&self) -> u16;
}

impl HasStatus for aws_sdk_bedrockruntime::config::http::HttpResponse {
    fn status_u16(&self) -> u16 {
        self.status().as_u16()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_body_drops_model_and_names_the_bedrock_version() {
        let b = bedrock_body(&json!({
            "model": "claude-x", "stream": false, "max_tokens": 10,
            "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        }));
        assert!(b.get("model").is_none() && b.get("stream").is_none());
        assert_eq!(b["anthropic_version"], BEDROCK_VERSION);
        assert_eq!(b["max_tokens"], 10);
        // Cache breakpoints go to Bedrock as they are.
        assert_eq!(b["system"][0]["cache_control"]["type"], "ephemeral");
    }
}
