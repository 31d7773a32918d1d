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

mod delete;
mod list;

pub use list::{inline_policy, listed};

use super::{Ctx, DestroyOptions, Tagged, destroy_owned};
use crate::aws::error::{AwsResultExt, administrators};
use crate::aws::ownership::{foreign_blocker, iam_tags, is_ours};
use crate::aws::plan::{
    Action, Changed, Plan, ResourceChange, ResourceKind, SecurityChange, Sign, TagDiff, update_of,
};
use crate::aws::progress::step;
use crate::aws::propagation::while_iam_settles;
use crate::aws::target::Target;
use crate::aws::{Aws, doc};

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

impl Tagged for Live {
    fn tags(&self) -> &BTreeMap<String, String> {
        &self.tags
    }
}

/// The role claw wants: its trust policy and its one inline policy.
#[derive(Debug, Clone)]
pub struct Desired {
    pub trust: PolicyDocument,
    pub policy: PolicyDocument,
}

pub fn desired(t: &Target) -> Desired {
    Desired {
        trust: desired_trust(t),
        policy: desired_policy(t),
    }
}

pub fn desired_policy(t: &Target) -> PolicyDocument {
    policy::role(&t.config, &t.names)
}

pub fn desired_trust(t: &Target) -> PolicyDocument {
    policy::trust(&t.names)
}

/// Why an existing role cannot be taken over, if it cannot: another stack's (or
/// nobody's) tags, or a path other than claw's, which IAM cannot change. `again`
/// is the command to run after deleting it (`deploy again`, `run claw bootstrap again`).
pub fn not_adoptable(
    t: &Target,
    arn: &str,
    path: &str,
    tags: &BTreeMap<String, String>,
    again: &str,
) -> Option<String> {
    if !is_ours(tags, &t.config) {
        return Some(foreign_blocker(
            &format!("IAM role {arn} exists"),
            &t.config,
        ));
    }
    (path != IAM_PATH).then(|| {
        format!(
            "IAM role {arn} is under path {path} instead of {IAM_PATH}; a role's path cannot change: delete the role and {again}"
        )
    })
}

pub async fn read(aws: &Aws, t: &Target) -> anyhow::Result<Option<Live>> {
    let Some(role) = listed(aws, &t.names.role).await? else {
        return Ok(None);
    };
    let name = role.name.as_str();
    let docs = futures::future::try_join_all(role.inline.iter().map(|p| async move {
        let doc = inline_policy(aws, name, p).await?;
        anyhow::Ok((p.clone(), doc))
    }))
    .await?;
    Ok(Some(Live {
        arn: role.arn,
        path: role.path,
        trust: role.trust,
        boundary: role.boundary,
        tags: role.tags,
        inline: docs.into_iter().collect(),
        attached: role.attached,
    }))
}

/// The role's updatable attributes.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Trust,
    Boundary,
    /// claw's inline policy.
    Policy(String),
    /// Another inline policy, added outside claw: deleted.
    InlinePolicy(String),
    /// An attached managed policy, added outside claw: detached.
    ManagedPolicy {
        name: String,
        arn: String,
    },
    Tags,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::Trust => "trust_policy".into(),
            Field::Boundary => "permissions_boundary".into(),
            Field::Policy(name) => format!("policy {name}"),
            Field::InlinePolicy(name) => format!("inline policy {name}"),
            Field::ManagedPolicy { name, .. } => format!("managed policy {name}"),
            Field::Tags => "tags".into(),
        }
    }
}

/// What an update of a live role changes, in the order apply makes the calls.
pub fn changes(t: &Target, live: &Live) -> Vec<Changed<Field>> {
    let want = desired(t);
    let policy_name = &t.names.role_policy;
    let mut out = Vec::new();
    let trust = policy_diff::diff(&live.trust, &want.trust);
    if !trust.is_empty() {
        out.push(Changed::new(
            Field::Trust,
            format!("-{}", trust.removed.len()),
            format!("+{}", trust.added.len()),
        ));
    }
    let boundary = t.names.boundary_arn();
    if live.boundary.as_deref() != Some(boundary.as_str()) {
        out.push(Changed::new(
            Field::Boundary,
            live.boundary.clone().unwrap_or_else(|| "(none)".into()),
            &boundary,
        ));
    }
    let empty = PolicyDocument::new(vec![]);
    let current = live.inline.get(policy_name).unwrap_or(&empty);
    let change = policy_diff::diff(current, &want.policy);
    if !change.is_empty() {
        out.push(Changed::new(
            Field::Policy(policy_name.clone()),
            format!("-{}", change.removed.len()),
            format!("+{}", change.added.len()),
        ));
    }
    for other in live.inline.keys().filter(|n| *n != policy_name) {
        out.push(Changed::new(
            Field::InlinePolicy(other.clone()),
            "present",
            "(deleted)",
        ));
    }
    for (name, arn) in &live.attached {
        out.push(Changed::new(
            Field::ManagedPolicy {
                name: name.clone(),
                arn: arn.clone(),
            },
            "attached",
            "(detached)",
        ));
    }
    out.extend(Changed::tags(Field::Tags, &live.tags, &t.tags));
    out
}

pub fn plan(t: &Target, live: &Option<Live>, plan: &mut Plan) {
    let name = &t.names.role;
    let policy_name = &t.names.role_policy;
    let want = desired(t);
    let res_policy = format!("role {name} policy {policy_name}");
    let empty = PolicyDocument::new(vec![]);
    let Some(live) = live else {
        plan.push(ResourceChange::new(
            ResourceKind::Role,
            name,
            Action::Create,
        ));
        plan.security.extend(SecurityChange::from_policy_change(
            &format!("role {name} trust"),
            &policy_diff::diff(&empty, &want.trust),
            false,
        ));
        plan.security.extend(SecurityChange::from_policy_change(
            &res_policy,
            &policy_diff::diff(&empty, &want.policy),
            false,
        ));
        return;
    };
    if let Some(blocker) = not_adoptable(t, &live.arn, &live.path, &live.tags, "deploy again") {
        plan.blockers.push(blocker);
        return;
    }
    plan.security.extend(SecurityChange::from_policy_change(
        &format!("role {name} trust"),
        &policy_diff::diff(&live.trust, &want.trust),
        false,
    ));
    let current = live.inline.get(policy_name).unwrap_or(&empty);
    plan.security.extend(SecurityChange::from_policy_change(
        &res_policy,
        &policy_diff::diff(current, &want.policy),
        false,
    ));
    for (other, doc) in live.inline.iter().filter(|(n, _)| *n != policy_name) {
        plan.security.extend(SecurityChange::from_policy_change(
            &format!("role {name} policy {other}"),
            &policy_diff::diff(doc, &empty),
            true,
        ));
    }
    for (_, parn) in &live.attached {
        plan.security.push(SecurityChange {
            sign: Sign::Remove,
            resource: format!("role {name}"),
            what: format!("managed policy {parn}"),
            broadens: false,
            drift: true,
        });
    }
    plan.push(ResourceChange::new(
        ResourceKind::Role,
        name,
        update_of(&changes(t, live)),
    ));
}

pub async fn apply(cx: &Ctx<'_>, live: &Option<Live>, plan: &Plan) -> anyhow::Result<()> {
    let (aws, t, progress) = (cx.aws, cx.target, cx.progress);
    let name = &t.names.role;
    let what = format!("{} {name}", ResourceKind::Role.label());
    match plan.action(ResourceKind::Role, name) {
        Action::Create => {
            step(progress, "creating", "created", &what, async {
                // A boundary created a second ago can still be NoSuchEntity.
                while_iam_settles("NoSuchEntity", || async {
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
                        .ctx("CreateRole", name)
                })
                .await
                .map_err(|e| administrators(e, "Creating the execution role"))?;
                put_policy(aws, t).await
            })
            .await
        }
        Action::Update { .. } => {
            let live = live.as_ref().context("role update without live state")?;
            step(progress, "updating", "updated", &what, update(cx, live)).await
        }
        Action::Delete | Action::NoChange => Ok(()),
    }
}

/// Applies a live role's changes: the boundary first (it limits everything
/// else), then trust, claw's policy, drift removal and tags.
async fn update(cx: &Ctx<'_>, live: &Live) -> anyhow::Result<()> {
    let (aws, t) = (cx.aws, cx.target);
    let name = &t.names.role;
    let (mut boundary, mut trust, mut policy, mut tags) = (false, false, false, false);
    let (mut inline, mut managed) = (Vec::new(), Vec::new());
    for c in changes(t, live) {
        match c.field {
            Field::Trust => trust = true,
            Field::Boundary => boundary = true,
            Field::Policy(_) => policy = true,
            Field::InlinePolicy(p) => inline.push(p),
            Field::ManagedPolicy { arn, .. } => managed.push(arn),
            Field::Tags => tags = true,
        }
    }
    if boundary {
        while_iam_settles("NoSuchEntity", || async {
            aws.iam
                .put_role_permissions_boundary()
                .role_name(name)
                .permissions_boundary(t.names.boundary_arn())
                .send()
                .await
                .ctx("PutRolePermissionsBoundary", name)
        })
        .await
        .map_err(|e| administrators(e, "Replacing the execution role's boundary"))?;
    }
    if trust {
        aws.iam
            .update_assume_role_policy()
            .role_name(name)
            .policy_document(doc::to_json(&desired_trust(t)))
            .send()
            .await
            .ctx("UpdateAssumeRolePolicy", name)
            .map_err(|e| administrators(e, "Changing who may assume the execution role"))?;
    }
    if policy {
        put_policy(aws, t).await?;
    }
    delete::remove_policies(aws, name, inline.iter(), managed.iter()).await?;
    if tags {
        retag(aws, name, &live.tags, &t.tags).await?;
    }
    Ok(())
}

/// Brings a role's tags from `live` to `want`: TagRole for what is new or
/// changed, UntagRole for what is gone (bootstrap's CI roles too).
pub async fn retag(
    aws: &Aws,
    name: &str,
    live: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let diff = TagDiff::between(live, want);
    if !diff.set.is_empty() {
        aws.iam
            .tag_role()
            .role_name(name)
            .set_tags(Some(iam_tags(&diff.set)))
            .send()
            .await
            .ctx("TagRole", name)?;
    }
    if !diff.remove.is_empty() {
        aws.iam
            .untag_role()
            .role_name(name)
            .set_tag_keys(Some(diff.remove.clone()))
            .send()
            .await
            .ctx("UntagRole", name)?;
    }
    Ok(())
}

async fn put_policy(aws: &Aws, t: &Target) -> anyhow::Result<()> {
    let name = &t.names.role;
    // A role created a second ago can still be NoSuchEntity.
    while_iam_settles("NoSuchEntity", || async {
        aws.iam
            .put_role_policy()
            .role_name(name)
            .policy_name(&t.names.role_policy)
            .policy_document(doc::to_json(&desired_policy(t)))
            .send()
            .await
            .ctx("PutRolePolicy", format!("{name} {}", t.names.role_policy))
    })
    .await?;
    Ok(())
}

pub fn plan_destroy(t: &Target, live: &Option<Live>, _: DestroyOptions, plan: &mut Plan) {
    let what = format!("IAM role {}", t.names.role);
    destroy_owned(
        t,
        live.as_ref(),
        ResourceKind::Role,
        &t.names.role,
        &what,
        plan,
    );
}

pub async fn delete(cx: &Ctx<'_>, live: &Option<Live>, plan: &Plan) -> anyhow::Result<()> {
    let Some(live) = live else { return Ok(()) };
    let name = &cx.target.names.role;
    cx.delete_step(
        plan,
        ResourceKind::Role,
        name,
        delete::delete_role(
            cx.aws,
            name,
            live.inline.keys(),
            live.attached.iter().map(|(_, arn)| arn),
        ),
    )
    .await
}

#[cfg(test)]
mod tests;
