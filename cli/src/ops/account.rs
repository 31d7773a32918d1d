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
    ensure(
        config,
        me.account().unwrap_or_default(),
        me.arn().unwrap_or_default(),
    )?;
    Ok(aws)
}

/// Refuses credentials for another account than agent.yaml's `account:`.
pub fn ensure(config: &Config, account: &str, caller_arn: &str) -> anyhow::Result<()> {
    if account != config.account {
        anyhow::bail!(
            "agent.yaml says account {} but the credentials are for account {account} ({caller_arn}); switch credentials (AWS_PROFILE) or fix `account:`",
            config.account,
        );
    }
    Ok(())
}
