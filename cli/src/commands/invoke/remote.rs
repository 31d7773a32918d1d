//! `claw invoke` without `--local`: the Lambda Invoke API on the deployed function.

use base64::Engine as _;
use claw_spec::Config;

use super::shown::{Shown, failed_with, ms};
use crate::aws::AwsResultExt;
use crate::context::Context;
use crate::report::Report;

/// Invokes the deployed function synchronously and prints its response. A function
/// error (an unhandled error or a timeout inside the function) exits 1 with its
/// message; `--log` prints the last 4 KB of the function's log, which Lambda returns.
pub async fn run(
    ctx: &Context,
    log: bool,
    config: Config,
    payload: Vec<u8>,
) -> anyhow::Result<Report> {
    let out = ctx.out;
    let names = claw_spec::Names::new(&config);
    let aws = crate::ops::account::connect(&config).await?;
    let mut req = aws
        .lambda
        .invoke()
        .function_name(&names.function)
        // With `rollout:`, what callers invoke: the alias.
        .set_qualifier(names.alias.clone())
        .payload(aws_sdk_lambda::primitives::Blob::new(payload));
    if log {
        req = req.log_type(aws_sdk_lambda::types::LogType::Tail);
    }
    let res = req.send().await.ctx("Invoke", &names.function)?;
    let body = res
        .payload()
        .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
        .unwrap_or_default();
    let log = res
        .log_result()
        .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let function_error = res.function_error().map(str::to_string);
    if let Some(log) = &log {
        out.note(log.strip_suffix('\n').unwrap_or(log));
    }
    if function_error.is_none() {
        out.line(&body);
    }
    let response = serde_json::from_str::<serde_json::Value>(&body)
        .unwrap_or(serde_json::Value::String(body.clone()));
    let report = Report::new(serde_json::json!({
        "function": names.function,
        "status_code": res.status_code(),
        "function_error": function_error,
        "executed_version": res.executed_version(),
        "response": response,
        "log": log,
    }));
    let Some(kind) = function_error else {
        return Ok(report);
    };
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            let t = v
                .get("errorType")
                .and_then(|x| x.as_str())
                .unwrap_or(&kind)
                .to_string();
            v.get("errorMessage")
                .and_then(|x| x.as_str())
                .map(|m| format!("{t}: {m}"))
        })
        .unwrap_or(body);
    let error = format!("the function failed ({kind}): {message}");
    out.note(format_args!("error: {error}"));
    Ok(report.failed(error))
}

/// The streamed answer's content type when it starts with an HTTP prelude
/// (what a function URL turns into its response's status and headers).
const HTTP_INTEGRATION: &str = "application/vnd.awslambda.http-integration-response";

/// The most bytes a prelude may take before the stream is judged malformed.
const MAX_PRELUDE_BYTES: usize = 64 * 1024;

/// `claw invoke --stream`: InvokeWithResponseStream on the deployed function,
/// its text printed as it arrives. The function's events follow an HTTP
/// prelude (`statusCode`, `headers`, then 8 NUL bytes) when its stream's
/// content type says so, or when the stream starts with one (`{`: an event
/// stream never does). A failure Lambda reports at the end (`InvokeComplete`
/// with an `ErrorCode`) or an `error` event exits 1.
pub async fn run_stream(ctx: &Context, config: Config, payload: Vec<u8>) -> anyhow::Result<Report> {
    use aws_sdk_lambda::types::InvokeWithResponseStreamResponseEvent as Event;
    let out = ctx.out;
    let names = claw_spec::Names::new(&config);
    let aws = crate::ops::account::connect(&config).await?;
    let started = std::time::Instant::now();
    let mut res = aws
        .lambda
        .invoke_with_response_stream()
        .function_name(&names.function)
        .set_qualifier(names.alias.clone())
        .payload(aws_sdk_lambda::primitives::Blob::new(payload))
        .send()
        .await
        .ctx("InvokeWithResponseStream", &names.function)?;
    let declared = res.response_stream_content_type() == Some(HTTP_INTEGRATION);
    let mut shown = Shown::new(out.is_json());
    // `Some` while the prelude is still being read; `None` once it is past.
    let mut head: Option<Vec<u8>> = Some(Vec::new());
    let mut prelude = None;
    let mut complete = None;
    let mut broken = None;
    loop {
        let bytes = match res.event_stream.recv().await {
            Ok(Some(Event::PayloadChunk(c))) => {
                c.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default()
            }
            Ok(Some(Event::InvokeComplete(c))) => {
                complete = Some(c);
                continue;
            }
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => {
                broken = Some(format!(
                    "the stream broke: {}",
                    crate::aws::error::aws_error("InvokeWithResponseStream", &names.function, e)
                ));
                break;
            }
        };
        let Some(h) = head.as_mut() else {
            shown.feed(&bytes);
            continue;
        };
        h.extend_from_slice(&bytes);
        if !declared && h.first().is_some_and(|b| *b != b'{') {
            // No prelude: everything so far is the answer.
            let all = std::mem::take(h);
            head = None;
            shown.feed(&all);
            continue;
        }
        let Some(end) = h.windows(8).position(|w| w == [0u8; 8]) else {
            if h.len() > MAX_PRELUDE_BYTES {
                broken = Some(format!(
                    "no prelude end (8 NUL bytes) in the first {MAX_PRELUDE_BYTES} bytes"
                ));
                break;
            }
            continue;
        };
        prelude = serde_json::from_slice::<serde_json::Value>(&h[..end]).ok();
        let rest = h[end + 8..].to_vec();
        head = None;
        if !rest.is_empty() {
            shown.feed(&rest);
        }
    }
    shown.end();
    let function_error = complete.as_ref().and_then(|c| {
        c.error_code().map(|code| {
            (
                code.to_string(),
                c.error_details().unwrap_or_default().to_string(),
            )
        })
    });
    let error = function_error
        .clone()
        .or_else(|| {
            broken
                .clone()
                .map(|b| ("Runtime.StreamError".to_string(), b))
        })
        .or_else(|| shown.failure(true));
    let report = Report::new(serde_json::json!({
        "function": names.function,
        "executed_version": res.executed_version(),
        "stream": {
            "events": shown.events,
            "chunks": shown.chunks,
            "prelude": prelude,
            "text": shown.text,
            "last_event": shown.last.as_ref().map(|(n, _)| n),
            "first_byte_ms": shown.first_byte.map(|t| ms(t.saturating_duration_since(started))),
        },
        "payload": shown.last.as_ref().map(|(_, d)| d),
        "function_error": error.as_ref().map(|(t, m)| serde_json::json!({"type": t, "message": m})),
    }));
    Ok(failed_with(out, report, error))
}
