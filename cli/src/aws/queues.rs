//! Async mode's queue: `{fn}-jobs` with a dead-letter queue `{fn}-jobs-dlq`
//! (redrive after 3 receives), and the event source mapping that feeds it to the
//! function with `ReportBatchItemFailures`.
//!
//! The visibility timeout is six times the function timeout, as AWS recommends for
//! Lambda consumers, so a message is not redelivered while a retry of its batch may
//! still run.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_lambda::types::FunctionResponseType;
use aws_sdk_sqs::types::QueueAttributeName;
use claw_spec::model::ApiMode;

use super::plan::{Action, FieldChange, Kind, Plan, ResourceChange, TagDiff};
use super::progress::{Progress, step};
use super::stack::Target;
use super::{Aws, AwsResultExt, aws_error, is_ours};

/// Receives before a message moves to the dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 3;
/// Dead letters are kept for the SQS maximum, 14 days.
pub const DLQ_RETENTION_S: u32 = 1_209_600;
pub const BATCH_SIZE: i32 = 10;

#[derive(Debug, Clone)]
pub struct QueueLive {
    pub url: String,
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct MappingLive {
    pub uuid: String,
    pub batch_size: i32,
    pub response_types: Vec<String>,
    pub state: String,
}

#[derive(Debug, Clone, Default)]
pub struct Live {
    pub queue: Option<QueueLive>,
    pub dlq: Option<QueueLive>,
    pub mapping: Option<MappingLive>,
}

/// The attributes claw sets, by queue name.
pub fn desired_attributes(t: &Target, dlq: bool) -> BTreeMap<String, String> {
    if dlq {
        [(
            "MessageRetentionPeriod".to_string(),
            DLQ_RETENTION_S.to_string(),
        )]
        .into()
    } else {
        [
            (
                "VisibilityTimeout".to_string(),
                (t.config.function.timeout_s * 6).to_string(),
            ),
            (
                "RedrivePolicy".to_string(),
                serde_json::json!({
                    "deadLetterTargetArn": t.names.queue_arn(&t.names.dlq),
                    "maxReceiveCount": MAX_RECEIVE_COUNT,
                })
                .to_string(),
            ),
        ]
        .into()
    }
}

async fn read_queue(aws: &Aws, name: &str) -> anyhow::Result<Option<QueueLive>> {
    let url = match aws.sqs.get_queue_url().queue_name(name).send().await {
        Ok(o) => o.queue_url.unwrap_or_default(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_queue_does_not_exist()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(aws_error("GetQueueUrl", name, e).into()),
    };
    let (attrs, tags) = futures::try_join!(
        async {
            aws.sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .ctx("GetQueueAttributes", name)
        },
        async {
            aws.sqs
                .list_queue_tags()
                .queue_url(&url)
                .send()
                .await
                .ctx("ListQueueTags", name)
        }
    )?;
    Ok(Some(QueueLive {
        url,
        attributes: attrs
            .attributes
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.as_str().to_string(), v))
            .collect(),
        tags: tags.tags.unwrap_or_default().into_iter().collect(),
    }))
}

async fn read_mapping(aws: &Aws, t: &Target) -> anyhow::Result<Option<MappingLive>> {
    let name = &t.names.function;
    let queue_arn = t.names.queue_arn(&t.names.queue);
    let out = match aws
        .lambda
        .list_event_source_mappings()
        .function_name(name)
        .event_source_arn(&queue_arn)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(aws_error(
                "ListEventSourceMappings",
                format!("{queue_arn} → {name}"),
                e,
            )
            .into());
        }
    };
    Ok(out
        .event_source_mappings
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.event_source_arn.as_deref() == Some(queue_arn.as_str()))
        .map(|m| MappingLive {
            uuid: m.uuid.unwrap_or_default(),
            batch_size: m.batch_size.unwrap_or_default(),
            response_types: m
                .function_response_types
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            state: m.state.unwrap_or_default(),
        }))
}

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Live> {
    let (queue, dlq, mapping) = futures::try_join!(
        read_queue(aws, &t.names.queue),
        read_queue(aws, &t.names.dlq),
        read_mapping(aws, t)
    )?;
    Ok(Live {
        queue,
        dlq,
        mapping,
    })
}

fn mapping_name(t: &Target) -> String {
    format!("{} → {}", t.names.queue, t.names.function)
}

/// Compares attributes claw sets; RedrivePolicy as JSON (AWS may reorder or
/// stringify its numbers).
fn attr_diff(live: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> Vec<FieldChange> {
    let mut out = Vec::new();
    for (k, v) in want {
        let have = live.get(k);
        let same = match (k.as_str(), have) {
            ("RedrivePolicy", Some(h)) => {
                let parse = |s: &str| -> Option<(String, String)> {
                    let j: serde_json::Value = serde_json::from_str(s).ok()?;
                    let arn = j.get("deadLetterTargetArn")?.as_str()?.to_string();
                    let n = match j.get("maxReceiveCount")? {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    Some((arn, n))
                };
                parse(h).is_some() && parse(h) == parse(v)
            }
            (_, Some(h)) => h == v,
            (_, None) => false,
        };
        if !same {
            out.push(FieldChange::new(
                &snake(k),
                have.cloned().unwrap_or_else(|| "(unset)".into()),
                v,
            ));
        }
    }
    out
}

fn snake(k: &str) -> String {
    let mut s = String::new();
    for (i, c) in k.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            s.push('_');
        }
        s.push(c.to_ascii_lowercase());
    }
    s
}

pub fn plan(t: &Target, live: &Live, plan: &mut Plan) {
    let wanted = t.config.api.mode == ApiMode::Async;
    for (name, q, dlq) in [
        (&t.names.dlq, &live.dlq, true),
        (&t.names.queue, &live.queue, false),
    ] {
        match (wanted, q) {
            (true, None) => plan.push(ResourceChange::new(Kind::Queue, name, Action::Create)),
            (_, Some(q)) if !is_ours(&q.tags, &t.config) => plan.blockers.push(format!(
                "SQS queue {name} exists but is not tagged claw:app={} claw:stage={}; claw does not touch resources it did not create (delete or rename it)",
                t.config.app, t.config.stage
            )),
            (true, Some(q)) => {
                let mut fields = attr_diff(&q.attributes, &desired_attributes(t, dlq));
                fields.extend(TagDiff::field(&q.tags, &t.tags));
                plan.push(ResourceChange::new(
                    Kind::Queue,
                    name,
                    Action::update(fields),
                ));
            }
            (false, Some(_)) => plan.push(ResourceChange::new(Kind::Queue, name, Action::Delete)),
            (false, None) => {}
        }
    }
    let name = mapping_name(t);
    match (wanted, &live.mapping) {
        (true, None) => plan.push(ResourceChange::new(
            Kind::EventSourceMapping,
            name,
            Action::Create,
        )),
        (true, Some(m)) => {
            let mut fields = Vec::new();
            if m.batch_size != BATCH_SIZE {
                fields.push(FieldChange::new("batch_size", m.batch_size, BATCH_SIZE));
            }
            if m.response_types != ["ReportBatchItemFailures"] {
                fields.push(FieldChange::new(
                    "response_types",
                    if m.response_types.is_empty() {
                        "(none)".into()
                    } else {
                        m.response_types.join(",")
                    },
                    "ReportBatchItemFailures",
                ));
            }
            if m.state == "Disabled" {
                fields.push(FieldChange::new("enabled", false, true));
            }
            plan.push(ResourceChange::new(
                Kind::EventSourceMapping,
                name,
                Action::update(fields),
            ));
        }
        (false, Some(_)) => plan.push(ResourceChange::new(
            Kind::EventSourceMapping,
            name,
            Action::Delete,
        )),
        (false, None) => {}
    }
}

/// Creates or updates both queues (dead-letter queue first).
pub async fn apply_queues(
    aws: &Aws,
    t: &Target,
    live: &Live,
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<()> {
    for (name, q, dlq) in [
        (&t.names.dlq, &live.dlq, true),
        (&t.names.queue, &live.queue, false),
    ] {
        let what = format!("{} {name}", Kind::Queue.label());
        let attrs: std::collections::HashMap<QueueAttributeName, String> =
            desired_attributes(t, dlq)
                .into_iter()
                .map(|(k, v)| (QueueAttributeName::from(k.as_str()), v))
                .collect();
        match plan.action(Kind::Queue, name) {
            Action::Create => {
                step(progress, "creating", "created", &what, async {
                    aws.sqs
                        .create_queue()
                        .queue_name(name)
                        .set_attributes(Some(attrs.clone()))
                        .set_tags(Some(t.tags.clone().into_iter().collect()))
                        .send()
                        .await
                        .ctx("CreateQueue", name)?;
                    Ok(())
                })
                .await?;
            }
            Action::Update { fields } => {
                let q = q.as_ref().context("queue update without live state")?;
                step(progress, "updating", "updated", &what, async {
                    if fields.iter().any(|f| f.field != "tags") {
                        aws.sqs
                            .set_queue_attributes()
                            .queue_url(&q.url)
                            .set_attributes(Some(attrs.clone()))
                            .send()
                            .await
                            .ctx("SetQueueAttributes", name)?;
                    }
                    let d = TagDiff::between(&q.tags, &t.tags);
                    if !d.set.is_empty() {
                        aws.sqs
                            .tag_queue()
                            .queue_url(&q.url)
                            .set_tags(Some(d.set.clone().into_iter().collect()))
                            .send()
                            .await
                            .ctx("TagQueue", name)?;
                    }
                    if !d.remove.is_empty() {
                        aws.sqs
                            .untag_queue()
                            .queue_url(&q.url)
                            .set_tag_keys(Some(d.remove.clone()))
                            .send()
                            .await
                            .ctx("UntagQueue", name)?;
                    }
                    Ok(())
                })
                .await?;
            }
            Action::Delete | Action::NoChange => {}
        }
    }
    Ok(())
}

/// Creates or updates the mapping (after the queue and the function exist).
pub async fn apply_mapping(
    aws: &Aws,
    t: &Target,
    live: &Live,
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<()> {
    let name = mapping_name(t);
    let what = format!("{} {name}", Kind::EventSourceMapping.label());
    match plan.action(Kind::EventSourceMapping, &name) {
        Action::Create => {
            step(progress, "creating", "created", &what, async {
                // Lambda checks the role may read the queue; a policy put a moment
                // ago may not have reached it yet.
                super::function::while_iam_propagates("CreateEventSourceMapping", &name, || {
                    aws.lambda
                        .create_event_source_mapping()
                        .function_name(&t.names.function)
                        .event_source_arn(t.names.queue_arn(&t.names.queue))
                        .batch_size(BATCH_SIZE)
                        .function_response_types(FunctionResponseType::ReportBatchItemFailures)
                        .enabled(true)
                        .send()
                })
                .await?;
                Ok(())
            })
            .await
        }
        Action::Update { .. } => {
            let m = live
                .mapping
                .as_ref()
                .context("mapping update without live state")?;
            step(progress, "updating", "updated", &what, async {
                aws.lambda
                    .update_event_source_mapping()
                    .uuid(&m.uuid)
                    .batch_size(BATCH_SIZE)
                    .function_response_types(FunctionResponseType::ReportBatchItemFailures)
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

/// Removes what async mode no longer needs: the mapping, then the queues.
pub async fn apply_deletes(
    aws: &Aws,
    t: &Target,
    live: &Live,
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<()> {
    let name = mapping_name(t);
    if plan.action(Kind::EventSourceMapping, &name) == Action::Delete
        && let Some(m) = &live.mapping
    {
        step(
            progress,
            "deleting",
            "deleted",
            &format!("{} {name}", Kind::EventSourceMapping.label()),
            delete_mapping(aws, &m.uuid),
        )
        .await?;
    }
    for (qname, q) in [(&t.names.queue, &live.queue), (&t.names.dlq, &live.dlq)] {
        if plan.action(Kind::Queue, qname) == Action::Delete
            && let Some(q) = q
        {
            step(
                progress,
                "deleting",
                "deleted",
                &format!("{} {qname}", Kind::Queue.label()),
                delete_queue(aws, qname, &q.url),
            )
            .await?;
        }
    }
    Ok(())
}

pub async fn delete_mapping(aws: &Aws, uuid: &str) -> anyhow::Result<()> {
    match aws
        .lambda
        .delete_event_source_mapping()
        .uuid(uuid)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error("DeleteEventSourceMapping", uuid, e).into()),
    }
}

pub async fn delete_queue(aws: &Aws, name: &str, url: &str) -> anyhow::Result<()> {
    match aws.sqs.delete_queue().queue_url(url).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_queue_does_not_exist()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error("DeleteQueue", name, e).into()),
    }
}
