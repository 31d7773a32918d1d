//! `bootstrap`: the Lambda entry point. Init is only reading agent.json; clients
//! are created on first use (see `agent_fn::aws`), so the first `GET /next` comes
//! within milliseconds of the process starting.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agent_fn::app::{App, Invocation, Options};
use agent_fn::deadline::Deadline;
use lambda_runtime::streaming::Body;
use lambda_runtime::{
    Diagnostic, FunctionResponse, LambdaEvent, MetadataPrelude, StreamResponse, service_fn,
};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Value;

/// Variables `lambda_runtime` reads (and panics without) before it polls.
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
    let config = match agent_fn::config_path().and_then(|p| agent_fn::load_config(&p)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bootstrap: {e}");
            report_init_error(&e.to_string()).await;
            return ExitCode::FAILURE;
        }
    };
    // Lambda's deadline header is an epoch time; an emulator that sends a duration
    // instead (cargo lambda watch 1.9.2 sends 600000) would otherwise leave every
    // invocation out of time at once. Such a deadline is read as the configured
    // timeout from now, with one warning.
    let started_ms = agent_fn::deadline::now_epoch_ms();
    let timeout = Duration::from_secs(u64::from(config.function.timeout_s));
    let warned = Arc::new(AtomicBool::new(false));
    let app = Arc::new(App::new(config, Options::from_env()));
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let app = Arc::clone(&app);
        let warned = Arc::clone(&warned);
        async move {
            let (deadline, not_epoch) =
                Deadline::from_runtime_header(event.context.deadline, started_ms, timeout);
            if not_epoch && !warned.swap(true, Ordering::SeqCst) {
                println!(
                    "{}",
                    serde_json::json!({
                        "type": "warning",
                        "request_id": event.context.request_id,
                        "detail": format!(
                            "Lambda-Runtime-Deadline-Ms {} is before this process started: \
                             not an epoch time; using the configured timeout of {} s",
                            event.context.deadline,
                            timeout.as_secs()
                        ),
                    })
                );
            }
            let inv = Invocation {
                request_id: event.context.request_id.clone(),
                deadline,
                // What lambda_runtime read from `Lambda-Runtime-Trace-Id`.
                trace_header: event.context.xray_trace_id.clone(),
            };
            if App::wants_stream(&event.payload) {
                return Ok(FunctionResponse::StreamingResponse(stream(
                    app,
                    event.payload,
                    inv,
                )));
            }
            app.handle(event.payload, &inv)
                .await
                .map(FunctionResponse::BufferedResponse)
                .map_err(|e| Diagnostic {
                    error_type: "AgentError".into(),
                    error_message: e.to_string(),
                })
        }
    });
    match lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bootstrap: the runtime loop stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Answers in Lambda's streaming response mode: the run goes on in its own
/// task, its events written to the response body as they come. The runtime
/// posts the body while it is written and asks for the next event only once
/// it ends, after the run saved its session and wrote its audit line.
fn stream(app: Arc<App>, payload: Value, inv: Invocation) -> StreamResponse<Body> {
    let (mut body_tx, body) = lambda_runtime::streaming::channel();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(agent_fn::stream::CHANNEL_DEPTH);
    tokio::spawn(async move {
        let run = app.handle_stream(payload, &inv, tx);
        let forward = async {
            let mut open = true;
            while let Some(event) = rx.recv().await {
                // A caller gone: keep draining so the run finishes.
                if open && body_tx.send_data(event.into()).await.is_err() {
                    open = false;
                }
            }
        };
        tokio::join!(run, forward);
    });
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(agent_fn::stream::CONTENT_TYPE),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    StreamResponse {
        metadata_prelude: MetadataPrelude {
            status_code: StatusCode::OK,
            headers,
            cookies: Vec::new(),
        },
        stream: body,
    }
}

/// Tells the Runtime API why init failed (`POST /runtime/init/error`), so the
/// caller sees `Runtime.InitError` with the reason instead of a bare exit.
async fn report_init_error(message: &str) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let base = if api.starts_with("http://") || api.starts_with("https://") {
        api
    } else {
        format!("http://{api}")
    };
    let body = serde_json::json!({"errorType": "Runtime.InitError", "errorMessage": message});
    let Ok(client) = reqwest::Client::builder().no_proxy().build() else {
        return;
    };
    let _ = client
        .post(format!("{base}/2018-06-01/runtime/init/error"))
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
        .json(&body)
        .send()
        .await;
}
