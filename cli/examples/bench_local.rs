//! Benchmark of the packaged function under claw's local Runtime API.
//!
//! Builds the x86_64 package (`claw::package::build`), then runs it with
//! `claw::local::LocalFunction` against dependencies that answer at once: the
//! scripted mock Messages API, a loopback HTTP server for the tool, and a
//! loopback stand-in for Secrets Manager's GetSecretValue. Each invocation is a
//! two-turn conversation with one `http` tool call (model → tool_use, tool →
//! result, model → end_turn), so every millisecond measured is the function's own
//! work plus the Runtime API round trips.
//!
//! Figures: cold init (spawn until the first `GET /next`) and the first invocation
//! over several fresh processes; warm invocation duration (p50/p99) over many
//! invocations of one process; peak RSS (VmHWM); zip size.
//!
//! Streaming (`"stream": true`, the mock model sending a delta every 2 ms): the
//! function's own time to first byte, that is the time from handing the event
//! over to the first `text` event at the caller minus the mock's time to first
//! token (request received to first delta sent); and peak RSS of a fresh
//! process streaming a 100,000-token answer beside one streaming a short one.
//!
//! Run with `scripts/bench-local` (release build), options:
//!   --cold N     fresh processes for cold figures (default 20)
//!   --warm N     warm invocations (default 200)
//!   --stream N   streamed invocations for the first-byte figure (default 50)
//!   --json       one JSON document instead of the table

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use claw::local::{InvocationResult, LocalFunction, LocalOptions, LogSink, Package};
use claw::package::{self, BuildParams, BuildProgress, Profile, Source, Workspace};
use claw_spec::model::Architecture;
use claw_testkit::mock_model::{MockModel, MockOptions, Step};
use serde_json::{Value, json};

const API_KEY: &str = "sk-ant-bench-0000";

fn main() -> anyhow::Result<()> {
    let mut cold_runs = 20usize;
    let mut warm_runs = 200usize;
    let mut stream_runs = 50usize;
    let mut as_json = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cold" => {
                cold_runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(cold_runs)
            }
            "--warm" => {
                warm_runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(warm_runs)
            }
            "--stream" => {
                stream_runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(stream_runs)
            }
            "--json" => as_json = true,
            other => anyhow::bail!("unknown option {other}; see the header of bench_local.rs"),
        }
    }
    let cold_runs = cold_runs.max(1);
    let warm_runs = warm_runs.max(1);

    let tool_server = Loopback::start(|_req| {
        (
            200,
            "application/json",
            json!({"id": "L-42", "name": "Jane Doe", "company": "acme.com", "score_hint": 87})
                .to_string(),
        )
    });
    let secrets = Loopback::start(|req| {
        // Secrets Manager's JSON protocol: POST / with X-Amz-Target.
        if !req.contains("GetSecretValue") {
            return (400, "application/x-amz-json-1.1", "{}".into());
        }
        let body = json!({
            "ARN": "arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:bench/anthropic-key-AbCdEf",
            "Name": "bench/anthropic-key",
            "SecretString": API_KEY,
            "VersionId": "00000000-0000-4000-8000-000000000000",
            "VersionStages": ["AWSCURRENT"],
            "CreatedDate": 1_700_000_000.0,
        });
        (200, "application/x-amz-json-1.1", body.to_string())
    });

    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("agent.yaml");
    std::fs::write(&config_path, config_yaml(tool_server.port()))?;
    let loaded = claw::load_config(&config_path, &Default::default())?;
    let config = loaded.config;

    // Build (incremental) and package, from this checkout.
    let params = BuildParams {
        config: config.clone(),
        arch: Architecture::X86_64,
        profile: Profile::Release,
        source: Source::Workspace(Workspace::at(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join(".."),
        )?),
        progress: BuildProgress::Plain,
        verbose: false,
    };
    eprintln!("building the x86_64 package ...");
    let built = package::ensure_built(&params)?;
    eprintln!(
        "package: {} ({} bytes)",
        built.zip_path.display(),
        built.size
    );

    let mock = MockModel::with_options(
        MockOptions {
            api_key: API_KEY.into(),
            expect_model: Some("claude-bench".into()),
            repeat: true,
            cache_min_tokens: None,
        },
        vec![
            Step::tool_use("toolu_bench_1", "get_lead", json!({"lead_id": "L-42"})),
            Step::text("Lead L-42 scores 87."),
        ],
    );

    let pkg = Package::open(&built.zip_path, Some(Architecture::X86_64))?;
    let mut opts = LocalOptions::from_config(&config);
    opts.logs = LogSink::Discard;
    opts.passthrough = vec![
        ("AWS_ACCESS_KEY_ID".into(), "bench".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "bench".into()),
        ("AWS_ENDPOINT_URL".into(), secrets.url().into()),
        ("ANTHROPIC_BASE_URL".into(), mock.base_url().into()),
    ];
    let payload =
        serde_json::to_vec(&json!({"agent": "qualifier", "message": "Qualify lead L-42"}))?;

    // Cold: a fresh process each time; init and the first invocation.
    let mut cold_init = Vec::new();
    let mut first_duration = Vec::new();
    let mut first_round_trip = Vec::new();
    for _ in 0..cold_runs {
        let mut f = LocalFunction::start(&pkg, &opts)?;
        let r = f.invoke(&payload)?;
        check(&r.outcome)?;
        cold_init.push(r.init_duration.unwrap_or_default());
        first_duration.push(r.duration);
        first_round_trip.push(r.round_trip);
        f.stop();
    }

    // Warm: one process, many invocations.
    let mut f = LocalFunction::start(&pkg, &opts)?;
    check(&f.invoke(&payload)?.outcome)?;
    let mut warm = Vec::with_capacity(warm_runs);
    let mut warm_round_trip = Vec::with_capacity(warm_runs);
    for _ in 0..warm_runs {
        let r = f.invoke(&payload)?;
        check(&r.outcome)?;
        warm.push(r.duration);
        warm_round_trip.push(r.round_trip);
    }
    let peak_kib = f.peak_rss_kib().unwrap_or(0);
    f.stop();
    let expected_requests = 2 * (cold_runs + warm_runs + 1);
    anyhow::ensure!(
        mock.request_count() == expected_requests,
        "the mock model saw {} requests, expected {expected_requests}",
        mock.request_count()
    );

    let streaming = bench_stream(&pkg, &opts, stream_runs.max(1))?;

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let stats = |v: &[Duration]| {
        let mut s: Vec<f64> = v.iter().map(|d| ms(*d)).collect();
        s.sort_by(f64::total_cmp);
        let pct = |p: f64| s[((s.len() as f64 - 1.0) * p).round() as usize];
        json!({"p50": round3(pct(0.5)), "p99": round3(pct(0.99)), "min": round3(s[0]), "max": round3(s[s.len() - 1]), "n": s.len()})
    };
    let report = json!({
        "zip_bytes": built.size,
        "cold_init_ms": stats(&cold_init),
        "first_invocation_ms": stats(&first_duration),
        "first_invocation_round_trip_ms": stats(&first_round_trip),
        "warm_invocation_ms": stats(&warm),
        "warm_round_trip_ms": stats(&warm_round_trip),
        "peak_rss_kib": peak_kib,
        "stream_overhead_first_byte_ms": stats(&streaming.overhead),
        "stream_peak_rss_kib_short": streaming.rss_short_kib,
        "stream_peak_rss_kib_100k_tokens": streaming.rss_long_kib,
        "host": host(),
    });
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let verdict = |ok: bool| if ok { "meets" } else { "MISSES" };
    let f = |k: &str, s: &str| report[k][s].as_f64().unwrap_or(f64::NAN);
    let mb = 1_000_000.0;
    println!(
        "claw local benchmark: x86_64 package, zero-latency dependencies, two turns + one http tool call"
    );
    println!("host: {}", report["host"].as_str().unwrap_or("?"));
    println!(
        "  zip size                         {:>9.2} MB ({} bytes)            target < 6 MB: {}",
        built.size as f64 / mb,
        built.size,
        verdict((built.size as f64) < 6.0 * mb)
    );
    println!(
        "  cold init (spawn -> GET /next)   p50 {:>7.2} ms (min {:.2}, max {:.2}, n={cold_runs})  target < 15 ms: {}",
        f("cold_init_ms", "p50"),
        f("cold_init_ms", "min"),
        f("cold_init_ms", "max"),
        verdict(f("cold_init_ms", "p50") < 15.0)
    );
    println!(
        "  first invocation (Duration)      p50 {:>7.2} ms (max {:.2}; round trip p50 {:.2})  target < 30 ms: {}",
        f("first_invocation_ms", "p50"),
        f("first_invocation_ms", "max"),
        f("first_invocation_round_trip_ms", "p50"),
        verdict(f("first_invocation_ms", "p50") < 30.0)
    );
    println!(
        "  warm invocation (Duration)       p50 {:>7.2} ms, p99 {:.2} ms (n={warm_runs}; round trip p50 {:.2})  target p50 < 2 ms: {}",
        f("warm_invocation_ms", "p50"),
        f("warm_invocation_ms", "p99"),
        f("warm_round_trip_ms", "p50"),
        verdict(f("warm_invocation_ms", "p50") < 2.0)
    );
    println!(
        "  peak RSS (VmHWM)                 {:>9.2} MB ({peak_kib} KiB)              target < 25 MB: {}",
        peak_kib as f64 * 1024.0 / mb,
        verdict((peak_kib as f64 * 1024.0) < 25.0 * mb)
    );
    println!(
        "  streamed first byte, own overhead p50 {:>7.3} ms, p99 {:.3} ms (n={})  target < 5 ms: {}",
        f("stream_overhead_first_byte_ms", "p50"),
        f("stream_overhead_first_byte_ms", "p99"),
        streaming.overhead.len(),
        verdict(f("stream_overhead_first_byte_ms", "p50") < 5.0)
    );
    let grew = streaming
        .rss_long_kib
        .saturating_sub(streaming.rss_short_kib);
    println!(
        "  peak RSS streaming 100k tokens   {:>9.2} MB (short answer {:.2} MB; +{grew} KiB)  target flat (< +2 MB): {}",
        streaming.rss_long_kib as f64 * 1024.0 / mb,
        streaming.rss_short_kib as f64 * 1024.0 / mb,
        verdict(grew < 2048)
    );
    Ok(())
}

struct Streaming {
    overhead: Vec<Duration>,
    rss_short_kib: u64,
    rss_long_kib: u64,
}

/// The streaming figures, each process with its own mock model.
fn bench_stream(pkg: &Package, opts: &LocalOptions, runs: usize) -> anyhow::Result<Streaming> {
    let payload = serde_json::to_vec(
        &json!({"agent": "qualifier", "message": "Qualify lead L-42", "stream": true}),
    )?;
    let with_model = |mock: &MockModel| {
        let mut o = opts.clone();
        for (k, v) in o.passthrough.iter_mut() {
            if k == "ANTHROPIC_BASE_URL" {
                *v = mock.base_url().into();
            }
        }
        o
    };
    let model = |text: String, pace: Duration| {
        MockModel::with_options(
            MockOptions {
                api_key: API_KEY.into(),
                expect_model: Some("claude-bench".into()),
                repeat: true,
                cache_min_tokens: None,
            },
            vec![Step::text(&text).paced(pace)],
        )
    };
    // Time to first byte, warm.
    let answer = "Lead L-42 scores 87: an existing enterprise customer. ".repeat(4);
    let mock = model(answer.clone(), Duration::from_millis(2));
    let mut f = LocalFunction::start(pkg, &with_model(&mock))?;
    let mut overhead = Vec::with_capacity(runs);
    for i in 0..=runs {
        let mut parser = claw_spec::sse::Parser::default();
        let mut first_text = None;
        let mut text = String::new();
        let handed = std::time::Instant::now();
        let r = f.invoke_streaming(&claw::local::new_request_id(), &payload, &mut |b| {
            for e in parser.feed(b).unwrap_or_default() {
                if e.event == "text" {
                    first_text.get_or_insert_with(std::time::Instant::now);
                    let v: Value = serde_json::from_str(&e.data).unwrap_or_default();
                    text.push_str(v["text"].as_str().unwrap_or_default());
                }
            }
        })?;
        anyhow::ensure!(
            matches!(r.outcome, InvocationResult::Streamed { .. }) && text == answer,
            "the streamed invocation failed: {:?}",
            r.outcome
        );
        let mark = *mock
            .stream_marks()
            .last()
            .ok_or_else(|| anyhow::anyhow!("the mock model streamed nothing"))?;
        let (Some(first), Some(delta)) = (first_text, mark.first_delta) else {
            anyhow::bail!("no text arrived");
        };
        if i > 0 {
            // The first invocation warms the process up: not counted.
            overhead.push((first - handed).saturating_sub(delta - mark.received));
        }
    }
    f.stop();
    // Peak memory: a fresh process per answer length.
    let peak = |text: String| -> anyhow::Result<u64> {
        let mock = model(text, Duration::ZERO);
        let mut f = LocalFunction::start(pkg, &with_model(&mock))?;
        let mut bytes = 0usize;
        let r = f.invoke_streaming(&claw::local::new_request_id(), &payload, &mut |b| {
            bytes += b.len()
        })?;
        anyhow::ensure!(
            matches!(r.outcome, InvocationResult::Streamed { .. }) && bytes > 0,
            "the streamed invocation failed: {:?}",
            r.outcome
        );
        let kib = f.peak_rss_kib().unwrap_or(0);
        f.stop();
        Ok(kib)
    };
    // About 4 characters a token.
    let rss_long_kib = peak("Tokens of a long answer. ".repeat(16_000))?;
    let rss_short_kib = peak(answer)?;
    Ok(Streaming {
        overhead,
        rss_short_kib,
        rss_long_kib,
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn check(outcome: &InvocationResult) -> anyhow::Result<()> {
    match outcome {
        InvocationResult::Response(body) => {
            let v: Value = serde_json::from_slice(body)?;
            anyhow::ensure!(
                v["response"] == "Lead L-42 scores 87." && v["tool_calls"] == 1,
                "unexpected response: {v}"
            );
            Ok(())
        }
        other => anyhow::bail!("the invocation failed: {other:?}"),
    }
}

fn host() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    // Other work on the machine shows up as variance: record the load with the figures.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    format!(
        "{cpu}, {cores} cores available, {}, load average {load}",
        std::env::consts::ARCH
    )
}

fn config_yaml(tool_port: u16) -> String {
    format!(
        r#"app: bench
stage: local
region: ap-southeast-2
account: "123456789012"
function:
  architecture: x86_64
  memory_mb: 256
  timeout_s: 30
model:
  id: claude-bench
  max_tokens: 512
  api_key_secret: bench/anthropic-key
agents:
  qualifier:
    system: You qualify leads.
    tools: [get_lead]
tools:
  get_lead:
    kind: http
    description: Fetch a lead
    method: GET
    url: http://127.0.0.1:{tool_port}/v2/leads/{{lead_id}}
    allow_private_hosts: true
    input_schema:
      type: object
      properties: {{ lead_id: {{ type: string }} }}
      required: [lead_id]
api:
  mode: sync
  routes: ["POST /agents/{{agent}}"]
  auth: iam
"#
    )
}

type Handler = dyn Fn(&str) -> (u16, &'static str, String) + Send + Sync;

/// A loopback HTTP server answering every request at once; the handler sees the
/// request's headers and body as one string.
struct Loopback {
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Loopback {
    fn start(
        handler: impl Fn(&str) -> (u16, &'static str, String) + Send + Sync + 'static,
    ) -> Loopback {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let server = Arc::clone(&server);
            std::thread::spawn(move || {
                for mut req in server.incoming_requests() {
                    let mut seen = String::new();
                    for h in req.headers() {
                        seen.push_str(&format!("{}: {}\n", h.field, h.value));
                    }
                    let _ = std::io::Read::read_to_string(req.as_reader(), &mut seen);
                    let (status, ctype, body) = handler(&seen);
                    let resp = tiny_http::Response::from_string(body)
                        .with_status_code(status)
                        .with_header(
                            tiny_http::Header::from_bytes("Content-Type", ctype).expect("header"),
                        );
                    let _ = req.respond(resp);
                }
            })
        };
        Loopback {
            server,
            thread: Some(thread),
        }
    }

    fn port(&self) -> u16 {
        self.server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .unwrap_or(0)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
