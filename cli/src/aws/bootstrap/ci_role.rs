//! A CI role `claw bootstrap` makes: path `/claw/`, a trust that admits GitHub
//! Actions' OIDC tokens of one repository, one inline policy (`claw-deployer` or
//! `claw-plan`) and claw's tags. Inline, because the deployer policy passes the
//! 6,144 characters of a managed policy (an inline policy may have 10,240).
//!
//! Other policies on the role were attached by someone else: they are reported
//! and left alone (an administrator may want them there).

use std::collections::BTreeMap;

use anyhow::Context as _;
use claw_spec::iam::PolicyDocument;
use claw_spec::names::IAM_PATH;
use claw_spec::policy_diff;

use crate::aws::error::AwsResultExt;
use crate::aws::ownership::iam_tags;
use crate::aws::plan::{
    Action, Changed, Plan, ResourceChange, ResourceKind, SecurityChange, Sign, update_of,
};
use crate::aws::progress::{ApplyProgress, step};
use crate::aws::propagation::while_iam_settles;
use crate::aws::resources::role;
use crate::aws::target::Target;
use crate::aws::{Aws, doc};

/// One CI role as claw wants it.
#[derive(Debug, Clone)]
pub struct Desired {
    pub name: String,
    pub arn: String,
    /// The inline policy's name.
    pub policy_name: String,
    /// `claw policy show --kind KIND`, for the plan's words.
    pub kind: &'static str,
    pub description: String,
    pub trust: PolicyDocument,
    pub policy: PolicyDocument,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub path: String,
    pub trust: PolicyDocument,
    pub tags: BTreeMap<String, String>,
    /// claw's inline policy, when there is one.
    pub policy: Option<PolicyDocument>,
    /// Other inline policies and attached managed policies (names, ARNs).
    pub others: Vec<String>,
}

pub async fn read(aws: &Aws, want: &Desired) -> anyhow::Result<Option<Live>> {
    let Some(role) = role::listed(aws, &want.name).await? else {
        return Ok(None);
    };
    let policy = if role.inline.contains(&want.policy_name) {
        Some(role::inline_policy(aws, &want.name, &want.policy_name).await?)
    } else {
        None
    };
    let mut others: Vec<String> = role
        .inline
        .into_iter()
        .filter(|p| *p != want.policy_name)
        .map(|p| format!("inline policy {p}"))
        .collect();
    others.extend(
        role.attached
            .into_iter()
            .map(|(_, arn)| format!("managed policy {arn}")),
    );
    Ok(Some(Live {
        arn: role.arn,
        path: role.path,
        trust: role.trust,
        tags: role.tags,
        policy,
        others,
    }))
}

/// A CI role's updatable attributes.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Trust,
    Policy(String),
    Tags,
}

impl crate::aws::plan::Field for Field {
    fn label(&self) -> String {
        match self {
            Field::Trust => "trust_policy".into(),
            Field::Policy(name) => format!("policy {name}"),
            Field::Tags => "tags".into(),
        }
    }
}

pub fn changes(t: &Target, want: &Desired, live: &Live) -> Vec<Changed<Field>> {
    let mut out = Vec::new();
    let trust = policy_diff::diff(&live.trust, &want.trust);
    if !trust.is_empty() {
        out.push(Changed::new(
            Field::Trust,
            format!("-{}", trust.removed.len()),
            format!("+{}", trust.added.len()),
        ));
    }
    let empty = PolicyDocument::new(vec![]);
    let policy = policy_diff::diff(live.policy.as_ref().unwrap_or(&empty), &want.policy);
    if !policy.is_empty() {
        out.push(Changed::new(
            Field::Policy(want.policy_name.clone()),
            format!("-{}", policy.removed.len()),
            format!("+{}", policy.added.len()),
        ));
    }
    out.extend(Changed::tags(Field::Tags, &live.tags, &t.tags));
    out
}

/// The security rows of a CI role: who may assume it, row by row; what it may
/// do, in one row per direction (the deployer policy is long, and shown in full
/// by `claw policy show`).
fn security(want: &Desired, live: Option<&Live>, plan: &mut Plan) {
    let empty = PolicyDocument::new(vec![]);
    let trust = live.map_or(&empty, |l| &l.trust);
    plan.security.extend(SecurityChange::from_policy_change(
        &format!("role {} trust", want.name),
        &policy_diff::diff(trust, &want.trust),
        false,
    ));
    let current = live.and_then(|l| l.policy.as_ref()).unwrap_or(&empty);
    let change = policy_diff::diff(current, &want.policy);
    let resource = format!("role {} policy {}", want.name, want.policy_name);
    let see = format!("(claw policy show --kind {})", want.kind);
    if !change.added.is_empty() {
        plan.security.push(SecurityChange {
            sign: Sign::Add,
            resource: resource.clone(),
            what: format!("{} permissions {see}", change.added.len()),
            broadens: true,
            drift: false,
        });
    }
    if !change.removed.is_empty() {
        plan.security.push(SecurityChange {
            sign: Sign::Remove,
            resource,
            what: format!("{} permissions {see}", change.removed.len()),
            broadens: false,
            drift: false,
        });
    }
}

pub fn plan(t: &Target, want: &Desired, live: &Option<Live>, plan: &mut Plan) {
    let Some(live) = live else {
        plan.push(ResourceChange::new(
            ResourceKind::CiRole,
            &want.name,
            Action::Create,
        ));
        security(want, None, plan);
        return;
    };
    if let Some(blocker) = role::not_adoptable(
        t,
        &live.arn,
        &live.path,
        &live.tags,
        "run claw bootstrap again",
    ) {
        plan.blockers.push(blocker);
        return;
    }
    for other in &live.others {
        plan.notes.push(format!(
            "role {} also has {other}, attached outside claw: left as it is",
            want.name
        ));
    }
    security(want, Some(live), plan);
    plan.push(ResourceChange::new(
        ResourceKind::CiRole,
        &want.name,
        update_of(&changes(t, want, live)),
    ));
}

pub async fn apply(
    aws: &Aws,
    t: &Target,
    progress: &ApplyProgress,
    want: &Desired,
    live: &Option<Live>,
    plan: &Plan,
) -> anyhow::Result<()> {
    let name = &want.name;
    let what = format!("{} {name}", ResourceKind::CiRole.label());
    match plan.action(ResourceKind::CiRole, name) {
        Action::Create => {
            step(progress, "creating", "created", &what, async {
                // A provider created a second ago can still be unknown to IAM,
                // which then refuses the trust as naming an invalid principal.
                while_iam_settles("MalformedPolicyDocument", || async {
                    aws.iam
                        .create_role()
                        .role_name(name)
                        .path(IAM_PATH)
                        .description(&want.description)
                        .assume_role_policy_document(doc::to_json(&want.trust))
                        .set_tags(Some(iam_tags(&t.tags)))
                        .send()
                        .await
                        .ctx("CreateRole", name)
                })
                .await?;
                put_policy(aws, want).await
            })
            .await
        }
        Action::Update { .. } => {
            let live = live.as_ref().context("CI role update without live state")?;
            step(progress, "updating", "updated", &what, async {
                for c in changes(t, want, live) {
                    match c.field {
                        Field::Trust => {
                            aws.iam
                                .update_assume_role_policy()
                                .role_name(name)
                                .policy_document(doc::to_json(&want.trust))
                                .send()
                                .await
                                .ctx("UpdateAssumeRolePolicy", name)?;
                        }
                        Field::Policy(_) => put_policy(aws, want).await?,
                        Field::Tags => role::retag(aws, name, &live.tags, &t.tags).await?,
                    }
                }
                Ok(())
            })
            .await
        }
        Action::Delete | Action::NoChange => Ok(()),
    }
}

async fn put_policy(aws: &Aws, want: &Desired) -> anyhow::Result<()> {
    let name = &want.name;
    // A role created a second ago can still be NoSuchEntity.
    while_iam_settles("NoSuchEntity", || async {
        aws.iam
            .put_role_policy()
            .role_name(name)
            .policy_name(&want.policy_name)
            .policy_document(doc::to_json(&want.policy))
            .send()
            .await
            .ctx("PutRolePolicy", format!("{name} {}", want.policy_name))
    })
    .await?;
    Ok(())
}
