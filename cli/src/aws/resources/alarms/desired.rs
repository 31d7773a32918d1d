//! The alarms agent.yaml asks for, one [`Desired`] per alarm.

use std::collections::BTreeMap;

use super::types::{COST_METRIC, Desired, ERRORS_METRIC, TOKENS_METRIC, TOKENS_NAMESPACE};
use crate::aws::target::Target;

pub fn desired(t: &Target) -> Vec<Desired> {
    let a = &t.config.alarms;
    let f = &t.names.function;
    let n = &t.names;
    let fn_dims: BTreeMap<String, String> = [("FunctionName".to_string(), f.clone())].into();
    let actions: Vec<String> = a.notify.iter().cloned().collect();
    let app_stage: BTreeMap<String, String> = [
        ("app".to_string(), t.config.app.clone()),
        ("stage".to_string(), t.config.stage.clone()),
    ]
    .into();
    let lambda =
        |suffix: &str, metric: &str, stat: &str, threshold: f64, cmp: &str, desc: String| Desired {
            name: n.alarm_name(suffix),
            namespace: "AWS/Lambda".into(),
            metric: metric.into(),
            dimensions: fn_dims.clone(),
            per_agent: Vec::new(),
            statistic: stat.into(),
            period: 300,
            evaluation_periods: 1,
            threshold,
            comparison: cmp.into(),
            treat_missing: "notBreaching".into(),
            actions: actions.clone(),
            description: desc,
        };
    let mut out = vec![
        lambda(
            "errors",
            "Errors",
            "Sum",
            a.errors as f64,
            "GreaterThanOrEqualToThreshold",
            format!(
                "claw: {f} had {} or more failed invocations in 5 minutes",
                a.errors
            ),
        ),
        lambda(
            "throttles",
            "Throttles",
            "Sum",
            a.throttles as f64,
            "GreaterThanOrEqualToThreshold",
            format!(
                "claw: {f} was throttled {} or more times in 5 minutes",
                a.throttles
            ),
        ),
    ];
    // The function answers model and tool failures with a 500 and does not fail
    // the invocation, so Lambda's Errors (failed invocations only) misses them:
    // this alarm watches the function's own EMF Errors, summed over its agents.
    let agents = crate::aws::figures::agents(t, true);
    out.push(Desired {
        name: n.alarm_name("agent-errors"),
        namespace: TOKENS_NAMESPACE.into(),
        metric: ERRORS_METRIC.into(),
        dimensions: app_stage.clone(),
        per_agent: agents,
        statistic: "Sum".into(),
        period: 300,
        evaluation_periods: 1,
        threshold: a.errors as f64,
        comparison: "GreaterThanOrEqualToThreshold".into(),
        treat_missing: "notBreaching".into(),
        actions: actions.clone(),
        description: format!(
            "claw: {f}'s agents failed {} or more times in 5 minutes (model, tool or internal errors)",
            a.errors
        ),
    });
    let timeout_ms = t.config.function.timeout_s as f64 * 1000.0;
    let p99 = (a.duration_p99_ratio * timeout_ms).round();
    out.push(lambda(
        "duration-p99",
        "Duration",
        "p99",
        p99,
        "GreaterThanThreshold",
        format!(
            "claw: {f}'s p99 duration exceeded {p99} ms ({} of the {} s timeout)",
            a.duration_p99_ratio, t.config.function.timeout_s
        ),
    ));
    if let Some(n) = a.invocations_per_5min {
        out.push(lambda(
            "invocations-per-5min",
            "Invocations",
            "Sum",
            n as f64,
            "GreaterThanThreshold",
            format!("claw: {f} was invoked more than {n} times in 5 minutes"),
        ));
    }
    if let Some(n) = a.output_tokens_per_hour {
        out.push(Desired {
            name: t.names.alarm_name("output-tokens-per-hour"),
            namespace: TOKENS_NAMESPACE.into(),
            metric: TOKENS_METRIC.into(),
            dimensions: app_stage.clone(),
            per_agent: crate::aws::figures::agents(t, false),
            statistic: "Sum".into(),
            period: 3600,
            evaluation_periods: 1,
            threshold: n as f64,
            comparison: "GreaterThanThreshold".into(),
            treat_missing: "notBreaching".into(),
            actions: actions.clone(),
            description: format!(
                "claw: {f}'s agents produced more than {n} output tokens in an hour"
            ),
        });
    }
    if let Some(usd) = a.cost_usd_per_day {
        out.push(Desired {
            name: t.names.alarm_name("cost-per-day"),
            namespace: TOKENS_NAMESPACE.into(),
            metric: COST_METRIC.into(),
            dimensions: app_stage.clone(),
            per_agent: crate::aws::figures::agents(t, false),
            statistic: "Sum".into(),
            // One day, the longest period an alarm may evaluate.
            period: 86_400,
            evaluation_periods: 1,
            threshold: (usd * 1_000_000.0).round(),
            comparison: "GreaterThanThreshold".into(),
            treat_missing: "notBreaching".into(),
            actions: actions.clone(),
            description: format!("claw: {f}'s agents cost more than ${usd} in a day"),
        });
    }
    out
}
