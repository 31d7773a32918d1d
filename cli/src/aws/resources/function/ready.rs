//! Lambda applies changes asynchronously and refuses a second change while one
//! is in progress (ResourceConflictException). claw waits here, reading the
//! states as AWS documents them
//! (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html):
//! - before a change, it waits only while the function is `Pending` or its last
//!   update is `InProgress`. An `Inactive` function leaves that state only when it
//!   is invoked or updated, so waiting for `Active` would wait forever; a
//!   `LastUpdateStatus: Failed` leaves the old configuration in place, and the
//!   deploy that carries the fix must be able to send it;
//! - after a change, it waits until the change is applied, and reports a `Failed`
//!   state or update with Lambda's reason.

use std::time::{Duration, Instant};

use aws_sdk_lambda::types::{LastUpdateStatus, State};

use crate::aws::Aws;
use crate::aws::error::AwsResultExt;

/// How long claw waits for Lambda to finish one change.
const READY_TIMEOUT: Duration = Duration::from_secs(600);

/// What a state means for the next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Go on.
    Ready,
    /// Lambda is still applying something: ask again.
    Busy,
    /// The last change failed; the message says how.
    Failed(String),
}

/// Whether a change may be sent to a function in this state.
pub fn before_change(state: Option<&State>, update: Option<&LastUpdateStatus>) -> Readiness {
    if state == Some(&State::Pending) || update == Some(&LastUpdateStatus::InProgress) {
        Readiness::Busy
    } else {
        Readiness::Ready
    }
}

/// Whether the change just sent is applied.
pub fn after_change(
    state: Option<&State>,
    update: Option<&LastUpdateStatus>,
    reasons: (&str, &str),
) -> Readiness {
    if state == Some(&State::Failed) {
        return Readiness::Failed(format!("the function is in state Failed: {}", reasons.0));
    }
    if update == Some(&LastUpdateStatus::Failed) {
        return Readiness::Failed(format!("the update failed: {}", reasons.1));
    }
    before_change(state, update)
}

/// Waits until a change may be sent (see the module doc).
pub async fn wait_until_changeable(aws: &Aws, name: &str) -> anyhow::Result<()> {
    poll(aws, name, |c| {
        before_change(c.state.as_ref(), c.last_update_status.as_ref())
    })
    .await
}

/// Waits until the change just sent is applied; a failure carries Lambda's reason.
pub async fn wait_applied(aws: &Aws, name: &str) -> anyhow::Result<()> {
    poll(aws, name, |c| {
        after_change(
            c.state.as_ref(),
            c.last_update_status.as_ref(),
            (
                c.state_reason.as_deref().unwrap_or_default(),
                c.last_update_status_reason.as_deref().unwrap_or_default(),
            ),
        )
    })
    .await
}

async fn poll(
    aws: &Aws,
    name: &str,
    judge: impl Fn(
        &aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput,
    ) -> Readiness,
) -> anyhow::Result<()> {
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
        match judge(&c) {
            Readiness::Ready => return Ok(()),
            Readiness::Failed(why) => anyhow::bail!("Lambda function {name}: {why}"),
            Readiness::Busy if started.elapsed() > READY_TIMEOUT => anyhow::bail!(
                "Lambda function {name} is still {:?}/{:?} after {} s",
                c.state,
                c.last_update_status,
                READY_TIMEOUT.as_secs()
            ),
            Readiness::Busy => {}
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(3));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inactive_or_failed_update_function_can_take_the_fix() {
        // Waiting for Active before updating an Inactive function never ends.
        assert_eq!(
            before_change(Some(&State::Inactive), None),
            Readiness::Ready
        );
        // The deploy that carries the fix for a failed update must be sent.
        assert_eq!(
            before_change(Some(&State::Active), Some(&LastUpdateStatus::Failed)),
            Readiness::Ready
        );
        assert_eq!(before_change(Some(&State::Pending), None), Readiness::Busy);
        assert_eq!(
            before_change(Some(&State::Active), Some(&LastUpdateStatus::InProgress)),
            Readiness::Busy
        );
        assert_eq!(before_change(None, None), Readiness::Ready);
    }

    #[test]
    fn after_a_change_failures_carry_lambdas_reason() {
        assert_eq!(
            after_change(
                Some(&State::Active),
                Some(&LastUpdateStatus::Successful),
                ("", "")
            ),
            Readiness::Ready
        );
        assert_eq!(
            after_change(
                Some(&State::Pending),
                Some(&LastUpdateStatus::InProgress),
                ("", "")
            ),
            Readiness::Busy
        );
        assert_eq!(
            after_change(
                Some(&State::Active),
                Some(&LastUpdateStatus::Failed),
                ("", "subnet out of IPs")
            ),
            Readiness::Failed("the update failed: subnet out of IPs".into())
        );
        assert!(matches!(
            after_change(Some(&State::Failed), None, ("ENI limit", "")),
            Readiness::Failed(m) if m.contains("ENI limit")
        ));
    }
}
