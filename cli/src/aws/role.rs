//! The function's execution role: path `/claw/`, the trust policy, the permissions
//! boundary, one inline policy (`claw-execution`) and the tags.
//!
//! Other inline policies and attached managed policies on the role were added
//! outside claw: they are drift, reported in the security table and removed only
//! after approval.

use std::collections::BTreeMap;

use anyhow::Context as _;
use claw_spec::iam::PolicyDocument;
use claw_spec::names::IAM_PATH;
use claw_spec::policy;
use claw_spec::policy_diff;

use super::boundary::iam_tags;
use super::plan::{Action, FieldChange, Kind, Plan, ResourceChange, SecurityChange, Sign, TagDiff};
use super::progress::{Progress, step};
use super::stack::{Target, security_rows};
use super::{Aws, AwsResultExt, aws_error, doc, is_ours};

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub path: String,
    pub trust: PolicyDocument,
    pub boundary: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Every inline policy by name, `claw-execution` included.
    pub inline: BTreeMap<String, PolicyDocument>,
    /// Attached managed policies: (name, ARN).
    pub attached: Vec<(String, String)>,
}

pub fn desired_policy(t: &Target) -> PolicyDocument {
    policy::role(&t.config, &t.names)
}

pub fn desired_trust(t: &Target) -> PolicyDocument {
    policy::trust(&t.names)
}

fn no_such_entity<E>(e: &aws_sdk_iam::error::SdkError<E>) -> bool
where
    E: aws_sdk_iam::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .is_some_and(|s| s.code() == Some("NoSuchEntity"))
}

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Option<Live>> {
    let name = &t.names.role;
    let role = match aws.iam.get_role().role_name(name).send().await {
        Ok(o) => o.role.context("GetRole returned no role")?,
        Err(e) if no_such_entity(&e) => return Ok(None),
        Err(e) => return Err(aws_error("GetRole", name, e).into()),
    };
    let (names, attached) = futures::try_join!(
        async {
            aws.iam
                .list_role_policies()
                .role_name(name)
                .send()
                .await
                .ctx("ListRolePolicies", name)
                .map(|o| o.policy_names)
        },
        async {
            aws.iam
                .list_attached_role_policies()
                .role_name(name)
                .send()
                .await
                .ctx("ListAttachedRolePolicies", name)
                .map(|o| o.attached_policies.unwrap_or_default())
        }
    )?;
    let docs = futures::future::try_join_all(names.iter().map(|p| async move {
        let got = aws
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(p)
            .send()
            .await
            .ctx("GetRolePolicy", format!("{name} {p}"))?;
        let doc = doc::parse(
            &got.policy_document,
            &format!("inline policy {p} of role {name}"),
        )?;
        anyhow::Ok((p.clone(), doc))
    }))
    .await?;
    Ok(Some(Live {
        arn: role.arn.clone(),
        path: role.path.clone(),
        trust: doc::parse(
            role.assume_role_policy_document.as_deref().unwrap_or("{}"),
            &format!("trust policy of role {name}"),
        )?,
        boundary: role
            .permissions_boundary
            .and_then(|b| b.permissions_boundary_arn),
        tags: role
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect(),
        inline: docs.into_iter().collect(),
        attached: attached
            .into_iter()
            .map(|a| {
                (
                    a.policy_name.unwrap_or_default(),
                    a.policy_arn.unwrap_or_default(),
                )
            })
            .collect(),
    }))
}

pub fn plan(t: &Target, live: Option<&Live>, plan: &mut Plan) {
    let name = &t.names.role;
    let policy_name = &t.names.role_policy;
    let want = desired_policy(t);
    let res_policy = format!("role {name} policy {policy_name}");
    let Some(live) = live else {
        plan.push(ResourceChange::new(Kind::Role, name, Action::Create));
        plan.security.extend(security_rows(
            &format!("role {name} trust"),
            &policy_diff::diff(&PolicyDocument::new(vec![]), &desired_trust(t)),
            false,
        ));
        plan.security.extend(security_rows(
            &res_policy,
            &policy_diff::diff(&PolicyDocument::new(vec![]), &want),
            false,
        ));
        return;
    };
    if !is_ours(&live.tags, &t.config) {
        plan.blockers.push(format!(
            "IAM role {} exists but is not tagged claw:app={} claw:stage={}; claw does not touch resources it did not create (delete or rename it)",
            live.arn, t.config.app, t.config.stage
        ));
        return;
    }
    if live.path != IAM_PATH {
        plan.blockers.push(format!(
            "IAM role {} is under path {} instead of {IAM_PATH}; a role's path cannot change: delete the role and deploy again",
            live.arn, live.path
        ));
        return;
    }
    let mut fields = Vec::new();
    let trust = policy_diff::diff(&live.trust, &desired_trust(t));
    if !trust.is_empty() {
        fields.push(FieldChange::new(
            "trust_policy",
            format!("-{}", trust.removed.len()),
            format!("+{}", trust.added.len()),
        ));
        plan.security
            .extend(security_rows(&format!("role {name} trust"), &trust, false));
    }
    let boundary = t.names.boundary_arn();
    if live.boundary.as_deref() != Some(boundary.as_str()) {
        fields.push(FieldChange::new(
            "permissions_boundary",
            live.boundary.clone().unwrap_or_else(|| "(none)".into()),
            &boundary,
        ));
    }
    let empty = PolicyDocument::new(vec![]);
    let current = live.inline.get(policy_name).unwrap_or(&empty);
    let change = policy_diff::diff(current, &want);
    if !change.is_empty() {
        fields.push(FieldChange::new(
            &format!("policy {policy_name}"),
            format!("-{}", change.removed.len()),
            format!("+{}", change.added.len()),
        ));
        plan.security
            .extend(security_rows(&res_policy, &change, false));
    }
    for (other, doc) in live.inline.iter().filter(|(n, _)| *n != policy_name) {
        fields.push(FieldChange::new(
            &format!("inline policy {other}"),
            "present",
            "(deleted)",
        ));
        plan.security.extend(security_rows(
            &format!("role {name} policy {other}"),
            &policy_diff::diff(doc, &empty),
            true,
        ));
    }
    for (pname, parn) in &live.attached {
        fields.push(FieldChange::new(
            &format!("managed policy {pname}"),
            "attached",
            "(detached)",
        ));
        plan.security.push(SecurityChange {
            sign: Sign::Remove,
            resource: format!("role {name}"),
            what: format!("managed policy {parn}"),
            broadens: false,
            drift: true,
        });
    }
    fields.extend(TagDiff::field(&live.tags, &t.tags));
    plan.push(ResourceChange::new(
        Kind::Role,
        name,
        Action::update(fields),
    ));
}

pub async fn apply(
    aws: &Aws,
    t: &Target,
    live: Option<&Live>,
    plan: &Plan,
    progress: &Progress,
) -> anyhow::Result<()> {
    let name = &t.names.role;
    let what = format!("{} {name}", Kind::Role.label());
    let policy_name = &t.names.role_policy;
    match plan.action(Kind::Role, name) {
        Action::Create => {
            step(progress, "creating", "created", &what, async {
                aws.iam
                    .create_role()
                    .role_name(name)
                    .path(IAM_PATH)
                    .description(format!(
                        "claw: execution role of the {} function",
                        t.names.function
                    ))
                    .assume_role_policy_document(doc::to_json(&desired_trust(t)))
                    .permissions_boundary(t.names.boundary_arn())
                    .set_tags(Some(iam_tags(&t.tags)))
                    .send()
                    .await
                    .ctx("CreateRole", name)?;
                put_policy(aws, t).await
            })
            .await
        }
        Action::Update { fields } => {
            let live = live.context("role update without live state")?;
            step(progress, "updating", "updated", &what, async {
                let has = |f: &str| fields.iter().any(|c| c.field == f);
                if has("permissions_boundary") {
                    aws.iam
                        .put_role_permissions_boundary()
                        .role_name(name)
                        .permissions_boundary(t.names.boundary_arn())
                        .send()
                        .await
                        .ctx("PutRolePermissionsBoundary", name)?;
                }
                if has("trust_policy") {
                    aws.iam
                        .update_assume_role_policy()
                        .role_name(name)
                        .policy_document(doc::to_json(&desired_trust(t)))
                        .send()
                        .await
                        .ctx("UpdateAssumeRolePolicy", name)?;
                }
                if has(&format!("policy {policy_name}")) {
                    put_policy(aws, t).await?;
                }
                for other in live.inline.keys().filter(|n| *n != policy_name) {
                    aws.iam
                        .delete_role_policy()
                        .role_name(name)
                        .policy_name(other)
                        .send()
                        .await
                        .ctx("DeleteRolePolicy", format!("{name} {other}"))?;
                }
                for (_, parn) in &live.attached {
                    aws.iam
                        .detach_role_policy()
                        .role_name(name)
                        .policy_arn(parn)
                        .send()
                        .await
                        .ctx("DetachRolePolicy", format!("{name} {parn}"))?;
                }
                let tags = TagDiff::between(&live.tags, &t.tags);
                if !tags.set.is_empty() {
                    aws.iam
                        .tag_role()
                        .role_name(name)
                        .set_tags(Some(iam_tags(&tags.set)))
                        .send()
                        .await
                        .ctx("TagRole", name)?;
                }
                if !tags.remove.is_empty() {
                    aws.iam
                        .untag_role()
                        .role_name(name)
                        .set_tag_keys(Some(tags.remove.clone()))
                        .send()
                        .await
                        .ctx("UntagRole", name)?;
                }
                Ok(())
            })
            .await
        }
        Action::Delete | Action::NoChange => Ok(()),
    }
}

async fn put_policy(aws: &Aws, t: &Target) -> anyhow::Result<()> {
    let name = &t.names.role;
    aws.iam
        .put_role_policy()
        .role_name(name)
        .policy_name(&t.names.role_policy)
        .policy_document(doc::to_json(&desired_policy(t)))
        .send()
        .await
        .ctx("PutRolePolicy", format!("{name} {}", t.names.role_policy))?;
    Ok(())
}

/// Deletes the role: inline policies and attachments first, as IAM requires.
pub async fn delete(aws: &Aws, name: &str, live: &Live) -> anyhow::Result<()> {
    for p in live.inline.keys() {
        match aws
            .iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(p)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if no_such_entity(&e) => {}
            Err(e) => return Err(aws_error("DeleteRolePolicy", format!("{name} {p}"), e).into()),
        }
    }
    for (_, parn) in &live.attached {
        match aws
            .iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(parn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if no_such_entity(&e) => {}
            Err(e) => return Err(aws_error("DetachRolePolicy", format!("{name} {parn}"), e).into()),
        }
    }
    match aws.iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if no_such_entity(&e) => Ok(()),
        Err(e) => Err(aws_error("DeleteRole", name, e).into()),
    }
}
