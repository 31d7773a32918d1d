//! End-to-end tests of `claw plan`, `claw deploy` and `claw destroy`: each test
//! starts its own moto server, drives the real `claw` binary against it, and checks
//! the result with the AWS SDK directly (never through claw).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use aws_sdk_iam::config::Credentials;
use claw_spec::iam::PolicyDocument;
use claw_spec::{Names, policy_diff};
use support::moto::Moto;

const REGION: &str = "ap-southeast-2";
/// The calls of claw's deploy lock (`/claw/locks/{app}-{stage}`).
const LOCK_CALLS: &[&str] = &["CreateLogStream", "PutLogEvents", "DeleteLogStream"];
const SECRETS: &[&str] = &[
    "production/ai-agent/anthropic-api-key",
    "production/ai-agent/crm-token",
];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The root agent.yaml, which every test starts from.
fn root_config() -> String {
    std::fs::read_to_string(repo_root().join("agent.yaml")).unwrap()
}

/// `text` with `from` replaced by `to`; fails loudly when `from` is not there, so
/// a change to the root agent.yaml cannot silently turn a test into a no-op.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "agent.yaml no longer contains {from:?}; update this test"
    );
    text.replacen(from, to, 1)
}

/// A function package: a zip with an executable `bootstrap`. `tag` varies the bytes.
fn write_zip(path: &Path, tag: &str) {
    let file = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    z.start_file("bootstrap", opts).unwrap();
    z.write_all(format!("#!/bin/sh\necho {tag}\n").as_bytes())
        .unwrap();
    z.finish().unwrap();
}

/// The result of one `claw` run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "claw failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// One test's world: a moto server, a work directory with agent.yaml and a zip,
/// and SDK clients pointed at moto.
struct Env {
    moto: Moto,
    dir: tempfile::TempDir,
    zip: PathBuf,
    conf: aws_config::SdkConfig,
}

impl Env {
    async fn new() -> Env {
        let moto = Moto::start();
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("function.zip");
        write_zip(&zip, "v1");
        std::fs::write(dir.path().join("agent.yaml"), root_config()).unwrap();
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(moto.endpoint())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await;
        Env {
            moto,
            dir,
            zip,
            conf,
        }
    }

    /// A fresh world with the root config's secrets set.
    async fn with_secrets() -> Env {
        let env = Env::new().await;
        env.set_secrets();
        env
    }

    fn set_config(&self, text: &str) {
        std::fs::write(self.dir.path().join("agent.yaml"), text).unwrap();
    }

    fn config_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.yaml")).unwrap()
    }

    fn names(&self) -> Names {
        let loaded = claw::ops::load::load_config(
            &self.dir.path().join("agent.yaml"),
            &claw_spec::Overrides::default(),
        )
        .unwrap();
        Names::new(&loaded.config)
    }

    fn config(&self) -> claw_spec::Config {
        claw::ops::load::load_config(
            &self.dir.path().join("agent.yaml"),
            &claw_spec::Overrides::default(),
        )
        .unwrap()
        .config
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = support::claw::command(self.dir.path(), &self.moto.endpoint());
        c.args(args).env_remove(claw::aws::ABORT_AFTER_ENV);
        c
    }

    fn claw(&self, args: &[&str]) -> Run {
        self.run(self.command(args))
    }

    fn run(&self, mut c: Command) -> Run {
        let out = c.output().expect("cannot run claw");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn zip_arg(&self) -> String {
        self.zip.display().to_string()
    }

    fn deploy(&self) -> Run {
        self.claw(&["deploy", "--yes", "--zip", &self.zip_arg()])
    }

    fn plan_json(&self) -> serde_json::Value {
        let run = self.claw(&["plan", "--output", "json", "--zip", &self.zip_arg()]);
        assert!(run.code == 0, "plan failed\n{}\n{}", run.stdout, run.stderr);
        run.json()
    }

    fn set_secrets(&self) {
        for s in SECRETS {
            let mut c = self.command(&["secrets", "set", s]);
            c.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = c.spawn().unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"dummy-value")
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "claw secrets set {s}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.conf)
    }
    fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.conf)
    }
    fn apigw(&self) -> aws_sdk_apigatewayv2::Client {
        aws_sdk_apigatewayv2::Client::new(&self.conf)
    }
    fn cloudwatch(&self) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.conf)
    }
    fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.conf)
    }
    fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.conf)
    }
    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.conf)
    }
    fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.conf)
    }

    /// Runs `f` with the recorder on; returns the mutating calls it made.
    fn mutations_during(&self, f: impl FnOnce()) -> Vec<support::moto::Call> {
        self.moto.record();
        f();
        self.moto.stop_recording();
        self.moto.mutating_calls()
    }
}

fn percent_decode(s: &str) -> String {
    claw::aws::doc::decode(s)
}

fn parse_doc(raw: &str) -> PolicyDocument {
    serde_json::from_str(&percent_decode(raw)).unwrap()
}

fn same_doc(live: &PolicyDocument, want: &PolicyDocument, what: &str) {
    let d = policy_diff::diff(live, want);
    assert!(
        d.is_empty(),
        "{what} differs from the generated one: {d:#?}"
    );
}

fn claw_tags(config: &claw_spec::Config) -> BTreeMap<String, String> {
    let mut t: BTreeMap<String, String> = config.tags.clone();
    t.insert("claw:app".into(), config.app.clone());
    t.insert("claw:stage".into(), config.stage.clone());
    t
}

/// The API claw created (by name), with its id.
async fn api_id(env: &Env, name: &str) -> Option<String> {
    let apis = env.apigw().get_apis().send().await.unwrap();
    let matching: Vec<_> = apis
        .items()
        .iter()
        .filter(|a| a.name.as_deref() == Some(name))
        .collect();
    assert!(matching.len() <= 1, "{} APIs named {name}", matching.len());
    matching.first().and_then(|a| a.api_id.clone())
}

/// Every attribute of a queue, by name.
async fn queue_attributes(sqs: &aws_sdk_sqs::Client, name: &str) -> BTreeMap<String, String> {
    let url = sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.as_str().to_string(), v))
        .collect()
}

/// The function's resource policy statements.
async fn permission_statements(env: &Env, function: &str) -> Vec<serde_json::Value> {
    match env
        .lambda()
        .get_policy()
        .function_name(function)
        .send()
        .await
    {
        Ok(o) => {
            let v: serde_json::Value = serde_json::from_str(&o.policy.unwrap()).unwrap();
            v["Statement"].as_array().cloned().unwrap_or_default()
        }
        Err(_) => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn moto_fixture_records_calls() {
    let env = Env::new().await;
    let iam = env.iam();
    env.moto.record();
    iam.list_roles().send().await.unwrap();
    iam.create_role()
        .role_name("r")
        .assume_role_policy_document("{}")
        .send()
        .await
        .unwrap();
    env.moto.stop_recording();
    let calls = env.moto.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let mutating = env.moto.mutating_calls();
    assert_eq!(mutating.len(), 1, "{mutating:?}");
    assert_eq!(mutating[0].service, "iam");
    assert_eq!(mutating[0].action, "CreateRole");
}

/// Test 1: a deploy from scratch creates every resource with every field right.
#[tokio::test(flavor = "multi_thread")]
async fn deploy_from_scratch_creates_every_resource() {
    let env = Env::with_secrets().await;
    let run = env.deploy().ok();
    let config = env.config();
    let n = Names::new(&config);
    let tags = claw_tags(&config);
    assert!(run.stdout.contains("Endpoint:"), "{}", run.stdout);

    // Permissions boundary: same document as the role policy, tagged.
    let iam = env.iam();
    let pol = iam
        .get_policy()
        .policy_arn(n.boundary_arn())
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    assert_eq!(pol.path.as_deref(), Some("/claw/"));
    let ptags: BTreeMap<String, String> = pol
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    assert_eq!(ptags, tags);
    let v = iam
        .get_policy_version()
        .policy_arn(n.boundary_arn())
        .version_id(pol.default_version_id.unwrap())
        .send()
        .await
        .unwrap();
    same_doc(
        &parse_doc(&v.policy_version.unwrap().document.unwrap()),
        &claw_spec::policy::role(&config, &n),
        "boundary",
    );

    // Role: path, trust, boundary, one inline policy, tags, nothing attached.
    let role = iam
        .get_role()
        .role_name(&n.role)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    assert_eq!(role.path, "/claw/");
    assert_eq!(role.arn, n.role_arn());
    same_doc(
        &parse_doc(role.assume_role_policy_document.as_deref().unwrap()),
        &claw_spec::policy::trust(&n),
        "trust policy",
    );
    assert_eq!(
        role.permissions_boundary
            .and_then(|b| b.permissions_boundary_arn)
            .as_deref(),
        Some(n.boundary_arn().as_str())
    );
    let rtags: BTreeMap<String, String> = role
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    assert_eq!(rtags, tags);
    let inline = iam
        .list_role_policies()
        .role_name(&n.role)
        .send()
        .await
        .unwrap();
    assert_eq!(inline.policy_names, vec![n.role_policy.clone()]);
    let rp = iam
        .get_role_policy()
        .role_name(&n.role)
        .policy_name(&n.role_policy)
        .send()
        .await
        .unwrap();
    same_doc(
        &parse_doc(&rp.policy_document),
        &claw_spec::policy::role(&config, &n),
        "role policy",
    );
    let attached = iam
        .list_attached_role_policies()
        .role_name(&n.role)
        .send()
        .await
        .unwrap();
    assert!(attached.attached_policies.unwrap_or_default().is_empty());

    // Log groups: retention and tags.
    for group in [&n.log_group, &n.api_log_group] {
        let g = env
            .logs()
            .describe_log_groups()
            .log_group_name_prefix(group.as_str())
            .send()
            .await
            .unwrap()
            .log_groups
            .unwrap()
            .into_iter()
            .find(|g| g.log_group_name.as_deref() == Some(group.as_str()))
            .unwrap_or_else(|| panic!("log group {group} missing"));
        assert_eq!(g.retention_in_days, Some(30), "{group}");
        let t = env
            .logs()
            .list_tags_for_resource()
            .resource_arn(n.log_group_arn(group))
            .send()
            .await
            .unwrap()
            .tags
            .unwrap_or_default();
        let t: BTreeMap<String, String> = t.into_iter().collect();
        assert_eq!(t, tags, "{group}");
    }

    // Function: every configuration field, the code, tags, concurrency.
    let f = env
        .lambda()
        .get_function()
        .function_name(&n.function)
        .send()
        .await
        .unwrap();
    let c = f.configuration.unwrap();
    assert_eq!(
        c.runtime.as_ref().map(|r| r.as_str()),
        Some("provided.al2023")
    );
    assert_eq!(c.handler.as_deref(), Some("bootstrap"));
    assert_eq!(c.role.as_deref(), Some(n.role_arn().as_str()));
    assert_eq!(
        c.architectures()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        ["arm64"]
    );
    assert_eq!(c.memory_size, Some(256));
    assert_eq!(c.timeout, Some(30));
    let env_vars: BTreeMap<String, String> = c
        .environment()
        .and_then(|e| e.variables())
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(env_vars, config.function.environment);
    let vpc = c.vpc_config().unwrap();
    let subnets: BTreeSet<&str> = vpc.subnet_ids().iter().map(String::as_str).collect();
    assert_eq!(
        subnets,
        BTreeSet::from(["subnet-0abc1234def567890", "subnet-0def5678abc123456"])
    );
    assert_eq!(vpc.security_group_ids(), ["sg-0123456789abcdef0"]);
    assert_eq!(
        c.tracing_config()
            .and_then(|t| t.mode())
            .map(|m| m.as_str()),
        Some("Active")
    );
    let zip_sha = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(std::fs::read(&env.zip).unwrap()))
    };
    assert_eq!(c.code_sha256.as_deref(), Some(zip_sha.as_str()));
    assert!(run.stdout.contains(&zip_sha), "{}", run.stdout);
    let ftags: BTreeMap<String, String> = f.tags.unwrap().into_iter().collect();
    assert_eq!(ftags, tags);
    assert_eq!(
        f.concurrency.and_then(|c| c.reserved_concurrent_executions),
        Some(50)
    );

    // API: one, tagged, with the integration, the route, the stage.
    let id = api_id(&env, &n.api).await.expect("no HTTP API");
    let apigw = env.apigw();
    let api = apigw.get_api().api_id(&id).send().await.unwrap();
    assert_eq!(api.protocol_type.as_ref().map(|p| p.as_str()), Some("HTTP"));
    let atags: BTreeMap<String, String> = api.tags.unwrap().into_iter().collect();
    assert_eq!(atags, tags);
    assert!(
        run.stdout.contains(api.api_endpoint.as_deref().unwrap()),
        "the endpoint is printed: {}",
        run.stdout
    );
    let integrations = apigw.get_integrations().api_id(&id).send().await.unwrap();
    assert_eq!(integrations.items().len(), 1);
    let integ = &integrations.items()[0];
    assert_eq!(
        integ.integration_type.as_ref().map(|t| t.as_str()),
        Some("AWS_PROXY")
    );
    assert_eq!(
        integ.integration_uri.as_deref(),
        Some(n.function_arn().as_str())
    );
    assert_eq!(integ.payload_format_version.as_deref(), Some("2.0"));
    let routes = apigw.get_routes().api_id(&id).send().await.unwrap();
    let keys: Vec<(String, String, String)> = routes
        .items()
        .iter()
        .map(|r| {
            (
                r.route_key.clone().unwrap(),
                r.authorization_type.as_ref().unwrap().as_str().to_string(),
                r.target.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [(
            "POST /agents/{agent}".to_string(),
            "AWS_IAM".to_string(),
            format!("integrations/{}", integ.integration_id.as_deref().unwrap())
        )]
    );
    let stage = apigw
        .get_stage()
        .api_id(&id)
        .stage_name("$default")
        .send()
        .await
        .unwrap();
    assert_eq!(stage.auto_deploy, Some(true));
    let rs = stage.default_route_settings.unwrap();
    assert_eq!(rs.throttling_burst_limit, Some(20));
    assert_eq!(rs.throttling_rate_limit, Some(10.0));
    let logs = stage.access_log_settings.unwrap();
    assert_eq!(
        logs.destination_arn.as_deref(),
        Some(n.log_group_arn(&n.api_log_group).as_str())
    );
    assert!(logs.format.unwrap().contains("$context.requestId"));
    let stags: BTreeMap<String, String> = stage.tags.unwrap().into_iter().collect();
    assert_eq!(stags, tags);

    // Invoke permission: one statement for the route, scoped to this API.
    let st = permission_statements(&env, &n.function).await;
    assert_eq!(st.len(), 1, "{st:#?}");
    assert_eq!(st[0]["Sid"], "claw-apigw-POST-agents-agent");
    assert_eq!(st[0]["Principal"]["Service"], "apigateway.amazonaws.com");
    assert_eq!(st[0]["Action"], "lambda:InvokeFunction");
    assert_eq!(
        st[0]["Condition"]["ArnLike"]["AWS:SourceArn"],
        n.execute_api_arn(&id, "POST /agents/{agent}")
    );

    // Alarms: thresholds, metrics, actions, tags.
    let cw = env.cloudwatch();
    let alarms = cw
        .describe_alarms()
        .alarm_name_prefix(&n.alarm_prefix)
        .send()
        .await
        .unwrap()
        .metric_alarms
        .unwrap();
    let by_name: BTreeMap<String, _> = alarms
        .into_iter()
        .map(|a| (a.alarm_name.clone().unwrap(), a))
        .collect();
    let names: Vec<&str> = by_name.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "crm-leads-dev-duration-p99",
            "crm-leads-dev-errors",
            "crm-leads-dev-invocations-per-5min",
            "crm-leads-dev-output-tokens-per-hour",
            "crm-leads-dev-throttles",
        ]
    );
    let notify = vec!["arn:aws:sns:ap-southeast-2:123456789012:ops".to_string()];
    let fn_dims = |a: &aws_sdk_cloudwatch::types::MetricAlarm| -> Vec<(String, String)> {
        a.dimensions()
            .iter()
            .map(|d| (d.name.clone().unwrap(), d.value.clone().unwrap()))
            .collect()
    };
    let lambda_dims = vec![("FunctionName".to_string(), n.function.clone())];
    let errors = &by_name["crm-leads-dev-errors"];
    assert_eq!(errors.metric_name.as_deref(), Some("Errors"));
    assert_eq!(errors.namespace.as_deref(), Some("AWS/Lambda"));
    assert_eq!(errors.statistic.as_ref().map(|s| s.as_str()), Some("Sum"));
    assert_eq!(errors.period, Some(300));
    assert_eq!(errors.threshold, Some(1.0));
    assert_eq!(
        errors.comparison_operator.as_ref().map(|c| c.as_str()),
        Some("GreaterThanOrEqualToThreshold")
    );
    assert_eq!(fn_dims(errors), lambda_dims);
    assert_eq!(errors.alarm_actions(), notify.as_slice());
    let throttles = &by_name["crm-leads-dev-throttles"];
    assert_eq!(throttles.metric_name.as_deref(), Some("Throttles"));
    assert_eq!(throttles.threshold, Some(1.0));
    let p99 = &by_name["crm-leads-dev-duration-p99"];
    assert_eq!(p99.metric_name.as_deref(), Some("Duration"));
    assert_eq!(p99.extended_statistic.as_deref(), Some("p99"));
    // 0.8 × 30 s timeout, in milliseconds.
    assert_eq!(p99.threshold, Some(24000.0));
    assert_eq!(
        p99.comparison_operator.as_ref().map(|c| c.as_str()),
        Some("GreaterThanThreshold")
    );
    let inv = &by_name["crm-leads-dev-invocations-per-5min"];
    assert_eq!(inv.metric_name.as_deref(), Some("Invocations"));
    assert_eq!(inv.threshold, Some(500.0));
    assert_eq!(inv.period, Some(300));
    let tok = &by_name["crm-leads-dev-output-tokens-per-hour"];
    assert_eq!(tok.threshold, Some(200000.0));
    assert_eq!(tok.alarm_actions(), notify.as_slice());
    let queries = tok.metrics();
    let agents: BTreeSet<String> = queries
        .iter()
        .filter_map(|q| q.metric_stat.as_ref())
        .map(|ms| {
            let m = ms.metric.as_ref().unwrap();
            assert_eq!(m.namespace.as_deref(), Some("claw"));
            assert_eq!(m.metric_name.as_deref(), Some("OutputTokens"));
            assert_eq!(ms.period, Some(3600));
            assert_eq!(ms.stat.as_deref(), Some("Sum"));
            let dims: BTreeMap<String, String> = m
                .dimensions()
                .iter()
                .map(|d| (d.name.clone().unwrap(), d.value.clone().unwrap()))
                .collect();
            assert_eq!(dims["app"], "crm-leads");
            assert_eq!(dims["stage"], "dev");
            dims["agent"].clone()
        })
        .collect();
    assert_eq!(
        agents,
        BTreeSet::from([
            "company-researcher".to_string(),
            "lead-qualifier".to_string()
        ])
    );
    let total = queries
        .iter()
        .find(|q| q.expression.is_some())
        .expect("a SUM expression");
    assert_eq!(total.expression.as_deref(), Some("SUM([m0,m1])"));
    assert_eq!(total.return_data, Some(true));
    for a in by_name.values() {
        let t = cw
            .list_tags_for_resource()
            .resource_arn(a.alarm_arn.clone().unwrap())
            .send()
            .await
            .unwrap()
            .tags
            .unwrap_or_default();
        let t: BTreeMap<String, String> = t
            .into_iter()
            .map(|t| (t.key.unwrap(), t.value.unwrap()))
            .collect();
        assert_eq!(t, tags, "{:?}", a.alarm_name);
    }

    // Sessions table: key, on-demand, TTL, tags.
    let ddb = env.dynamodb();
    let table = ddb
        .describe_table()
        .table_name("AgentSessions")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let key = &table.key_schema()[0];
    assert_eq!(key.attribute_name, "session_id");
    assert_eq!(key.key_type.as_str(), "HASH");
    assert_eq!(
        table
            .billing_mode_summary
            .and_then(|b| b.billing_mode)
            .map(|b| b.as_str().to_string())
            .as_deref(),
        Some("PAY_PER_REQUEST")
    );
    let ttl = ddb
        .describe_time_to_live()
        .table_name("AgentSessions")
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name.as_deref(), Some("ttl"));
    assert_eq!(
        ttl.time_to_live_status
            .map(|s| s.as_str().to_string())
            .as_deref(),
        Some("ENABLED")
    );
    let t = ddb
        .list_tags_of_resource()
        .resource_arn(table.table_arn.unwrap())
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default();
    let t: BTreeMap<String, String> = t.into_iter().map(|t| (t.key, t.value)).collect();
    assert_eq!(t, tags);

    // Sync mode: no queues, no jobs table.
    assert!(
        env.sqs()
            .get_queue_url()
            .queue_name(&n.queue)
            .send()
            .await
            .is_err()
    );
    assert!(
        ddb.describe_table()
            .table_name(&n.jobs_table)
            .send()
            .await
            .is_err()
    );
}

/// Test 2: a second deploy with nothing changed makes no mutating call, and
/// `plan --detailed-exitcode` exits 0.
#[tokio::test(flavor = "multi_thread")]
async fn redeploy_unchanged_makes_no_mutating_call() {
    let env = Env::with_secrets().await;
    env.deploy().ok();
    let mut out = None;
    let mutations = env.mutations_during(|| out = Some(env.deploy()));
    let out = out.unwrap().ok();
    let listed: Vec<String> = mutations.iter().map(|c| c.to_string()).collect();
    assert!(
        mutations.is_empty(),
        "a no-op deploy made {} mutating calls:\n  {}",
        mutations.len(),
        listed.join("\n  ")
    );
    // Reads happened (the recorder works) and claw says nothing changed.
    assert!(!env.moto.calls().is_empty());
    assert!(out.stdout.contains("No changes."), "{}", out.stdout);
    assert!(out.stdout.contains("0 of them changes"), "{}", out.stdout);

    let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(!plan.stdout.contains("+ create"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("~ update"), "{}", plan.stdout);

    // A new package is a change: exit 2.
    write_zip(&env.zip, "v2");
    let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("(code "), "{}", plan.stdout);
}

fn updates(plan: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
    plan["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no_change")
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
                c["fields"]
                    .as_array()
                    .map(|f| {
                        f.iter()
                            .map(|x| {
                                format!(
                                    "{} {} -> {}",
                                    x["field"].as_str().unwrap(),
                                    x["from"].as_str().unwrap(),
                                    x["to"].as_str().unwrap()
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// Test 3: changing memory and one alarm threshold plans exactly those two
/// updates, and deploy applies them.
#[tokio::test(flavor = "multi_thread")]
async fn memory_and_alarm_threshold_change_are_exactly_two_updates() {
    let env = Env::with_secrets().await;
    env.deploy().ok();
    let text = edit(&env.config_text(), "memory_mb: 256", "memory_mb: 512");
    let text = edit(&text, "  errors: 1\n", "  errors: 3\n");
    env.set_config(&text);
    let plan = env.plan_json();
    assert_eq!(
        updates(&plan),
        [
            (
                "function".to_string(),
                "crm-leads-dev".to_string(),
                vec!["memory_mb 256 -> 512".to_string()]
            ),
            (
                "alarm".to_string(),
                "crm-leads-dev-errors".to_string(),
                vec!["threshold 1 -> 3".to_string()]
            ),
        ]
    );
    // No permission changes: no approval needed, nothing in the security table.
    assert_eq!(plan["needs_approval"], false);
    assert!(plan["plan"]["security"].as_array().unwrap().is_empty());
    let text_plan = env.claw(&["plan", "--zip", &env.zip_arg()]).ok();
    assert!(
        text_plan.stdout.contains("(memory_mb 256 → 512)"),
        "{}",
        text_plan.stdout
    );

    // Deploy without --yes and without a terminal: nothing broadens, so it applies,
    // with one configuration update and one alarm update and nothing else.
    let mutations = env.mutations_during(|| {
        env.claw(&["deploy", "--zip", &env.zip_arg()]).ok();
    });
    // The deploy lock's own calls (a stream created, a heartbeat, the stream
    // deleted) are not changes to the stack.
    let mut calls: Vec<String> = mutations
        .iter()
        .filter(|c| !(c.service == "logs" && LOCK_CALLS.contains(&c.action.as_str())))
        .map(|c| c.action.clone())
        .collect();
    calls.sort();
    assert_eq!(
        calls,
        [
            "PUT /2015-03-31/functions/crm-leads-dev/configuration",
            "PutMetricAlarm"
        ],
        "{mutations:?}"
    );

    let c = env
        .lambda()
        .get_function_configuration()
        .function_name("crm-leads-dev")
        .send()
        .await
        .unwrap();
    assert_eq!(c.memory_size, Some(512));
    let a = env
        .cloudwatch()
        .describe_alarms()
        .alarm_names("crm-leads-dev-errors")
        .send()
        .await
        .unwrap()
        .metric_alarms
        .unwrap();
    assert_eq!(a[0].threshold, Some(3.0));
    let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
}

/// Test 4: statements added by hand (an invoke permission and a role policy
/// statement) show as drift; deploy removes them only with approval.
#[tokio::test(flavor = "multi_thread")]
async fn hand_added_statements_are_drift_removed_after_approval() {
    let env = Env::with_secrets().await;
    env.deploy().ok();
    let n = env.names();

    env.lambda()
        .add_permission()
        .function_name(&n.function)
        .statement_id("hand-added-s3")
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .source_arn("arn:aws:s3:::some-bucket")
        .send()
        .await
        .unwrap();
    let iam = env.iam();
    let current = iam
        .get_role_policy()
        .role_name(&n.role)
        .policy_name(&n.role_policy)
        .send()
        .await
        .unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_str(&percent_decode(&current.policy_document)).unwrap();
    doc["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "Sid": "HandAdded",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::some-bucket/*"
        }));
    iam.put_role_policy()
        .role_name(&n.role)
        .policy_name(&n.role_policy)
        .policy_document(doc.to_string())
        .send()
        .await
        .unwrap();

    // The plan names both, as removals; the foreign statement as drift.
    let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    let security: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("- "))
        .collect();
    assert!(
        security
            .iter()
            .any(|l| l.contains("s3:GetObject on arn:aws:s3:::some-bucket/*")),
        "{}",
        plan.stdout
    );
    assert!(
        security.iter().any(|l| l.contains("hand-added-s3")
            && l.contains("s3.amazonaws.com")
            && l.contains("(added outside claw)")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("- delete     invoke permission     hand-added-s3"),
        "{}",
        plan.stdout
    );

    // `claw policy diff` against the deployed stack names both and exits 2.
    let diff = env.claw(&["policy", "diff"]);
    assert_eq!(diff.code, 2, "{}\n{}", diff.stdout, diff.stderr);
    assert!(
        diff.stdout
            .contains("s3:GetObject on arn:aws:s3:::some-bucket/*"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout.contains("s3.amazonaws.com"),
        "the hand-added invoke permission is named: {}",
        diff.stdout
    );

    // Without a terminal and without --yes, deploy stops and changes nothing.
    let mut refused = None;
    let mutations = env.mutations_during(|| {
        refused = Some(env.claw(&["deploy", "--zip", &env.zip_arg()]));
    });
    let refused = refused.unwrap();
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(mutations.is_empty(), "{mutations:?}");

    // Approved: both are gone, claw's own statement stays.
    env.deploy().ok();
    let st = permission_statements(&env, &n.function).await;
    let sids: Vec<&str> = st.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
    assert_eq!(sids, ["claw-apigw-POST-agents-agent"]);
    let after = iam
        .get_role_policy()
        .role_name(&n.role)
        .policy_name(&n.role_policy)
        .send()
        .await
        .unwrap();
    same_doc(
        &parse_doc(&after.policy_document),
        &claw_spec::policy::role(&env.config(), &n),
        "role policy after deploy",
    );
    let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    let diff = env.claw(&["policy", "diff"]);
    assert_eq!(diff.code, 0, "{}\n{}", diff.stdout, diff.stderr);
}

/// Test 5: removing a route and the VPC block removes the route, its permission
/// and the function's VPC config.
#[tokio::test(flavor = "multi_thread")]
async fn removing_a_route_and_the_vpc_removes_them() {
    let env = Env::with_secrets().await;
    let two_routes = edit(
        &env.config_text(),
        r#"routes: ["POST /agents/{agent}"]"#,
        r#"routes: ["POST /agents/{agent}", "GET /status"]"#,
    );
    env.set_config(&two_routes);
    env.deploy().ok();
    let n = env.names();
    let id = api_id(&env, &n.api).await.unwrap();
    let routes = env.apigw().get_routes().api_id(&id).send().await.unwrap();
    assert_eq!(routes.items().len(), 2);
    assert_eq!(permission_statements(&env, &n.function).await.len(), 2);

    let vpc_block = "vpc:\n  subnet_ids: [subnet-0abc1234def567890, subnet-0def5678abc123456]\n  security_group_ids: [sg-0123456789abcdef0]\n";
    let text = edit(&root_config(), vpc_block, "");
    env.set_config(&text);
    let plan = env.claw(&["plan", "--zip", &env.zip_arg()]).ok();
    assert!(
        plan.stdout
            .contains("- delete     api route             GET /status"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("- delete     invoke permission     claw-apigw-GET-status"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("(vpc subnets"), "{}", plan.stdout);
    // Narrowing only: deploy needs no approval.
    env.claw(&["deploy", "--zip", &env.zip_arg()]).ok();

    let routes = env.apigw().get_routes().api_id(&id).send().await.unwrap();
    let keys: Vec<&str> = routes
        .items()
        .iter()
        .map(|r| r.route_key.as_deref().unwrap())
        .collect();
    assert_eq!(keys, ["POST /agents/{agent}"]);
    let st = permission_statements(&env, &n.function).await;
    let sids: Vec<&str> = st.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
    assert_eq!(sids, ["claw-apigw-POST-agents-agent"]);
    let c = env
        .lambda()
        .get_function_configuration()
        .function_name(&n.function)
        .send()
        .await
        .unwrap();
    let vpc = c.vpc_config();
    assert!(
        vpc.is_none_or(|v| v.subnet_ids().is_empty() && v.security_group_ids().is_empty()),
        "{vpc:?}"
    );
    // The role lost its ENI permissions with the VPC.
    let rp = env
        .iam()
        .get_role_policy()
        .role_name(&n.role)
        .policy_name(&n.role_policy)
        .send()
        .await
        .unwrap();
    assert!(!percent_decode(&rp.policy_document).contains("ec2:CreateNetworkInterface"));
    let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
}

fn async_config() -> String {
    edit(&root_config(), "  mode: sync\n", "  mode: async\n")
}

/// Test 6: async mode creates the queue, DLQ, jobs table, mapping and routes.
#[tokio::test(flavor = "multi_thread")]
async fn async_mode_creates_queue_table_mapping_and_routes() {
    let env = Env::with_secrets().await;
    env.set_config(&async_config());
    env.deploy().ok();
    let n = env.names();
    let sqs = env.sqs();

    let dlq = queue_attributes(&sqs, &n.dlq).await;
    let attr = |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_default();
    assert_eq!(attr(&dlq, "MessageRetentionPeriod"), "1209600");
    let q = queue_attributes(&sqs, &n.queue).await;
    // Six times the 30 s function timeout.
    assert_eq!(attr(&q, "VisibilityTimeout"), "180");
    let redrive: serde_json::Value = serde_json::from_str(&attr(&q, "RedrivePolicy")).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], n.queue_arn(&n.dlq));
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "3"
    );
    let q_url = sqs
        .get_queue_url()
        .queue_name(&n.queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let qtags: BTreeMap<String, String> = sqs
        .list_queue_tags()
        .queue_url(&q_url)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(qtags, claw_tags(&env.config()));

    let ddb = env.dynamodb();
    let table = ddb
        .describe_table()
        .table_name(&n.jobs_table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(table.key_schema()[0].attribute_name, "job_id");
    assert_eq!(
        table
            .billing_mode_summary
            .and_then(|b| b.billing_mode)
            .map(|b| b.as_str().to_string())
            .as_deref(),
        Some("PAY_PER_REQUEST")
    );
    let ttl = ddb
        .describe_time_to_live()
        .table_name(&n.jobs_table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name.as_deref(), Some("ttl"));

    let mappings = env
        .lambda()
        .list_event_source_mappings()
        .function_name(&n.function)
        .send()
        .await
        .unwrap()
        .event_source_mappings
        .unwrap();
    assert_eq!(mappings.len(), 1, "{mappings:?}");
    let m = &mappings[0];
    assert_eq!(
        m.event_source_arn.as_deref(),
        Some(n.queue_arn(&n.queue).as_str())
    );
    assert_eq!(m.function_arn.as_deref(), Some(n.function_arn().as_str()));
    assert_eq!(m.batch_size, Some(10));
    assert_eq!(
        m.function_response_types()
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>(),
        ["ReportBatchItemFailures"]
    );

    let id = api_id(&env, &n.api).await.unwrap();
    let routes = env.apigw().get_routes().api_id(&id).send().await.unwrap();
    let keys: BTreeSet<&str> = routes
        .items()
        .iter()
        .map(|r| r.route_key.as_deref().unwrap())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["POST /agents/{agent}", "POST /jobs", "GET /jobs/{id}"])
    );
    let st = permission_statements(&env, &n.function).await;
    let arns: BTreeSet<String> = st
        .iter()
        .map(|s| {
            s["Condition"]["ArnLike"]["AWS:SourceArn"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        arns,
        BTreeSet::from([
            n.execute_api_arn(&id, "POST /agents/{agent}"),
            n.execute_api_arn(&id, "POST /jobs"),
            n.execute_api_arn(&id, "GET /jobs/{id}"),
        ])
    );

    // Unchanged: no mutating call in async mode either.
    let mutations = env.mutations_during(|| {
        env.deploy().ok();
    });
    assert!(mutations.is_empty(), "{mutations:?}");

    // Back to sync: the mapping, queues and jobs table go; the sessions table stays.
    env.set_config(&root_config());
    env.deploy().ok();
    assert!(
        sqs.get_queue_url()
            .queue_name(&n.queue)
            .send()
            .await
            .is_err()
    );
    assert!(sqs.get_queue_url().queue_name(&n.dlq).send().await.is_err());
    assert!(
        ddb.describe_table()
            .table_name(&n.jobs_table)
            .send()
            .await
            .is_err()
    );
    assert!(
        ddb.describe_table()
            .table_name("AgentSessions")
            .send()
            .await
            .is_ok()
    );
    let mappings = env
        .lambda()
        .list_event_source_mappings()
        .function_name(&n.function)
        .send()
        .await
        .unwrap()
        .event_source_mappings
        .unwrap_or_default();
    assert!(mappings.is_empty(), "{mappings:?}");
    assert_eq!(permission_statements(&env, &n.function).await.len(), 1);
}

/// Everything a deploy creates, with generated ids replaced, for comparing two
/// stacks built different ways.
async fn snapshot(env: &Env) -> serde_json::Value {
    let n = env.names();
    let iam = env.iam();
    let role = iam
        .get_role()
        .role_name(&n.role)
        .send()
        .await
        .unwrap()
        .role
        .unwrap();
    let inline = iam
        .list_role_policies()
        .role_name(&n.role)
        .send()
        .await
        .unwrap()
        .policy_names;
    let rp = iam
        .get_role_policy()
        .role_name(&n.role)
        .policy_name(&n.role_policy)
        .send()
        .await
        .unwrap();
    let boundary = iam
        .get_policy()
        .policy_arn(n.boundary_arn())
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let f = env
        .lambda()
        .get_function()
        .function_name(&n.function)
        .send()
        .await
        .unwrap();
    let c = f.configuration.unwrap();
    let id = api_id(env, &n.api).await.unwrap();
    let apigw = env.apigw();
    let mut routes: Vec<String> = apigw
        .get_routes()
        .api_id(&id)
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.route_key.as_deref().unwrap(),
                r.authorization_type.as_ref().unwrap().as_str()
            )
        })
        .collect();
    routes.sort();
    let integrations = apigw
        .get_integrations()
        .api_id(&id)
        .send()
        .await
        .unwrap()
        .items()
        .len();
    let stage = apigw
        .get_stage()
        .api_id(&id)
        .stage_name("$default")
        .send()
        .await
        .unwrap();
    let mut statements: Vec<String> = permission_statements(env, &n.function)
        .await
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s["Sid"].as_str().unwrap(),
                s["Condition"]["ArnLike"]["AWS:SourceArn"]
                    .as_str()
                    .unwrap()
                    .replace(&id, "API")
            )
        })
        .collect();
    statements.sort();
    let mut alarms: Vec<String> = env
        .cloudwatch()
        .describe_alarms()
        .alarm_name_prefix(&n.alarm_prefix)
        .send()
        .await
        .unwrap()
        .metric_alarms
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a.alarm_name.as_deref().unwrap(),
                a.threshold.unwrap()
            )
        })
        .collect();
    alarms.sort();
    let mut groups = Vec::new();
    for g in [&n.log_group, &n.api_log_group] {
        let found = env
            .logs()
            .describe_log_groups()
            .log_group_name_prefix(g.as_str())
            .send()
            .await
            .unwrap()
            .log_groups
            .unwrap_or_default();
        groups.extend(found.iter().map(|x| {
            format!(
                "{} {:?}",
                x.log_group_name.as_deref().unwrap(),
                x.retention_in_days
            )
        }));
    }
    let sqs = env.sqs();
    let mut queues = Vec::new();
    for q in [&n.queue, &n.dlq] {
        if let Ok(u) = sqs.get_queue_url().queue_name(q.as_str()).send().await {
            let a = sqs
                .get_queue_attributes()
                .queue_url(u.queue_url.unwrap())
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap_or_default();
            let mut a: Vec<String> = a
                .iter()
                .map(|(k, v)| format!("{}={v}", k.as_str()))
                .collect();
            a.sort();
            queues.push(format!("{q} {}", a.join(" ")));
        }
    }
    let mappings = env
        .lambda()
        .list_event_source_mappings()
        .function_name(&n.function)
        .send()
        .await
        .unwrap()
        .event_source_mappings
        .unwrap_or_default()
        .len();
    let mut tables = Vec::new();
    for t in [n.jobs_table.as_str(), "AgentSessions"] {
        if env
            .dynamodb()
            .describe_table()
            .table_name(t)
            .send()
            .await
            .is_ok()
        {
            let ttl = env
                .dynamodb()
                .describe_time_to_live()
                .table_name(t)
                .send()
                .await
                .unwrap()
                .time_to_live_description
                .and_then(|d| d.attribute_name);
            tables.push(format!("{t} ttl={ttl:?}"));
        }
    }
    serde_json::json!({
        "role": {
            "path": role.path,
            "boundary": role.permissions_boundary.and_then(|b| b.permissions_boundary_arn),
            "inline": inline,
            "policy": serde_json::from_str::<serde_json::Value>(&percent_decode(&rp.policy_document)).unwrap(),
            "tags": role.tags.unwrap_or_default().iter().map(|t| format!("{}={}", t.key, t.value)).collect::<BTreeSet<_>>(),
        },
        "boundary_tags": boundary.tags.unwrap_or_default().iter().map(|t| format!("{}={}", t.key, t.value)).collect::<BTreeSet<_>>(),
        "function": {
            "memory": c.memory_size,
            "timeout": c.timeout,
            "code": c.code_sha256,
            "arch": c.architectures().iter().map(|a| a.as_str().to_string()).collect::<Vec<_>>(),
            "tracing": c.tracing_config().and_then(|t| t.mode()).map(|m| m.as_str().to_string()),
            "subnets": c.vpc_config().map(|v| v.subnet_ids().len()),
            "concurrency": f.concurrency.and_then(|c| c.reserved_concurrent_executions),
            "tags": f.tags.unwrap_or_default().into_iter().collect::<BTreeMap<_, _>>(),
        },
        "api": {
            "routes": routes,
            "integrations": integrations,
            "stage": {
                "auto_deploy": stage.auto_deploy,
                "burst": stage.default_route_settings.as_ref().and_then(|r| r.throttling_burst_limit),
                "log": stage.access_log_settings.as_ref().and_then(|l| l.destination_arn.clone()),
            },
        },
        "permissions": statements,
        "alarms": alarms,
        "log_groups": groups,
        "queues": queues,
        "mappings": mappings,
        "tables": tables,
    })
}

/// Test 7: a deploy killed after its Nth mutating call, for every N, then run
/// again, converges to the same state as a clean deploy: no duplicate API, no
/// duplicate permission statement, nothing missing.
#[tokio::test(flavor = "multi_thread")]
async fn interrupted_deploy_converges_at_every_point() {
    let env = Env::with_secrets().await;
    env.set_config(&async_config());
    let mut clean = None;
    let total = env
        .mutations_during(|| clean = Some(env.deploy().ok()))
        .len();
    assert!(
        total > 20,
        "a clean deploy made only {total} mutating calls"
    );
    let want = snapshot(&env).await;
    eprintln!(
        "interrupted deploy: {total} mutating calls from scratch; killing after each of calls 1..={}",
        total
    );

    for n in 1..=total {
        env.moto.reset();
        env.set_secrets();
        let mut c = env.command(&["deploy", "--yes", "--zip", &env.zip_arg()]);
        c.env(claw::aws::ABORT_AFTER_ENV, n.to_string());
        let killed = env.run(c);
        assert_eq!(
            killed.code, 137,
            "with abort after {n}: exit {}\n{}\n{}",
            killed.code, killed.stdout, killed.stderr
        );
        // A process killed between taking the deploy lock and its first heartbeat
        // leaves a lock that clears 10 s later: the re-run waits for it.
        let again = env.claw(&[
            "deploy",
            "--yes",
            "--zip",
            &env.zip_arg(),
            "--lock-timeout",
            "60s",
        ]);
        assert_eq!(
            again.code, 0,
            "re-run after abort at {n} failed:\n{}\n{}",
            again.stdout, again.stderr
        );
        let got = snapshot(&env).await;
        assert_eq!(got, want, "after an abort at mutating call {n} of {total}");
        // And the converged stack is stable.
        let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
        assert_eq!(plan.code, 0, "after abort at {n}:\n{}", plan.stdout);
    }
}

/// Test 8: destroy removes everything tagged for the app and stage, keeps secrets
/// and the sessions table unless asked, and is safe to re-run.
#[tokio::test(flavor = "multi_thread")]
async fn destroy_removes_the_stack_and_keeps_data_unless_asked() {
    let env = Env::with_secrets().await;
    env.set_config(&async_config());
    env.deploy().ok();
    let n = env.names();

    // Without a terminal and without --yes, nothing is deleted.
    let refused = env.claw(&["destroy"]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        env.lambda()
            .get_function()
            .function_name(&n.function)
            .send()
            .await
            .is_ok()
    );

    env.claw(&["destroy", "--yes"]).ok();
    let gone = |what: &str, ok: bool| assert!(!ok, "{what} still exists after destroy");
    gone(
        "role",
        env.iam().get_role().role_name(&n.role).send().await.is_ok(),
    );
    gone(
        "boundary",
        env.iam()
            .get_policy()
            .policy_arn(n.boundary_arn())
            .send()
            .await
            .is_ok(),
    );
    gone(
        "function",
        env.lambda()
            .get_function()
            .function_name(&n.function)
            .send()
            .await
            .is_ok(),
    );
    gone("api", api_id(&env, &n.api).await.is_some());
    let alarms = env
        .cloudwatch()
        .describe_alarms()
        .alarm_name_prefix(&n.alarm_prefix)
        .send()
        .await
        .unwrap()
        .metric_alarms
        .unwrap_or_default();
    assert!(alarms.is_empty(), "{alarms:?}");
    for g in [&n.log_group, &n.api_log_group] {
        let found = env
            .logs()
            .describe_log_groups()
            .log_group_name_prefix(g.as_str())
            .send()
            .await
            .unwrap()
            .log_groups
            .unwrap_or_default();
        assert!(found.is_empty(), "{g}: {found:?}");
    }
    for q in [&n.queue, &n.dlq] {
        gone(
            q,
            env.sqs()
                .get_queue_url()
                .queue_name(q.as_str())
                .send()
                .await
                .is_ok(),
        );
    }
    gone(
        "jobs table",
        env.dynamodb()
            .describe_table()
            .table_name(&n.jobs_table)
            .send()
            .await
            .is_ok(),
    );
    let mappings = env
        .lambda()
        .list_event_source_mappings()
        .send()
        .await
        .unwrap()
        .event_source_mappings
        .unwrap_or_default();
    assert!(mappings.is_empty(), "{mappings:?}");
    // Kept: the sessions table and the secrets.
    assert!(
        env.dynamodb()
            .describe_table()
            .table_name("AgentSessions")
            .send()
            .await
            .is_ok()
    );
    for s in SECRETS {
        let d = env
            .secrets()
            .describe_secret()
            .secret_id(*s)
            .send()
            .await
            .unwrap();
        assert!(d.deleted_date.is_none(), "{s} was deleted");
    }

    // Safe to re-run.
    let again = env.claw(&["destroy", "--yes"]).ok();
    assert!(
        again.stdout.contains("Nothing to destroy."),
        "{}",
        again.stdout
    );

    // With both flags: the sessions table and the secrets go too.
    env.claw(&["destroy", "--yes", "--include-data", "--include-secrets"])
        .ok();
    assert!(
        env.dynamodb()
            .describe_table()
            .table_name("AgentSessions")
            .send()
            .await
            .is_err()
    );
    for s in SECRETS {
        let d = env.secrets().describe_secret().secret_id(*s).send().await;
        assert!(
            d.map(|d| d.deleted_date.is_some()).unwrap_or(true),
            "{s} was kept"
        );
    }
}

/// A JWT API: the authorizer (issuer, audience) and JWT routes; stable on re-run.
#[tokio::test(flavor = "multi_thread")]
async fn jwt_auth_creates_an_authorizer_and_is_stable() {
    let env = Env::with_secrets().await;
    let text = edit(
        &root_config(),
        "  auth: iam\n",
        "  auth: jwt\n  jwt:\n    issuer: https://issuer.example.com/\n    audience: [crm-api]\n",
    );
    env.set_config(&text);
    env.deploy().ok();
    let n = env.names();
    let id = api_id(&env, &n.api).await.unwrap();
    let routes = env.apigw().get_routes().api_id(&id).send().await.unwrap();
    let r = &routes.items()[0];
    assert_eq!(
        r.authorization_type.as_ref().map(|a| a.as_str()),
        Some("JWT")
    );
    let a = env
        .apigw()
        .get_authorizer()
        .api_id(&id)
        .authorizer_id(r.authorizer_id.clone().unwrap())
        .send()
        .await
        .unwrap();
    let jwt = a.jwt_configuration.unwrap();
    assert_eq!(jwt.issuer.as_deref(), Some("https://issuer.example.com/"));
    assert_eq!(jwt.audience.unwrap(), ["crm-api"]);
    assert_eq!(
        a.identity_source.unwrap(),
        ["$request.header.Authorization"]
    );
    let mutations = env.mutations_during(|| {
        env.deploy().ok();
    });
    assert!(mutations.is_empty(), "{mutations:?}");

    // Back to IAM: the route changes, the authorizer goes.
    env.set_config(&root_config());
    let plan = env.claw(&["plan", "--zip", &env.zip_arg()]).ok();
    assert!(
        plan.stdout.contains("(authorization JWT → AWS_IAM)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("- delete     jwt authorizer"),
        "{}",
        plan.stdout
    );
    env.deploy().ok();
    let routes = env.apigw().get_routes().api_id(&id).send().await.unwrap();
    assert_eq!(
        routes.items()[0]
            .authorization_type
            .as_ref()
            .map(|a| a.as_str()),
        Some("AWS_IAM")
    );
}

/// Refusals: wrong account, missing secrets, a resource with claw's name that claw
/// did not create. Each stops before any mutating call and says how to fix it.
#[tokio::test(flavor = "multi_thread")]
async fn deploy_refuses_wrong_account_missing_secrets_and_foreign_resources() {
    let env = Env::new().await;

    // Missing secrets: every one listed with its fix.
    let mut run = None;
    let m = env.mutations_during(|| run = Some(env.deploy()));
    let run = run.unwrap();
    assert_eq!(run.code, 1, "{}", run.stdout);
    for s in SECRETS {
        assert!(
            run.stderr.contains(&format!("claw secrets set {s}")),
            "{}",
            run.stderr
        );
    }
    assert!(m.is_empty(), "{m:?}");

    // Wrong account.
    env.set_secrets();
    env.set_config(&edit(
        &root_config(),
        "account: \"123456789012\"",
        "account: \"999999999999\"",
    ));
    let mut run = None;
    let m = env.mutations_during(|| run = Some(env.deploy()));
    let run = run.unwrap();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("999999999999") && run.stderr.contains("123456789012"),
        "{}",
        run.stderr
    );
    assert!(m.is_empty(), "{m:?}");

    // A role with claw's name, created by someone else: never touched.
    env.set_config(&root_config());
    let n = env.names();
    env.iam()
        .create_role()
        .role_name(&n.role)
        .path("/claw/")
        .assume_role_policy_document(claw::aws::doc::to_json(&claw_spec::policy::trust(&n)))
        .send()
        .await
        .unwrap();
    let mut run = None;
    let m = env.mutations_during(|| run = Some(env.deploy()));
    let run = run.unwrap();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&n.role) && run.stderr.contains("not tagged"),
        "{}",
        run.stderr
    );
    assert!(m.is_empty(), "{m:?}");
    let plan = env.claw(&["plan", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 1, "plan reports the blocker as an error");
}

/// Without `--zip`, deploy builds the function through `claw build`'s module (an
/// incremental cross-build; slow when cold) and deploys exactly that package;
/// `claw plan` then compares against the built package without building.
#[tokio::test(flavor = "multi_thread")]
async fn deploy_without_zip_builds_and_deploys_the_package() {
    let env = Env::with_secrets().await;
    let with_workspace = |args: &[&str]| {
        let mut c = env.command(args);
        c.env("CLAW_WORKSPACE", repo_root());
        c
    };
    let run = env.run(with_workspace(&["deploy", "--yes", "--output", "json"]));
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let out = run.json();
    let target_root = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let dir = target_root.join("claw/crm-leads-dev/arm64");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("function.json")).unwrap()).unwrap();
    let sha = manifest["code_sha256"].as_str().unwrap().to_string();
    assert_eq!(out["code_sha256"], sha.as_str());
    let c = env
        .lambda()
        .get_function_configuration()
        .function_name("crm-leads-dev")
        .send()
        .await
        .unwrap();
    assert_eq!(c.code_sha256.as_deref(), Some(sha.as_str()));
    let zip = zip::ZipArchive::new(std::fs::File::open(dir.join("function.zip")).unwrap()).unwrap();
    let names: BTreeSet<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert!(
        names.contains("bootstrap") && names.contains("agent.json"),
        "{names:?}"
    );

    let plan = env.run(with_workspace(&["plan", "--detailed-exitcode"]));
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        !plan.stdout.contains("was not compared"),
        "plan uses the built package: {}",
        plan.stdout
    );
}

/// Concurrent deploys of one app and stage take turns through the deploy lock: a
/// held lock stops a deploy with a message naming the holder (nothing changed),
/// `claw unlock` clears it, and deploys racing each other leave one clean stack.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_deploys_take_turns_and_corrupt_nothing() {
    let env = Env::with_secrets().await;
    let n = env.names();
    // A live holder: this test process, on this host.
    let logs = env.logs();
    let group = format!("/claw/locks/{}", n.function);
    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name("lock")
        .send()
        .await
        .unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let holder = serde_json::json!({
        "command": "deploy",
        "host": host.trim(),
        "pid": std::process::id(),
        "since_ms": 1_795_000_000_000i64,
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    logs.put_log_events()
        .log_group_name(&group)
        .log_stream_name("lock")
        .log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now)
                .message(holder.to_string())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let mut refused = None;
    let mutations = env.mutations_during(|| refused = Some(env.deploy()));
    let refused = refused.unwrap();
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("holds the deploy lock")
            && refused
                .stderr
                .contains(&format!("pid {}", std::process::id()))
            && refused.stderr.contains("claw unlock"),
        "{}",
        refused.stderr
    );
    // Only the failed lock attempt was written; the stack was not touched.
    let touched: Vec<_> = mutations
        .iter()
        .filter(|c| c.action != "CreateLogStream")
        .collect();
    assert!(touched.is_empty(), "{touched:?}");
    assert!(
        env.lambda()
            .get_function()
            .function_name(&n.function)
            .send()
            .await
            .is_err()
    );

    let unlocked = env.claw(&["unlock"]).ok();
    assert!(
        unlocked.stdout.contains("cleared the deploy lock"),
        "{}",
        unlocked.stdout
    );
    env.deploy().ok();

    // Two deploys at once, with a change to apply: both finish (the second waits
    // for the lock, then re-reads and applies what is left), one clean stack.
    env.set_config(&edit(
        &env.config_text(),
        "memory_mb: 256",
        "memory_mb: 384",
    ));
    let spawn = || {
        env.command(&[
            "deploy",
            "--yes",
            "--zip",
            &env.zip_arg(),
            "--lock-timeout",
            "60s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a concurrent deploy failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    assert_eq!(permission_statements(&env, &n.function).await.len(), 1);
    assert!(api_id(&env, &n.api).await.is_some());
    let memory = env
        .lambda()
        .get_function_configuration()
        .function_name(&n.function)
        .send()
        .await
        .unwrap()
        .memory_size();
    assert_eq!(memory, Some(384));
}
