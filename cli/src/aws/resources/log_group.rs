//! CloudWatch log groups with a retention: the function's `/aws/lambda/<fn>` and the
//! API's access-log group `/aws/vendedlogs/apigateway/<fn>`.
//!
//! Earlier versions put the access logs in `/aws/apigateway/<fn>`. Deploy moves the
//! stage to the new group (the stage module sees its destination change), then
//! deletes the old group when claw's tags say it is claw's; destroy removes it too.
//!
//! A group that already exists without claw's tags is adopted (tagged and given the
//! retention), not refused: Lambda creates its group on the first invocation, so
//! finding it is normal.

use std::collections::BTreeMap;

use super::{Ctx, DestroyOptions, Tagged, destroy_owned};
use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt, aws_error};
use crate::aws::ownership::is_ours;
use crate::aws::plan::{Action, Changed, Plan, ResourceChange, ResourceKind, TagDiff, update_of};
use crate::aws::progress::step;
use crate::aws::target::Target;

#[derive(Debug, Clone)]
pub struct Live {
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

impl Tagged for Live {
    fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }
}

/// Every group claw wants, with what the read found under its name, and the
/// groups claw no longer uses (by name) that still exist.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub groups: Vec<(Desired, Option<Live>)>,
    pub retired: Vec<(String, Live)>,
}

/// Groups earlier versions of claw created and this one no longer uses.
pub fn retired(t: &Target) -> Vec<String> {
    vec![t.names.old_api_log_group.clone()]
}

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Found> {
    let groups = desired(t);
    let old = retired(t);
    let (lives, old_lives) = futures::try_join!(
        futures::future::try_join_all(groups.iter().map(|g| read_one(aws, t, &g.name))),
        futures::future::try_join_all(old.iter().map(|g| read_one(aws, t, g))),
    )?;
    Ok(Found {
        groups: groups.into_iter().zip(lives).collect(),
        retired: old
            .into_iter()
            .zip(old_lives)
            .filter_map(|(n, l)| Some((n, l?)))
            .collect(),
    })
}

async fn read_one(aws: &Aws, t: &Target, name: &str) -> anyhow::Result<Option<Live>> {
    // A prefix also matches longer names, and the list is paged: every page is
    // read before the exact name is looked for.
    let groups = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx("DescribeLogGroups", name)?;
    let Some(g) = groups
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
        retention: g.retention_in_days,
        tags,
    }))
}

/// A log group's updatable attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Retention,
    Tags,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::Retention => "retention_days",
            Field::Tags => "tags",
        }
        .into()
    }
}

/// What an update of a live group changes.
pub fn changes(t: &Target, d: &Desired, live: &Live) -> Vec<Changed<Field>> {
    let mut out = Vec::new();
    if live.retention != Some(d.retention) {
        out.push(Changed::new(
            Field::Retention,
            live.retention
                .map(|r| r.to_string())
                .unwrap_or_else(|| "never expire".into()),
            d.retention,
        ));
    }
    out.extend(Changed::tags(Field::Tags, &live.tags, &t.tags));
    out
}

pub fn plan(t: &Target, found: &Found, plan: &mut Plan) {
    for (d, live) in &found.groups {
        let Some(live) = live else {
            plan.push(ResourceChange::new(
                ResourceKind::LogGroup,
                &d.name,
                Action::Create,
            ));
            continue;
        };
        let mut change = ResourceChange::new(
            ResourceKind::LogGroup,
            &d.name,
            update_of(&changes(t, d, live)),
        );
        if !is_ours(&live.tags, &t.config) {
            change = change.with_note("existing group adopted");
        }
        plan.push(change);
    }
    // A retired group claw created goes once the stage logs elsewhere; one it did
    // not create is not claw's to touch.
    for (name, live) in &found.retired {
        if is_ours(&live.tags, &t.config) {
            plan.push(
                ResourceChange::new(ResourceKind::LogGroup, name, Action::Delete).with_note(
                    format!(
                        "no longer used: access logs move to {}",
                        t.names.api_log_group
                    ),
                ),
            );
        }
    }
}

pub async fn apply(cx: &Ctx<'_>, found: &Found, plan: &Plan) -> anyhow::Result<()> {
    super::all(
        futures::future::join_all(
            found
                .groups
                .iter()
                .map(|(d, l)| apply_one(cx, d, l.as_ref(), plan)),
        )
        .await,
    )
}

async fn apply_one(
    cx: &Ctx<'_>,
    d: &Desired,
    live: Option<&Live>,
    plan: &Plan,
) -> anyhow::Result<()> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    let what = format!("{} {}", ResourceKind::LogGroup.label(), d.name);
    let arn = t.names.log_group_arn(&d.name);
    match plan.action(ResourceKind::LogGroup, &d.name) {
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
                    Err(e) => return Err(aws_error("CreateLogGroup", &d.name, e).into()),
                }
                put_retention(aws, d).await
            })
            .await
        }
        Action::Update { .. } => {
            let live =
                live.ok_or_else(|| anyhow::anyhow!("log group update without live state"))?;
            step(progress, "updating", "updated", &what, async {
                for c in changes(t, d, live) {
                    match c.field {
                        Field::Retention => put_retention(aws, d).await?,
                        Field::Tags => {
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
                        }
                    }
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

pub fn plan_destroy(t: &Target, found: &Found, _: DestroyOptions, plan: &mut Plan) {
    let groups = found.groups.iter().map(|(d, l)| (&d.name, l.as_ref()));
    let retired = found.retired.iter().map(|(n, l)| (n, Some(l)));
    for (name, l) in groups.chain(retired) {
        let what = format!("log group {name}");
        destroy_owned(t, l, ResourceKind::LogGroup, name, &what, plan);
    }
}

/// Deletes the groups the plan lists, one after the other: in a destroy, every
/// group of the stack; in a deploy, the retired ones.
pub async fn delete(cx: &Ctx<'_>, found: &Found, plan: &Plan) -> anyhow::Result<()> {
    let mut results = Vec::new();
    let names = found.groups.iter().map(|(d, _)| &d.name);
    for name in names.chain(found.retired.iter().map(|(n, _)| n)) {
        let aws = cx.aws;
        results.push(
            cx.delete_step(plan, ResourceKind::LogGroup, name, async {
                aws.logs
                    .delete_log_group()
                    .log_group_name(name)
                    .send()
                    .await
                    .ctx("DeleteLogGroup", name)
                    .ignore_missing()?;
                Ok(())
            })
            .await,
        );
    }
    super::all(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::resources::testing;

    #[test]
    fn retention_is_set_and_an_untagged_group_is_adopted() {
        let t = testing::target();
        let found = Found {
            groups: desired(&t)
                .into_iter()
                .map(|d| {
                    let l = Live {
                        retention: None,
                        tags: BTreeMap::new(),
                    };
                    (d, Some(l))
                })
                .collect(),
            retired: Vec::new(),
        };
        let (d, l) = &found.groups[0];
        let c = changes(&t, d, l.as_ref().unwrap());
        assert_eq!(
            c.iter().map(|c| c.field).collect::<Vec<_>>(),
            [Field::Retention, Field::Tags]
        );
        assert_eq!(
            c[0].row().to_string(),
            format!(
                "retention_days never expire → {}",
                t.config.function.log_retention_days
            )
        );
        let mut p = testing::plan(&t);
        plan(&t, &found, &mut p);
        assert_eq!(p.changes[0].note.as_deref(), Some("existing group adopted"));
    }

    #[test]
    fn the_old_access_log_group_is_deleted_when_it_is_claws() {
        let t = testing::target();
        let live = |tags: BTreeMap<String, String>| Live {
            retention: Some(30),
            tags,
        };
        let old = t.names.old_api_log_group.clone();
        assert_eq!(retired(&t), vec![old.clone()]);
        let mut found = Found {
            groups: desired(&t)
                .into_iter()
                .map(|d| {
                    let retention = d.retention;
                    let l = Live {
                        retention: Some(retention),
                        tags: t.tags.clone(),
                    };
                    (d, Some(l))
                })
                .collect(),
            retired: vec![(old.clone(), live(t.tags.clone()))],
        };
        let mut p = testing::plan(&t);
        plan(&t, &found, &mut p);
        let c = p.get(ResourceKind::LogGroup, &old).expect("the old group");
        assert_eq!(c.action, Action::Delete);
        assert!(
            c.note.as_deref().unwrap().contains(&t.names.api_log_group),
            "{c:?}"
        );
        // Destroy removes it beside the current groups.
        let mut p = testing::plan(&t);
        plan_destroy(&t, &found, DestroyOptions::default(), &mut p);
        assert_eq!(p.of_kind(ResourceKind::LogGroup).count(), 3, "{p:?}");
        // One claw did not tag is left alone.
        found.retired[0].1 = live(BTreeMap::new());
        let mut p = testing::plan(&t);
        plan(&t, &found, &mut p);
        assert!(p.get(ResourceKind::LogGroup, &old).is_none());
    }
}
