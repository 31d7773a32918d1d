//! The operating view: the dashboard deploy keeps (created, unchanged on a no-op
//! deploy, a hand edit put back, removed by destroy) and `claw status` over a
//! fixture of metric data put into moto: figures, sparklines, alarm states, top
//! tools, in one parallel round of reads with one GetMetricData.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StateValue};

use crate::support::{Aws, Env, LOCK_CALLS};

async fn dashboard(aws: &Aws, name: &str) -> Option<serde_json::Value> {
    let out = aws
        .cloudwatch
        .get_dashboard()
        .dashboard_name(name)
        .send()
        .await
        .ok()?;
    Some(serde_json::from_str(out.dashboard_body().unwrap()).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_keeps_the_dashboard_in_sync_and_destroy_removes_it() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    let name = env.names().dashboard;
    env.deploy().ok();
    let body = dashboard(&aws, &name)
        .await
        .expect("deploy creates the dashboard");
    let widgets = body["widgets"].as_array().unwrap().len();
    let marker = body["widgets"][0]["properties"]["markdown"]
        .as_str()
        .unwrap();
    assert!(
        marker.contains("`claw:app=crm-leads` `claw:stage=dev` `claw:region=ap-southeast-2`"),
        "{marker}"
    );
    // The alarm widget names claw's alarms, which exist.
    let alarms: Vec<String> = aws
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix("crm-leads-dev-")
        .send()
        .await
        .unwrap()
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_arn().map(str::to_string))
        .collect();
    for arn in body["widgets"][1]["properties"]["alarms"]
        .as_array()
        .unwrap()
    {
        assert!(alarms.contains(&arn.as_str().unwrap().to_string()), "{arn}");
    }

    // A hand edit (a graph removed) is drift: planned as one update, put back
    // with one PutDashboard.
    let mut edited = body.clone();
    edited["widgets"].as_array_mut().unwrap().pop();
    aws.cloudwatch
        .put_dashboard()
        .dashboard_name(&name)
        .dashboard_body(edited.to_string())
        .send()
        .await
        .unwrap();
    let plan = env.plan_json();
    let change = plan["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "dashboard")
        .unwrap()
        .clone();
    assert_eq!(change["action"], "update", "{change}");
    assert_eq!(
        change["fields"][0]["from"],
        format!("{} widgets (edited or older)", widgets - 1)
    );
    let mutations = env.mutations_during(|| {
        env.deploy().ok();
    });
    let calls: Vec<&str> = mutations
        .iter()
        .filter(|c| !(c.service == "logs" && LOCK_CALLS.contains(&c.action.as_str())))
        .map(|c| c.action.as_str())
        .collect();
    assert_eq!(calls, ["PutDashboard"], "{mutations:?}");
    assert_eq!(dashboard(&aws, &name).await.unwrap(), body);

    // A dashboard of the same name without this stack's marker is not claw's:
    // the plan refuses to touch it (destroy keeps it: the module's unit test).
    aws.cloudwatch
        .put_dashboard()
        .dashboard_name(&name)
        .dashboard_body(r#"{"widgets":[]}"#)
        .send()
        .await
        .unwrap();
    let refused = env.claw(&["plan", "--output", "json", "--zip", &env.zip_arg()]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("no claw marker"),
        "{}",
        refused.stdout
    );

    // Put back by hand, destroy removes claw's.
    aws.cloudwatch
        .put_dashboard()
        .dashboard_name(&name)
        .dashboard_body(body.to_string())
        .send()
        .await
        .unwrap();
    env.claw(&["destroy", "--yes"]).ok();
    assert!(
        dashboard(&aws, &name).await.is_none(),
        "destroy removes the dashboard"
    );
}

fn datum(metric: &str, dims: &[(&str, &str)], value: f64, ago: Duration) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(metric)
        .set_dimensions(Some(
            dims.iter()
                .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
                .collect(),
        ))
        .value(value)
        .timestamp(DateTime::from(SystemTime::now() - ago))
        .build()
}

const HOUR: Duration = Duration::from_secs(3600);

/// The fixture: three hours of traffic in the last 24 (one Duration sample per
/// hour, so the window's p99 is its largest sample, as CloudWatch's nearest-rank
/// percentile of at most 100 samples is), two agents' tokens and cost, one tool.
async fn put_fixture(aws: &Aws) {
    let f = [("FunctionName", "crm-leads-dev")];
    let agent = |a: &'static str| [("app", "crm-leads"), ("stage", "dev"), ("agent", a)];
    let mut lambda = Vec::new();
    for (h, invocations, errors, duration) in [
        (1, 10.0, 1.0, 900.0),
        (2, 20.0, 0.0, 1500.0),
        (5, 5.0, 0.0, 700.0),
    ] {
        let ago = HOUR * h + Duration::from_secs(600);
        lambda.push(datum("Invocations", &f, invocations, ago));
        lambda.push(datum("Errors", &f, errors, ago));
        lambda.push(datum("Duration", &f, duration, ago));
    }
    let mut claw = vec![
        datum("OutputTokens", &agent("lead-qualifier"), 1200.0, HOUR),
        datum(
            "OutputTokens",
            &agent("company-researcher"),
            300.0,
            HOUR * 2,
        ),
        datum("CostMicroUSD", &agent("lead-qualifier"), 25_000.0, HOUR),
        datum(
            "CostMicroUSD",
            &agent("company-researcher"),
            1_500.0,
            HOUR * 2,
        ),
    ];
    let tool = [
        ("app", "crm-leads"),
        ("stage", "dev"),
        ("agent", "lead-qualifier"),
        ("tool", "get_lead"),
    ];
    for (calls, latency, ago) in [(4.0, 180.0, HOUR), (2.0, 120.0, HOUR * 3)] {
        claw.push(datum("ToolCalls", &tool, calls, ago));
        claw.push(datum("ToolLatency", &tool, latency, ago));
        claw.push(datum("ToolErrors", &tool, 0.0, ago));
    }
    for (namespace, data) in [("AWS/Lambda", lambda), ("claw", claw)] {
        aws.cloudwatch
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(data))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn status_shows_figures_alarms_and_tools_in_one_round_of_reads() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    env.deploy().ok();
    put_fixture(&aws).await;
    aws.cloudwatch
        .set_alarm_state()
        .alarm_name("crm-leads-dev-errors")
        .state_value(StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .unwrap();

    env.moto.record();
    let out = env
        .claw(&["status", "--output", "json", "--zip", &env.zip_arg()])
        .ok();
    env.moto.stop_recording();
    let s = out.json();
    let calls = env.moto.calls();
    let metric_reads = calls.iter().filter(|c| c.action == "GetMetricData").count();
    assert_eq!(metric_reads, 1, "one GetMetricData for every figure");
    assert_eq!(s["api_calls"]["mutations"], 0);
    assert_eq!(s["api_calls"]["reads"], calls.len(), "{calls:?}");
    assert!(calls.iter().all(|c| !c.is_mutating()), "{calls:?}");
    assert!(
        env.realism()
            .count("cloudwatch: a percentile read as the period's maximum")
            >= 1,
        "the p99 query went through the realism layer"
    );

    assert_eq!(s["in_sync"], true, "{s:#}");
    assert_eq!(s["code_compared"], true);
    assert_eq!(s["alarming"], serde_json::json!(["crm-leads-dev-errors"]));
    assert_eq!(
        s["dashboard"],
        "https://ap-southeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-southeast-2#dashboards/dashboard/crm-leads-dev"
    );
    assert_eq!(
        (
            s["window"]["points"].as_u64(),
            s["window"]["period_s"].as_u64()
        ),
        (Some(24), Some(3600))
    );
    let fig = |k: &str| {
        s["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == k)
            .unwrap_or_else(|| panic!("no figure {k}: {s:#}"))
            .clone()
    };
    assert_eq!(fig("invocations")["total"], 35.0);
    assert_eq!(fig("errors")["total"], 1.0);
    assert_eq!(fig("duration_p99")["total"], 1500.0);
    assert_eq!(fig("output_tokens")["total"], 1500.0);
    assert!((fig("cost_usd")["total"].as_f64().unwrap() - 0.0265).abs() < 1e-9);
    assert!(
        fig("throttles")["total"].is_null(),
        "no data is no figure, not 0"
    );
    let points = fig("invocations")["points"].as_array().unwrap().clone();
    assert_eq!(points.len(), 24);
    let seen: Vec<f64> = points.iter().filter_map(|p| p.as_f64()).collect();
    assert_eq!(seen.len(), 3, "{points:?}");
    assert_eq!(seen.iter().sum::<f64>(), 35.0);
    let tools = s["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1, "only tools that were called: {tools:?}");
    assert_eq!(tools[0]["tool"], "get_lead");
    assert_eq!(tools[0]["calls"], 6.0);
    assert_eq!(tools[0]["latency_ms"], 150.0);

    let text = env.claw(&["status", "--zip", &env.zip_arg()]).ok().stdout;
    for want in [
        "crm-leads dev (ap-southeast-2): the last 1d, 24 points of 1h",
        "in sync",
        "1 in ALARM",
        "ALARM    crm-leads-dev-errors",
        "lead-qualifier/get_lead",
        "$0.0265",
        "1,500",
        "█",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }

    // A drifted stack says so, naming what differs.
    let edited =
        claw_testkit::fixtures::edit(&env.config_text(), "memory_mb: 256", "memory_mb: 512");
    env.set_config(&edited);
    let s = env
        .claw(&["status", "--output", "json", "--zip", &env.zip_arg()])
        .ok()
        .json();
    assert_eq!(s["in_sync"], false);
    let drifted: Vec<&serde_json::Value> = s["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] != "in_sync")
        .collect();
    assert_eq!(drifted.len(), 1, "{drifted:?}");
    assert_eq!(drifted[0]["state"], "drifted");
    assert_eq!(drifted[0]["changes"][0]["field"], "memory_mb");
}
