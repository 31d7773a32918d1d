//! AWS clients, created on first use and kept for the container's life. Loading the
//! SDK config is the costliest thing the function does besides model calls, so it
//! never happens at init: an invocation that needs no AWS call never pays for it.
//! `aws_config` honours `AWS_ENDPOINT_URL` (moto in tests) and the Lambda
//! credentials in the environment.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use tokio::sync::OnceCell;

#[derive(Debug, Default)]
pub struct Aws {
    /// Used when `AWS_REGION` is absent (running outside Lambda).
    fallback_region: String,
    config: OnceCell<SdkConfig>,
    secrets: OnceCell<aws_sdk_secretsmanager::Client>,
    dynamodb: OnceCell<aws_sdk_dynamodb::Client>,
    s3: OnceCell<aws_sdk_s3::Client>,
    sqs: OnceCell<aws_sdk_sqs::Client>,
    lambda: OnceCell<aws_sdk_lambda::Client>,
    events: OnceCell<aws_sdk_eventbridge::Client>,
}

impl Aws {
    pub fn new(fallback_region: &str) -> Aws {
        Aws {
            fallback_region: fallback_region.to_string(),
            ..Aws::default()
        }
    }

    /// Uses `config` instead of loading one from the environment (tests against a
    /// local endpoint: the environment cannot be changed safely inside a test).
    pub fn from_config(fallback_region: &str, config: SdkConfig) -> Aws {
        Aws {
            fallback_region: fallback_region.to_string(),
            config: OnceCell::new_with(Some(config)),
            ..Aws::default()
        }
    }

    pub async fn config(&self) -> &SdkConfig {
        self.config
            .get_or_init(|| async {
                let region = aws_config::meta::region::RegionProviderChain::default_provider()
                    .or_else(Region::new(self.fallback_region.clone()));
                aws_config::defaults(BehaviorVersion::latest())
                    .region(region)
                    .load()
                    .await
            })
            .await
    }

    pub async fn secrets(&self) -> &aws_sdk_secretsmanager::Client {
        self.secrets
            .get_or_init(|| async { aws_sdk_secretsmanager::Client::new(self.config().await) })
            .await
    }

    pub async fn dynamodb(&self) -> &aws_sdk_dynamodb::Client {
        self.dynamodb
            .get_or_init(|| async { aws_sdk_dynamodb::Client::new(self.config().await) })
            .await
    }

    pub async fn s3(&self) -> &aws_sdk_s3::Client {
        self.s3
            .get_or_init(|| async {
                // Path-style works for every bucket name and with local endpoints (moto).
                let sdk = self.config().await;
                let conf = aws_sdk_s3::config::Builder::from(sdk)
                    .force_path_style(sdk.endpoint_url().is_some())
                    .build();
                aws_sdk_s3::Client::from_conf(conf)
            })
            .await
    }

    pub async fn sqs(&self) -> &aws_sdk_sqs::Client {
        self.sqs
            .get_or_init(|| async { aws_sdk_sqs::Client::new(self.config().await) })
            .await
    }

    pub async fn lambda(&self) -> &aws_sdk_lambda::Client {
        self.lambda
            .get_or_init(|| async { aws_sdk_lambda::Client::new(self.config().await) })
            .await
    }

    pub async fn events(&self) -> &aws_sdk_eventbridge::Client {
        self.events
            .get_or_init(|| async { aws_sdk_eventbridge::Client::new(self.config().await) })
            .await
    }
}

/// The URL of an SQS queue in this account, built rather than looked up: the
/// execution role is granted `sqs:SendMessage` on the queue, not `GetQueueUrl`, and
/// the URL format is fixed. With `AWS_ENDPOINT_URL` set the SDK sends the call to
/// that endpoint and only the path (account and name) matters.
pub fn queue_url(region: &str, account: &str, name: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://sqs.{region}.{domain}/{account}/{name}")
}

/// An SDK error with its whole source chain: the SDK's `Display` alone often says
/// only "service error". SDK errors never carry secret values.
pub use claw_jobs::describe;
