//! `claw invoke`: invoke the deployed function, or run the built package locally.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use claw_spec::Config;
use claw_spec::model::Architecture;

use crate::commands::build::ArchArg;
use crate::context::Context;
use crate::exit::Exit;
use crate::local::{InvocationResult, Launcher, LocalFunction, LocalOptions, LogSink, Package};
use crate::package::{self, Workspace};

/// Options of `claw invoke`; the command's help text is on `cli::Command::Invoke`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The event: JSON text, @FILE to read it from a file, or - for stdin.
    #[arg(long, value_name = "JSON|@FILE", conflicts_with = "message")]
    pub payload: Option<String>,
    /// Send the direct-invoke event {"agent","message"} with this text.
    #[arg(long, short = 'm', value_name = "TEXT")]
    pub message: Option<String>,
    /// The agent --message addresses; default: the first agent, alphabetically.
    #[arg(long, value_name = "NAME", requires = "message")]
    pub agent: Option<String>,
    /// A session id for --message, to continue a conversation.
    #[arg(long, value_name = "ID", requires = "message")]
    pub session: Option<String>,
    /// Run the built package on this machine instead of invoking the deployed function.
    #[arg(long)]
    pub local: bool,
    /// Show the function's log output on stderr (remote: the last 4 KB Lambda
    /// returns; local: always shown).
    #[arg(long)]
    pub log: bool,
    /// (--local) Which built package to run; default `function.architecture`.
    #[arg(long, value_enum, requires = "local")]
    pub arch: Option<ArchArg>,
    /// (--local) Run this zip instead of the package `claw build` wrote.
    #[arg(long, value_name = "PATH", requires = "local")]
    pub zip: Option<PathBuf>,
}

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Exit> {
    if args.local {
        let loaded = ctx.load()?;
        let run = LocalRun {
            payload: event_payload(args, &loaded.config)?,
            config: loaded.config,
            config_path: ctx.global.config.clone(),
            zip: args.zip.clone(),
            arch: args.arch.map(Architecture::from),
            json: ctx.json(),
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
                eprintln!("interrupted: the local function was stopped");
                Ok(Exit::Error)
            }
        }
    } else {
        crate::commands::invoke_remote::run(ctx, args).await
    }
}

/// The event bytes from --payload or --message, checked to be JSON.
pub fn event_payload(args: &Args, config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(text) = &args.message {
        let agent = match &args.agent {
            Some(a) => {
                if !config.agents.contains_key(a) {
                    let known: Vec<&str> = config.agents.keys().map(String::as_str).collect();
                    anyhow::bail!(
                        "--agent {a}: no such agent in the config (agents: {})",
                        known.join(", ")
                    );
                }
                a.clone()
            }
            None => config
                .agents
                .keys()
                .next()
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("the config defines no agents"))?,
        };
        let mut event = serde_json::json!({"agent": agent, "message": text});
        if let Some(s) = &args.session {
            event["session_id"] = serde_json::Value::String(s.clone());
        }
        return Ok(serde_json::to_vec(&event)?);
    }
    let Some(spec) = &args.payload else {
        anyhow::bail!(
            "nothing to send: pass --message TEXT (a direct invoke of --agent, default the \
             first agent) or --payload JSON|@FILE|-"
        );
    };
    let (bytes, source) = if spec == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read the payload from stdin")?;
        (buf, "stdin".to_string())
    } else if let Some(path) = spec.strip_prefix('@') {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read --payload @{path}"))?;
        (bytes, path.to_string())
    } else {
        (spec.as_bytes().to_vec(), "--payload".to_string())
    };
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        anyhow::bail!(
            "the payload from {source} is not valid JSON ({e}); Lambda events are JSON. To \
             send a plain message use --message TEXT"
        );
    }
    Ok(bytes)
}

/// What `invoke --local` runs.
struct LocalRun {
    config: Config,
    config_path: PathBuf,
    /// `--zip`, else the package `claw build` wrote.
    zip: Option<PathBuf>,
    arch: Option<Architecture>,
    payload: Vec<u8>,
    json: bool,
}

/// Runs the package once; `pid` receives the process id for Ctrl-C.
fn invoke_local(run: &LocalRun, pid: &AtomicU32) -> anyhow::Result<Exit> {
    let LocalRun {
        config,
        config_path,
        zip,
        arch,
        payload,
        json,
    } = run;
    let (json, arch) = (*json, *arch);
    let (zip, expected) = match zip {
        Some(z) => (z.clone(), arch),
        None => {
            let arch = arch.unwrap_or(config.function.architecture);
            let ws = Workspace::locate(config_path)?;
            let (zip, _) = package::existing(config, &ws, arch)?;
            (zip, Some(arch))
        }
    };
    let pkg = Package::open(&zip, expected)?;
    if let Some(packaged) = &pkg.agent_json
        && *packaged != serde_json::to_vec(config)?
    {
        eprintln!(
            "warning: {} was built from a different agent.yaml (or --stage/--region); run \
             `claw build` to package the current one. Running it as built.",
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
    let result = f.invoke_as(&request_id, payload)?;
    // Let the function finish its post-invocation work (it polls `next` when done)
    // so all of its output is printed before END and REPORT.
    if result.outcome.is_ok() || matches!(result.outcome, InvocationResult::FunctionError(_)) {
        f.wait_idle(Duration::from_secs(2));
    }
    drop(f.stop());
    eprintln!("END RequestId: {}", result.request_id);
    eprintln!("{}", result.report_line());

    let error = result.outcome.error(&result.request_id);
    let body: Option<&[u8]> = match &result.outcome {
        InvocationResult::Response(b) => Some(b),
        InvocationResult::FunctionError(e) | InvocationResult::InitError(e) => Some(&e.body),
        _ => None,
    };
    if json {
        let payload = body.map(|b| {
            serde_json::from_slice::<serde_json::Value>(b)
                .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(b).into()))
        });
        let v = serde_json::json!({
            "ok": error.is_none(),
            "request_id": result.request_id,
            "payload": payload,
            "function_error": error.as_ref().map(|(t, m)| serde_json::json!({"type": t, "message": m})),
            "duration_ms": ms(result.duration),
            "billed_duration_ms": result.billed_ms(),
            "init_duration_ms": result.init_duration.map(ms),
            "memory_size_mb": result.memory_size_mb,
            "max_memory_used_mb": result.max_memory_kib.map(|k| k.div_ceil(1024)),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if let Some(b) = body {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        out.write_all(b)?;
        out.write_all(b"\n")?;
    }
    match error {
        None => Ok(Exit::Ok),
        Some((ty, msg)) => {
            if !json {
                eprintln!("error: the function failed: {ty}: {msg}");
            }
            Ok(Exit::Error)
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}
