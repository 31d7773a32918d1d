//! `claw invoke` without `--local`: the Lambda Invoke API on the deployed function.

use base64::Engine as _;

use crate::aws::{Aws, AwsResultExt};
use crate::commands::invoke::{Args, event_payload};
use crate::context::Context;
use crate::exit::Exit;

/// Invokes the deployed function synchronously and prints its response. A function
/// error (an unhandled error or a timeout inside the function) exits 1 with its
/// message; `--log` prints the last 4 KB of the function's log, which Lambda returns.
pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Exit> {
    let loaded = ctx.load()?;
    // The payload is checked before any network call.
    let payload = event_payload(args, &loaded.config)?;
    let names = claw_spec::Names::new(&loaded.config);
    let aws = Aws::new(&loaded.config.region).await;
    let mut req = aws
        .lambda
        .invoke()
        .function_name(&names.function)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload));
    if args.log {
        req = req.log_type(aws_sdk_lambda::types::LogType::Tail);
    }
    let out = req.send().await.ctx("Invoke", &names.function)?;
    let body = out
        .payload()
        .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
        .unwrap_or_default();
    let log = out
        .log_result()
        .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let function_error = out.function_error().map(str::to_string);
    if ctx.json() {
        let response = serde_json::from_str::<serde_json::Value>(&body)
            .unwrap_or(serde_json::Value::String(body.clone()));
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "function": names.function,
                "status_code": out.status_code(),
                "function_error": function_error,
                "executed_version": out.executed_version(),
                "response": response,
                "log": log,
            }))?
        );
    } else {
        if let Some(log) = &log {
            eprint!("{log}");
            if !log.ends_with('\n') {
                eprintln!();
            }
        }
        if function_error.is_none() {
            println!("{body}");
        }
    }
    if let Some(kind) = function_error {
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
        if !ctx.json() {
            eprintln!("error: the function failed ({kind}): {message}");
        }
        return Ok(Exit::Error);
    }
    Ok(Exit::Ok)
}
