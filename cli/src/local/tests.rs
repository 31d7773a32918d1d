//! LocalFunction against a tiny Runtime API client written in shell with curl: it
//! exercises the protocol, the environment, timeouts and failures without
//! building agent-fn (the end-to-end tests in tests/ run the real bootstrap).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::launcher::host_arch;
use super::package::set_mode;
use super::*;

const RUNTIME: &str = r#"#!/bin/sh
set -eu
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
env > "$LAMBDA_TASK_ROOT/env.txt"
# Two subsegments of the invocation's trace, as the X-Ray daemon protocol wants
# them: a model call of 1.2 s, then a tool call of 180 ms.
send_trace() {
  root=$(echo "$1" | sed 's/^Root=\([^;]*\);.*/\1/')
  parent=$(echo "$1" | sed 's/.*;Parent=\([^;]*\);.*/\1/')
  now=$(date +%s)
  for span in "model $now.000 $((now + 1)).200" "get_lead $((now + 1)).200 $((now + 1)).380"; do
    set -- $span
    doc="{\"type\":\"subsegment\",\"name\":\"$1\",\"id\":\"0123456789abcdef\",\"trace_id\":\"$root\",\"parent_id\":\"$parent\",\"start_time\":$2,\"end_time\":$3}"
    # One write is one datagram: cat writes the file at once.
    printf '%s\n%s' '{"format": "json", "version": 1}' "$doc" > "$LAMBDA_TASK_ROOT/datagram"
    bash -c 'cat "$1" > "/dev/udp/${2%:*}/${2##*:}"' _ "$LAMBDA_TASK_ROOT/datagram" "$AWS_XRAY_DAEMON_ADDRESS"
  done
}
if [ -f "$LAMBDA_TASK_ROOT/init-fail" ]; then
  curl -sS -X POST -H 'Lambda-Runtime-Function-Error-Type: Runtime.Config' \
    -d '{"errorType":"Runtime.Config","errorMessage":"no config"}' "$api/init/error" >/dev/null
  exit 1
fi
echo "init done"
while true; do
  headers="$LAMBDA_TASK_ROOT/headers"
  body=$(curl -sS -D "$headers" "$api/invocation/next")
  id=$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | cut -d' ' -f2 | tr -d '\r')
  deadline=$(grep -i '^lambda-runtime-deadline-ms:' "$headers" | cut -d' ' -f2 | tr -d '\r')
  trace=$(grep -i '^lambda-runtime-trace-id:' "$headers" | cut -d' ' -f2 | tr -d '\r')
  echo "handling $id" >&2
  case "$body" in
    *trace*) send_trace "$trace" ;;
  esac
  case "$body" in
    *sleep*) sleep 30 ;;
    *fail*) curl -sS -X POST -d '{"errorType":"Boom","errorMessage":"it failed"}' \
              "$api/invocation/$id/error" >/dev/null; continue ;;
    *exit*) exit 3 ;;
  esac
  curl -sS -X POST --data-binary "{\"echo\":$body,\"deadline\":$deadline,\"trace\":\"$trace\"}" \
    "$api/invocation/$id/response" >/dev/null
done
"#;

fn have_curl() -> bool {
    Path::new("/usr/bin/curl").is_file() || Path::new("/bin/curl").is_file()
}

/// A package whose bootstrap is the shell runtime above, for this host's CPU.
fn shell_package() -> Option<Package> {
    if !have_curl() {
        eprintln!(
            "SKIPPED: curl is not installed at /usr/bin/curl; the LocalFunction tests need it"
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bootstrap");
    std::fs::write(&path, RUNTIME).unwrap();
    set_mode(&path, 0o755).unwrap();
    Some(Package {
        dir,
        arch: host_arch().expect("tests run on x86_64 or arm64"),
        agent_json: None,
    })
}

fn opts(timeout: Duration) -> LocalOptions {
    LocalOptions {
        function_name: "crm-leads-dev".into(),
        region: "ap-southeast-2".into(),
        account: "123456789012".into(),
        memory_mb: 256,
        timeout,
        log_group: "/aws/lambda/crm-leads-dev".into(),
        environment: BTreeMap::from([("LOG_LEVEL".to_string(), "debug".to_string())]),
        passthrough: vec![
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("ANTHROPIC_BASE_URL".into(), "http://127.0.0.1:9".into()),
        ],
        logs: LogSink::Capture,
        tracing: true,
    }
}

fn response_json(r: &InvocationReport) -> serde_json::Value {
    match &r.outcome {
        InvocationResult::Response(body) => serde_json::from_slice(body).unwrap(),
        other => panic!("expected a response, got {other:?}"),
    }
}

#[test]
fn warm_invocations_reuse_one_process() {
    let Some(pkg) = shell_package() else { return };
    let mut f = LocalFunction::start(&pkg, &opts(Duration::from_secs(10))).unwrap();
    let pid = f.pid();
    let first = f.invoke(br#"{"n":1}"#).unwrap();
    assert!(
        first.init_duration.is_some(),
        "the first invocation reports init"
    );
    let v = response_json(&first);
    assert_eq!(v["echo"]["n"], 1);
    // The deadline header is about now + 10 s.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let deadline = v["deadline"].as_u64().unwrap();
    assert!(
        deadline > now + 8_000 && deadline <= now + 10_000,
        "{deadline} vs {now}"
    );

    for n in 2..=4 {
        let r = f.invoke(format!(r#"{{"n":{n}}}"#).as_bytes()).unwrap();
        assert_eq!(response_json(&r)["echo"]["n"], n);
        assert!(
            r.init_duration.is_none(),
            "warm invocations do not report init"
        );
        assert_ne!(r.request_id, first.request_id);
        assert!(r.duration <= r.round_trip);
    }
    assert_eq!(f.pid(), pid);
    let report = first.report_line();
    assert!(report.starts_with(&format!(
        "REPORT RequestId: {}\tDuration: ",
        first.request_id
    )));
    assert!(report.contains("Memory Size: 256 MB"));
    assert!(report.contains("Init Duration: "));
    assert!(first.max_memory_kib.unwrap() > 0);
    assert!(f.wait_idle(Duration::from_secs(5)));
    let logs = f.stop();
    assert!(logs.iter().any(|l| l == "init done"), "{logs:?}");
    assert_eq!(
        logs.iter().filter(|l| l.starts_with("handling ")).count(),
        4
    );
}

#[test]
fn the_environment_is_lambdas_and_nothing_else() {
    let Some(pkg) = shell_package() else { return };
    let mut f = LocalFunction::start(&pkg, &opts(Duration::from_secs(10))).unwrap();
    let addr = f.runtime_api();
    f.invoke(b"{}").unwrap();
    let text = std::fs::read_to_string(pkg.dir().join("env.txt")).unwrap();
    let env: BTreeMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], addr.to_string());
    assert!(env["AWS_LAMBDA_RUNTIME_API"].starts_with("127.0.0.1:"));
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "crm-leads-dev");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(
        env["AWS_LAMBDA_LOG_GROUP_NAME"],
        "/aws/lambda/crm-leads-dev"
    );
    assert!(env["AWS_LAMBDA_LOG_STREAM_NAME"].contains("/[$LATEST]"));
    assert_eq!(env["LAMBDA_TASK_ROOT"], pkg.dir().to_str().unwrap());
    assert_eq!(env["_HANDLER"], "bootstrap");
    assert_eq!(env["AWS_REGION"], "ap-southeast-2");
    assert_eq!(env["AWS_DEFAULT_REGION"], "ap-southeast-2");
    assert_eq!(env["LOG_LEVEL"], "debug");
    assert_eq!(env["AWS_ACCESS_KEY_ID"], "testing");
    assert_eq!(env["ANTHROPIC_BASE_URL"], "http://127.0.0.1:9");
    let daemon = env["AWS_XRAY_DAEMON_ADDRESS"];
    assert!(daemon.starts_with("127.0.0.1:"), "{daemon}");
    assert_ne!(daemon, env["AWS_LAMBDA_RUNTIME_API"]);
    assert_eq!(env["AWS_XRAY_CONTEXT_MISSING"], "LOG_ERROR");
    // Nothing leaks from the test process's environment.
    assert!(!env.contains_key("HOME"), "{env:?}");
    assert!(!env.contains_key("CARGO_MANIFEST_DIR"), "{env:?}");
    assert!(!env.contains_key("CARGO_PKG_NAME"), "{env:?}");
}

#[test]
fn function_errors_are_reported_and_the_function_stays_warm() {
    let Some(pkg) = shell_package() else { return };
    let mut f = LocalFunction::start(&pkg, &opts(Duration::from_secs(10))).unwrap();
    let r = f.invoke(br#""fail""#).unwrap();
    match &r.outcome {
        InvocationResult::FunctionError(e) => {
            assert_eq!(e.error_type, "Boom");
            assert_eq!(e.error_message, "it failed");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.outcome.error(&r.request_id).unwrap().0, "Boom");
    let ok = f.invoke(br#""again""#).unwrap();
    assert_eq!(response_json(&ok)["echo"], "again");
}

#[test]
fn the_timeout_kills_the_process() {
    let Some(pkg) = shell_package() else { return };
    let mut f = LocalFunction::start(&pkg, &opts(Duration::from_secs(1))).unwrap();
    let started = Instant::now();
    let r = f.invoke(br#""sleep""#).unwrap();
    assert_eq!(
        r.outcome,
        InvocationResult::TimedOut {
            timeout: Duration::from_secs(1)
        }
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let (ty, msg) = r.outcome.error(&r.request_id).unwrap();
    assert_eq!(ty, "Sandbox.Timedout");
    assert!(msg.ends_with("Task timed out after 1.00 seconds"), "{msg}");
    assert!(r.report_line().contains("Status: timeout"));
    assert!(
        r.max_memory_kib.unwrap() > 0,
        "memory is known after the kill"
    );
    let again = f.invoke(b"{}").unwrap_err().to_string();
    assert!(again.contains("no longer running"), "{again}");
}

#[test]
fn an_exit_during_an_invocation_is_reported() {
    let Some(pkg) = shell_package() else { return };
    let mut f = LocalFunction::start(&pkg, &opts(Duration::from_secs(10))).unwrap();
    let r = f.invoke(br#""exit""#).unwrap();
    assert_eq!(
        r.outcome,
        InvocationResult::Exited {
            status: "exit status 3".into()
        }
    );
    assert!(
        r.outcome
            .error(&r.request_id)
            .unwrap()
            .1
            .contains("Runtime exited with error: exit status 3")
    );
}

#[test]
fn an_init_error_is_reported() {
    let Some(pkg) = shell_package() else { return };
    std::fs::write(pkg.dir().join("init-fail"), "").unwrap();
    let mut f = LocalFunction::start(&pkg, &opts(Duration::from_secs(10))).unwrap();
    let r = f.invoke(b"{}").unwrap();
    match &r.outcome {
        InvocationResult::InitError(e) => {
            assert_eq!(e.error_type, "Runtime.Config");
            assert_eq!(e.error_message, "no config");
        }
        other => panic!("{other:?}"),
    }
}

/// `Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<s>`: the root and the flag.
fn trace_parts(header: &str) -> (String, String) {
    let parts: Vec<&str> = header.split(';').collect();
    assert_eq!(parts.len(), 3, "{header}");
    let root = parts[0].strip_prefix("Root=").expect(header);
    let r: Vec<&str> = root.split('-').collect();
    assert_eq!((r[0], r[1].len(), r[2].len()), ("1", 8, 24), "{header}");
    let parent = parts[1].strip_prefix("Parent=").expect(header);
    assert_eq!(parent.len(), 16, "{header}");
    let sampled = parts[2].strip_prefix("Sampled=").expect(header);
    (root.to_string(), sampled.to_string())
}

#[test]
fn sampled_invocations_send_their_subsegments_to_claws_daemon() {
    let Some(pkg) = shell_package() else { return };
    let mut f = LocalFunction::start(&pkg, &opts(Duration::from_secs(10))).unwrap();
    let r = f.invoke(br#""trace""#).unwrap();
    let (root, sampled) = trace_parts(response_json(&r)["trace"].as_str().unwrap());
    assert_eq!(sampled, "1");
    let names: Vec<&str> = r.spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["model", "get_lead"], "{:?}", r.spans);
    assert_eq!(timeline(&r.spans), "model 1.2 s → get_lead 180 ms");
    assert_eq!(r.spans[1].offset_ms, 1200.0);
    // Each invocation has its own trace and gets only its own subsegments.
    let again = f.invoke(b"{}").unwrap();
    let (root2, _) = trace_parts(response_json(&again)["trace"].as_str().unwrap());
    assert_ne!(root, root2);
    assert!(again.spans.is_empty(), "{:?}", again.spans);
}

#[test]
fn without_active_tracing_invocations_are_not_sampled() {
    let Some(pkg) = shell_package() else { return };
    let mut o = opts(Duration::from_secs(10));
    o.tracing = false;
    let mut f = LocalFunction::start(&pkg, &o).unwrap();
    let r = f.invoke(br#""trace""#).unwrap();
    let (_, sampled) = trace_parts(response_json(&r)["trace"].as_str().unwrap());
    assert_eq!(sampled, "0");
    assert!(r.spans.is_empty());
}
