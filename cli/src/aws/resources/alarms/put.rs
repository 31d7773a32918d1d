//! PutMetricAlarm for one alarm: a plain metric alarm, or a metric-math alarm
//! summing one series per agent.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricStat, Statistic,
};

use super::types::{Desired, cloudwatch_tags};
use crate::aws::Aws;
use crate::aws::error::AwsResultExt;
use crate::aws::target::Target;

fn dims(d: &BTreeMap<String, String>) -> Vec<Dimension> {
    d.iter()
        .map(|(k, v)| Dimension::builder().name(k).value(v).build())
        .collect()
}

/// The queries of a metric-math alarm: one Sum per agent, and their SUM.
fn agent_queries(s: &Desired) -> Vec<MetricDataQuery> {
    let mut out: Vec<MetricDataQuery> = s
        .per_agent
        .iter()
        .enumerate()
        .map(|(i, agent)| {
            let mut d = s.dimensions.clone();
            d.insert("agent".into(), agent.clone());
            MetricDataQuery::builder()
                .id(format!("m{i}"))
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(&s.namespace)
                                .metric_name(&s.metric)
                                .set_dimensions(Some(dims(&d)))
                                .build(),
                        )
                        .period(s.period)
                        .stat(&s.statistic)
                        .build(),
                )
                .return_data(false)
                .build()
        })
        .collect();
    let ids: Vec<String> = (0..s.per_agent.len()).map(|i| format!("m{i}")).collect();
    out.push(
        MetricDataQuery::builder()
            .id("total")
            .expression(format!("SUM([{}])", ids.join(",")))
            .label(format!("{} (all agents)", s.metric))
            .return_data(true)
            .build(),
    );
    out
}

pub async fn put(aws: &Aws, t: &Target, s: &Desired) -> anyhow::Result<()> {
    let mut req = aws
        .cloudwatch
        .put_metric_alarm()
        .alarm_name(&s.name)
        .alarm_description(&s.description)
        .evaluation_periods(s.evaluation_periods)
        .threshold(s.threshold)
        .comparison_operator(ComparisonOperator::from(s.comparison.as_str()))
        .treat_missing_data(&s.treat_missing)
        .actions_enabled(true)
        .set_alarm_actions(Some(s.actions.clone()))
        // Tags count only when the alarm is created; updates re-tag separately.
        .set_tags(Some(cloudwatch_tags(&t.tags)));
    req = if !s.per_agent.is_empty() {
        req.set_metrics(Some(agent_queries(s)))
    } else {
        let req = req
            .namespace(&s.namespace)
            .metric_name(&s.metric)
            .set_dimensions(Some(dims(&s.dimensions)))
            .period(s.period);
        if s.statistic.starts_with('p') {
            req.extended_statistic(&s.statistic)
        } else {
            req.statistic(Statistic::from(s.statistic.as_str()))
        }
    };
    req.send().await.ctx("PutMetricAlarm", &s.name)?;
    Ok(())
}
