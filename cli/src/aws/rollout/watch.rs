//! Holding one step: every half minute, the gate alarms (DescribeAlarms) and
//! the two versions' invocations and errors since the step began
//! (GetMetricData on `AWS/Lambda` with `FunctionName`, `Resource`
//! = `FUNCTION:live` and `ExecutedVersion`, the dimensions Lambda gives alias
//! invocations: https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html).

use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, StateValue};

use crate::aws::Aws;
use crate::aws::error::AwsResultExt;
use crate::aws::resources::function::versions::Pending;
use crate::aws::target::Target;
use claw_spec::rollout::Step;

/// What the engine reports as it goes (a line each).
pub type Say<'a> = &'a (dyn Fn(String) + Sync);

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

pub enum Verdict {
    Pass,
    Fail(String),
    /// Too few invocations to promote by the end of the extra wait.
    Starved(String),
}

/// Invocations and errors of one version.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Figures {
    pub invocations: f64,
    pub errors: f64,
}

impl Figures {
    /// Errors per invocation; errors counted before their invocations (the
    /// two metrics arrive apart) count as invocations too.
    fn rate(&self) -> f64 {
        let n = self.invocations.max(self.errors);
        if n > 0.0 { self.errors / n } else { 0.0 }
    }
}

/// Whether the new version fails more often than the old: any error, at a
/// rate above the old version's.
pub fn worse(new: Figures, old: Figures) -> bool {
    new.errors > 0.0 && new.rate() > old.rate()
}

/// Holds `step` from `since` (unix seconds) for its minutes, and as long
/// again while the new version has fewer than `min_invocations`.
pub async fn hold(
    aws: &Aws,
    t: &Target,
    p: Pending,
    step: Step,
    since: u64,
    minute: Duration,
    say: Say<'_>,
) -> anyhow::Result<Verdict> {
    let rollout = t
        .config
        .rollout
        .clone()
        .unwrap_or_else(|| serde_json::from_str("{}").expect("an empty rollout has defaults"));
    let length = minute * step.minutes;
    // Real time since the step began (a resumed step keeps its clock).
    let elapsed = Duration::from_secs(now().saturating_sub(since));
    let now_i = Instant::now();
    let started = now_i.checked_sub(elapsed.min(length * 2)).unwrap_or(now_i);
    let poll = minute / 2;
    // A look at once (a resumed step may already be failing), then every
    // half minute until the step's end.
    let mut first = true;
    loop {
        if !first {
            let left = length.saturating_sub(started.elapsed());
            tokio::time::sleep(poll.min(left.max(Duration::from_millis(1)))).await;
        }
        first = false;
        if let Some(alarm) = gate_alarm(aws, t).await? {
            return Ok(Verdict::Fail(alarm));
        }
        let (new, old) = figures(aws, t, p, since).await?;
        if worse(new, old) {
            return Ok(Verdict::Fail(format!(
                "version {} failed {} of {} invocations ({:.1}%), version {} {} of {} ({:.1}%)",
                p.to,
                new.errors,
                new.invocations,
                new.rate() * 100.0,
                p.from,
                old.errors,
                old.invocations,
                old.rate() * 100.0
            )));
        }
        let waited = started.elapsed();
        let short = f64::from(rollout.min_invocations) - new.invocations;
        say(format!(
            "rollout  {}%: version {} {} invocations, {} errors; version {} {} invocations, {} errors; alarms OK{}",
            step.percent,
            p.to,
            new.invocations,
            new.errors,
            p.from,
            old.invocations,
            old.errors,
            if waited < length {
                format!(" ({} s left)", (length - waited).as_secs())
            } else {
                String::new()
            }
        ));
        if waited >= length {
            if short <= 0.0 {
                return Ok(Verdict::Pass);
            }
            if waited >= length * 2 {
                return Ok(Verdict::Starved(format!(
                    "version {} served {} of the {} invocations `min_invocations` asks for; the alias stays mid-shift: `claw rollout promote` to go on anyway, `claw rollout abort` to move back",
                    p.to, new.invocations, rollout.min_invocations
                )));
            }
        }
    }
}

/// The first gate alarm in ALARM, with its reason.
async fn gate_alarm(aws: &Aws, t: &Target) -> anyhow::Result<Option<String>> {
    Ok(gate_states(aws, t)
        .await?
        .into_iter()
        .find(|g| g.state == StateValue::Alarm.as_str())
        .map(|g| format!("alarm {} is in ALARM: {}", g.alarm, g.reason)))
}

/// One gate alarm's state (`missing` when it does not exist).
#[derive(Debug, Clone, serde::Serialize)]
pub struct GateState {
    pub alarm: String,
    pub state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// The gate alarms' states, every page of DescribeAlarms read.
pub async fn gate_states(aws: &Aws, t: &Target) -> anyhow::Result<Vec<GateState>> {
    let names: Vec<String> = t
        .config
        .rollout
        .iter()
        .flat_map(|r| r.gate.iter())
        .map(|g| t.names.alarm_name(g.alarm_suffix()))
        .collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let pages = aws
        .cloudwatch
        .describe_alarms()
        .set_alarm_names(Some(names.clone()))
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx("DescribeAlarms", names.join(", "))?;
    let alarms: Vec<_> = pages.iter().flat_map(|p| p.metric_alarms()).collect();
    Ok(names
        .iter()
        .map(|n| {
            let a = alarms.iter().find(|a| a.alarm_name() == Some(n.as_str()));
            GateState {
                alarm: n.clone(),
                state: a
                    .and_then(|a| a.state_value())
                    .map_or("missing".to_string(), |s| s.as_str().to_string()),
                reason: a
                    .and_then(|a| a.state_reason())
                    .unwrap_or_default()
                    .to_string(),
            }
        })
        .collect())
}

/// The new and the old version's figures since `since`, in one call.
async fn figures(
    aws: &Aws,
    t: &Target,
    p: Pending,
    since: u64,
) -> anyhow::Result<(Figures, Figures)> {
    let f = &t.names.function;
    let resource = format!("{f}:{}", claw_spec::rollout::ALIAS);
    let query = |id: &str, metric: &str, version: u64| {
        let dims = [
            ("FunctionName", f.as_str()),
            ("Resource", resource.as_str()),
            ("ExecutedVersion", &version.to_string()),
        ]
        .iter()
        .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
        .collect::<Vec<_>>();
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace("AWS/Lambda")
                            .metric_name(metric)
                            .set_dimensions(Some(dims))
                            .build(),
                    )
                    .period(60)
                    .stat("Sum")
                    .build(),
            )
            .return_data(true)
            .build()
    };
    let start = since - since % 60;
    let end = now() + 60;
    let o = aws
        .cloudwatch
        .get_metric_data()
        .metric_data_queries(query("ninv", "Invocations", p.to))
        .metric_data_queries(query("nerr", "Errors", p.to))
        .metric_data_queries(query("oinv", "Invocations", p.from))
        .metric_data_queries(query("oerr", "Errors", p.from))
        .start_time(DateTime::from_secs(start as i64))
        .end_time(DateTime::from_secs(end as i64))
        .send()
        .await
        .ctx(
            "GetMetricData",
            format!("{f} versions {} and {}", p.to, p.from),
        )?;
    let sum = |id: &str| -> f64 {
        o.metric_data_results()
            .iter()
            .filter(|r| r.id() == Some(id))
            .flat_map(|r| r.values().iter())
            // An empty sum is -0.0; + 0.0 makes it read 0.
            .sum::<f64>()
            + 0.0
    };
    Ok((
        Figures {
            invocations: sum("ninv"),
            errors: sum("nerr"),
        },
        Figures {
            invocations: sum("oinv"),
            errors: sum("oerr"),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_version_is_worse_only_with_errors_at_a_higher_rate() {
        let f = |invocations, errors| Figures {
            invocations,
            errors,
        };
        assert!(!worse(f(0.0, 0.0), f(100.0, 5.0)));
        assert!(!worse(f(10.0, 0.0), f(100.0, 0.0)));
        assert!(worse(f(10.0, 1.0), f(100.0, 0.0)));
        assert!(worse(f(10.0, 1.0), f(100.0, 5.0)));
        assert!(!worse(f(100.0, 1.0), f(100.0, 5.0)));
        // Errors with no invocations counted (metrics lag) are still failures.
        assert!(worse(f(0.0, 2.0), f(0.0, 0.0)));
    }
}
