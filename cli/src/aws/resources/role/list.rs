//! Reading a role as IAM lists it, shared by the execution role and bootstrap's
//! CI roles.

use std::collections::BTreeMap;

use anyhow::Context as _;
use claw_spec::iam::PolicyDocument;

use crate::aws::error::{AwsErrorExt, AwsResultExt};
use crate::aws::{Aws, doc};

/// A role as IAM lists it: GetRole, and every page of its inline policies' names
/// and of its attached managed policies. Bootstrap's CI roles are read the same way.
pub struct Listed {
    pub name: String,
    pub arn: String,
    pub path: String,
    /// The trust policy, parsed.
    pub trust: PolicyDocument,
    pub boundary: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Inline policies' names.
    pub inline: Vec<String>,
    /// Attached managed policies: (name, ARN).
    pub attached: Vec<(String, String)>,
}

/// The role `name`, or `None` when it does not exist.
pub async fn listed(aws: &Aws, name: &str) -> anyhow::Result<Option<Listed>> {
    let Some(got) = aws
        .iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .ctx("GetRole", name)
        .optional()?
    else {
        return Ok(None);
    };
    let role = got.role.context("GetRole returned no role")?;
    // Both lists are paged (IsTruncated + Marker): every page is read.
    let (inline, attached) = futures::try_join!(
        async {
            aws.iam
                .list_role_policies()
                .role_name(name)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .ctx("ListRolePolicies", name)
        },
        async {
            aws.iam
                .list_attached_role_policies()
                .role_name(name)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .ctx("ListAttachedRolePolicies", name)
        }
    )?;
    Ok(Some(Listed {
        name: name.to_string(),
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
        inline,
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

/// One inline policy of a role, parsed.
pub async fn inline_policy(aws: &Aws, role: &str, policy: &str) -> anyhow::Result<PolicyDocument> {
    let got = aws
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await
        .ctx("GetRolePolicy", format!("{role} {policy}"))?;
    doc::parse(
        &got.policy_document,
        &format!("inline policy {policy} of role {role}"),
    )
}
