//! `claw dev`: the API of agent.yaml on this machine. Each HTTP request becomes
//! the API Gateway payload 2.0 event the deployed function would receive, run
//! by the packaged function under claw's embedded Runtime API, and its answer
//! goes back as API Gateway would send it.
//!
//! - `routes`: which route a request matches (or API Gateway's 404);
//! - `auth`, `jwt`: route authorization (iam, jwt with JWKS, `--dev-token`);
//! - `event`: request → payload 2.0 event, answer → HTTP response;
//! - `http`: reading requests and writing (streamed) responses;
//! - `function`: the warm function, packaged and restarted as needed;
//! - `server`: one request from start to end, and picking up edits;
//! - `queue`: async mode's queue, drained into the function;
//! - `logs`: the function's audit lines and each request's summary.

mod auth;
mod event;
mod function;
mod http;
mod jwt;
mod logs;
mod queue;
mod routes;
mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::args::PackageArgs;
use crate::context::Context;
use crate::report::Report;
use server::{Front, Server, Settings};

/// Options of `claw dev`; the command's help text is on `cli::Command::Dev`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The port of the API's routes, on 127.0.0.1.
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// The port of the function URL (with `api.stream`); default: --port + 1.
    #[arg(long, value_name = "PORT")]
    pub url_port: Option<u16>,
    #[command(flatten)]
    pub package: PackageArgs,
    /// (auth: jwt) Accept `Authorization: Bearer TOKEN` with exactly this token,
    /// without checking it, as a caller with --dev-claims (for work offline).
    /// From $CLAW_DEV_TOKEN when not given, to keep it off the command line.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CLAW_DEV_TOKEN",
        hide_env_values = true
    )]
    pub dev_token: Option<String>,
    /// (auth: jwt) The claims a --dev-token request carries, as a JSON object,
    /// over the default {"sub": "dev", "iss": ISSUER, "aud": FIRST_AUDIENCE}.
    #[arg(long, value_name = "JSON", requires = "dev_token")]
    pub dev_claims: Option<String>,
    /// (auth: jwt) Fetch the issuer's keys from this JWKS URL instead of by OIDC
    /// discovery ({issuer}/.well-known/openid-configuration).
    #[arg(long, value_name = "URL")]
    pub jwks_url: Option<String>,
}

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Report> {
    let loaded = ctx.load()?;
    let config = loaded.config;
    let dev_claims = match &args.dev_claims {
        None => serde_json::Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            _ => anyhow::bail!(
                "--dev-claims must be a JSON object, such as '{{\"sub\": \"alice\"}}'"
            ),
        },
    };
    let url_port = match args.url_port {
        Some(p) => p,
        None => args
            .port
            .checked_add(1)
            .context("--port 65535 leaves no port for the function URL; pass --url-port")?,
    };
    for line in queue::ensure_local_resources(&config).await? {
        ctx.out
            .note(format!("created {line} at AWS_ENDPOINT_URL for async mode"));
    }
    let settings = Settings {
        overrides: claw_spec::Overrides {
            stage: ctx.global.stage.clone(),
            region: ctx.global.region.clone(),
        },
        origin: function::Origin {
            config_path: ctx.global.config.clone(),
            arch: args.package.arch.map(Into::into),
            zip: args.package.zip.clone(),
            from_source: args.package.from_source,
        },
        jwt: auth::JwtOptions {
            dev_token: args.dev_token.clone(),
            dev_claims,
            jwks_url: args.jwks_url.clone(),
        },
        verbose: ctx.verbose() > 0,
        out: ctx.out,
        api_host: format!("127.0.0.1:{}", args.port),
    };
    let pid = Arc::new(AtomicU32::new(0));
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let rt = tokio::runtime::Handle::current();
    let started = Arc::clone(&pid);
    let port = args.port;
    // Packaging, the function and the listeners run on their own threads: the
    // process ending stops them, and Ctrl-C stops the function's process group.
    std::thread::spawn(move || {
        let r = serve(settings, config, started, rt, port, url_port);
        let _ = ready_tx.send(r);
    });
    tokio::select! {
        r = ready_rx => match r {
            Ok(Err(e)) => return Err(e),
            _ => anyhow::bail!("the local server stopped"),
        },
        _ = tokio::signal::ctrl_c() => {}
    }
    let p = pid.load(Ordering::SeqCst);
    if p != 0 {
        crate::local::kill_group(p);
    }
    ctx.out.note("claw dev: stopped");
    Ok(Report::new(json!({ "stopped": true })))
}

/// Starts everything; returns only on a startup error (serving runs until the
/// process ends).
fn serve(
    settings: Settings,
    config: claw_spec::Config,
    pid: Arc<AtomicU32>,
    rt: tokio::runtime::Handle,
    port: u16,
    url_port: u16,
) -> anyhow::Result<()> {
    let bind = |port: u16, what: &str| {
        tiny_http::Server::http(("127.0.0.1", port)).map_err(|e| {
            anyhow::anyhow!("cannot listen on 127.0.0.1:{port} for the {what}: {e}; choose another with --port/--url-port")
        })
    };
    let api = bind(port, "API")?;
    let stream = config.api.stream.is_some();
    let url = if stream {
        Some(bind(url_port, "function URL")?)
    } else {
        None
    };
    let (logs_tx, logs_rx) = std::sync::mpsc::channel();
    let audits = Arc::new(logs::Audits::default());
    let follower = Arc::clone(&audits);
    let verbose = settings.verbose;
    std::thread::spawn(move || follower.follow(logs_rx, verbose));
    let server = Arc::new(Server::new(settings, config, logs_tx, audits, pid)?);
    let (jwks_error, banner) = {
        let mut st = server.state();
        st.warm.start()?;
        (
            st.auth.prefetch(),
            banner(&server, &st, port, url.as_ref().map(|_| url_port)),
        )
    };
    print_banner(&server, banner, jwks_error);
    if let Some(url) = url {
        let s = Arc::clone(&server);
        std::thread::spawn(move || listen(&s, &url, Front::Url));
    }
    {
        let s = Arc::clone(&server);
        std::thread::spawn(move || queue::drain(s, rt));
    }
    listen(&server, &api, Front::Api);
    Ok(())
}

fn listen(server: &Server, listener: &tiny_http::Server, front: Front) {
    for req in listener.incoming_requests() {
        let (req, mut w, too_big) = http::read(req);
        let summary = if too_big {
            w.send(&event::HttpOut::gateway(413, "Request Entity Too Large"));
            logs::Summary {
                method: req.method.clone(),
                path: req.path.clone(),
                route: "body over 10 MB".into(),
                status: 413,
                ..Default::default()
            }
        } else {
            server.handle(front, &req, &mut w)
        };
        drop(w);
        server.print(&summary);
    }
}

/// The startup banner as data: what listens where, and how.
fn banner(server: &Server, st: &server::State, port: u16, url_port: Option<u16>) -> Value {
    let c = &st.config;
    let names = claw_spec::Names::new(c);
    json!({
        "function": names.function,
        "arch": st.warm.arch().lambda_name(),
        "memory_mb": st.warm.memory_mb(),
        "timeout_s": st.warm.timeout().as_secs(),
        "api": format!("http://127.0.0.1:{port}"),
        "routes": st.routes.keys().collect::<Vec<_>>(),
        "function_url": url_port.map(|p| format!("http://127.0.0.1:{p}/")),
        "function_url_public": c.api.stream.as_ref().is_some_and(|u| u.public),
        "async_queue": (c.api.mode == claw_spec::model::ApiMode::Async).then_some(names.queue),
        "auth": st.auth.describe(),
        "config": server.settings.origin.config_path.display().to_string(),
        "turns_shown": server.settings.verbose && st.warm.traced(),
    })
}

fn print_banner(server: &Server, b: Value, jwks_error: Option<String>) {
    let out = server.settings.out;
    if out.is_json() {
        println!("{}", json!({ "listening": b, "jwks_error": jwks_error }));
        return;
    }
    let mut s = format!(
        "claw dev: {} ({} package, {} MB, timeout {} s), {}\n  API           {}\n",
        b["function"].as_str().unwrap_or(""),
        b["arch"].as_str().unwrap_or(""),
        b["memory_mb"],
        b["timeout_s"],
        b["config"].as_str().unwrap_or(""),
        b["api"].as_str().unwrap_or(""),
    );
    for r in b["routes"].as_array().into_iter().flatten() {
        s.push_str(&format!("                  {}\n", r.as_str().unwrap_or("")));
    }
    if let Some(u) = b["function_url"].as_str() {
        s.push_str(&format!(
            "  function URL  {u}  (api.stream: any path; answers stream as server-sent events)\n"
        ));
        if b["function_url_public"] != true {
            s.push_str(
                "  warning: the function URL (AuthType AWS_IAM) accepts UNSIGNED requests here\n",
            );
        }
    }
    if let Some(q) = b["async_queue"].as_str() {
        s.push_str(&format!(
            "  async jobs    the function queues POST /jobs to {q}; claw drains it into the function\n"
        ));
        if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
            s.push_str(
                "  warning: no AWS_ENDPOINT_URL: this drains the deployed queue, beside the deployed function\n",
            );
        }
    }
    for a in b["auth"].as_array().into_iter().flatten() {
        s.push_str(&format!("  {}\n", a.as_str().unwrap_or("")));
    }
    if let Some(e) = jwks_error {
        s.push_str(&format!(
            "  warning: the issuer's JWKS is not reachable ({e}); only --dev-token passes until it is\n"
        ));
    }
    if server.settings.verbose && b["turns_shown"] != true {
        s.push_str(
            "  note: -v shows each model turn and tool call from the function's X-Ray \
             subsegments, which it sends with `function.tracing: active` only\n",
        );
    }
    s.push_str("  Edits to agent.yaml apply from the next request. Ctrl-C stops.");
    out.line(s);
}
