//! Provisioning through the AWS SDK: one module per resource kind, each with read
//! (live state as a plain struct), diff (desired against live) and apply.
//!
//! [`Aws`] holds one client per service, all built from one shared
//! `aws_config` load, so the credential chain, region, `AWS_ENDPOINT_URL` and the
//! retry policy are resolved once per command.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata};
use claw_spec::Config;

/// How many times one API call is attempted (the first try included). Throttling
/// and 5xx answers are retried with the SDK's standard exponential backoff.
pub const MAX_ATTEMPTS: u32 = 6;

/// One client per AWS service claw talks to.
#[derive(Clone, Debug)]
pub struct Aws {
    pub region: String,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub apigw: aws_sdk_apigatewayv2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sts: aws_sdk_sts::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Aws {
    /// Loads the shared configuration (standard credential chain, `AWS_ENDPOINT_URL`,
    /// profiles) for `region` and builds every client from it.
    pub async fn new(region: &str) -> Aws {
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(MAX_ATTEMPTS)
                    .with_initial_backoff(Duration::from_millis(200))
                    .with_max_backoff(Duration::from_secs(10)),
            )
            .load()
            .await;
        Aws {
            region: region.to_string(),
            iam: aws_sdk_iam::Client::new(&shared),
            lambda: aws_sdk_lambda::Client::new(&shared),
            apigw: aws_sdk_apigatewayv2::Client::new(&shared),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&shared),
            logs: aws_sdk_cloudwatchlogs::Client::new(&shared),
            secrets: aws_sdk_secretsmanager::Client::new(&shared),
            sts: aws_sdk_sts::Client::new(&shared),
            sqs: aws_sdk_sqs::Client::new(&shared),
            dynamodb: aws_sdk_dynamodb::Client::new(&shared),
        }
    }
}

/// An AWS call that failed, named by operation and resource:
/// `"<Operation> on <resource>: <code>: <message>"`.
#[derive(Debug)]
pub struct AwsError {
    pub operation: &'static str,
    pub resource: String,
    /// The AWS error code (`NoSuchEntity`, `ResourceNotFoundException`, …), when the
    /// service sent one.
    pub code: Option<String>,
    pub message: String,
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(
                f,
                "{} on {}: {code}: {}",
                self.operation, self.resource, self.message
            ),
            None => write!(
                f,
                "{} on {}: {}",
                self.operation, self.resource, self.message
            ),
        }
    }
}

impl std::error::Error for AwsError {}

impl AwsError {
    pub fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// Renders any SDK error as an [`AwsError`]. Service errors keep their code and
/// message; transport errors (no code) keep the whole cause chain, so "connection
/// refused" or a timeout is visible.
pub fn aws_error<E>(operation: &'static str, resource: impl Into<String>, err: E) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().map(str::to_string);
    let message = match (err.code(), err.message()) {
        (Some(_), Some(m)) => m.to_string(),
        _ => DisplayErrorContext(&err).to_string(),
    };
    AwsError {
        operation,
        resource: resource.into(),
        code,
        message,
    }
}

/// `result.map_err(aws_error(...))` without the closure noise.
pub trait AwsResultExt<T> {
    fn ctx(self, operation: &'static str, resource: impl Into<String>) -> Result<T, AwsError>;
}

impl<T, E> AwsResultExt<T> for Result<T, E>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn ctx(self, operation: &'static str, resource: impl Into<String>) -> Result<T, AwsError> {
        self.map_err(|e| aws_error(operation, resource, e))
    }
}

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
