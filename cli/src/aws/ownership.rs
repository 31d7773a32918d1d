//! claw finds its resources by name and knows them as its own by two tags,
//! `claw:app` and `claw:stage`. A resource with claw's name but without those tags
//! was made by someone else: deploy refuses to touch it and destroy keeps it. The
//! words for both cases live here, once.

use std::collections::BTreeMap;

use claw_spec::Config;

/// The tag keys that mark a resource as claw's.
pub const TAG_APP: &str = "claw:app";
pub const TAG_STAGE: &str = "claw:stage";

/// The tags every claw resource carries: `claw:app`, `claw:stage` and the config's
/// own `tags:` (claw's keys win if the config repeats them).
pub fn tags(config: &Config) -> BTreeMap<String, String> {
    let mut out = config.tags.clone();
    out.insert(TAG_APP.into(), config.app.clone());
    out.insert(TAG_STAGE.into(), config.stage.clone());
    out
}

/// Whether live tags mark a resource as belonging to this app and stage.
pub fn is_ours(live: &BTreeMap<String, String>, config: &Config) -> bool {
    live.get(TAG_APP) == Some(&config.app) && live.get(TAG_STAGE) == Some(&config.stage)
}

/// The deploy blocker for a resource with claw's name that claw did not create.
/// `found` says what was found: `IAM role arn:… exists`, `HTTP API x is named y`.
pub fn foreign_blocker(found: &str, config: &Config) -> String {
    format!(
        "{found} but is not tagged {TAG_APP}={} {TAG_STAGE}={}; claw does not touch resources it did not create (delete or rename it)",
        config.app, config.stage
    )
}

/// The destroy note for a resource with claw's name that claw did not create.
pub fn untagged_note(what: &str, config: &Config) -> String {
    format!(
        "{what} has claw's name but is not tagged {TAG_APP}={} {TAG_STAGE}={}: kept",
        config.app, config.stage
    )
}

/// Tags in IAM's shape.
pub fn iam_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_iam::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect()
}

/// Refuses credentials for another account than agent.yaml's `account:`: claw
/// never reads or changes a stack in an account the file does not name.
pub fn check_account(config: &Config, account: &str, caller_arn: &str) -> anyhow::Result<()> {
    if account != config.account {
        anyhow::bail!(
            "agent.yaml says account {} but the credentials are for account {account} ({caller_arn}); switch credentials (AWS_PROFILE) or fix `account:`",
            config.account,
        );
    }
    Ok(())
}
