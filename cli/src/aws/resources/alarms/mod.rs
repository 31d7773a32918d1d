//! CloudWatch alarms on the function, named `{app}-{stage}-<what>`:
//!
//! - `errors`: AWS/Lambda Errors, Sum over 5 minutes ≥ `alarms.errors`
//! - `throttles`: AWS/Lambda Throttles, Sum over 5 minutes ≥ `alarms.throttles`
//! - `duration-p99`: AWS/Lambda Duration p99 over 5 minutes > ratio × timeout (ms)
//! - `invocations-per-5min`: AWS/Lambda Invocations, Sum over 5 minutes > the value
//! - `output-tokens-per-hour`: the function's own EMF metric `claw/OutputTokens`,
//!   summed over one hour across all agents > the value.
//!
//! The function publishes OutputTokens with the dimensions `app`, `stage`, `agent`
//! (one series per agent). An alarm needs exact dimensions, so the token alarm is a
//! metric-math alarm: one `Sum` query per agent named in agent.yaml and
//! `SUM([m0, m1, …])` over them. CloudWatch allows 10 metrics per alarm, so this
//! covers up to 9 agents; the plan refuses more.
//!
//! Alarm actions go to `alarms.notify` when set. Missing data is not breaching.

mod read;

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricStat, Statistic,
};

use super::{Ctx, DestroyOptions};
use crate::aws::Aws;
use crate::aws::error::AwsResultExt;
use crate::aws::ownership::{foreign_blocker, is_ours, untagged_note};
use crate::aws::plan::{Action, Changed, Plan, ResourceChange, ResourceKind, TagDiff, update_of};
use crate::aws::progress::step;
use crate::aws::target::Target;

/// The EMF namespace and metric the function writes its token counts to.
pub const TOKENS_NAMESPACE: &str = "claw";
pub const TOKENS_METRIC: &str = "OutputTokens";

/// CloudWatch's limit on metrics in one alarm, the expression included.
pub const MAX_ALARM_METRICS: usize = 10;

/// Every alarm suffix claw may create, wanted or not.
pub const SUFFIXES: &[&str] = &[
    "errors",
    "throttles",
    "duration-p99",
    "invocations-per-5min",
    "output-tokens-per-hour",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub name: String,
    pub namespace: String,
    pub metric: String,
    pub dimensions: BTreeMap<String, String>,
    /// When not empty: a metric-math alarm summing one series per value of the
    /// `agent` dimension (sorted).
    pub per_agent: Vec<String>,
    /// `Sum`, or an extended statistic such as `p99`.
    pub statistic: String,
    pub period: i32,
    pub evaluation_periods: i32,
    pub threshold: f64,
    pub comparison: String,
    pub treat_missing: String,
    pub actions: Vec<String>,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub spec: Desired,
    pub tags: BTreeMap<String, String>,
}

pub fn desired(t: &Target) -> Vec<Desired> {
    let a = &t.config.alarms;
    let f = &t.names.function;
    let p = &t.names.alarm_prefix;
    let fn_dims: BTreeMap<String, String> = [("FunctionName".to_string(), f.clone())].into();
    let actions: Vec<String> = a.notify.iter().cloned().collect();
    let lambda =
        |suffix: &str, metric: &str, stat: &str, threshold: f64, cmp: &str, desc: String| Desired {
            name: format!("{p}{suffix}"),
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
            format!("claw: {f} had {} or more errors in 5 minutes", a.errors),
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
            name: format!("{p}output-tokens-per-hour"),
            namespace: TOKENS_NAMESPACE.into(),
            metric: TOKENS_METRIC.into(),
            dimensions: [
                ("app".to_string(), t.config.app.clone()),
                ("stage".to_string(), t.config.stage.clone()),
            ]
            .into(),
            per_agent: t.config.agents.keys().cloned().collect(),
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
    out
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// An alarm's updatable attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Threshold,
    Comparison,
    Statistic,
    Period,
    EvaluationPeriods,
    Metric,
    TreatMissing,
    Actions,
    Description,
    Tags,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::Threshold => "threshold",
            Field::Comparison => "comparison",
            Field::Statistic => "statistic",
            Field::Period => "period_s",
            Field::EvaluationPeriods => "evaluation_periods",
            Field::Metric => "metric",
            Field::TreatMissing => "treat_missing_data",
            Field::Actions => "actions",
            Field::Description => "description",
            Field::Tags => "tags",
        }
        .into()
    }
}

/// What an update of a live alarm changes.
pub fn changes(t: &Target, l: &Live, want: &Desired) -> Vec<Changed<Field>> {
    let mut out = spec_changes(&l.spec, want);
    out.extend(Changed::tags(Field::Tags, &l.tags, &t.tags));
    out
}

pub fn spec_changes(live: &Desired, want: &Desired) -> Vec<Changed<Field>> {
    let mut out = Vec::new();
    if live.threshold != want.threshold {
        out.push(Changed::new(
            Field::Threshold,
            num(live.threshold),
            num(want.threshold),
        ));
    }
    if live.comparison != want.comparison {
        out.push(Changed::new(
            Field::Comparison,
            &live.comparison,
            &want.comparison,
        ));
    }
    if live.statistic != want.statistic {
        out.push(Changed::new(
            Field::Statistic,
            &live.statistic,
            &want.statistic,
        ));
    }
    if live.period != want.period {
        out.push(Changed::new(Field::Period, live.period, want.period));
    }
    if live.evaluation_periods != want.evaluation_periods {
        out.push(Changed::new(
            Field::EvaluationPeriods,
            live.evaluation_periods,
            want.evaluation_periods,
        ));
    }
    if live.namespace != want.namespace
        || live.metric != want.metric
        || live.dimensions != want.dimensions
        || live.per_agent != want.per_agent
    {
        let show = |s: &Desired| {
            let dims: Vec<String> = s
                .dimensions
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let mut out = format!("{}/{} [{}]", s.namespace, s.metric, dims.join(","));
            if !s.per_agent.is_empty() {
                out.push_str(&format!(" summed over agents {}", s.per_agent.join(",")));
            }
            out
        };
        out.push(Changed::new(Field::Metric, show(live), show(want)));
    }
    if live.treat_missing != want.treat_missing {
        out.push(Changed::new(
            Field::TreatMissing,
            &live.treat_missing,
            &want.treat_missing,
        ));
    }
    if live.actions != want.actions {
        let show = |a: &[String]| {
            if a.is_empty() {
                "(none)".to_string()
            } else {
                a.join(",")
            }
        };
        out.push(Changed::new(
            Field::Actions,
            show(&live.actions),
            show(&want.actions),
        ));
    }
    // The description follows from the fields above; on its own it means a hand edit.
    if out.is_empty() && live.description != want.description {
        out.push(Changed::new(Field::Description, "(edited)", "(claw's)"));
    }
    out
}

/// Every alarm with one of claw's names, by name.
pub type Found = BTreeMap<String, Live>;

pub use read::read;

pub fn plan(t: &Target, live: &Found, plan: &mut Plan) {
    let want = desired(t);
    for spec in &want {
        if spec.per_agent.len() + 1 > MAX_ALARM_METRICS {
            plan.blockers.push(format!(
                "alarm {} sums OutputTokens over {} agents, but a CloudWatch alarm takes at most {MAX_ALARM_METRICS} metrics (9 agents); drop alarms.output_tokens_per_hour or split the agents",
                spec.name,
                spec.per_agent.len()
            ));
            continue;
        }
        match live.get(&spec.name) {
            None => plan.push(ResourceChange::new(
                ResourceKind::Alarm,
                &spec.name,
                Action::Create,
            )),
            Some(l) if !is_ours(&l.tags, &t.config) => plan.blockers.push(foreign_blocker(
                &format!("CloudWatch alarm {} exists", l.spec.name),
                &t.config,
            )),
            Some(l) => plan.push(ResourceChange::new(
                ResourceKind::Alarm,
                &spec.name,
                update_of(&changes(t, l, spec)),
            )),
        }
    }
    for (name, l) in live {
        if want.iter().any(|s| &s.name == name) {
            continue;
        }
        if is_ours(&l.tags, &t.config) {
            plan.push(ResourceChange::new(
                ResourceKind::Alarm,
                name,
                Action::Delete,
            ));
        }
    }
}

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

async fn put(aws: &Aws, t: &Target, s: &Desired) -> anyhow::Result<()> {
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
        .set_tags(Some(
            t.tags
                .iter()
                .map(|(k, v)| {
                    aws_sdk_cloudwatch::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                })
                .collect(),
        ));
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

/// Creates and updates alarms, and deletes the ones the config no longer wants.
pub async fn apply(cx: &Ctx<'_>, live: &Found, plan: &Plan) -> anyhow::Result<()> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    let want = desired(t);
    let work = plan
        .of_kind(ResourceKind::Alarm)
        .filter(|c| c.action != Action::NoChange)
        .map(|c| {
            let spec = want.iter().find(|s| s.name == c.name);
            let l = live.get(&c.name);
            async move {
                let what = format!("{} {}", ResourceKind::Alarm.label(), c.name);
                match (&c.action, spec) {
                    (Action::Create, Some(s)) => {
                        step(progress, "creating", "created", &what, put(aws, t, s)).await
                    }
                    (Action::Update { .. }, Some(s)) => {
                        step(progress, "updating", "updated", &what, async {
                            let (mut alarm, mut tags) = (false, false);
                            for c in l.map(|l| changes(t, l, s)).unwrap_or_default() {
                                match c.field {
                                    // PutMetricAlarm sets every attribute at once.
                                    Field::Threshold
                                    | Field::Comparison
                                    | Field::Statistic
                                    | Field::Period
                                    | Field::EvaluationPeriods
                                    | Field::Metric
                                    | Field::TreatMissing
                                    | Field::Actions
                                    | Field::Description => alarm = true,
                                    Field::Tags => tags = true,
                                }
                            }
                            if alarm {
                                put(aws, t, s).await?;
                            }
                            if let Some(l) = l.filter(|_| tags) {
                                let d = TagDiff::between(&l.tags, &t.tags);
                                if !d.set.is_empty() {
                                    aws.cloudwatch
                                        .tag_resource()
                                        .resource_arn(&l.arn)
                                        .set_tags(Some(
                                            d.set
                                                .iter()
                                                .map(|(k, v)| {
                                                    aws_sdk_cloudwatch::types::Tag::builder()
                                                        .key(k)
                                                        .value(v)
                                                        .build()
                                                })
                                                .collect(),
                                        ))
                                        .send()
                                        .await
                                        .ctx("TagResource", &c.name)?;
                                }
                                if !d.remove.is_empty() {
                                    aws.cloudwatch
                                        .untag_resource()
                                        .resource_arn(&l.arn)
                                        .set_tag_keys(Some(d.remove.clone()))
                                        .send()
                                        .await
                                        .ctx("UntagResource", &c.name)?;
                                }
                            }
                            Ok(())
                        })
                        .await
                    }
                    (Action::Delete, _) => {
                        step(
                            progress,
                            "deleting",
                            "deleted",
                            &what,
                            delete_alarms(aws, std::slice::from_ref(&c.name)),
                        )
                        .await
                    }
                    _ => Ok(()),
                }
            }
        });
    futures::future::try_join_all(work).await?;
    Ok(())
}

pub fn plan_destroy(t: &Target, live: &Found, _: DestroyOptions, p: &mut Plan) {
    for (name, a) in live {
        if is_ours(&a.tags, &t.config) {
            p.push(ResourceChange::new(
                ResourceKind::Alarm,
                name,
                Action::Delete,
            ));
        } else {
            p.notes
                .push(untagged_note(&format!("alarm {name}"), &t.config));
        }
    }
}

/// Deletes every alarm the plan lists, in one call.
pub async fn delete(cx: &Ctx<'_>, _: &Found, plan: &Plan) -> anyhow::Result<()> {
    let names: Vec<String> = plan
        .of_kind(ResourceKind::Alarm)
        .map(|c| c.name.clone())
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    step(
        cx.progress,
        "deleting",
        "deleted",
        &format!("alarms {}", names.join(", ")),
        delete_alarms(cx.aws, &names),
    )
    .await
}

async fn delete_alarms(aws: &Aws, names: &[String]) -> anyhow::Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    aws.cloudwatch
        .delete_alarms()
        .set_alarm_names(Some(names.to_vec()))
        .send()
        .await
        .ctx("DeleteAlarms", names.join(", "))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::resources::testing;

    fn live_of(t: &Target) -> Found {
        desired(t)
            .into_iter()
            .map(|d| {
                (
                    d.name.clone(),
                    Live {
                        arn: format!("arn:alarm:{}", d.name),
                        spec: d,
                        tags: t.tags.clone(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_threshold_change_updates_only_that_alarm() {
        let t = testing::target();
        let mut live = live_of(&t);
        let name = format!("{}errors", t.names.alarm_prefix);
        live.get_mut(&name).unwrap().spec.threshold = 99.0;
        let mut p = testing::plan(&t);
        plan(&t, &live, &mut p);
        let c = p.get(ResourceKind::Alarm, &name).unwrap();
        let want = desired(&t).into_iter().find(|d| d.name == name).unwrap();
        assert_eq!(
            c.fields()[0].to_string(),
            format!("threshold 99 → {}", num(want.threshold))
        );
        assert_eq!(
            changes(&t, &live[&name], &want)
                .iter()
                .map(|c| c.field)
                .collect::<Vec<_>>(),
            [Field::Threshold]
        );
        assert_eq!(
            p.of_kind(ResourceKind::Alarm)
                .filter(|c| c.action != Action::NoChange)
                .count(),
            1
        );
    }

    #[test]
    fn an_edited_description_alone_shows_as_a_hand_edit() {
        let t = testing::target();
        let want = desired(&t).remove(0);
        let mut l = want.clone();
        l.description = "by hand".into();
        let c = spec_changes(&l, &want);
        assert_eq!(c[0].row().to_string(), "description (edited) → (claw's)");
    }

    #[test]
    fn a_foreign_alarm_is_refused_and_kept_on_destroy() {
        let t = testing::target();
        let mut live = live_of(&t);
        for l in live.values_mut() {
            l.tags.clear();
        }
        let mut p = testing::plan(&t);
        plan(&t, &live, &mut p);
        assert_eq!(p.blockers.len(), live.len());
        let mut p = testing::plan(&t);
        plan_destroy(&t, &live, DestroyOptions::default(), &mut p);
        assert!(p.changes.is_empty());
        assert_eq!(p.notes.len(), live.len());
    }
}
