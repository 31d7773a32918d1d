//! claw under AWS faults: a loopback proxy between claw and moto throttles (HTTP
//! 400 and 429), fails (500, 503), slows and drops requests at fixed rates. A deploy
//! and a destroy through it must succeed and leave the same state as a clean run
//! (compared with the SDK); a fault that never clears must stop claw with a message
//! naming the resource and the AWS error, and a later run must converge.

mod support;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_lambda::config::Credentials;
use serde_json::{Value, json};
use support::fault_proxy::{FaultProxy, Faults};
use support::moto::Moto;

use support::claw::REGION;
const FUNCTION: &str = "crm-leads-dev";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A work directory with the root agent.yaml and a small package.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo().join("agent.yaml"), dir.path().join("agent.yaml")).unwrap();
    let file = std::fs::File::create(dir.path().join("function.zip")).unwrap();
    let mut z = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    z.start_file("bootstrap", opts).unwrap();
    z.write_all(b"#!/bin/sh\necho faults\n").unwrap();
    z.finish().unwrap();
    dir
}

fn claw(dir: &Path, endpoint: &str, args: &[&str], stdin: Option<&[u8]>) -> Out {
    let mut c = support::claw::command(dir, endpoint);
    c.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("run claw");
    if let Some(data) = stdin {
        child.stdin.take().unwrap().write_all(data).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn set_secrets(dir: &Path, endpoint: &str) {
    for s in [
        "production/ai-agent/anthropic-api-key",
        "production/ai-agent/crm-token",
    ] {
        let o = claw(dir, endpoint, &["secrets", "set", s], Some(b"dummy"));
        assert_eq!(o.code, 0, "secrets set {s}: {}", o.stderr);
    }
}

fn deploy(dir: &Path, endpoint: &str) -> Out {
    claw(
        dir,
        endpoint,
        &["deploy", "--yes", "--zip", "function.zip"],
        None,
    )
}

fn must(o: Out, what: &str) -> Out {
    assert_eq!(
        o.code, 0,
        "{what} failed\n--- stdout\n{}\n--- stderr\n{}",
        o.stdout, o.stderr
    );
    o
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "t"))
        .load()
        .await
}

/// The stack as the SDK sees it, with generated ids replaced, so two stacks built
/// different ways compare equal when they are the same.
async fn state(endpoint: &str) -> Value {
    let conf = sdk(endpoint).await;
    let lambda = aws_sdk_lambda::Client::new(&conf);
    let apigw = aws_sdk_apigatewayv2::Client::new(&conf);
    let iam = aws_sdk_iam::Client::new(&conf);
    let cw = aws_sdk_cloudwatch::Client::new(&conf);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);

    let function = match lambda
        .get_function_configuration()
        .function_name(FUNCTION)
        .send()
        .await
    {
        Ok(f) => json!({
            "memory": f.memory_size(),
            "timeout": f.timeout(),
            "runtime": f.runtime().map(|r| r.as_str().to_string()),
            "handler": f.handler(),
            "architectures": f.architectures().iter().map(|a| a.as_str().to_string()).collect::<Vec<_>>(),
            "env": f.environment().and_then(|e| e.variables()).map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<BTreeMap<_, _>>()),
            "subnets": f.vpc_config().map(|v| { let mut s = v.subnet_ids().to_vec(); s.sort(); s }),
            "role": f.role(),
            "code_sha256": f.code_sha256(),
        }),
        Err(_) => Value::Null,
    };
    let concurrency = lambda
        .get_function_concurrency()
        .function_name(FUNCTION)
        .send()
        .await
        .ok()
        .and_then(|c| c.reserved_concurrent_executions());
    let apis: Vec<_> = apigw
        .get_apis()
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .filter(|a| a.name() == Some(FUNCTION))
        .cloned()
        .collect();
    let mut api = Value::Null;
    let mut api_id = String::from("-");
    if let Some(a) = apis.first() {
        api_id = a.api_id().unwrap_or_default().to_string();
        let mut routes: Vec<(String, String)> = apigw
            .get_routes()
            .api_id(&api_id)
            .send()
            .await
            .unwrap()
            .items()
            .iter()
            .map(|r| {
                (
                    r.route_key().unwrap_or_default().to_string(),
                    r.authorization_type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect();
        routes.sort();
        let integrations = apigw
            .get_integrations()
            .api_id(&api_id)
            .send()
            .await
            .unwrap()
            .items()
            .len();
        let stages: Vec<String> = apigw
            .get_stages()
            .api_id(&api_id)
            .send()
            .await
            .unwrap()
            .items()
            .iter()
            .map(|s| s.stage_name().unwrap_or_default().to_string())
            .collect();
        api = json!({"routes": routes, "integrations": integrations, "stages": stages});
    }
    let mut permissions: Vec<String> =
        match lambda.get_policy().function_name(FUNCTION).send().await {
            Ok(p) => {
                let doc: Value = serde_json::from_str(p.policy().unwrap_or("{}")).unwrap();
                doc["Statement"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|s| {
                        format!(
                            "{} {}",
                            s["Sid"].as_str().unwrap_or_default(),
                            s["Condition"].to_string().replace(&api_id, "API")
                        )
                    })
                    .collect()
            }
            Err(_) => Vec::new(),
        };
    permissions.sort();
    let role = match iam
        .get_role()
        .role_name(format!("{FUNCTION}-exec"))
        .send()
        .await
    {
        Ok(r) => {
            let r = r.role().unwrap();
            let policies = iam
                .list_role_policies()
                .role_name(r.role_name())
                .send()
                .await
                .unwrap()
                .policy_names()
                .to_vec();
            json!({
                "path": r.path(),
                "boundary": r.permissions_boundary().and_then(|b| b.permissions_boundary_arn()),
                "inline": policies,
            })
        }
        Err(_) => Value::Null,
    };
    let mut alarms: Vec<(String, Option<f64>)> = cw
        .describe_alarms()
        .alarm_name_prefix(format!("{FUNCTION}-"))
        .send()
        .await
        .unwrap()
        .metric_alarms()
        .iter()
        .map(|a| {
            (
                a.alarm_name().unwrap_or_default().to_string(),
                a.threshold(),
            )
        })
        .collect();
    alarms.sort_by(|a, b| a.0.cmp(&b.0));
    let mut groups: Vec<(String, Option<i32>)> = logs
        .describe_log_groups()
        .send()
        .await
        .unwrap()
        .log_groups()
        .iter()
        .filter(|g| g.log_group_name().is_some_and(|n| n.contains(FUNCTION)))
        .map(|g| {
            (
                g.log_group_name().unwrap_or_default().to_string(),
                g.retention_in_days(),
            )
        })
        .collect();
    groups.sort();
    json!({
        "function": function,
        "concurrency": concurrency,
        "apis_named_like_the_function": apis.len(),
        "api": api,
        "permissions": permissions,
        "role": role,
        "alarms": alarms,
        "log_groups": groups,
    })
}

fn noisy() -> Faults {
    Faults {
        seed: 0x5eed_f417,
        throttle_400: 0.10,
        throttle_429: 0.10,
        error_500: 0.05,
        error_503: 0.05,
        slow: 0.05,
        slow_delay: Duration::from_millis(150),
        reset: 0.02,
        sticky: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_and_destroy_survive_throttling_errors_and_resets() {
    let clean = Moto::start();
    let faulty = Moto::start();
    let dir = workdir();
    set_secrets(dir.path(), &clean.endpoint());
    set_secrets(dir.path(), &faulty.endpoint());
    must(deploy(dir.path(), &clean.endpoint()), "clean deploy");
    let want = state(&clean.endpoint()).await;
    assert!(want["function"].is_object(), "{want:#}");

    let proxy = FaultProxy::start(&faulty.endpoint(), noisy());
    must(
        deploy(dir.path(), &proxy.endpoint()),
        "deploy through faults",
    );
    let after_deploy = proxy.counts.summary();
    assert!(
        proxy.counts.injected() > 10,
        "too few faults to mean anything: {after_deploy}"
    );
    let got = state(&faulty.endpoint()).await;
    assert_eq!(
        got, want,
        "the stack deployed through faults differs from a clean one"
    );
    let plan = claw(
        dir.path(),
        &faulty.endpoint(),
        &["plan", "--detailed-exitcode", "--zip", "function.zip"],
        None,
    );
    assert_eq!(
        plan.code, 0,
        "plan after the faulty deploy:\n{}\n{}",
        plan.stdout, plan.stderr
    );

    must(
        claw(dir.path(), &proxy.endpoint(), &["destroy", "--yes"], None),
        "destroy through faults",
    );
    let gone = state(&faulty.endpoint()).await;
    assert_eq!(gone["function"], Value::Null, "{gone:#}");
    assert_eq!(gone["apis_named_like_the_function"], 0, "{gone:#}");
    assert_eq!(gone["role"], Value::Null, "{gone:#}");
    assert_eq!(gone["alarms"], json!([]), "{gone:#}");
    eprintln!(
        "faults: deploy: {after_deploy}; deploy+destroy: {}",
        proxy.counts.summary()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fault_that_never_clears_names_the_resource_and_a_rerun_converges() {
    let moto = Moto::start();
    let dir = workdir();
    set_secrets(dir.path(), &moto.endpoint());
    let proxy = FaultProxy::start(
        &moto.endpoint(),
        Faults {
            sticky: vec!["PutMetricAlarm".into()],
            ..Faults::default()
        },
    );
    let failed = deploy(dir.path(), &proxy.endpoint());
    assert_eq!(failed.code, 1, "{}\n{}", failed.stdout, failed.stderr);
    let all = format!("{}{}", failed.stdout, failed.stderr);
    for needle in ["PutMetricAlarm", "crm-leads-dev-", "Rate exceeded"] {
        assert!(
            all.contains(needle),
            "`{needle}` not in the failure:\n{all}"
        );
    }
    assert!(!all.contains("panicked"), "{all}");

    proxy.set_faults(Faults::default());
    must(
        deploy(dir.path(), &proxy.endpoint()),
        "re-run after the fault cleared",
    );
    let plan = claw(
        dir.path(),
        &moto.endpoint(),
        &["plan", "--detailed-exitcode", "--zip", "function.zip"],
        None,
    );
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let s = state(&moto.endpoint()).await;
    assert_eq!(s["alarms"].as_array().map(Vec::len), Some(5), "{s:#}");
    assert_eq!(s["permissions"].as_array().map(Vec::len), Some(1), "{s:#}");
}
