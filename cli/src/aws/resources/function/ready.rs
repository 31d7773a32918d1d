//! Lambda applies changes asynchronously and refuses a second change while one
//! is in progress: every change waits here until the function is ready again.

use std::time::{Duration, Instant};

use aws_sdk_lambda::types::{LastUpdateStatus, State};

use crate::aws::Aws;
use crate::aws::error::AwsResultExt;

/// How long claw waits for Lambda to finish one change.
const READY_TIMEOUT: Duration = Duration::from_secs(600);

/// Polls GetFunctionConfiguration until the function is Active and its last update
/// Successful; a Failed state is an error carrying Lambda's reason.
pub async fn wait_ready(aws: &Aws, name: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        let c = aws
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .ctx("GetFunctionConfiguration", name)?;
        let state = c.state.clone();
        let update = c.last_update_status.clone();
        if state == Some(State::Failed) {
            anyhow::bail!(
                "Lambda function {name} is in state Failed: {}",
                c.state_reason.unwrap_or_default()
            );
        }
        if update == Some(LastUpdateStatus::Failed) {
            anyhow::bail!(
                "the last update of Lambda function {name} failed: {}",
                c.last_update_status_reason.unwrap_or_default()
            );
        }
        let active = state.is_none() || state == Some(State::Active);
        let updated = update.is_none() || update == Some(LastUpdateStatus::Successful);
        if active && updated {
            return Ok(());
        }
        if started.elapsed() > READY_TIMEOUT {
            anyhow::bail!(
                "Lambda function {name} is still {:?}/{:?} after {} s",
                state,
                update,
                READY_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(3));
    }
}
