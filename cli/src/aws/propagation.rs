//! IAM is eventually consistent: a role created or changed a second ago can be
//! refused by Lambda as not assumable, or as lacking permissions its inline policy
//! already grants. Calls that hand a role to Lambda retry here, in one place.

use std::time::{Duration, Instant};

use aws_sdk_lambda::error::ProvideErrorMetadata;

use super::error::aws_error;

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

#[cfg(test)]
mod tests {
    use super::*;

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
