//! DynamoDB tables: the jobs table of async mode (`{fn}-jobs`, key `job_id`) and
//! the sessions table (`sessions.table`, key `session_id`). Both are on-demand,
//! with TTL on the `ttl` attribute.
//!
//! The jobs table is claw's infrastructure and goes when async mode does. The
//! sessions table holds data: deploy never deletes it, and destroy only with
//! `--include-data`. An existing sessions table that claw did not create is used
//! as it is, if its key is right.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};
use claw_spec::model::ApiMode;

use super::{Ctx, DestroyOptions, leftover};
use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt};
use crate::aws::ownership::{foreign_blocker, is_ours, untagged_note};
use crate::aws::plan::{Action, Changed, Plan, ResourceChange, ResourceKind, TagDiff, update_of};
use crate::aws::progress::step;
use crate::aws::target::Target;

/// The attribute both tables expire items by (the function writes it).
pub const TTL_ATTRIBUTE: &str = claw_spec::storage::TTL_ATTR;

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub hash_key: String,
    pub billing: String,
    pub status: String,
    pub ttl: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// A table claw wants.
#[derive(Debug, Clone)]
pub struct Desired {
    pub name: String,
    pub key: &'static str,
    /// Data tables are never deleted by deploy.
    pub data: bool,
}

fn jobs(t: &Target) -> Desired {
    Desired {
        name: t.names.jobs_table.clone(),
        key: claw_spec::storage::JOBS_KEY,
        data: false,
    }
}

fn sessions(t: &Target) -> Option<Desired> {
    t.config.sessions.as_ref().map(|s| Desired {
        name: s.table.clone(),
        key: claw_spec::storage::SESSIONS_KEY,
        data: true,
    })
}

/// The jobs table and the sessions table, as found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub jobs: Option<Live>,
    pub sessions: Option<Live>,
    /// Set when sync mode could not look for a jobs table left from async mode.
    pub note: Option<String>,
}

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Found> {
    let sessions = sessions(t);
    let ((jobs, note), sessions) = futures::try_join!(
        async {
            leftover(
                t,
                "the async-mode jobs table",
                read_table(aws, &t.names.jobs_table).await,
            )
        },
        async {
            match &sessions {
                Some(s) => read_table(aws, &s.name).await,
                None => Ok(None),
            }
        },
    )?;
    Ok(Found {
        jobs,
        sessions,
        note,
    })
}

async fn read_table(aws: &Aws, name: &str) -> anyhow::Result<Option<Live>> {
    let Some(out) = aws
        .dynamodb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .ctx("DescribeTable", name)
        .optional()?
    else {
        return Ok(None);
    };
    let Some(table) = out.table else {
        return Ok(None);
    };
    let arn = table.table_arn.clone().unwrap_or_default();
    let (ttl, tags) = futures::try_join!(
        async {
            aws.dynamodb
                .describe_time_to_live()
                .table_name(name)
                .send()
                .await
                .ctx("DescribeTimeToLive", name)
                .map_err(anyhow::Error::from)
        },
        // Paged by NextToken, with no paginator in the SDK.
        super::all_pages(|token| {
            let arn = &arn;
            async move {
                let page = aws
                    .dynamodb
                    .list_tags_of_resource()
                    .resource_arn(arn)
                    .set_next_token(token)
                    .send()
                    .await
                    .ctx("ListTagsOfResource", name)?;
                Ok((page.tags.unwrap_or_default(), page.next_token))
            }
        })
    )?;
    let ttl = ttl.time_to_live_description.and_then(|d| {
        let on = matches!(
            d.time_to_live_status.as_ref().map(|s| s.as_str()),
            Some("ENABLED") | Some("ENABLING")
        );
        if on { d.attribute_name } else { None }
    });
    Ok(Some(Live {
        arn,
        hash_key: table
            .key_schema
            .unwrap_or_default()
            .into_iter()
            .find(|k| k.key_type == KeyType::Hash)
            .map(|k| k.attribute_name)
            .unwrap_or_default(),
        billing: table
            .billing_mode_summary
            .and_then(|b| b.billing_mode)
            .map(|b| b.as_str().to_string())
            .unwrap_or_else(|| "PROVISIONED".into()),
        status: table
            .table_status
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        ttl,
        tags: tags.into_iter().map(|t| (t.key, t.value)).collect(),
    }))
}

/// A table's updatable attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Ttl,
    Billing,
    Tags,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::Ttl => "ttl",
            Field::Billing => "billing",
            Field::Tags => "tags",
        }
        .into()
    }
}

/// What an update of a live table changes.
pub fn changes(t: &Target, l: &Live) -> Vec<Changed<Field>> {
    let mut out = Vec::new();
    if l.ttl.as_deref() != Some(TTL_ATTRIBUTE) {
        out.push(Changed::new(
            Field::Ttl,
            l.ttl.clone().unwrap_or_else(|| "(off)".into()),
            TTL_ATTRIBUTE,
        ));
    }
    if l.billing != "PAY_PER_REQUEST" {
        out.push(Changed::new(Field::Billing, &l.billing, "PAY_PER_REQUEST"));
    }
    out.extend(Changed::tags(Field::Tags, &l.tags, &t.tags));
    out
}

/// Both tables: the sessions table when configured, the jobs table in async mode
/// (or its deletion when async mode is gone).
pub fn plan(t: &Target, found: &Found, plan: &mut Plan) {
    if let Some(s) = sessions(t) {
        plan_one(t, &s, true, found.sessions.as_ref(), plan);
    }
    plan_one(t, &jobs(t), jobs_wanted(t), found.jobs.as_ref(), plan);
}

/// Plans one table. `wanted` is false when the config no longer asks for it.
fn plan_one(t: &Target, d: &Desired, wanted: bool, live: Option<&Live>, plan: &mut Plan) {
    let name = &d.name;
    match (wanted, live) {
        (true, None) => plan.push(ResourceChange::new(ResourceKind::Table, name, Action::Create)),
        (true, Some(l)) if l.hash_key != d.key => plan.blockers.push(format!(
            "DynamoDB table {name} exists with partition key `{}`; claw needs `{}` (string): use another table name or remove the table",
            l.hash_key, d.key
        )),
        (true, Some(l)) if !is_ours(&l.tags, &t.config) => {
            if d.data {
                plan.push(
                    ResourceChange::new(ResourceKind::Table, name, Action::NoChange)
                        .with_note("not created by claw; used as it is"),
                );
            } else {
                plan.blockers.push(foreign_blocker(
                    &format!("DynamoDB table {name} exists"),
                    &t.config,
                ));
            }
        }
        (true, Some(l)) => plan.push(ResourceChange::new(
            ResourceKind::Table,
            name,
            update_of(&changes(t, l)),
        )),
        (false, Some(l)) if is_ours(&l.tags, &t.config) => {
            if d.data {
                plan.notes.push(format!(
                    "DynamoDB table {name} is no longer in agent.yaml; it holds data, so deploy keeps it (claw destroy --include-data deletes it)"
                ));
            } else {
                plan.push(ResourceChange::new(ResourceKind::Table, name, Action::Delete));
            }
        }
        (false, _) => {}
    }
}

/// Creates and updates the tables (a jobs table to delete waits for [`delete`]).
pub async fn apply(cx: &Ctx<'_>, found: &Found, plan: &Plan) -> anyhow::Result<()> {
    let mut r = Vec::new();
    if let Some(s) = sessions(cx.target) {
        r.push(apply_one(cx, &s, found.sessions.as_ref(), plan).await);
    }
    r.push(apply_one(cx, &jobs(cx.target), found.jobs.as_ref(), plan).await);
    super::all(r)
}

async fn apply_one(
    cx: &Ctx<'_>,
    d: &Desired,
    live: Option<&Live>,
    plan: &Plan,
) -> anyhow::Result<()> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    let name = &d.name;
    let what = format!("{} {name}", ResourceKind::Table.label());
    match plan.action(ResourceKind::Table, name) {
        Action::Create => {
            step(progress, "creating", "created", &what, async {
                aws.dynamodb
                    .create_table()
                    .table_name(name)
                    .attribute_definitions(
                        AttributeDefinition::builder()
                            .attribute_name(d.key)
                            .attribute_type(ScalarAttributeType::S)
                            .build()?,
                    )
                    .key_schema(
                        KeySchemaElement::builder()
                            .attribute_name(d.key)
                            .key_type(KeyType::Hash)
                            .build()?,
                    )
                    .billing_mode(BillingMode::PayPerRequest)
                    .set_tags(Some(ddb_tags(&t.tags)))
                    .send()
                    .await
                    .ctx("CreateTable", name)?;
                wait_active(aws, name).await?;
                enable_ttl(aws, name).await
            })
            .await
        }
        Action::Update { .. } => {
            let l = live.ok_or_else(|| anyhow::anyhow!("table update without live state"))?;
            let (mut billing, mut ttl, mut tags) = (false, false, false);
            for c in changes(t, l) {
                match c.field {
                    Field::Ttl => ttl = true,
                    Field::Billing => billing = true,
                    Field::Tags => tags = true,
                }
            }
            step(progress, "updating", "updated", &what, async {
                if l.status != "ACTIVE" {
                    wait_active(aws, name).await?;
                }
                if billing {
                    aws.dynamodb
                        .update_table()
                        .table_name(name)
                        .billing_mode(BillingMode::PayPerRequest)
                        .send()
                        .await
                        .ctx("UpdateTable", name)?;
                    wait_active(aws, name).await?;
                }
                if ttl {
                    enable_ttl(aws, name).await?;
                }
                let diff = TagDiff::between(&l.tags, &t.tags);
                if tags && !diff.set.is_empty() {
                    aws.dynamodb
                        .tag_resource()
                        .resource_arn(&l.arn)
                        .set_tags(Some(ddb_tags(&diff.set)))
                        .send()
                        .await
                        .ctx("TagResource", name)?;
                }
                if tags && !diff.remove.is_empty() {
                    aws.dynamodb
                        .untag_resource()
                        .resource_arn(&l.arn)
                        .set_tag_keys(Some(diff.remove.clone()))
                        .send()
                        .await
                        .ctx("UntagResource", name)?;
                }
                Ok(())
            })
            .await
        }
        Action::Delete | Action::NoChange => Ok(()),
    }
}

fn ddb_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_dynamodb::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_dynamodb::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect()
}

async fn enable_ttl(aws: &Aws, name: &str) -> anyhow::Result<()> {
    aws.dynamodb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build()?,
        )
        .send()
        .await
        .ctx("UpdateTimeToLive", name)?;
    Ok(())
}

/// Waits until the table is ACTIVE (CreateTable returns while it is CREATING).
async fn wait_active(aws: &Aws, name: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let out = aws
            .dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .ctx("DescribeTable", name)?;
        if out.table.and_then(|t| t.table_status) == Some(TableStatus::Active) {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(300) {
            anyhow::bail!("DynamoDB table {name} is not ACTIVE after 300 s");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The jobs table goes with the stack; the sessions table holds data and goes
/// only with `--include-data`.
pub fn plan_destroy(t: &Target, found: &Found, opts: DestroyOptions, p: &mut Plan) {
    match &found.jobs {
        Some(tb) if is_ours(&tb.tags, &t.config) => p.push(ResourceChange::new(
            ResourceKind::Table,
            &t.names.jobs_table,
            Action::Delete,
        )),
        Some(_) => p.notes.push(untagged_note(
            &format!("DynamoDB table {}", t.names.jobs_table),
            &t.config,
        )),
        None => {}
    }
    if let (Some(s), Some(tb)) = (sessions(t), &found.sessions) {
        if !is_ours(&tb.tags, &t.config) {
            p.notes.push(untagged_note(
                &format!("DynamoDB table {}", s.name),
                &t.config,
            ));
        } else if opts.include_data {
            p.push(
                ResourceChange::new(ResourceKind::Table, &s.name, Action::Delete)
                    .with_note("sessions data"),
            );
        } else {
            p.notes.push(format!(
                "DynamoDB table {} holds session data: kept (--include-data deletes it)",
                s.name
            ));
        }
    }
}

/// Deletes the tables the plan lists, in the plan's order.
pub async fn delete(cx: &Ctx<'_>, _: &Found, plan: &Plan) -> anyhow::Result<()> {
    let names: Vec<String> = plan
        .of_kind(ResourceKind::Table)
        .filter(|c| c.action == Action::Delete)
        .map(|c| c.name.clone())
        .collect();
    for name in names {
        let aws = cx.aws;
        cx.delete_step(plan, ResourceKind::Table, &name, async {
            aws.dynamodb
                .delete_table()
                .table_name(&name)
                .send()
                .await
                .ctx("DeleteTable", &name)
                .ignore_missing()?;
            Ok(())
        })
        .await?;
    }
    Ok(())
}

/// Whether the jobs table is wanted.
fn jobs_wanted(t: &Target) -> bool {
    t.config.api.mode == ApiMode::Async
}

#[cfg(test)]
mod tests;
