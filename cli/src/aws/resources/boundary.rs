//! The permissions boundary: a customer-managed policy under `/claw/` that every
//! execution role claw creates carries. It holds the same document as the role's
//! inline policy, so even a role edited by hand cannot exceed what agent.yaml grants.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_sdk_iam::types::PolicyVersion;
use claw_spec::iam::PolicyDocument;
use claw_spec::names::IAM_PATH;
use claw_spec::policy;
use claw_spec::policy_diff;

use super::{Ctx, DestroyOptions, Tagged, destroy_owned};
use crate::aws::error::{AwsErrorExt, AwsResultExt, administrators};
use crate::aws::ownership::{foreign_blocker, iam_tags, is_ours};
use crate::aws::plan::{
    Action, Changed, Plan, ResourceChange, ResourceKind, SecurityChange, TagDiff, update_of,
};
use crate::aws::progress::step;
use crate::aws::propagation::while_iam_settles;
use crate::aws::target::Target;
use crate::aws::{Aws, doc};

/// IAM keeps at most five versions of a managed policy.
const MAX_VERSIONS: usize = 5;

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub document: PolicyDocument,
    pub tags: BTreeMap<String, String>,
}

impl Tagged for Live {
    fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }
}

/// The boundary's document, as claw generates it.
pub type Desired = PolicyDocument;

pub fn desired(t: &Target) -> Desired {
    // The boundary holds the execution role's own policy (`--kind boundary`).
    policy::role(&t.config, &t.names)
}

/// The boundary's updatable attributes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field {
    Document,
    Tags,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::Document => "document",
            Field::Tags => "tags",
        }
        .into()
    }
}

/// What an update of a live boundary changes.
pub fn changes(t: &Target, live: &Live) -> Vec<Changed<Field>> {
    let want = desired(t);
    let mut out = Vec::new();
    let change = policy_diff::diff(&live.document, &want);
    if !change.is_empty() {
        out.push(Changed::new(
            Field::Document,
            format!(
                "{} permissions",
                policy_diff::permissions(&live.document).len()
            ),
            format!(
                "{} permissions (+{} -{})",
                policy_diff::permissions(&want).len(),
                change.added.len(),
                change.removed.len()
            ),
        ));
    }
    out.extend(Changed::tags(Field::Tags, &live.tags, &t.tags));
    out
}

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Option<Live>> {
    let arn = t.names.boundary_arn();
    let Some(got) = aws
        .iam
        .get_policy()
        .policy_arn(&arn)
        .send()
        .await
        .ctx("GetPolicy", &arn)
        .optional()?
    else {
        return Ok(None);
    };
    let p = got.policy.context("GetPolicy returned no policy")?;
    let version = p.default_version_id.clone().unwrap_or_default();
    let v = aws
        .iam
        .get_policy_version()
        .policy_arn(&arn)
        .version_id(&version)
        .send()
        .await
        .ctx("GetPolicyVersion", format!("{arn} {version}"))?;
    let raw = v
        .policy_version
        .and_then(|v| v.document)
        .unwrap_or_default();
    Ok(Some(Live {
        arn: arn.clone(),
        document: doc::parse(&raw, &format!("policy {arn}"))?,
        tags: p
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect(),
    }))
}

pub fn plan(t: &Target, live: &Option<Live>, plan: &mut Plan) {
    let name = &t.names.boundary;
    let Some(live) = live else {
        plan.push(ResourceChange::new(
            ResourceKind::Boundary,
            name,
            Action::Create,
        ));
        return;
    };
    if !is_ours(&live.tags, &t.config) {
        plan.blockers.push(foreign_blocker(
            &format!("IAM policy {} exists", live.arn),
            &t.config,
        ));
        return;
    }
    let change = policy_diff::diff(&live.document, &desired(t));
    plan.security.extend(SecurityChange::from_policy_change(
        &format!("boundary {name}"),
        &change,
        false,
    ));
    plan.push(ResourceChange::new(
        ResourceKind::Boundary,
        name,
        update_of(&changes(t, live)),
    ));
}

pub async fn apply(cx: &Ctx<'_>, live: &Option<Live>, plan: &Plan) -> anyhow::Result<()> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    let name = &t.names.boundary;
    let what = format!("{} {name}", ResourceKind::Boundary.label());
    let arn = t.names.boundary_arn();
    match plan.action(ResourceKind::Boundary, name) {
        Action::Create => {
            step(progress, "creating", "created", &what, async {
                aws.iam
                    .create_policy()
                    .policy_name(name)
                    .path(IAM_PATH)
                    .description(format!(
                        "claw: permissions boundary of {}-{}'s execution role",
                        t.config.app, t.config.stage
                    ))
                    .policy_document(doc::to_json(&desired(t)))
                    .set_tags(Some(iam_tags(&t.tags)))
                    .send()
                    .await
                    .ctx("CreatePolicy", &arn)
                    .map_err(|e| administrators(e, "Creating the permissions boundary"))?;
                Ok(())
            })
            .await
        }
        Action::Update { .. } => {
            let live = live
                .as_ref()
                .context("boundary update without live state")?;
            step(progress, "updating", "updated", &what, async {
                for c in changes(t, live) {
                    match c.field {
                        Field::Document => new_default_version(aws, &arn, &desired(t)).await?,
                        Field::Tags => retag(aws, &arn, &live.tags, &t.tags).await?,
                    }
                }
                Ok(())
            })
            .await
        }
        Action::Delete | Action::NoChange => Ok(()),
    }
}

async fn retag(
    aws: &Aws,
    arn: &str,
    live: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let tags = TagDiff::between(live, want);
    if !tags.set.is_empty() {
        aws.iam
            .tag_policy()
            .policy_arn(arn)
            .set_tags(Some(iam_tags(&tags.set)))
            .send()
            .await
            .ctx("TagPolicy", arn)?;
    }
    if !tags.remove.is_empty() {
        aws.iam
            .untag_policy()
            .policy_arn(arn)
            .set_tag_keys(Some(tags.remove.clone()))
            .send()
            .await
            .ctx("UntagPolicy", arn)?;
    }
    Ok(())
}

/// Adds a new default version; first deletes the oldest non-default one when IAM's
/// limit of five is reached.
async fn new_default_version(aws: &Aws, arn: &str, want: &PolicyDocument) -> anyhow::Result<()> {
    let versions = all_versions(aws, arn).await?;
    if versions.len() >= MAX_VERSIONS {
        let oldest = versions
            .iter()
            .filter(|v| !v.is_default_version)
            .min_by_key(|v| v.create_date.map(|d| (d.secs(), d.subsec_nanos())))
            .and_then(|v| v.version_id.clone());
        if let Some(id) = oldest {
            aws.iam
                .delete_policy_version()
                .policy_arn(arn)
                .version_id(&id)
                .send()
                .await
                .ctx("DeletePolicyVersion", format!("{arn} {id}"))?;
        }
    }
    aws.iam
        .create_policy_version()
        .policy_arn(arn)
        .policy_document(doc::to_json(want))
        .set_as_default(true)
        .send()
        .await
        .ctx("CreatePolicyVersion", arn)
        .map_err(|e| administrators(e, "Changing the permissions boundary"))?;
    Ok(())
}

pub fn plan_destroy(t: &Target, live: &Option<Live>, _: DestroyOptions, plan: &mut Plan) {
    let what = format!("IAM policy {}", t.names.boundary);
    destroy_owned(
        t,
        live.as_ref(),
        ResourceKind::Boundary,
        &t.names.boundary,
        &what,
        plan,
    );
}

pub async fn delete(cx: &Ctx<'_>, live: &Option<Live>, plan: &Plan) -> anyhow::Result<()> {
    let Some(live) = live else { return Ok(()) };
    let name = &cx.target.names.boundary;
    cx.delete_step(
        plan,
        ResourceKind::Boundary,
        name,
        delete_policy(cx.aws, live),
    )
    .await
}

/// Deletes the policy: its non-default versions first, as IAM requires.
async fn delete_policy(aws: &Aws, live: &Live) -> anyhow::Result<()> {
    let versions = all_versions(aws, &live.arn).await?;
    for v in versions.iter().filter(|v| !v.is_default_version) {
        let id = v.version_id.clone().unwrap_or_default();
        aws.iam
            .delete_policy_version()
            .policy_arn(&live.arn)
            .version_id(&id)
            .send()
            .await
            .ctx("DeletePolicyVersion", format!("{} {id}", live.arn))?;
    }
    // Right after its role is deleted, IAM can still see the boundary in use.
    while_iam_settles("DeleteConflict", || async {
        aws.iam
            .delete_policy()
            .policy_arn(&live.arn)
            .send()
            .await
            .ctx("DeletePolicy", &live.arn)
    })
    .await
    .ignore_missing()
    .map_err(|e| administrators(e, "Deleting the permissions boundary"))?;
    Ok(())
}

/// Every version of the policy (the list is paged: IsTruncated + Marker).
async fn all_versions(aws: &Aws, arn: &str) -> anyhow::Result<Vec<PolicyVersion>> {
    Ok(aws
        .iam
        .list_policy_versions()
        .policy_arn(arn)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .ctx("ListPolicyVersions", arn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::resources::testing;

    #[test]
    fn a_changed_document_is_a_new_version_and_security_rows() {
        let t = testing::target();
        let mut live = Live {
            arn: t.names.boundary_arn(),
            document: desired(&t),
            tags: t.tags.clone(),
        };
        assert!(changes(&t, &live).is_empty());
        live.document = PolicyDocument::new(vec![]);
        assert_eq!(
            changes(&t, &live)
                .iter()
                .map(|c| c.field)
                .collect::<Vec<_>>(),
            [Field::Document]
        );
        let mut p = testing::plan(&t);
        plan(&t, &Some(live), &mut p);
        assert!(
            p.changes[0].fields()[0]
                .to_string()
                .starts_with("document 0 permissions → ")
        );
        assert!(
            p.security
                .iter()
                .all(|s| s.sign == crate::aws::plan::Sign::Add)
        );
    }
}
