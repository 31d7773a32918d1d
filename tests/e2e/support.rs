//! What the end-to-end tests share beyond `claw-testkit`: the binary under test,
//! and [`Env`], one test's world (a moto server, a work directory with agent.yaml
//! and a package, and SDK clients pointed at moto).

use std::path::{Path, PathBuf};

use claw_spec::Names;
use claw_testkit::fixtures::{ROOT_SECRETS, root_config, write_zip};
use claw_testkit::moto::{Call, Moto};
use claw_testkit::snapshot::load_config;
use claw_testkit::{Claw, Output};

/// The `claw` binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_claw");

/// The calls of claw's deploy lock (`/claw/locks/{app}-{stage}`).
pub const LOCK_CALLS: &[&str] = &["CreateLogStream", "PutLogEvents", "DeleteLogStream"];

/// `claw` run from `dir` against `endpoint`, never told to abort part-way.
pub fn claw(dir: &Path, endpoint: &str) -> Claw {
    Claw::new(BIN, dir)
        .endpoint(endpoint)
        .env_remove(claw::ABORT_AFTER_ENV)
}

/// One test's world: a moto server and a work directory with the root agent.yaml
/// and a package (`function.zip`). Synchronous, so one can be shared by several
/// tests; SDK clients come from [`Env::aws`] in each test's own runtime.
pub struct Env {
    pub moto: Moto,
    pub dir: tempfile::TempDir,
    pub zip: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        Env::on(Moto::realistic())
    }

    /// A fresh world whose realism layer runs on the given clock.
    pub fn with_realism(realism: claw_testkit::realism::Realism) -> Env {
        let env = Env::on(Moto::realistic_with(realism));
        env.set_secrets();
        env
    }

    fn on(moto: Moto) -> Env {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let zip = dir.path().join("function.zip");
        write_zip(&zip, "v1");
        std::fs::write(dir.path().join("agent.yaml"), root_config()).expect("writing agent.yaml");
        Env { moto, dir, zip }
    }

    /// A fresh world with the root config's secrets set.
    pub fn with_secrets() -> Env {
        let env = Env::new();
        env.set_secrets();
        env
    }

    pub fn set_config(&self, text: &str) {
        std::fs::write(self.dir.path().join("agent.yaml"), text).expect("writing agent.yaml");
    }

    pub fn config_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.yaml")).expect("reading agent.yaml")
    }

    pub fn config(&self) -> claw_spec::Config {
        load_config(&self.dir.path().join("agent.yaml"))
    }

    pub fn names(&self) -> Names {
        Names::new(&self.config())
    }

    /// `claw` against this world's moto, from its directory.
    pub fn command(&self) -> Claw {
        claw(self.dir.path(), &self.moto.endpoint())
    }

    pub fn claw(&self, args: &[&str]) -> Output {
        self.command().args(args).run()
    }

    pub fn zip_arg(&self) -> String {
        self.zip.display().to_string()
    }

    pub fn deploy(&self) -> Output {
        self.claw(&["deploy", "--yes", "--zip", &self.zip_arg()])
    }

    pub fn plan_json(&self) -> serde_json::Value {
        self.claw(&["plan", "--output", "json", "--zip", &self.zip_arg()])
            .ok()
            .json()
    }

    pub fn set_secrets(&self) {
        claw_testkit::claw::set_secrets(&self.command(), ROOT_SECRETS, "dummy-value");
    }

    /// The realism layer in front of this world's moto (on for every test).
    pub fn realism(&self) -> &claw_testkit::realism::RealAws {
        self.moto
            .realism()
            .expect("the end-to-end suite runs moto behind the realism proxy")
    }

    /// SDK clients pointed at this world's moto.
    pub async fn aws(&self) -> Aws {
        Aws::new(&self.moto.direct_endpoint()).await
    }

    /// Runs `f` with the recorder on; returns the mutating calls it made.
    pub fn mutations_during(&self, f: impl FnOnce()) -> Vec<Call> {
        self.moto.record();
        f();
        self.moto.stop_recording();
        self.moto.mutating_calls()
    }
}

/// SDK clients for one endpoint, built in the calling test's runtime.
pub struct Aws {
    pub sdk: aws_config::SdkConfig,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub apigw: aws_sdk_apigatewayv2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl Aws {
    pub async fn new(endpoint: &str) -> Aws {
        let sdk = claw_testkit::sdk::config(endpoint).await;
        Aws {
            iam: aws_sdk_iam::Client::new(&sdk),
            lambda: aws_sdk_lambda::Client::new(&sdk),
            apigw: aws_sdk_apigatewayv2::Client::new(&sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            secrets: aws_sdk_secretsmanager::Client::new(&sdk),
            sdk,
        }
    }

    /// The id of the one HTTP API named `name`, if any.
    /// Whether Lambda knows the function.
    pub async fn function_exists(&self, name: &str) -> bool {
        self.lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .is_ok()
    }

    pub async fn api_id(&self, name: &str) -> Option<String> {
        claw_testkit::snapshot::api_id(&self.sdk, name).await
    }

    /// The alarms whose names start with `prefix`.
    pub async fn alarms(&self, prefix: &str) -> Vec<aws_sdk_cloudwatch::types::MetricAlarm> {
        self.cloudwatch
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .send()
            .await
            .expect("DescribeAlarms")
            .metric_alarms
            .unwrap_or_default()
    }

    /// The log groups whose names start with `prefix`.
    pub async fn log_groups(&self, prefix: &str) -> Vec<aws_sdk_cloudwatchlogs::types::LogGroup> {
        self.logs
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .send()
            .await
            .expect("DescribeLogGroups")
            .log_groups
            .unwrap_or_default()
    }

    /// The event source mappings of `function`, or of the account with `None`.
    pub async fn event_source_mappings(
        &self,
        function: Option<&str>,
    ) -> Vec<aws_sdk_lambda::types::EventSourceMappingConfiguration> {
        self.lambda
            .list_event_source_mappings()
            .set_function_name(function.map(str::to_string))
            .send()
            .await
            .expect("ListEventSourceMappings")
            .event_source_mappings
            .unwrap_or_default()
    }

    /// The tags of the SQS queue named `name`.
    pub async fn queue_tags(&self, name: &str) -> std::collections::BTreeMap<String, String> {
        let url = self
            .sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .expect("GetQueueUrl")
            .queue_url
            .expect("a queue URL");
        self.sqs
            .list_queue_tags()
            .queue_url(&url)
            .send()
            .await
            .expect("ListQueueTags")
            .tags
            .unwrap_or_default()
            .into_iter()
            .collect()
    }

    /// The function's resource policy statements.
    pub async fn permission_statements(&self, function: &str) -> Vec<serde_json::Value> {
        claw_testkit::snapshot::permission_statements(&self.sdk, function).await
    }
}

/// A policy document as IAM returned it, parsed.
pub fn parse_doc(raw: &str) -> claw_spec::iam::PolicyDocument {
    serde_json::from_str(&claw_testkit::iam::decode(raw))
        .unwrap_or_else(|e| panic!("not a policy document ({e}): {raw}"))
}

/// Fails unless `live` and `want` grant the same.
#[track_caller]
pub fn same_doc(
    live: &claw_spec::iam::PolicyDocument,
    want: &claw_spec::iam::PolicyDocument,
    what: &str,
) {
    let d = claw_spec::policy_diff::diff(live, want);
    assert!(
        d.is_empty(),
        "{what} differs from the generated one: {d:#?}"
    );
}

/// The root config in async mode.
pub fn async_config() -> String {
    claw_testkit::fixtures::edit(&root_config(), "  mode: sync\n", "  mode: async\n")
}
