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

/// Creates secrets (name, value) in the moto at `endpoint`, from a test that
/// is not async itself.
pub fn create_secrets(endpoint: &str, secrets: &[(&str, &str)]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime to seed moto");
    rt.block_on(async {
        let sm = aws_sdk_secretsmanager::Client::new(&config(endpoint).await);
        for (name, value) in secrets {
            sm.create_secret()
                .name(*name)
                .secret_string(*value)
                .send()
                .await
                .unwrap_or_else(|e| panic!("creating secret {name} in moto: {e:?}"));
        }
    });
}
