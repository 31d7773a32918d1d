//! Lambda's InvokeWithResponseStream, which moto lacks
//! (https://docs.aws.amazon.com/lambda/latest/api/API_InvokeWithResponseStream.html):
//! `POST /2021-11-15/functions/{name}/response-streaming-invocations` answered
//! as an AWS event stream of `PayloadChunk` events (the bytes the function
//! streamed, `:content-type application/octet-stream`) and one `InvokeComplete`
//! (`ErrorCode`, `ErrorDetails` when the function failed mid-stream).
//!
//! The layer does not run functions: a test says what the function streams
//! ([`super::RealAws::set_response_stream`]), in the pieces Lambda would relay.
//! A function nothing was said of answers `ResourceNotFoundException`, loudly.

use std::collections::HashMap;

use serde_json::json;

use super::RealAws;
use super::wire::{Request, Response, error};
use crate::mock_model::eventstream::frame;

/// What one function streams when invoked.
#[derive(Debug, Clone, Default)]
pub struct Streamed {
    /// The stream's content type (the function's `Content-Type`): Lambda's
    /// `ResponseStreamContentType`.
    pub content_type: String,
    /// The bytes, in the pieces the function wrote them.
    pub chunks: Vec<Vec<u8>>,
    /// `ErrorCode` and `ErrorDetails` of the `InvokeComplete` event.
    pub error: Option<(String, String)>,
}

#[derive(Default)]
pub struct State {
    pub functions: HashMap<String, Streamed>,
}

/// The function named by an InvokeWithResponseStream request.
fn function(req: &Request) -> Option<String> {
    let target = req.head.split_whitespace().nth(1)?;
    let path = target.split('?').next()?;
    let name = path
        .strip_prefix("/2021-11-15/functions/")?
        .strip_suffix("/response-streaming-invocations")?;
    (req.method() == "POST").then(|| name.replace("%3A", ":"))
}

pub fn before(aws: &RealAws, req: &Request) -> Option<Response> {
    let name = function(req)?;
    let Some(s) = aws.world().response_streams.functions.get(&name).cloned() else {
        return Some(error(
            req,
            404,
            "ResourceNotFoundException",
            &format!("realism: no stream was scripted for function {name}"),
        ));
    };
    aws.note("lambda: InvokeWithResponseStream served");
    let mut body = Vec::new();
    for c in &s.chunks {
        body.extend(frame(
            &[
                (":event-type", "PayloadChunk"),
                (":content-type", "application/octet-stream"),
                (":message-type", "event"),
            ],
            c,
        ));
    }
    let complete = match &s.error {
        Some((code, details)) => json!({"ErrorCode": code, "ErrorDetails": details}),
        None => json!({}),
    };
    body.extend(frame(
        &[
            (":event-type", "InvokeComplete"),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        complete.to_string().as_bytes(),
    ));
    Some(Response {
        status: 200,
        headers: vec![
            ("Content-Type".into(), s.content_type.clone()),
            ("X-Amz-Executed-Version".into(), "$LATEST".into()),
            ("x-amzn-RequestId".into(), "realism-stream-0001".into()),
        ],
        body,
    })
}
