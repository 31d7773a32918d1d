//! `claw invoke --local`: the built package on this machine, under claw's
//! embedded Lambda Runtime API.

use super::shown::{Shown, failed_with, ms};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use claw_spec::Config;
use claw_spec::model::Architecture;

use super::record::Recorder;
use crate::context::Context;
use crate::local::{InvocationResult, timeline};
use crate::ops::local::{self as ops_local, Which};
use crate::report::Report;

/// What `--local` runs: `--zip`, else the current agent.yaml packaged for `--arch`
/// (default `function.architecture`), as `claw build` would.
pub struct Options {
    pub zip: Option<PathBuf>,
    pub arch: Option<Architecture>,
    pub from_source: bool,
    /// Print a streamed answer as it arrives.
    pub stream: bool,
    /// `--record FILE`: keep the conversation there.
    pub record: Option<PathBuf>,
}

/// Runs the package once, stopping it with claw on Ctrl-C.
pub async fn run(
    ctx: &Context,
    opts: Options,
    config: Config,
    payload: Vec<u8>,
) -> anyhow::Result<Report> {
    let run = LocalRun {
        payload,
        config,
        config_path: ctx.global.config.clone(),
        zip: opts.zip,
        arch: opts.arch,
        from_source: opts.from_source,
        stream: opts.stream,
        record: opts.record,
        out: ctx.out,
    };
    let pid = Arc::new(AtomicU32::new(0));
    let started = Arc::clone(&pid);
    let mut task = tokio::task::spawn_blocking(move || invoke_local(&run, &started));
    tokio::select! {
        r = &mut task => r?,
        _ = tokio::signal::ctrl_c() => {
            // The function runs in its own process group; stop it with claw.
            let p = pid.load(Ordering::SeqCst);
            if p != 0 {
                crate::local::kill_group(p);
            }
            let _ = task.await;
            anyhow::bail!("interrupted: the local function was stopped")
        }
    }
}

/// What `invoke --local` runs.
struct LocalRun {
    config: Config,
    config_path: PathBuf,
    /// `--zip`, else the current agent.yaml, packaged now.
    zip: Option<PathBuf>,
    arch: Option<Architecture>,
    from_source: bool,
    stream: bool,
    record: Option<PathBuf>,
    payload: Vec<u8>,
    out: crate::report::Printer,
}

/// Runs the package once; `pid` receives the process id for Ctrl-C.
fn invoke_local(run: &LocalRun, pid: &AtomicU32) -> anyhow::Result<Report> {
    let LocalRun {
        config,
        config_path,
        zip,
        arch,
        from_source,
        stream,
        record,
        payload,
        out,
    } = run;
    let which = Which {
        zip: zip.clone(),
        arch: *arch,
        from_source: *from_source,
    };
    let pkg = ops_local::package(config, config_path, &which)?;
    let mut opts = ops_local::options(config, true);
    let recorder = match record {
        Some(_) => Some(Recorder::start(&mut opts)?),
        None => None,
    };
    let mut f = ops_local::start(&pkg, &opts)?;
    pid.store(f.pid(), Ordering::SeqCst);
    let request_id = crate::local::new_request_id();
    eprintln!("START RequestId: {request_id} Version: $LATEST");
    let mut shown = Shown::new(out.is_json());
    let handed = std::time::Instant::now();
    let result = if *stream {
        f.invoke_streaming(&request_id, payload, &mut |bytes| shown.feed(bytes))?
    } else {
        f.invoke_as(&request_id, payload)?
    };
    shown.end();
    // Let the function finish its post-invocation work (it polls `next` when done)
    // so all of its output is printed before END and REPORT.
    if result.outcome.is_ok() || matches!(result.outcome, InvocationResult::FunctionError(_)) {
        f.wait_idle(Duration::from_secs(2));
    }
    drop(f.stop());
    eprintln!("END RequestId: {}", result.request_id);
    eprintln!("{}", result.report_line());
    if !result.spans.is_empty() {
        out.note(format_args!("timeline: {}", timeline(&result.spans)));
    } else if !opts.tracing {
        out.note(
            "note: no timeline: function.tracing is not `active`, so the function sends no traces",
        );
    }

    let error = result.outcome.error(&result.request_id);
    let body: Option<&[u8]> = match &result.outcome {
        InvocationResult::Response(b) => Some(b),
        InvocationResult::FunctionError(e) | InvocationResult::InitError(e) => Some(&e.body),
        _ => None,
    };
    if let Some(b) = body {
        out.line(String::from_utf8_lossy(b));
    }
    let payload = body.map(|b| {
        serde_json::from_slice::<serde_json::Value>(b)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(b).into()))
    });
    let streamed = matches!(result.outcome, InvocationResult::Streamed { .. });
    let event = run.payload.as_slice();
    let payload = if streamed {
        shown.last.clone().map(|(_, data)| data)
    } else {
        payload
    };
    let error = error.or_else(|| shown.failure(streamed));
    let recorded = match (recorder, record) {
        (Some(r), Some(path)) => {
            Some(r.finish(path, event, payload.as_ref().filter(|_| error.is_none()))?)
        }
        _ => None,
    };
    if let Some(r) = &recorded {
        out.note(format_args!(
            "recorded {} model request(s) and {} tool call(s) to {}",
            r["model_requests"],
            r["tool_calls"],
            r["path"].as_str().unwrap_or_default()
        ));
    }
    let report = Report::new(serde_json::json!({
        "recorded": recorded,
        "stream": streamed.then(|| serde_json::json!({
            "events": shown.events,
            "chunks": shown.chunks,
            "prelude": match &result.outcome {
                InvocationResult::Streamed { prelude, .. } => prelude.clone(),
                _ => None,
            },
            "text": shown.text,
            "last_event": shown.last.as_ref().map(|(n, _)| n),
            // From handing the event over to the first byte of the answer.
            "first_byte_ms": shown.first_byte.map(|t| ms(t.saturating_duration_since(handed))),
        })),
        "request_id": result.request_id,
        "payload": payload,
        "function_error": error.as_ref().map(|(t, m)| serde_json::json!({"type": t, "message": m})),
        "duration_ms": ms(result.duration),
        "billed_duration_ms": result.billed_ms(),
        "init_duration_ms": result.init_duration.map(ms),
        "memory_size_mb": result.memory_size_mb,
        "max_memory_used_mb": result.max_memory_kib.map(|k| k.div_ceil(1024)),
        "timeline": (!result.spans.is_empty()).then(|| timeline(&result.spans)),
        "spans": result.spans,
    }));
    Ok(failed_with(*out, report, error))
}
