//! Provisioning through the AWS SDK. The layers, bottom up: the clients here,
//! [`error`] (one AWS error type), [`target`] (what claw wants), [`plan`],
//! [`ownership`] and [`propagation`]; beside them the read-only checks
//! ([`reachability`], [`bedrock`]); then one module per resource kind under
//! [`resources`], each with read / plan / apply / plan_destroy / delete; then
//! [`stack`], which only sequences them.
//!
//! [`Aws`] holds one client per service, all built from one shared
//! `aws_config` load, so the credential chain, region, `AWS_ENDPOINT_URL` and the
//! retry policy are resolved once per command.

pub mod bedrock;
pub mod bootstrap;
pub mod doc;
pub mod error;
pub mod figures;
pub mod lock;
pub mod ownership;
pub mod plan;
pub mod progress;
pub mod propagation;
pub mod reachability;
pub mod resources;
pub mod rollout;
pub mod stack;
pub mod target;

pub use error::{AwsErrorExt, AwsResultExt};
pub use ownership::tags;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;

/// How many times one API call is attempted (the first try included). Throttling,
/// 5xx answers and dropped connections are retried with the SDK's standard
/// exponential backoff (200 ms doubling to 10 s). Ten attempts ride out a burst of
/// throttling that would fail a deploy at the SDK's default of three.
pub const MAX_ATTEMPTS: u32 = 10;

/// One client per AWS service claw talks to.
#[derive(Clone, Debug)]
pub struct Aws {
    /// Every API call these clients made.
    pub calls: Arc<CallCounter>,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub apigw: aws_sdk_apigatewayv2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sts: aws_sdk_sts::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub ec2: aws_sdk_ec2::Client,
    /// Bedrock's control plane: the inference profiles' destinations.
    pub bedrock: aws_sdk_bedrock::Client,
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
        Aws::from_shared(&shared)
    }

    /// Every client built from one loaded configuration.
    pub fn from_shared(shared: &aws_config::SdkConfig) -> Aws {
        let calls = Arc::new(CallCounter::from_env());
        let counter = Counting(calls.clone());
        // Each service's config builder takes the same interceptor; the trait is
        // shared by every SDK crate.
        macro_rules! client {
            ($krate:ident) => {
                $krate::Client::from_conf(
                    $krate::config::Builder::from(shared)
                        .interceptor(counter.clone())
                        .build(),
                )
            };
        }
        Aws {
            calls,
            iam: client!(aws_sdk_iam),
            lambda: client!(aws_sdk_lambda),
            apigw: client!(aws_sdk_apigatewayv2),
            cloudwatch: client!(aws_sdk_cloudwatch),
            logs: client!(aws_sdk_cloudwatchlogs),
            secrets: client!(aws_sdk_secretsmanager),
            sts: client!(aws_sdk_sts),
            sqs: client!(aws_sdk_sqs),
            dynamodb: client!(aws_sdk_dynamodb),
            ec2: client!(aws_sdk_ec2),
            bedrock: client!(aws_sdk_bedrock),
        }
    }
}

/// Counts the API operations made through [`Aws`], split into reads and mutations.
///
/// A mutation is any operation whose name does not start with a read verb. The
/// counter also implements the `CLAW_TEST_ABORT_AFTER_MUTATIONS=N` switch used by
/// the end-to-end tests: the process exits with code 137 (as if SIGKILLed) right
/// after its Nth successful mutating call, so a test can prove that re-running a
/// deploy interrupted at any point converges.
#[derive(Debug, Default)]
pub struct CallCounter {
    reads: AtomicUsize,
    mutations: AtomicUsize,
    /// Mutations AWS accepted: what the abort switch counts, so a refused call
    /// that claw retries (a conflict, IAM still propagating) is not a step.
    accepted: AtomicUsize,
    abort_after: Option<usize>,
}

/// The environment variable that makes claw stop dead after N mutating calls.
pub const ABORT_AFTER_ENV: &str = "CLAW_TEST_ABORT_AFTER_MUTATIONS";

const READ_PREFIXES: &[&str] = &[
    "Get", "List", "Describe", "Head", "BatchGet", "Query", "Scan",
];

/// Whether an operation name is a read.
pub fn is_read_operation(name: &str) -> bool {
    READ_PREFIXES.iter().any(|p| name.starts_with(p))
}

impl CallCounter {
    fn from_env() -> CallCounter {
        CallCounter {
            abort_after: std::env::var(ABORT_AFTER_ENV)
                .ok()
                .and_then(|v| v.trim().parse().ok()),
            ..CallCounter::default()
        }
    }

    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    pub fn mutations(&self) -> usize {
        self.mutations.load(Ordering::SeqCst)
    }

    fn record(&self, service: &str, operation: &str, ok: bool) {
        if is_read_operation(operation) {
            self.reads.fetch_add(1, Ordering::SeqCst);
            return;
        }
        self.mutations.fetch_add(1, Ordering::SeqCst);
        if !ok {
            return;
        }
        let n = self.accepted.fetch_add(1, Ordering::SeqCst) + 1;
        if self.abort_after == Some(n) {
            eprintln!("{ABORT_AFTER_ENV}={n}: stopping dead after {service}:{operation}");
            std::process::exit(137);
        }
    }
}

#[derive(Clone, Debug)]
struct Counting(Arc<CallCounter>);

impl aws_sdk_iam::config::Intercept for Counting {
    fn name(&self) -> &'static str {
        "claw-call-counter"
    }

    fn read_after_execution(
        &self,
        context: &aws_sdk_iam::config::interceptors::FinalizerInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_iam::config::RuntimeComponents,
        cfg: &mut aws_sdk_iam::config::ConfigBag,
    ) -> Result<(), aws_sdk_iam::error::BoxError> {
        if let Some(meta) = cfg.load::<aws_smithy_runtime_api::client::orchestrator::Metadata>() {
            let ok = matches!(context.output_or_error(), Some(Ok(_)));
            self.0.record(meta.service(), meta.name(), ok);
        }
        Ok(())
    }
}
