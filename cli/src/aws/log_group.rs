//! CloudWatch log groups with a retention: the function's `/aws/lambda/<fn>` and the
//! API's access-log group `/aws/apigateway/<fn>`.
//!
//! A group that already exists without claw's tags is adopted (tagged and given the
//! retention), not refused: Lambda creates its group on the first invocation, so
//! finding it is normal.

use std::collections::BTreeMap;

use super::plan::{Action, FieldChange, Kind, Plan, ResourceChange, TagDiff};
use super::progress::{Progress, step};
use super::stack::Target;
use super::{Aws, AwsResultExt, is_ours};

#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    /// The group's ARN without the `:*` suffix (what the tagging API takes).
    pub arn: String,
    pub retention: Option<i32>,
    pub tags: BTreeMap<String, String>,
}

/// One log group claw wants.
#[derive(Debug, Clone)]
pub struct Desired {
    pub name: String,
    pub retention: i32,
}

pub fn desired(t: &Target) -> Vec<Desired> {
    let retention = t.config.function.log_retention_days as i32;
    vec![
        Desired {
            name: t.names.log_group.clone(),
            retention,
        },
        Desired {
            name: t.names.api_log_group.clone(),
            retention,
        },
    ]
}

pub async fn read(aws: &Aws, t: &Target, name: &str) -> anyhow::Result<Option<Live>> {
    let out = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .ctx("DescribeLogGroups", name)?;
    let Some(g) = out
        .log_groups
        .unwrap_or_default()
        .into_iter()
        .find(|g| g.log_group_name.as_deref() == Some(name))
    else {
        return Ok(None);
    };
    let arn = t.names.log_group_arn(name);
    let tags = aws
        .logs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .ctx("ListTagsForResource", name)?
        .tags
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok(Some(Live {
        name: name.to_string(),
        arn,
        retention: g.retention_in_days,
        tags,
    }))
}

pub fn plan(t: &Target, d: &Desired, live: Option<&Live>, plan: &mut Plan) {
    let Some(live) = live else {
        plan.push(ResourceChange::new(Kind::LogGroup, &d.name, Action::Create));
        return;
    };
    let mut fields = Vec::new();
    if live.retention != Some(d.retention) {
        fields.push(FieldChange::new(
            "retention_days",
            live.retention
                .map(|r| r.to_string())
                .unwrap_or_else(|| "never expire".into()),
            d.retention,
        ));
    }
    fields.extend(TagDiff::field(&live.tags, &t.tags));
    let mut change = ResourceChange::new(Kind::LogGroup, &d.name, Action::update(fields));
    if !is_ours(&live.tags, &t.config) {
        change = change.with_note("existing group adopted");
    }
    plan.push(change);
}

pub async fn apply(
    aws: &Aws,
    t: &Target,
    d: &Desired,
    live: Option<&Live>,
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<()> {
    let what = format!("{} {}", Kind::LogGroup.label(), d.name);
    let arn = t.names.log_group_arn(&d.name);
    match plan.action(Kind::LogGroup, &d.name) {
        Action::Create => {
            step(progress, "creating", "created", &what, async {
                let created = aws
                    .logs
                    .create_log_group()
                    .log_group_name(&d.name)
                    .set_tags(Some(t.tags.clone().into_iter().collect()))
                    .send()
                    .await;
                match created {
                    Ok(_) => {}
                    // Created between the read and now (Lambda does this): adopt it.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_resource_already_exists_exception()) =>
                    {
                        tag(aws, &arn, &d.name, &t.tags).await?;
                    }
                    Err(e) => return Err(super::aws_error("CreateLogGroup", &d.name, e).into()),
                }
                put_retention(aws, d).await
            })
            .await
        }
        Action::Update { fields } => {
            let live =
                live.ok_or_else(|| anyhow::anyhow!("log group update without live state"))?;
            step(progress, "updating", "updated", &what, async {
                if fields.iter().any(|f| f.field == "retention_days") {
                    put_retention(aws, d).await?;
                }
                let tags = TagDiff::between(&live.tags, &t.tags);
                if !tags.set.is_empty() {
                    tag(aws, &arn, &d.name, &tags.set).await?;
                }
                if !tags.remove.is_empty() {
                    aws.logs
                        .untag_resource()
                        .resource_arn(&arn)
                        .set_tag_keys(Some(tags.remove.clone()))
                        .send()
                        .await
                        .ctx("UntagResource", &d.name)?;
                }
                Ok(())
            })
            .await
        }
        Action::Delete | Action::NoChange => Ok(()),
    }
}

async fn tag(
    aws: &Aws,
    arn: &str,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    aws.logs
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags.clone().into_iter().collect()))
        .send()
        .await
        .ctx("TagResource", name)?;
    Ok(())
}

async fn put_retention(aws: &Aws, d: &Desired) -> anyhow::Result<()> {
    aws.logs
        .put_retention_policy()
        .log_group_name(&d.name)
        .retention_in_days(d.retention)
        .send()
        .await
        .ctx("PutRetentionPolicy", &d.name)?;
    Ok(())
}

pub async fn delete(aws: &Aws, name: &str) -> anyhow::Result<()> {
    match aws
        .logs
        .delete_log_group()
        .log_group_name(name)
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
        Err(e) => Err(super::aws_error("DeleteLogGroup", name, e).into()),
    }
}
