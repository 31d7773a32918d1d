//! Reading claw's alarms back, metric-math alarms included: their per-agent
//! queries carry the metric, so the read folds them into one [`Desired`] shape.

use std::collections::BTreeMap;

use super::types::{Desired, Found, Live, SUFFIXES};
use crate::aws::Aws;
use crate::aws::error::AwsResultExt;
use crate::aws::target::Target;

/// Reads every alarm with one of claw's names; returns them by name.
pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Found> {
    let names: Vec<String> = SUFFIXES.iter().map(|s| t.names.alarm_name(s)).collect();
    // Paged by NextToken: every page is read.
    let pages = aws
        .cloudwatch
        .describe_alarms()
        .set_alarm_names(Some(names))
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx("DescribeAlarms", format!("{}*", t.names.alarm_prefix))?;
    let alarms: Vec<_> = pages
        .into_iter()
        .flat_map(|p| p.metric_alarms.unwrap_or_default())
        .collect();
    let lives = futures::future::try_join_all(alarms.into_iter().map(|a| async move {
        let arn = a.alarm_arn.clone().unwrap_or_default();
        let name = a.alarm_name.clone().unwrap_or_default();
        let tags = aws
            .cloudwatch
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .ctx("ListTagsForResource", &name)?
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| Some((t.key?, t.value?)))
            .collect();
        let mut statistic = a
            .extended_statistic
            .clone()
            .or_else(|| a.statistic.as_ref().map(|s| s.as_str().to_string()))
            .unwrap_or_default();
        let mut namespace = a.namespace.clone().unwrap_or_default();
        let mut metric = a.metric_name.clone().unwrap_or_default();
        let mut period = a.period.unwrap_or_default();
        let mut dimensions: BTreeMap<String, String> = a
            .dimensions
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|d| Some((d.name?, d.value?)))
            .collect();
        let mut per_agent = Vec::new();
        // A metric-math alarm: the per-agent queries carry the metric.
        for q in a.metrics.clone().unwrap_or_default() {
            let Some(ms) = q.metric_stat else { continue };
            if let Some(m) = ms.metric {
                namespace = m.namespace.unwrap_or_default();
                metric = m.metric_name.unwrap_or_default();
                let mut dims: BTreeMap<String, String> = m
                    .dimensions
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|d| Some((d.name?, d.value?)))
                    .collect();
                if let Some(agent) = dims.remove("agent") {
                    per_agent.push(agent);
                }
                dimensions = dims;
            }
            period = ms.period.unwrap_or_default();
            statistic = ms.stat.unwrap_or_default();
        }
        per_agent.sort();
        let state = a
            .state_value
            .as_ref()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "INSUFFICIENT_DATA".into());
        anyhow::Ok(Live {
            arn,
            state,
            spec: Desired {
                name: name.clone(),
                namespace,
                metric,
                dimensions,
                per_agent,
                statistic,
                period,
                evaluation_periods: a.evaluation_periods.unwrap_or_default(),
                threshold: a.threshold.unwrap_or_default(),
                comparison: a
                    .comparison_operator
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
                treat_missing: a.treat_missing_data.unwrap_or_else(|| "missing".into()),
                actions: a.alarm_actions.unwrap_or_default(),
                description: a.alarm_description.unwrap_or_default(),
            },
            tags,
        })
    }))
    .await?;
    Ok(lives
        .into_iter()
        .map(|l| (l.spec.name.clone(), l))
        .collect())
}
