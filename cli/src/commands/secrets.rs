//! `claw secrets set NAME`: store a secret's value in Secrets Manager.
//!
//! The value is read from stdin (or a hidden prompt on a terminal), never from the
//! command line, where it would land in shell history and `ps` output.

use std::io::{IsTerminal, Read};

use anyhow::Context as _;

use crate::aws::{AwsErrorExt, AwsResultExt, tags};
use crate::context::Context;
use crate::report::Report;

#[derive(Debug, clap::Subcommand)]
pub enum SecretsCommand {
    /// Store a secret's value, read from stdin (never from the command line).
    ///
    /// Creates the secret (tagged claw:app and claw:stage) or adds a new version; a
    /// secret scheduled for deletion is restored first. Refuses credentials for
    /// another account than agent.yaml's `account:`.
    /// One trailing newline is removed, so `echo "$VALUE" | claw secrets set NAME`
    /// stores exactly $VALUE. On a terminal, claw prompts without echo.
    ///
    /// Example: printf %s "$ANTHROPIC_KEY" | claw secrets set production/ai-agent/anthropic-api-key
    Set {
        /// The secret's name, as agent.yaml names it.
        name: String,
    },
}

/// Largest secret Secrets Manager accepts.
const MAX_SECRET_BYTES: usize = 65536;

pub async fn run(ctx: &Context, cmd: &SecretsCommand) -> anyhow::Result<Report> {
    match cmd {
        SecretsCommand::Set { name } => set(ctx, name).await,
    }
}

fn read_value(name: &str) -> anyhow::Result<String> {
    let mut value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Value for {name} (input hidden): "))
            .context("cannot read the value from the terminal")?
    } else {
        let mut buf = Vec::new();
        std::io::stdin()
            .take(MAX_SECRET_BYTES as u64 + 2)
            .read_to_end(&mut buf)
            .context("cannot read the value from stdin")?;
        String::from_utf8(buf).context("the value on stdin is not UTF-8 text")?
    };
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    if value.is_empty() {
        anyhow::bail!(
            "no value on stdin for {name}; pipe it in: printf %s \"$VALUE\" | claw secrets set {name}"
        );
    }
    if value.len() > MAX_SECRET_BYTES {
        anyhow::bail!(
            "the value is larger than Secrets Manager's limit of {MAX_SECRET_BYTES} bytes"
        );
    }
    Ok(value)
}

async fn set(ctx: &Context, name: &str) -> anyhow::Result<Report> {
    let loaded = ctx.load()?;
    let config = &loaded.config;
    if !config.secret_names().iter().any(|s| s == name) {
        anyhow::bail!(
            "agent.yaml does not name a secret `{name}`; declared secrets: {}",
            config.secret_names().join(", ")
        );
    }
    let value = read_value(name)?;
    let aws = crate::ops::account::connect(config).await?;
    let existing = aws
        .secrets
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .ctx("DescribeSecret", name)
        .optional()?;
    let (action, version) = match existing {
        Some(found) => {
            // A secret scheduled for deletion refuses new values
            // (InvalidRequestException) until it is restored; see
            // https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RestoreSecret.html
            let restored = found.deleted_date().is_some();
            if restored {
                ctx.out.note(format_args!(
                    "secret {name} was scheduled for deletion: restoring it first"
                ));
                aws.secrets
                    .restore_secret()
                    .secret_id(name)
                    .send()
                    .await
                    .ctx("RestoreSecret", name)?;
            }
            let out = aws
                .secrets
                .put_secret_value()
                .secret_id(name)
                .secret_string(&value)
                .send()
                .await
                .ctx("PutSecretValue", name)?;
            (
                if restored { "restored" } else { "updated" },
                out.version_id().unwrap_or_default().to_string(),
            )
        }
        None => {
            let mut req = aws.secrets.create_secret().name(name).secret_string(&value);
            for (k, v) in tags(config) {
                req = req.tags(
                    aws_sdk_secretsmanager::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build(),
                );
            }
            let out = req.send().await.ctx("CreateSecret", name)?;
            ("created", out.version_id().unwrap_or_default().to_string())
        }
    };
    drop(value);
    ctx.out
        .line(format_args!("{action} secret {name} (version {version})"));
    Ok(Report::new(serde_json::json!({
        "secret": name,
        "action": action,
        "version_id": version,
    })))
}
