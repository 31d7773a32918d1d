//! `bootstrap`: the Lambda entry point. Init is only reading agent.json; clients
//! are created on first use (see `agent_fn::aws`), so the first `GET /next` comes
//! within milliseconds of the process starting.

use std::process::ExitCode;
use std::time::Duration;

use agent_fn::app::{App, Invocation, Options};
use agent_fn::deadline::Deadline;
use agent_fn::runtime;
use agent_fn::stream::{CHANNEL_DEPTH, CONTENT_TYPE};
use serde_json::json;

/// Variables Lambda sets for every runtime; without them this is not Lambda.
const RUNTIME_VARS: [&str; 4] = [
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

fn main() -> ExitCode {
    // One thread: a function instance serves one invocation at a time, and tool
    // calls are I/O-bound, so they interleave fine on it.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bootstrap: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(run())
}

async fn run() -> ExitCode {
    let missing: Vec<&str> = RUNTIME_VARS
        .iter()
        .copied()
        .filter(|v| std::env::var_os(v).is_none_or(|s| s.is_empty()))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "bootstrap: not running under a Lambda Runtime API ({} not set)",
            missing.join(", ")
        );
        return ExitCode::FAILURE;
    }
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").unwrap_or_default();
    let client = match runtime::Client::new(&api) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bootstrap: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = match agent_fn::config_path().and_then(|p| agent_fn::load_config(&p)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bootstrap: {e}");
            // The caller sees `Runtime.InitError` with the reason, not a bare exit.
            let _ = client.init_error(&e.to_string()).await;
            return ExitCode::FAILURE;
        }
    };
    // Lambda's deadline header is an epoch time; an emulator that sends a duration
    // instead (cargo lambda watch 1.9.2 sends 600000) would otherwise leave every
    // invocation out of time at once. Such a deadline is read as the configured
    // timeout from now, with one warning.
    let started_ms = agent_fn::deadline::now_epoch_ms();
    let timeout = Duration::from_secs(u64::from(config.function.timeout_s));
    let app = App::new(config, Options::from_env());
    let mut warned = false;
    loop {
        // Lambda answers `next` with the next event; if it cannot, this process
        // is done and Lambda starts another.
        let next = match client.next().await {
            Ok(n) => n,
            Err(e) => {
                eprintln!("bootstrap: the Runtime API failed: {e}");
                return ExitCode::FAILURE;
            }
        };
        let (deadline, not_epoch) =
            Deadline::from_runtime_header(next.deadline_ms, started_ms, timeout);
        if not_epoch && !warned {
            warned = true;
            println!(
                "{}",
                json!({
                    "type": "warning",
                    "request_id": next.request_id,
                    "detail": format!(
                        "Lambda-Runtime-Deadline-Ms {} is before this process started: \
                         not an epoch time; using the configured timeout of {} s",
                        next.deadline_ms,
                        timeout.as_secs()
                    ),
                })
            );
        }
        let inv = Invocation {
            request_id: next.request_id.clone(),
            deadline,
            trace_header: next.trace_id,
        };
        let sent = if App::wants_stream(&next.payload) {
            // The run and the answer's body together: each event is written
            // as the run produces it.
            let (tx, rx) = tokio::sync::mpsc::channel(CHANNEL_DEPTH);
            let prelude = json!({
                "statusCode": 200,
                "headers": {"content-type": CONTENT_TYPE, "cache-control": "no-cache"},
                "cookies": [],
            });
            let ((), sent) = tokio::join!(
                app.handle_stream(next.payload, &inv, tx),
                client.respond_stream(&inv.request_id, &prelude, rx)
            );
            sent
        } else {
            match app.handle(next.payload, &inv).await {
                Ok(v) => client.respond(&inv.request_id, &v).await,
                Err(e) => {
                    client
                        .error(&inv.request_id, "AgentError", &e.to_string())
                        .await
                }
            }
        };
        if let Err(e) = sent {
            // The run is over and logged; only its delivery failed.
            println!(
                "{}",
                json!({"type": "error", "request_id": inv.request_id, "error": "runtime_api", "detail": e})
            );
        }
    }
}
