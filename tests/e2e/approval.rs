//! An approval flow end to end: the built function, run by `claw invoke --local`
//! on a queued job's SQS event, stops before a call that needs approval; `claw
//! jobs list|show` show it waiting with the call's input; `claw jobs approve`
//! records the decision and queues the job; the queued message, delivered to the
//! function again, runs the call once and finishes the job.

use std::path::Path;
use std::sync::{Arc, Mutex};

use claw_testkit::http::{Reply, Server};
use claw_testkit::mock_model::{MockModel, Step};
use claw_testkit::moto::Moto;
use claw_testkit::realism::wire::json_ok;
use claw_testkit::{Claw, repo_root as workspace};
use serde_json::{Value, json};

use crate::support::BIN;

const API_KEY: &str = "sk-ant-e2e-approve-41c9";
const JOBS: &str = "e2e-approve-test-jobs";

fn claw(dir: &Path, moto: &Moto) -> Claw {
    Claw::new(BIN, dir)
        .env("CLAW_WORKSPACE", workspace())
        .endpoint(&moto.endpoint())
}

fn sqs_event(message_id: &str, body: &str) -> String {
    claw_testkit::fixtures::sqs_event(JOBS, message_id, body).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_waits_for_approval_and_claw_jobs_approve_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::realistic();
    let hits = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&hits);
    let payments = Server::start(move |req| {
        let path = req.head.split(' ').nth(1).unwrap_or("").to_string();
        seen.lock().unwrap().push(path);
        Reply::from(json_ok(&json!({"refunded": true})))
    });
    std::fs::write(
        dir.path().join("agent.yaml"),
        format!(
            r#"app: e2e-approve
stage: test
region: ap-southeast-2
account: "123456789012"
function: {{ architecture: x86_64, memory_mb: 256, timeout_s: 60 }}
model:
  id: claude-e2e-model
  max_tokens: 1024
  api_key_secret: e2e/approve-key
api:
  mode: async
agents:
  support:
    system: You handle refunds.
    tools: [refund]
tools:
  refund:
    kind: http
    description: Refund an order
    method: POST
    url: {}/refunds/{{order_id}}
    allow_private_hosts: true
    approval: required
"#,
            payments.url()
        ),
    )
    .unwrap();
    let sdk = claw_testkit::sdk::config(&moto.direct_endpoint()).await;
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name("e2e/approve-key")
        .secret_string(API_KEY)
        .send()
        .await
        .unwrap();
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    ddb.create_table()
        .table_name(JOBS)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("job_id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("job_id")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = sqs
        .create_queue()
        .queue_name(JOBS)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let mock = MockModel::start(
        API_KEY,
        vec![
            Step::tool_use("toolu_1", "refund", json!({"order_id": "A-17"})),
            Step::text("Order A-17 is refunded."),
        ],
    );
    let deliver = |event: String| {
        claw(dir.path(), &moto)
            .args(["invoke", "--local", "--payload", &event])
            .env("ANTHROPIC_BASE_URL", mock.base_url())
            .run()
            .ok()
    };
    let jobs = |args: &[&str]| claw(dir.path(), &moto).arg("jobs").args(args).run();

    // The queued job runs until the call that needs approval, and stops there.
    let body = json!({"job_id": "job-7", "agent": "support", "message": "Refund order A-17."});
    let out = deliver(sqs_event("m-1", &body.to_string()));
    assert!(
        out.stdout.contains(r#""batchItemFailures":[]"#),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(hits.lock().unwrap().is_empty(), "the refund ran unapproved");

    let list = jobs(&["list", "--status", "waiting_approval", "--output", "json"]).ok();
    let doc = list.json();
    assert_eq!(doc["total"], 1, "{doc}");
    assert_eq!(doc["jobs"][0]["job_id"], "job-7");
    let show = jobs(&["show", "job-7"]).ok();
    assert!(
        show.stdout
            .contains(r#"waits for approval: refund {"order_id":"A-17"}"#),
        "{}",
        show.stdout
    );

    let approved = jobs(&["approve", "job-7"]).ok();
    assert!(
        approved.stdout.contains("job job-7 is queued to resume"),
        "{}",
        approved.stdout
    );
    // Deciding the other way now is refused and changes nothing.
    let refused = jobs(&["reject", "job-7"]).code(1);
    assert!(
        refused.stderr.contains("waits on no call"),
        "{}",
        refused.stderr
    );

    // The message the decision queued resumes the job: the refund runs once.
    let msgs = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let out = deliver(sqs_event(
        msgs[0].message_id().unwrap(),
        msgs[0].body().unwrap(),
    ));
    assert!(
        out.stdout.contains(r#""batchItemFailures":[]"#),
        "{}",
        out.stderr
    );
    assert_eq!(*hits.lock().unwrap(), ["/refunds/A-17"]);

    let done = jobs(&["show", "job-7", "--output", "json"]).ok().json();
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["result"]["response"], "Order A-17 is refunded.");
    assert_eq!(done["progress"]["invocations"], 2, "{done}");
    // The decision names who made it.
    let item = ddb
        .get_item()
        .table_name(JOBS)
        .key(
            "job_id",
            aws_sdk_dynamodb::types::AttributeValue::S("job-7".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let decision: Value = serde_json::from_str(item["decision"].as_s().unwrap()).unwrap();
    assert_eq!(decision["approved"], true);
    assert!(
        decision["by"].as_str().unwrap().starts_with("arn:aws:"),
        "{decision}"
    );
    assert_eq!(mock.request_count(), 2);

    let missing = jobs(&["show", "no-such-job"]).code(1);
    assert!(
        missing.stderr.contains("no job `no-such-job`"),
        "{}",
        missing.stderr
    );
}
