//! Async mode's queue: `{fn}-jobs` with a dead-letter queue `{fn}-jobs-dlq`
//! (redrive after 5 receives). The event source mapping that feeds it to the
//! function is the `mapping` module.
//!
//! The visibility timeout is six times the function timeout, as AWS recommends for
//! Lambda consumers, so a message is not redelivered while a retry of its batch may
//! still run.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_sqs::types::QueueAttributeName;
use claw_spec::model::ApiMode;

use super::{Ctx, DestroyOptions, Tagged, destroy_owned, leftover};
use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt};
use crate::aws::ownership::{foreign_blocker, is_ours};
use crate::aws::plan::{Action, Changed, Plan, ResourceChange, ResourceKind, TagDiff, update_of};
use crate::aws::progress::step;
use crate::aws::target::Target;

/// How long claw retries CreateQueue for a name deleted moments ago: SQS refuses
/// the name for 60 s after DeleteQueue
/// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteQueue.html).
const NAME_REUSE: std::time::Duration = std::time::Duration::from_secs(70);

/// Whether CreateQueue was refused because the name was deleted in the last 60 s.
/// The JSON protocol's code, and the query protocol's (kept for SQS's
/// query-compatible errors).
fn deleted_recently(e: &crate::aws::error::AwsError) -> bool {
    e.is_code("QueueDeletedRecently") || e.is_code("AWS.SimpleQueueService.QueueDeletedRecently")
}

/// Receives before a message moves to the dead-letter queue. Throttled, failed
/// and timed-out receives all count, so AWS recommends "at least five" for a
/// Lambda source queue
/// (https://repost.aws/knowledge-center/lambda-retrying-valid-sqs-messages).
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// Dead letters are kept for the SQS maximum, 14 days.
pub const DLQ_RETENTION_S: u32 = 1_209_600;

#[derive(Debug, Clone)]
pub struct Live {
    pub url: String,
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

impl Tagged for Live {
    fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }
}

/// Both queues as found, and a note when sync mode could not look.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub queue: Option<Live>,
    pub dlq: Option<Live>,
    pub note: Option<String>,
}

/// The queue attributes claw sets, by attribute name.
pub type Desired = BTreeMap<String, String>;

/// The attributes claw sets, by queue name.
pub fn desired_attributes(t: &Target, dlq: bool) -> Desired {
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

async fn read_queue(aws: &Aws, name: &str) -> anyhow::Result<Option<Live>> {
    let Some(got) = aws
        .sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .ctx("GetQueueUrl", name)
        .optional()?
    else {
        return Ok(None);
    };
    let url = got.queue_url.unwrap_or_default();
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
    Ok(Some(Live {
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

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Found> {
    let ((queue, dlq), note) = leftover(
        t,
        "async-mode queues",
        futures::try_join!(
            read_queue(aws, &t.names.queue),
            read_queue(aws, &t.names.dlq)
        ),
    )?;
    Ok(Found { queue, dlq, note })
}

/// A queue's updatable attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A queue attribute by its SQS name (`VisibilityTimeout`).
    Attribute(String),
    Tags,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::Attribute(name) => snake(name),
            Field::Tags => "tags".into(),
        }
    }
}

/// What an update of a live queue changes.
pub fn changes(t: &Target, q: &Live, dlq: bool) -> Vec<Changed<Field>> {
    let mut out = attr_changes(&q.attributes, &desired_attributes(t, dlq));
    out.extend(Changed::tags(Field::Tags, &q.tags, &t.tags));
    out
}

fn attr_changes(
    live: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> Vec<Changed<Field>> {
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
            out.push(Changed::new(
                Field::Attribute(k.clone()),
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

/// The two queues, dead-letter queue first (the queue's redrive names it).
fn both<'a>(t: &'a Target, found: &'a Found) -> [(&'a String, &'a Option<Live>, bool); 2] {
    [
        (&t.names.dlq, &found.dlq, true),
        (&t.names.queue, &found.queue, false),
    ]
}

pub fn plan(t: &Target, found: &Found, plan: &mut Plan) {
    let wanted = t.config.api.mode == ApiMode::Async;
    for (name, q, dlq) in both(t, found) {
        match (wanted, q) {
            (true, None) => plan.push(ResourceChange::new(
                ResourceKind::Queue,
                name,
                Action::Create,
            )),
            (_, Some(q)) if !is_ours(&q.tags, &t.config) => plan.blockers.push(foreign_blocker(
                &format!("SQS queue {name} exists"),
                &t.config,
            )),
            (true, Some(q)) => plan.push(ResourceChange::new(
                ResourceKind::Queue,
                name,
                update_of(&changes(t, q, dlq)),
            )),
            (false, Some(_)) => plan.push(ResourceChange::new(
                ResourceKind::Queue,
                name,
                Action::Delete,
            )),
            (false, None) => {}
        }
    }
}

/// Creates or updates both queues (dead-letter queue first); deletes wait for
/// [`delete`].
pub async fn apply(cx: &Ctx<'_>, found: &Found, plan: &Plan) -> anyhow::Result<()> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    for (name, q, dlq) in both(t, found) {
        let what = format!("{} {name}", ResourceKind::Queue.label());
        let attrs: std::collections::HashMap<QueueAttributeName, String> =
            desired_attributes(t, dlq)
                .into_iter()
                .map(|(k, v)| (QueueAttributeName::from(k.as_str()), v))
                .collect();
        match plan.action(ResourceKind::Queue, name) {
            Action::Create => {
                step(progress, "creating", "created", &what, async {
                    let started = std::time::Instant::now();
                    let mut said = false;
                    loop {
                        let created = aws
                            .sqs
                            .create_queue()
                            .queue_name(name)
                            .set_attributes(Some(attrs.clone()))
                            .set_tags(Some(t.tags.clone().into_iter().collect()))
                            .send()
                            .await
                            .ctx("CreateQueue", name);
                        match created {
                            Ok(_) => return Ok(()),
                            Err(e) if deleted_recently(&e) && started.elapsed() < NAME_REUSE => {
                                if !said {
                                    eprintln!(
                                        "  waiting: SQS queue {name} was deleted less than 60 s ago, and SQS refuses its name until then (QueueDeletedRecently)"
                                    );
                                    said = true;
                                }
                                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                })
                .await?;
            }
            Action::Update { .. } => {
                let q = q.as_ref().context("queue update without live state")?;
                let (mut set_attributes, mut tags) = (false, false);
                for c in changes(t, q, dlq) {
                    match c.field {
                        // SetQueueAttributes sets every attribute claw manages at once.
                        Field::Attribute(_) => set_attributes = true,
                        Field::Tags => tags = true,
                    }
                }
                step(progress, "updating", "updated", &what, async {
                    if set_attributes {
                        aws.sqs
                            .set_queue_attributes()
                            .queue_url(&q.url)
                            .set_attributes(Some(attrs.clone()))
                            .send()
                            .await
                            .ctx("SetQueueAttributes", name)?;
                    }
                    let d = TagDiff::between(&q.tags, &t.tags);
                    if tags && !d.set.is_empty() {
                        aws.sqs
                            .tag_queue()
                            .queue_url(&q.url)
                            .set_tags(Some(d.set.clone().into_iter().collect()))
                            .send()
                            .await
                            .ctx("TagQueue", name)?;
                    }
                    if tags && !d.remove.is_empty() {
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

pub fn plan_destroy(t: &Target, found: &Found, _: DestroyOptions, plan: &mut Plan) {
    for (name, q) in [(&t.names.queue, &found.queue), (&t.names.dlq, &found.dlq)] {
        let what = format!("SQS queue {name}");
        destroy_owned(t, q.as_ref(), ResourceKind::Queue, name, &what, plan);
    }
}

/// Deletes the queues the plan lists: the queue, then its dead-letter queue.
pub async fn delete(cx: &Ctx<'_>, found: &Found, plan: &Plan) -> anyhow::Result<()> {
    let aws = cx.aws;
    for (name, q) in [
        (&cx.target.names.queue, &found.queue),
        (&cx.target.names.dlq, &found.dlq),
    ] {
        let Some(q) = q else { continue };
        cx.delete_step(plan, ResourceKind::Queue, name, async {
            aws.sqs
                .delete_queue()
                .queue_url(&q.url)
                .send()
                .await
                .ctx("DeleteQueue", name.as_str())
                .ignore_missing()?;
            Ok(())
        })
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::aws::error::{AwsError, AwsErrorKind};

    fn refused(code: &str) -> AwsError {
        AwsError {
            operation: "CreateQueue",
            resource: "q".into(),
            code: Some(code.into()),
            kind: AwsErrorKind::of(Some(code)),
            message: "You must wait 60 seconds after deleting a queue".into(),
        }
    }

    #[test]
    fn a_name_deleted_moments_ago_is_retried_and_nothing_else() {
        assert!(super::deleted_recently(&refused("QueueDeletedRecently")));
        assert!(super::deleted_recently(&refused(
            "AWS.SimpleQueueService.QueueDeletedRecently"
        )));
        assert!(!super::deleted_recently(&refused("QueueAlreadyExists")));
    }

    use super::*;
    use crate::aws::resources::testing;

    fn queue(t: &Target, dlq: bool) -> Live {
        Live {
            url: "https://sqs/q".into(),
            attributes: desired_attributes(t, dlq),
            tags: t.tags.clone(),
        }
    }

    /// At least five receives (see MAX_RECEIVE_COUNT); a queue made with 3 is updated.
    #[test]
    fn the_redrive_allows_at_least_five_receives_and_an_old_queue_is_updated() {
        let mut t = testing::target();
        t.config.api.mode = ApiMode::Async;
        let want = desired_attributes(&t, false);
        let redrive: serde_json::Value = serde_json::from_str(&want["RedrivePolicy"]).unwrap();
        assert!(
            redrive["maxReceiveCount"].as_u64().unwrap() >= 5,
            "{redrive}"
        );
        let mut q = queue(&t, false);
        q.attributes.insert(
            "RedrivePolicy".into(),
            serde_json::json!({
                "deadLetterTargetArn": t.names.queue_arn(&t.names.dlq),
                "maxReceiveCount": 3,
            })
            .to_string(),
        );
        let c = changes(&t, &q, false);
        assert_eq!(
            c.iter().map(|c| c.field.clone()).collect::<Vec<_>>(),
            [Field::Attribute("RedrivePolicy".into())]
        );
    }

    #[test]
    fn a_changed_attribute_is_one_typed_change_and_redrive_compares_as_json() {
        let mut t = testing::target();
        t.config.api.mode = ApiMode::Async;
        let mut q = queue(&t, false);
        q.attributes.insert("VisibilityTimeout".into(), "30".into());
        // AWS may give the redrive policy back with its number as a string.
        q.attributes.insert(
            "RedrivePolicy".into(),
            serde_json::json!({
                "deadLetterTargetArn": t.names.queue_arn(&t.names.dlq),
                "maxReceiveCount": MAX_RECEIVE_COUNT.to_string(),
            })
            .to_string(),
        );
        let c = changes(&t, &q, false);
        assert_eq!(
            c.iter().map(|c| c.field.clone()).collect::<Vec<_>>(),
            [Field::Attribute("VisibilityTimeout".into())]
        );
        assert_eq!(
            c[0].row().to_string(),
            format!(
                "visibility_timeout 30 → {}",
                t.config.function.timeout_s * 6
            )
        );
        let found = Found {
            queue: Some(q),
            dlq: Some(queue(&t, true)),
            note: None,
        };
        let mut p = testing::plan(&t);
        plan(&t, &found, &mut p);
        assert_eq!(
            p.action(ResourceKind::Queue, &t.names.dlq),
            Action::NoChange
        );
        assert!(matches!(
            p.action(ResourceKind::Queue, &t.names.queue),
            Action::Update { .. }
        ));
    }

    #[test]
    fn sync_mode_deletes_claws_queues_and_refuses_foreign_ones() {
        let t = testing::target();
        let mut foreign = queue(&t, true);
        foreign.tags.clear();
        let found = Found {
            queue: Some(queue(&t, false)),
            dlq: Some(foreign),
            note: None,
        };
        let mut p = testing::plan(&t);
        plan(&t, &found, &mut p);
        assert_eq!(
            p.action(ResourceKind::Queue, &t.names.queue),
            Action::Delete
        );
        assert!(p.blockers[0].contains(&t.names.dlq), "{:?}", p.blockers);
    }
}
