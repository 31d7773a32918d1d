//! The figures of `claw status`, read with one GetMetricData (more pages only
//! when CloudWatch splits the answer). Each series is asked for twice: once with
//! the whole window as its period (the total, so a p99 or an average is
//! CloudWatch's own over the window, never a figure claw recombines) and once
//! with about 24 periods (the sparkline).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use serde::Serialize;

use crate::aws::figures::{self, Series, Unit};
use crate::aws::target::Target;
use crate::aws::{Aws, AwsResultExt};

/// GetMetricData takes at most 500 queries per call (CloudWatch API Reference).
const MAX_QUERIES: usize = 500;

/// The time window read.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Window {
    /// Epoch seconds, whole minutes.
    pub start: i64,
    pub end: i64,
    /// Seconds per sparkline point.
    pub period_s: i32,
    pub points: usize,
}

impl Window {
    /// The window ending at the current minute and reaching `since` back.
    pub fn ending_now(since: Duration) -> Window {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let end = now - now % 60 + 60;
        let period_s = figures::period_for(since.as_secs().max(60));
        let points = since.as_secs().max(60).div_ceil(period_s as u64) as usize;
        Window {
            start: end - points as i64 * period_s as i64,
            end,
            period_s,
            points,
        }
    }

    fn length(&self) -> i32 {
        (self.end - self.start) as i32
    }
}

/// One figure over the window.
#[derive(Debug, Clone, Serialize)]
pub struct FigureValue {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: Unit,
    /// Over the whole window; none when CloudWatch has no data point.
    pub total: Option<f64>,
    /// One value per period, oldest first; none for a period without data.
    pub points: Vec<Option<f64>>,
}

/// One tool of one agent over the window.
#[derive(Debug, Clone, Serialize)]
pub struct ToolValue {
    pub agent: String,
    pub tool: String,
    pub calls: f64,
    pub errors: f64,
    /// Average milliseconds per call.
    pub latency_ms: Option<f64>,
    pub calls_points: Vec<Option<f64>>,
}

/// What the read found.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub figures: Vec<FigureValue>,
    /// Tools that were called, by calls (most first).
    pub tools: Vec<ToolValue>,
    /// What the read left out, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn query(id: String, s: &Series, period: i32) -> MetricDataQuery {
    let dims = s
        .dimensions
        .iter()
        .map(|(k, v)| Dimension::builder().name(*k).value(v).build())
        .collect();
    MetricDataQuery::builder()
        .id(id)
        .return_data(true)
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(s.namespace)
                        .metric_name(s.metric)
                        .set_dimensions(Some(dims))
                        .build(),
                )
                .period(period)
                .stat(s.stat)
                .build(),
        )
        .build()
}

/// The queries of one series: `{id}w` (the window) and `{id}p` (the points).
fn both(out: &mut Vec<MetricDataQuery>, id: &str, s: &Series, w: &Window) {
    out.push(query(format!("{id}w"), s, w.length()));
    out.push(query(format!("{id}p"), s, w.period_s));
}

/// Results by query id: (epoch seconds, value) pairs.
type Results = BTreeMap<String, Vec<(i64, f64)>>;

/// Reads every figure and tool of the stack over the window.
pub async fn read(aws: &Aws, t: &Target, w: &Window) -> anyhow::Result<Figures> {
    let figs = figures::figures(t);
    let mut tools = figures::tools(t);
    let mut notes = Vec::new();
    let mut queries = Vec::new();
    for (i, f) in figs.iter().enumerate() {
        for (j, s) in f.series.iter().enumerate() {
            both(&mut queries, &format!("f{i}_{j}"), s, w);
        }
    }
    // Six queries per tool; the figures come first.
    let room = (MAX_QUERIES - queries.len()) / 6;
    if tools.len() > room {
        notes.push(format!(
            "{} tools: the {room} first (by agent and name) are read, GetMetricData takes {MAX_QUERIES} queries per call",
            tools.len()
        ));
        tools.truncate(room);
    }
    for (i, tf) in tools.iter().enumerate() {
        both(&mut queries, &format!("t{i}_c"), &tf.calls, w);
        both(&mut queries, &format!("t{i}_l"), &tf.latency, w);
        both(&mut queries, &format!("t{i}_e"), &tf.errors, w);
    }
    let pages = aws
        .cloudwatch
        .get_metric_data()
        .set_metric_data_queries(Some(queries))
        .start_time(DateTime::from_secs(w.start))
        .end_time(DateTime::from_secs(w.end))
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx(
            "GetMetricData",
            format!("{} {}", t.config.app, t.config.stage),
        )?;
    let mut results: Results = BTreeMap::new();
    for page in pages {
        for r in page.metric_data_results.unwrap_or_default() {
            let entry = results.entry(r.id.unwrap_or_default()).or_default();
            let stamps = r.timestamps.unwrap_or_default();
            let values = r.values.unwrap_or_default();
            entry.extend(stamps.iter().map(|s| s.secs()).zip(values));
        }
    }
    Ok(Figures {
        figures: figs
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let ids: Vec<String> = (0..f.series.len()).map(|j| format!("f{i}_{j}")).collect();
                let scale = if f.unit == Unit::Usd { 1e-6 } else { 1.0 };
                FigureValue {
                    key: f.key,
                    label: f.label,
                    unit: f.unit,
                    total: total(&results, &ids).map(|v| v * scale),
                    points: points(&results, &ids, w)
                        .into_iter()
                        .map(|p| p.map(|v| v * scale))
                        .collect(),
                }
            })
            .collect(),
        tools: tool_values(&results, &tools, w),
        notes,
    })
}

/// The sum of the series' window values (a figure of one series: its value).
fn total(results: &Results, ids: &[String]) -> Option<f64> {
    let values: Vec<f64> = ids
        .iter()
        .filter_map(|id| results.get(&format!("{id}w")))
        .flatten()
        .map(|(_, v)| *v)
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// The series' per-period values summed point by point, aligned to the window.
fn points(results: &Results, ids: &[String], w: &Window) -> Vec<Option<f64>> {
    let mut out = vec![None; w.points];
    for id in ids {
        for (ts, v) in results.get(&format!("{id}p")).into_iter().flatten() {
            let i = (ts - w.start).div_euclid(w.period_s as i64);
            if let Some(slot) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) {
                *slot = Some(slot.unwrap_or(0.0) + v);
            }
        }
    }
    out
}

fn tool_values(results: &Results, tools: &[figures::ToolFigures], w: &Window) -> Vec<ToolValue> {
    let mut out: Vec<ToolValue> = tools
        .iter()
        .enumerate()
        .filter_map(|(i, tf)| {
            let id = |k: &str| vec![format!("t{i}_{k}")];
            let calls = total(results, &id("c"))?;
            Some(ToolValue {
                agent: tf.agent.clone(),
                tool: tf.tool.clone(),
                calls,
                errors: total(results, &id("e")).unwrap_or(0.0),
                latency_ms: total(results, &id("l")),
                calls_points: points(results, &id("c"), w),
            })
        })
        .filter(|t| t.calls > 0.0)
        .collect();
    out.sort_by(|a, b| {
        b.calls
            .total_cmp(&a.calls)
            .then_with(|| (&a.agent, &a.tool).cmp(&(&b.agent, &b.tool)))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window {
        Window {
            start: 1_000_000 * 60,
            end: 1_000_000 * 60 + 4 * 3600,
            period_s: 3600,
            points: 4,
        }
    }

    #[test]
    fn points_of_several_series_add_up_in_their_period() {
        let w = window();
        let mut r = Results::new();
        r.insert("a0p".into(), vec![(w.start, 1.0), (w.start + 3600, 2.0)]);
        r.insert("a1p".into(), vec![(w.start + 3600 + 60, 5.0), (w.end, 9.0)]);
        let got = points(&r, &["a0".into(), "a1".into()], &w);
        assert_eq!(got, vec![Some(1.0), Some(7.0), None, None]);
    }

    #[test]
    fn a_total_without_any_data_point_is_none_not_zero() {
        let mut r = Results::new();
        assert_eq!(total(&r, &["x".into()]), None);
        r.insert("xw".into(), vec![(0, 3.0)]);
        r.insert("yw".into(), vec![(0, 4.0)]);
        assert_eq!(total(&r, &["x".into(), "y".into()]), Some(7.0));
    }

    #[test]
    fn a_window_of_24_hours_has_24_hourly_points() {
        let w = Window::ending_now(Duration::from_secs(24 * 3600));
        assert_eq!((w.period_s, w.points), (3600, 24));
        assert_eq!(w.end - w.start, 24 * 3600);
        assert_eq!(w.end % 60, 0);
    }
}
