//! `claw invoke --local`: the built package on this machine, under claw's
//! embedded Lambda Runtime API.

use super::shown::{Shown, failed_with, ms};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use claw_spec::Config;
use claw_spec::model::Architecture;

use crate::context::Context;
use crate::local::{
    InvocationResult, Launcher, LocalFunction, LocalOptions, LogSink, Package, timeline,
};
use crate::package::{self, BuildParams};
use crate::report::Report;

/// What `--local` runs: `--zip`, else the current agent.yaml packaged for `--arch`
/// (default `function.architecture`), as `claw build` would.
pub struct Options {
    pub zip: Option<PathBuf>,
    pub arch: Option<Architecture>,
    pub from_source: bool,
    /// Print a streamed answer as it arrives.
    pub stream: bool,
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
        payload,
        out,
    } = run;
    let arch = *arch;
    let (zip, expected) = match zip {
        Some(z) => (z.clone(), arch),
        None => {
            // What runs is what agent.yaml says now: packaging is incremental
            // (cargo's no-op check from source, nothing with the prebuilt function).
            let params = BuildParams::new(config, config_path, arch, *from_source)?;
            let built = package::ensure_built(&params)?;
            (built.zip_path, Some(built.arch))
        }
    };
    let pkg = Package::open(&zip, expected)?;
    if let Some(packaged) = &pkg.agent_json
        && *packaged != serde_json::to_vec(config)?
    {
        eprintln!(
            "warning: {} holds a different agent.yaml than the current one (or \
             --stage/--region); running it as built. Without --zip, claw packages the \
             current one.",
            zip.display()
        );
    }
    let mut opts = LocalOptions::from_config(config);
    opts.logs = LogSink::Stderr;
    if !opts
        .passthrough
        .iter()
        .any(|(k, _)| k == "AWS_ACCESS_KEY_ID")
    {
        eprintln!(
            "note: no AWS credentials in the environment, so the function cannot call AWS \
             (Secrets Manager, tools). Export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY \
             (e.g. `eval \"$(aws configure export-credentials --format env)\"`)."
        );
    }
    let mut f = LocalFunction::start(&pkg, &opts)?;
    pid.store(f.pid(), Ordering::SeqCst);
    if let Launcher::Qemu { qemu, .. } = f.launcher() {
        eprintln!(
            "note: running the {} package under {}: durations and memory below are the \
             emulator's, not Lambda's",
            pkg.arch.lambda_name(),
            qemu.display()
        );
    }
    // Init output comes before START, as in Lambda's logs; a failed init is
    // reported by the invocation below.
    let _ = f.wait_ready();
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
    let payload = if streamed {
        shown.last.clone().map(|(_, data)| data)
    } else {
        payload
    };
    let error = error.or_else(|| shown.failure(streamed));
    let report = Report::new(serde_json::json!({
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
