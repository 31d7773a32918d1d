//! Async mode's event source mapping: the jobs queue feeds the function in
//! batches of ten, with `ReportBatchItemFailures` so one failed job does not send
//! the whole batch back to the queue.
//!
//! With `function.reserved_concurrency` the mapping's maximum concurrency is the
//! reservation (2 to 1000, the range SQS mappings accept): the SQS poller
//! otherwise scales past the reservation, its invocations are throttled, and each
//! throttled receive counts toward the queue's `maxReceiveCount`, sending valid
//! jobs to the dead-letter queue unrun
//! (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html,
//! https://repost.aws/knowledge-center/lambda-retrying-valid-sqs-messages).

use anyhow::Context as _;
use aws_sdk_lambda::types::{FunctionResponseType, ScalingConfig};
use claw_spec::model::ApiMode;

use super::{Ctx, DestroyOptions, leftover};
use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt};
use crate::aws::plan::{Action, Changed, Plan, ResourceChange, ResourceKind, update_of};
use crate::aws::progress::step;
use crate::aws::propagation::while_iam_propagates;
use crate::aws::target::Target;

pub const BATCH_SIZE: i32 = 10;
const RESPONSE_TYPE: &str = "ReportBatchItemFailures";
/// The range Lambda accepts for an SQS mapping's `ScalingConfig.MaximumConcurrency`.
pub const MAX_CONCURRENCY_RANGE: (i32, i32) = (2, 1000);

#[derive(Debug, Clone)]
pub struct Live {
    pub uuid: String,
    pub batch_size: i32,
    pub response_types: Vec<String>,
    pub state: String,
    pub maximum_concurrency: Option<i32>,
    /// What it invokes: the function, or with `rollout:` the alias.
    pub function_arn: String,
}

/// What the read found, and a note when sync mode could not look.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub live: Option<Live>,
    pub note: Option<String>,
}

/// The mapping claw wants: whether async mode wants one at all, and its
/// maximum concurrency.
pub struct Desired {
    pub wanted: bool,
    /// What the queue invokes ([`claw_spec::Names::invoked_arn`]).
    pub function: String,
    pub maximum_concurrency: Option<i32>,
}

pub fn desired(t: &Target) -> Desired {
    let (lo, hi) = MAX_CONCURRENCY_RANGE;
    Desired {
        wanted: t.config.api.mode == ApiMode::Async,
        function: t.names.invoked_arn(),
        maximum_concurrency: t
            .config
            .function
            .reserved_concurrency
            .map(|r| (r.min(hi as u32) as i32).clamp(lo, hi)),
    }
}

/// The scaling config that sets `max`. An empty one removes the maximum: "To
/// remove the configuration, pass an empty value" (AWS::Lambda::EventSourceMapping
/// ScalingConfig, CloudFormation reference; the API's ScalingConfig is the same).
fn scaling(max: Option<i32>) -> ScalingConfig {
    ScalingConfig::builder()
        .set_maximum_concurrency(max)
        .build()
}

/// How plan output names the mapping.
pub fn name(t: &Target) -> String {
    format!("{} → {}", t.names.queue, t.names.function)
}

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Found> {
    let (live, note) = leftover(
        t,
        "the async-mode queue mapping",
        read_mapping(aws, t).await,
    )?;
    Ok(Found { live, note })
}

async fn read_mapping(aws: &Aws, t: &Target) -> anyhow::Result<Option<Live>> {
    let name = &t.names.function;
    let queue_arn = t.names.queue_arn(&t.names.queue);
    let fn_arn = t.names.function_arn();
    // Paged (Marker/NextMarker): every page is read.
    let Some(mappings) = aws
        .lambda
        .list_event_source_mappings()
        .event_source_arn(&queue_arn)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx("ListEventSourceMappings", format!("{queue_arn} → {name}"))
        .optional()?
    else {
        return Ok(None);
    };
    Ok(mappings
        .into_iter()
        // The function's, or its alias's (`FUNCTION:live`).
        .find(|m| {
            m.event_source_arn.as_deref() == Some(queue_arn.as_str())
                && m.function_arn.as_deref().is_some_and(|f| {
                    f == fn_arn
                        || f.strip_prefix(fn_arn.as_str())
                            .is_some_and(|q| q.starts_with(':'))
                })
        })
        .map(|m| Live {
            uuid: m.uuid.unwrap_or_default(),
            batch_size: m.batch_size.unwrap_or_default(),
            response_types: m
                .function_response_types
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            state: m.state.unwrap_or_default(),
            maximum_concurrency: m.scaling_config.and_then(|s| s.maximum_concurrency),
            function_arn: m.function_arn.unwrap_or_default(),
        }))
}

/// The mapping's updatable attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    BatchSize,
    ResponseTypes,
    Enabled,
    MaximumConcurrency,
    Function,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::BatchSize => "batch_size",
            Field::ResponseTypes => "response_types",
            Field::Enabled => "enabled",
            Field::MaximumConcurrency => "maximum_concurrency",
            Field::Function => "function",
        }
        .into()
    }
}

/// What an update of the live mapping changes. UpdateEventSourceMapping sets
/// every one of them at once.
pub fn changes(want: &Desired, m: &Live) -> Vec<Changed<Field>> {
    let mut out = Vec::new();
    if m.batch_size != BATCH_SIZE {
        out.push(Changed::new(Field::BatchSize, m.batch_size, BATCH_SIZE));
    }
    if m.response_types != [RESPONSE_TYPE] {
        out.push(Changed::new(
            Field::ResponseTypes,
            if m.response_types.is_empty() {
                "(none)".into()
            } else {
                m.response_types.join(",")
            },
            RESPONSE_TYPE,
        ));
    }
    if m.state == "Disabled" {
        out.push(Changed::new(Field::Enabled, false, true));
    }
    if m.function_arn != want.function {
        out.push(Changed::new(
            Field::Function,
            &m.function_arn,
            &want.function,
        ));
    }
    if m.maximum_concurrency != want.maximum_concurrency {
        let show = |v: Option<i32>| v.map_or("(none)".to_string(), |v| v.to_string());
        out.push(Changed::new(
            Field::MaximumConcurrency,
            show(m.maximum_concurrency),
            show(want.maximum_concurrency),
        ));
    }
    out
}

pub fn plan(t: &Target, found: &Found, plan: &mut Plan) {
    let name = name(t);
    let want = desired(t);
    let action = match (want.wanted, &found.live) {
        (true, None) => Action::Create,
        (true, Some(m)) => update_of(&changes(&want, m)),
        (false, Some(_)) => Action::Delete,
        (false, None) => return,
    };
    plan.push(ResourceChange::new(
        ResourceKind::EventSourceMapping,
        name,
        action,
    ));
}

/// What the mapping names as its function: the function's name, or with
/// `rollout:` the alias's ARN.
fn invoked(t: &Target) -> String {
    match &t.names.alias {
        Some(_) => t.names.invoked_arn(),
        None => t.names.function.clone(),
    }
}

/// Creates or updates the mapping (after the queue and the function exist).
pub async fn apply(cx: &Ctx<'_>, found: &Found, plan: &Plan) -> anyhow::Result<()> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    let name = name(t);
    let what = format!("{} {name}", ResourceKind::EventSourceMapping.label());
    let max = desired(t).maximum_concurrency;
    match plan.action(ResourceKind::EventSourceMapping, &name) {
        Action::Create => {
            step(progress, "creating", "created", &what, async {
                // Lambda checks the role may read the queue; a policy put a moment
                // ago may not have reached it yet.
                while_iam_propagates("CreateEventSourceMapping", &name, || {
                    aws.lambda
                        .create_event_source_mapping()
                        .function_name(invoked(t))
                        .event_source_arn(t.names.queue_arn(&t.names.queue))
                        .batch_size(BATCH_SIZE)
                        .function_response_types(FunctionResponseType::ReportBatchItemFailures)
                        .set_scaling_config(max.map(|m| scaling(Some(m))))
                        .enabled(true)
                        .send()
                })
                .await?;
                Ok(())
            })
            .await
        }
        Action::Update { .. } => {
            let m = found
                .live
                .as_ref()
                .context("mapping update without live state")?;
            // One call sets every field of [`changes`].
            step(progress, "updating", "updated", &what, async {
                aws.lambda
                    .update_event_source_mapping()
                    .uuid(&m.uuid)
                    .function_name(invoked(t))
                    .batch_size(BATCH_SIZE)
                    .function_response_types(FunctionResponseType::ReportBatchItemFailures)
                    .scaling_config(scaling(max))
                    .enabled(true)
                    .send()
                    .await
                    .ctx("UpdateEventSourceMapping", &name)?;
                Ok(())
            })
            .await
        }
        Action::Delete | Action::NoChange => Ok(()),
    }
}

pub fn plan_destroy(t: &Target, found: &Found, _: DestroyOptions, plan: &mut Plan) {
    if found.live.is_some() {
        plan.push(ResourceChange::new(
            ResourceKind::EventSourceMapping,
            name(t),
            Action::Delete,
        ));
    }
}

/// Deletes the mapping when the plan says so (destroy, or async mode switched off).
pub async fn delete(cx: &Ctx<'_>, found: &Found, plan: &Plan) -> anyhow::Result<()> {
    let Some(m) = &found.live else { return Ok(()) };
    let aws = cx.aws;
    cx.delete_step(
        plan,
        ResourceKind::EventSourceMapping,
        &name(cx.target),
        async {
            aws.lambda
                .delete_event_source_mapping()
                .uuid(&m.uuid)
                .send()
                .await
                .ctx("DeleteEventSourceMapping", &m.uuid)
                .ignore_missing()?;
            Ok(())
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::resources::testing;

    #[test]
    fn a_disabled_mapping_with_other_settings_is_updated() {
        let mut t = testing::target();
        t.config.api.mode = ApiMode::Async;
        let live = Live {
            uuid: "u".into(),
            batch_size: 5,
            response_types: vec![],
            state: "Disabled".into(),
            maximum_concurrency: Some(50),
            function_arn: t.names.function_arn(),
        };
        let mut p = testing::plan(&t);
        plan(
            &t,
            &Found {
                live: Some(live),
                note: None,
            },
            &mut p,
        );
        let rows: Vec<String> = p.changes[0]
            .fields()
            .iter()
            .map(|f| f.to_string())
            .collect();
        assert_eq!(
            rows,
            [
                "batch_size 5 → 10",
                "response_types (none) → ReportBatchItemFailures",
                "enabled false → true"
            ]
        );
    }

    /// The reservation caps the poller: MaximumConcurrency is the reservation,
    /// clamped to the 2..=1000 Lambda accepts; none without a reservation.
    #[test]
    fn maximum_concurrency_follows_the_reservation_and_drift_is_planned() {
        let mut t = testing::target();
        t.config.api.mode = ApiMode::Async;
        for (reserved, want) in [
            (Some(50), Some(50)),
            (Some(1), Some(2)),
            (Some(0), Some(2)),
            (Some(5000), Some(1000)),
            (None, None),
        ] {
            t.config.function.reserved_concurrency = reserved;
            assert_eq!(desired(&t).maximum_concurrency, want, "{reserved:?}");
        }
        t.config.function.reserved_concurrency = Some(5);
        let live = Live {
            uuid: "u".into(),
            batch_size: BATCH_SIZE,
            response_types: vec![RESPONSE_TYPE.into()],
            state: "Enabled".into(),
            maximum_concurrency: None,
            function_arn: t.names.function_arn(),
        };
        let mut p = testing::plan(&t);
        let found = Found {
            live: Some(live.clone()),
            note: None,
        };
        plan(&t, &found, &mut p);
        let rows: Vec<String> = p.changes[0]
            .fields()
            .iter()
            .map(|f| f.to_string())
            .collect();
        assert_eq!(rows, ["maximum_concurrency (none) → 5"]);
        let converged = Live {
            maximum_concurrency: Some(5),
            ..live
        };
        assert!(changes(&desired(&t), &converged).is_empty());
    }
}
