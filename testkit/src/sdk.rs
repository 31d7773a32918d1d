//! An AWS SDK config that reaches only the given endpoint (moto), with test
//! credentials in the test region, for tests that check or seed state directly.

use aws_sdk_secretsmanager::config::Credentials;

use crate::REGION;

/// SDK config for `endpoint` (such as [`crate::moto::Moto::endpoint`]).
pub async fn config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "testing", "testing", None, None, "testkit",
        ))
        .load()
        .await
}
