//! `claw invoke` without `--local`: the Lambda Invoke API on the deployed function.

use base64::Engine as _;
use claw_spec::Config;

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
