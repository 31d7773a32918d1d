//! Provisioning through the AWS SDK: one module per resource kind, each with read
//! (live state as a plain struct), diff (desired against live) and apply.
//!
//! [`Aws`] holds one client per service, all built from one shared
//! `aws_config` load, so the credential chain, region, `AWS_ENDPOINT_URL` and the
//! retry policy are resolved once per command.

pub mod alarms;
pub mod api;
pub mod boundary;
pub mod doc;
pub mod function;
pub mod lock;
pub mod log_group;
pub mod permissions;
pub mod plan;
pub mod progress;
pub mod queues;
pub mod role;
pub mod secrets;
pub mod stack;
pub mod tables;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata};
use claw_spec::Config;

/// How many times one API call is attempted (the first try included). Throttling,
/// 5xx answers and dropped connections are retried with the SDK's standard
/// exponential backoff (200 ms doubling to 10 s). Ten attempts ride out a burst of
/// throttling that would fail a deploy at the SDK's default of three.
pub const MAX_ATTEMPTS: u32 = 10;

/// One client per AWS service claw talks to.
#[derive(Clone, Debug)]
pub struct Aws {
    pub region: String,
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
        let calls = Arc::new(CallCounter::from_env());
        let counter = Counting(calls.clone());
        // Each service's config builder takes the same interceptor; the trait is
        // shared by every SDK crate.
        macro_rules! client {
            ($krate:ident) => {
                $krate::Client::from_conf(
                    $krate::config::Builder::from(&shared)
                        .interceptor(counter.clone())
                        .build(),
                )
            };
        }
        Aws {
            region: region.to_string(),
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
    abort_after: Option<usize>,
    log: std::sync::Mutex<Vec<String>>,
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

    /// `service:Operation` of every mutating call so far, in completion order.
    pub fn mutation_log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn record(&self, service: &str, operation: &str, ok: bool) {
        if is_read_operation(operation) {
            self.reads.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let n = self.mutations.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(mut log) = self.log.lock() {
            log.push(format!("{service}:{operation}"));
        }
        if ok && self.abort_after == Some(n) {
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
        (Some(_), None) => DisplayErrorContext(&err).to_string(),
        // Transport errors: the cause chain in words ("dispatch failure: io error:
        // … Connection refused"), without the Debug dump DisplayErrorContext adds.
        (None, _) => {
            let mut parts: Vec<String> = Vec::new();
            let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&err);
            while let Some(e) = cur {
                let text = e.to_string();
                if !parts.iter().any(|p| p.contains(&text)) {
                    parts.push(text);
                }
                cur = e.source();
            }
            parts.join(": ")
        }
    };
    AwsError {
        operation,
        resource: resource.into(),
        code,
        message,
    }
}

/// Whether an error is AWS refusing the caller's permissions.
pub fn is_access_denied(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<AwsError>().is_some_and(|a| {
            matches!(
                a.code.as_deref(),
                Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation")
            )
        })
    })
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
