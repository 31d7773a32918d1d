//! Destroying the function. A VPC function is first detached from its VPC and
//! the detach awaited: Lambda's Hyperplane network interfaces otherwise outlive
//! the function for many minutes, and deleting the user's subnets or security
//! groups meanwhile fails with `DependencyViolation`. terraform-provider-aws does
//! the same (`replace_security_groups_on_destroy`, hashicorp/terraform-provider-aws
//! PR 37624; "Updated handling for Lambda Hyperplane ENIs").

use aws_sdk_lambda::types::VpcConfig;

use super::ready::{wait_applied, wait_until_changeable};
use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt};

/// The note on the function's delete when it is attached to a VPC.
pub const DETACH_NOTE: &str = "detached from its VPC first (UpdateFunctionConfiguration with no subnets or security groups), so its network interfaces go with it";

/// Deletes the function, first detaching it from its VPC when `detach` says it
/// is in one, and waiting until the detach is applied.
pub async fn delete_function(aws: &Aws, name: &str, detach: bool) -> anyhow::Result<()> {
    if detach {
        wait_until_changeable(aws, name).await?;
        let gone = aws
            .lambda
            .update_function_configuration()
            .function_name(name)
            .vpc_config(
                VpcConfig::builder()
                    .set_subnet_ids(Some(Vec::new()))
                    .set_security_group_ids(Some(Vec::new()))
                    .build(),
            )
            .send()
            .await
            .ctx("UpdateFunctionConfiguration (detach from the VPC)", name)
            .optional()?
            .is_none();
        if !gone {
            wait_applied(aws, name).await?;
        }
    }
    aws.lambda
        .delete_function()
        .function_name(name)
        .send()
        .await
        .ctx("DeleteFunction", name)
        .ignore_missing()?;
    Ok(())
}
