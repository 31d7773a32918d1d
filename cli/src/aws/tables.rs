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

use super::plan::{Action, FieldChange, Kind, Plan, ResourceChange, TagDiff};
use super::progress::{Progress, step};
use super::stack::Target;
use super::{Aws, AwsResultExt, aws_error, is_ours};

pub const TTL_ATTRIBUTE: &str = "ttl";

#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
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

pub fn jobs(t: &Target) -> Desired {
    Desired {
        name: t.names.jobs_table.clone(),
        key: "job_id",
        data: false,
    }
}

pub fn sessions(t: &Target) -> Option<Desired> {
    t.config.sessions.as_ref().map(|s| Desired {
        name: s.table.clone(),
        key: "session_id",
        data: true,
    })
}

pub async fn read(aws: &Aws, name: &str) -> anyhow::Result<Option<Live>> {
    let table = match aws.dynamodb.describe_table().table_name(name).send().await {
        Ok(o) => match o.table {
            Some(t) => t,
            None => return Ok(None),
        },
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(aws_error("DescribeTable", name, e).into()),
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
        },
        async {
            aws.dynamodb
                .list_tags_of_resource()
                .resource_arn(&arn)
                .send()
                .await
                .ctx("ListTagsOfResource", name)
        }
    )?;
    let ttl = ttl.time_to_live_description.and_then(|d| {
        let on = matches!(
            d.time_to_live_status.as_ref().map(|s| s.as_str()),
            Some("ENABLED") | Some("ENABLING")
        );
        if on { d.attribute_name } else { None }
    });
    Ok(Some(Live {
        name: name.to_string(),
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
        tags: tags
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect(),
    }))
}

/// Plans one table. `wanted` is false when the config no longer asks for it.
pub fn plan(t: &Target, d: &Desired, wanted: bool, live: Option<&Live>, plan: &mut Plan) {
    let name = &d.name;
    match (wanted, live) {
        (true, None) => plan.push(ResourceChange::new(Kind::Table, name, Action::Create)),
        (true, Some(l)) if l.hash_key != d.key => plan.blockers.push(format!(
            "DynamoDB table {name} exists with partition key `{}`; claw needs `{}` (string): use another table name or remove the table",
            l.hash_key, d.key
        )),
        (true, Some(l)) if !is_ours(&l.tags, &t.config) => {
            if d.data {
                plan.push(
                    ResourceChange::new(Kind::Table, name, Action::NoChange)
                        .with_note("not created by claw; used as it is"),
                );
            } else {
                plan.blockers.push(format!(
                    "DynamoDB table {name} exists but is not tagged claw:app={} claw:stage={}; claw does not touch resources it did not create (delete or rename it)",
                    t.config.app, t.config.stage
                ));
            }
        }
        (true, Some(l)) => {
            let mut fields = Vec::new();
            if l.ttl.as_deref() != Some(TTL_ATTRIBUTE) {
                fields.push(FieldChange::new(
                    "ttl",
                    l.ttl.clone().unwrap_or_else(|| "(off)".into()),
                    TTL_ATTRIBUTE,
                ));
            }
            if l.billing != "PAY_PER_REQUEST" {
                fields.push(FieldChange::new("billing", &l.billing, "PAY_PER_REQUEST"));
            }
            fields.extend(TagDiff::field(&l.tags, &t.tags));
            plan.push(ResourceChange::new(
                Kind::Table,
                name,
                Action::update(fields),
            ));
        }
        (false, Some(l)) if is_ours(&l.tags, &t.config) => {
            if d.data {
                plan.notes.push(format!(
                    "DynamoDB table {name} is no longer in agent.yaml; it holds data, so deploy keeps it (claw destroy --include-data deletes it)"
                ));
            } else {
                plan.push(ResourceChange::new(Kind::Table, name, Action::Delete));
            }
        }
        (false, _) => {}
    }
}

pub async fn apply(
    aws: &Aws,
    t: &Target,
    d: &Desired,
    live: Option<&Live>,
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<()> {
    let name = &d.name;
    let what = format!("{} {name}", Kind::Table.label());
    match plan.action(Kind::Table, name) {
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
        Action::Update { fields } => {
            let l = live.ok_or_else(|| anyhow::anyhow!("table update without live state"))?;
            step(progress, "updating", "updated", &what, async {
                if l.status != "ACTIVE" {
                    wait_active(aws, name).await?;
                }
                if fields.iter().any(|f| f.field == "billing") {
                    aws.dynamodb
                        .update_table()
                        .table_name(name)
                        .billing_mode(BillingMode::PayPerRequest)
                        .send()
                        .await
                        .ctx("UpdateTable", name)?;
                    wait_active(aws, name).await?;
                }
                if fields.iter().any(|f| f.field == "ttl") {
                    enable_ttl(aws, name).await?;
                }
                let tags = TagDiff::between(&l.tags, &t.tags);
                if !tags.set.is_empty() {
                    aws.dynamodb
                        .tag_resource()
                        .resource_arn(&l.arn)
                        .set_tags(Some(ddb_tags(&tags.set)))
                        .send()
                        .await
                        .ctx("TagResource", name)?;
                }
                if !tags.remove.is_empty() {
                    aws.dynamodb
                        .untag_resource()
                        .resource_arn(&l.arn)
                        .set_tag_keys(Some(tags.remove.clone()))
                        .send()
                        .await
                        .ctx("UntagResource", name)?;
                }
                Ok(())
            })
            .await
        }
        Action::Delete => step(progress, "deleting", "deleted", &what, delete(aws, name)).await,
        Action::NoChange => Ok(()),
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

pub async fn delete(aws: &Aws, name: &str) -> anyhow::Result<()> {
    match aws.dynamodb.delete_table().table_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error("DeleteTable", name, e).into()),
    }
}

/// Whether the jobs table is wanted.
pub fn jobs_wanted(t: &Target) -> bool {
    t.config.api.mode == ApiMode::Async
}
