//! CloudWatch alarms on the function, named `{app}-{stage}-<what>`:
//!
//! - `errors`: AWS/Lambda Errors (failed invocations), Sum over 5 minutes ≥
//!   `alarms.errors`
//! - `agent-errors`: the function's own EMF metric `claw/Errors` (runs that failed
//!   on the model, a tool or inside the function, answered with a 500 without
//!   failing the invocation, so Lambda's Errors misses them), summed over 5
//!   minutes across all agents and `none` ≥ `alarms.errors`
//! - `throttles`: AWS/Lambda Throttles, Sum over 5 minutes ≥ `alarms.throttles`
//! - `duration-p99`: AWS/Lambda Duration p99 over 5 minutes > ratio × timeout (ms)
//! - `invocations-per-5min`: AWS/Lambda Invocations, Sum over 5 minutes > the value
//! - `output-tokens-per-hour`: the function's own EMF metric `claw/OutputTokens`,
//!   summed over one hour across all agents > the value.
//! - `cost-per-day`: the function's EMF metric `claw/CostMicroUSD`, summed over
//!   one day across all agents > `alarms.cost_usd_per_day` × 1,000,000.
//!
//! The function publishes OutputTokens, CostMicroUSD and Errors with the dimensions `app`,
//! `stage`, `agent` (one series per agent). An alarm needs exact dimensions, so
//! these three are metric-math alarms: one `Sum` query per agent named in agent.yaml
//! (and `none` for Errors) and `SUM([m0, m1, …])` over them. CloudWatch allows 10
//! metrics per alarm, so this covers up to 9 series; the plan refuses more.
//!
//! Alarm actions go to `alarms.notify` when set. Missing data is not breaching.

mod desired;
mod put;
mod read;
mod types;

use super::{Ctx, DestroyOptions};
use crate::aws::Aws;
use crate::aws::error::AwsResultExt;
use crate::aws::ownership::{foreign_blocker, is_ours, untagged_note};
use crate::aws::plan::{Action, Changed, Plan, ResourceChange, ResourceKind, TagDiff, update_of};
use crate::aws::progress::step;
use crate::aws::target::Target;

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

pub use desired::desired;
use put::put;
pub use read::read;
pub use types::{Desired, Found, Live, MAX_ALARM_METRICS};

pub fn plan(t: &Target, live: &Found, plan: &mut Plan) {
    let want = desired(t);
    for spec in &want {
        if spec.per_agent.len() + 1 > MAX_ALARM_METRICS {
            plan.blockers.push(format!(
                "alarm {} sums {} over {} agent series ({}), but a CloudWatch alarm takes at most {MAX_ALARM_METRICS} metrics (9 series); agent.yaml `agents:` has too many for one stack: split them across apps or stages",
                spec.name,
                spec.metric,
                spec.per_agent.len(),
                spec.per_agent.join(", ")
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
                                        .set_tags(Some(types::cloudwatch_tags(&d.set)))
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
mod tests;
