//! A function whose creation failed cannot be fixed by an update: "When function
//! creation fails, Lambda sets the function state to failed, and you must delete
//! and recreate the function"
//! (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html). claw
//! plans a claw-owned function in `State: Failed` as a create that first deletes
//! it, and says so in the plan.

use std::time::{Duration, Instant};

use aws_sdk_lambda::types::State;

use crate::aws::Aws;
use crate::aws::error::{AwsErrorExt, AwsResultExt};

/// How long claw waits for a deleted function to be gone.
const GONE_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a function in this state must be replaced, if it must.
pub fn failed(state: Option<&State>, reason: &str) -> Option<String> {
    (state == Some(&State::Failed)).then(|| {
        let why = if reason.is_empty() {
            "no reason given".to_string()
        } else {
            reason.to_string()
        };
        format!(
            "replaces the function in state Failed ({why}): Lambda cannot update a function whose creation failed, so claw deletes it and creates it again"
        )
    })
}

/// Deletes the failed function and waits until Lambda no longer knows it.
pub async fn delete_failed(aws: &Aws, name: &str) -> anyhow::Result<()> {
    // A failed function refuses every update, so no VPC detach is tried first.
    super::destroy::delete_function(aws, name, false).await?;
    let started = Instant::now();
    loop {
        let got = aws
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .ctx("GetFunctionConfiguration", name)
            .optional()?;
        if got.is_none() {
            return Ok(());
        }
        if started.elapsed() > GONE_TIMEOUT {
            anyhow::bail!(
                "Lambda function {name} (state Failed) was deleted but is still there after {} s; run the deploy again",
                GONE_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
