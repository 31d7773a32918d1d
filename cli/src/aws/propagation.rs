//! IAM is eventually consistent: a role created or changed a second ago can be
//! refused by Lambda as not assumable, or as lacking permissions its inline policy
//! already grants. Calls that hand a role to Lambda retry here, in one place.

use std::time::{Duration, Instant};

use aws_sdk_lambda::error::ProvideErrorMetadata;

use super::error::{AwsError, aws_error};

/// How long claw keeps retrying while a new or changed role reaches Lambda.
const IAM_PROPAGATION: Duration = Duration::from_secs(90);

/// Whether Lambda's answer means "the role (or its new policy) has not reached
/// Lambda yet": a role created a second ago can be refused as not assumable, or
/// as lacking the ENI or SQS permissions its inline policy already grants.
fn iam_not_ready(msg: Option<&str>) -> bool {
    msg.is_some_and(|m| {
        m.contains("cannot be assumed")
            || m.contains("role defined for the function")
            || m.contains("execution role does not have permissions")
    })
}

/// Runs a Lambda call, retrying for up to 90 s while IAM changes propagate.
pub async fn while_iam_propagates<T, E, F, Fut>(
    operation: &'static str,
    resource: &str,
    mut call: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<
            Output = Result<
                T,
                aws_sdk_lambda::error::SdkError<
                    E,
                    aws_smithy_runtime_api::client::orchestrator::HttpResponse,
                >,
            >,
        >,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let started = Instant::now();
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.code() == Some("InvalidParameterValueException") && iam_not_ready(s.message())
                }) && started.elapsed() < IAM_PROPAGATION =>
            {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            Err(e) => return Err(aws_error(operation, resource, e).into()),
        }
    }
}

/// How long claw retries an IAM call that depends on a change made moments ago.
const IAM_SETTLE: Duration = Duration::from_secs(60);

/// Runs an IAM call, retrying for up to 60 s while IAM answers `code` because a
/// change made moments ago has not reached all of IAM yet: `NoSuchEntity` for a
/// role or boundary policy created a second ago (terraform-provider-aws retries
/// the same: hashicorp/terraform-provider-aws#5409), `DeleteConflict` for a
/// role whose policies were just removed, or a boundary whose role just went
/// (terraform retries DeleteRole on it for its propagation timeout). IAM is
/// eventually consistent:
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency
pub async fn while_iam_settles<T, F, Fut>(code: &str, mut call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let started = Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        match call().await {
            Err(e) if e.is_code(code) && started.elapsed() < IAM_SETTLE => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(code: &str) -> AwsError {
        AwsError {
            operation: "DeleteRole",
            resource: "r".into(),
            code: Some(code.into()),
            kind: crate::aws::error::AwsErrorKind::of(Some(code)),
            message: String::new(),
        }
    }

    #[tokio::test]
    async fn iam_calls_retry_only_their_own_settling_error() {
        let mut calls = 0;
        let out = while_iam_settles("DeleteConflict", || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(refusal("DeleteConflict"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(out.unwrap(), 3);
        let mut calls = 0;
        let out: Result<(), _> = while_iam_settles("DeleteConflict", || {
            calls += 1;
            async { Err(refusal("NoSuchEntity")) }
        })
        .await;
        assert!(out.unwrap_err().is_code("NoSuchEntity"));
        assert_eq!(calls, 1);
    }

    #[test]
    fn only_iam_propagation_messages_are_retried() {
        assert!(iam_not_ready(Some(
            "The role defined for the function cannot be assumed by Lambda."
        )));
        assert!(iam_not_ready(Some(
            "The provided execution role does not have permissions to call ReceiveMessage on SQS"
        )));
        assert!(!iam_not_ready(Some("Memory size 64 is below the minimum")));
        assert!(!iam_not_ready(None));
    }
}
