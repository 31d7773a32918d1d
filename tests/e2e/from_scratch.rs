//! A deploy from scratch creates every resource with every field right: one
//! deploy of the root agent.yaml, shared by one test per resource kind (the
//! deploy runs once, on first use, on a moto that lives as long as this binary).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use claw_spec::Names;
use claw_testkit::Output;
use claw_testkit::snapshot::stack_tags;

use crate::support::{Aws, Env, parse_doc, same_doc};

/// The stack every test here reads; never changed after the deploy.
struct Deployed {
    env: Env,
    run: Output,
    config: claw_spec::Config,
    n: Names,
    tags: BTreeMap<String, String>,
}

fn deployed() -> &'static Deployed {
    static STACK: OnceLock<Deployed> = OnceLock::new();
    STACK.get_or_init(|| {
        let env = Env::with_secrets();
        let run = env.deploy().ok();
        let config = env.config();
        let n = Names::new(&config);
        let tags = stack_tags(&config);
        Deployed {
            env,
            run,
            config,
            n,
            tags,
        }
    })
}

async fn aws() -> (&'static Deployed, Aws) {
    let d = deployed();
    let aws = d.env.aws().await;
    (d, aws)
}

#[tokio::test(flavor = "multi_thread")]
async fn prints_the_endpoint() {
    let (d, _) = aws().await;
    assert!(d.run.stdout.contains("Endpoint:"), "{}", d.run.stdout);
}

/// Permissions boundary: same document as the role policy, tagged.
#[tokio::test(flavor = "multi_thread")]
async fn boundary() {
    let (d, aws) = aws().await;
    let n = &d.n;
    let pol = aws
        .iam
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
    assert_eq!(ptags, d.tags);
    let v = aws
        .iam
        .get_policy_version()
        .policy_arn(n.boundary_arn())
        .version_id(pol.default_version_id.unwrap())
        .send()
        .await
        .unwrap();
    same_doc(
        &parse_doc(&v.policy_version.unwrap().document.unwrap()),
        &claw_spec::policy::role(&d.config, n),
        "boundary",
    );
}

/// Role: path, trust, boundary, one inline policy, tags, nothing attached.
#[tokio::test(flavor = "multi_thread")]
async fn role() {
    let (d, aws) = aws().await;
    let n = &d.n;
    let iam = &aws.iam;
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
        &claw_spec::policy::trust(n),
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
    assert_eq!(rtags, d.tags);
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
        &claw_spec::policy::role(&d.config, n),
        "role policy",
    );
    let attached = iam
        .list_attached_role_policies()
        .role_name(&n.role)
        .send()
        .await
        .unwrap();
    assert!(attached.attached_policies.unwrap_or_default().is_empty());
}

/// Log groups: retention and tags.
#[tokio::test(flavor = "multi_thread")]
async fn log_groups() {
    let (d, aws) = aws().await;
    let n = &d.n;
    for group in [&n.log_group, &n.api_log_group] {
        let g = aws
            .log_groups(group)
            .await
            .into_iter()
            .find(|g| g.log_group_name.as_deref() == Some(group.as_str()))
            .unwrap_or_else(|| panic!("log group {group} missing"));
        assert_eq!(g.retention_in_days, Some(30), "{group}");
        let t = aws
            .logs
            .list_tags_for_resource()
            .resource_arn(n.log_group_arn(group))
            .send()
            .await
            .unwrap()
            .tags
            .unwrap_or_default();
        let t: BTreeMap<String, String> = t.into_iter().collect();
        assert_eq!(t, d.tags, "{group}");
    }
}

/// Function: every configuration field, the code, tags, concurrency.
#[tokio::test(flavor = "multi_thread")]
async fn function() {
    let (d, aws) = aws().await;
    let n = &d.n;
    let f = aws
        .lambda
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
    assert_eq!(env_vars, d.config.function.environment);
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
            .encode(sha2::Sha256::digest(std::fs::read(&d.env.zip).unwrap()))
    };
    assert_eq!(c.code_sha256.as_deref(), Some(zip_sha.as_str()));
    assert!(d.run.stdout.contains(&zip_sha), "{}", d.run.stdout);
    let ftags: BTreeMap<String, String> = f.tags.unwrap().into_iter().collect();
    assert_eq!(ftags, d.tags);
    assert_eq!(
        f.concurrency.and_then(|c| c.reserved_concurrent_executions),
        Some(50)
    );
}

/// API: one, tagged, with the integration, the route, the stage.
#[tokio::test(flavor = "multi_thread")]
async fn api() {
    let (d, aws) = aws().await;
    let n = &d.n;
    let id = aws.api_id(&n.api).await.expect("no HTTP API");
    let apigw = &aws.apigw;
    let api = apigw.get_api().api_id(&id).send().await.unwrap();
    assert_eq!(api.protocol_type.as_ref().map(|p| p.as_str()), Some("HTTP"));
    let atags: BTreeMap<String, String> = api.tags.unwrap().into_iter().collect();
    assert_eq!(atags, d.tags);
    assert!(
        d.run.stdout.contains(api.api_endpoint.as_deref().unwrap()),
        "the endpoint is printed: {}",
        d.run.stdout
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
    assert_eq!(stags, d.tags);
}

/// Invoke permission: one statement for the route, scoped to this API.
#[tokio::test(flavor = "multi_thread")]
async fn invoke_permission() {
    let (d, aws) = aws().await;
    let n = &d.n;
    let id = aws.api_id(&n.api).await.expect("no HTTP API");
    let st = aws.permission_statements(&n.function).await;
    assert_eq!(st.len(), 1, "{st:#?}");
    assert_eq!(st[0]["Sid"], "claw-apigw-POST-agents-agent");
    assert_eq!(st[0]["Principal"]["Service"], "apigateway.amazonaws.com");
    assert_eq!(st[0]["Action"], "lambda:InvokeFunction");
    assert_eq!(
        st[0]["Condition"]["ArnLike"]["AWS:SourceArn"],
        n.execute_api_arn(&id, "POST /agents/{agent}")
    );
}

/// Alarms: thresholds, metrics, actions, tags.
#[tokio::test(flavor = "multi_thread")]
async fn alarms() {
    let (d, aws) = aws().await;
    let n = &d.n;
    let alarms = aws.alarms(&n.alarm_prefix).await;
    let by_name: BTreeMap<String, _> = alarms
        .into_iter()
        .map(|a| (a.alarm_name.clone().unwrap(), a))
        .collect();
    let names: Vec<&str> = by_name.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "crm-leads-dev-agent-errors",
            "crm-leads-dev-cost-per-day",
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
    // The function answers model and tool failures with a 500 without failing the
    // invocation, so Lambda's Errors misses them; its own EMF Errors, summed
    // over the agents and `none`, does not.
    let agent_errors = &by_name["crm-leads-dev-agent-errors"];
    assert_eq!(agent_errors.threshold, Some(1.0));
    assert_eq!(agent_errors.alarm_actions(), notify.as_slice());
    let series: BTreeSet<String> = agent_errors
        .metrics()
        .iter()
        .filter_map(|q| q.metric_stat.as_ref())
        .map(|ms| {
            let m = ms.metric.as_ref().unwrap();
            assert_eq!(m.namespace.as_deref(), Some("claw"));
            assert_eq!(m.metric_name.as_deref(), Some("Errors"));
            assert_eq!((ms.period, ms.stat.as_deref()), (Some(300), Some("Sum")));
            m.dimensions()
                .iter()
                .find(|d| d.name.as_deref() == Some("agent"))
                .and_then(|d| d.value.clone())
                .unwrap()
        })
        .collect();
    assert_eq!(
        series,
        BTreeSet::from(["company-researcher", "lead-qualifier", "none"].map(String::from))
    );
    assert!(
        agent_errors
            .metrics()
            .iter()
            .any(|q| q.expression.as_deref() == Some("SUM([m0,m1,m2])"))
    );
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
    // The cost alarm: the function's CostMicroUSD over a day, $25 = 25e6 micro-USD.
    let cost = &by_name["crm-leads-dev-cost-per-day"];
    assert_eq!(cost.threshold, Some(25_000_000.0));
    let stats: Vec<_> = cost
        .metrics()
        .iter()
        .filter_map(|q| q.metric_stat.as_ref())
        .collect();
    assert_eq!(stats.len(), 2, "one query per agent");
    for ms in stats {
        let m = ms.metric.as_ref().unwrap();
        assert_eq!(m.metric_name.as_deref(), Some("CostMicroUSD"));
        assert_eq!(ms.period, Some(86_400));
    }
    for a in by_name.values() {
        let t = aws
            .cloudwatch
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
        assert_eq!(t, d.tags, "{:?}", a.alarm_name);
    }
}

/// Sessions table: key, on-demand, TTL, tags.
#[tokio::test(flavor = "multi_thread")]
async fn sessions_table() {
    let (d, aws) = aws().await;
    let ddb = &aws.dynamodb;
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
    assert_eq!(t, d.tags);
}

/// Sync mode: no queues, no jobs table.
#[tokio::test(flavor = "multi_thread")]
async fn sync_mode_has_no_queue_or_jobs_table() {
    let (d, aws) = aws().await;
    let n = &d.n;
    assert!(
        aws.sqs
            .get_queue_url()
            .queue_name(&n.queue)
            .send()
            .await
            .is_err()
    );
    assert!(
        aws.dynamodb
            .describe_table()
            .table_name(&n.jobs_table)
            .send()
            .await
            .is_err()
    );
}
