//! Deleting the role: IAM requires its inline policies and attachments gone first.

use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt, administrators};
use crate::aws::propagation::while_iam_settles;

/// Removes inline policies and detaches managed ones (already gone is fine):
/// drift removal, and what IAM requires before DeleteRole.
pub async fn remove_policies(
    aws: &Aws,
    name: &str,
    inline: impl Iterator<Item = &String>,
    attached: impl Iterator<Item = &String>,
) -> anyhow::Result<()> {
    for p in inline {
        aws.iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(p)
            .send()
            .await
            .ctx("DeleteRolePolicy", format!("{name} {p}"))
            .ignore_missing()?;
    }
    for parn in attached {
        aws.iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(parn)
            .send()
            .await
            .ctx("DetachRolePolicy", format!("{name} {parn}"))
            .ignore_missing()?;
    }
    Ok(())
}

/// Deletes the role: inline policies and attachments first, as IAM requires.
pub async fn delete_role(
    aws: &Aws,
    name: &str,
    inline: impl Iterator<Item = &String>,
    attached: impl Iterator<Item = &String>,
) -> anyhow::Result<()> {
    remove_policies(aws, name, inline, attached).await?;
    // Right after DeleteRolePolicy, IAM can still answer DeleteConflict.
    while_iam_settles("DeleteConflict", || async {
        aws.iam
            .delete_role()
            .role_name(name)
            .send()
            .await
            .ctx("DeleteRole", name)
    })
    .await
    .ignore_missing()
    .map_err(|e| administrators(e, "Deleting the execution role"))?;
    Ok(())
}
