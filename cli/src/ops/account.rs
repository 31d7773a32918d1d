//! Every command that touches AWS first checks that the credentials belong to
//! agent.yaml's `account:`, so a wrong profile never writes a secret into, reads
//! logs from, or invokes a function in another account.

use claw_spec::Config;

use crate::aws::{Aws, AwsResultExt};

/// Connects to AWS for `config`'s region and checks the caller's account.
pub async fn connect(config: &Config) -> anyhow::Result<Aws> {
    let aws = Aws::new(&config.region).await;
    let me = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .ctx("GetCallerIdentity", "the current credentials")?;
    crate::aws::ownership::check_account(
        config,
        me.account().unwrap_or_default(),
        me.arn().unwrap_or_default(),
    )?;
    Ok(aws)
}
