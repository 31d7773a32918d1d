//! `api.mode: async`: the queue, its DLQ, the jobs table, the event source mapping
//! and the job routes; back to sync removes them and keeps the sessions table.

use std::collections::{BTreeMap, BTreeSet};

use claw_testkit::fixtures::root_config;
use claw_testkit::snapshot::{queue_attributes, stack_tags};

use crate::support::{Env, async_config};

/// Async mode creates the queue, DLQ, jobs table, mapping and routes.
#[tokio::test(flavor = "multi_thread")]
async fn async_mode_creates_queue_table_mapping_and_routes() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    env.set_config(&async_config());
    env.deploy().ok();
    let n = env.names();
    let sqs = &aws.sqs;

    let dlq = queue_attributes(&aws.sdk, &n.dlq).await;
    let attr = |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_default();
    assert_eq!(attr(&dlq, "MessageRetentionPeriod"), "1209600");
    let q = queue_attributes(&aws.sdk, &n.queue).await;
    // Six times the 30 s function timeout.
    assert_eq!(attr(&q, "VisibilityTimeout"), "180");
    let redrive: serde_json::Value = serde_json::from_str(&attr(&q, "RedrivePolicy")).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], n.queue_arn(&n.dlq));
    // "set the maxReceiveCount … to at least five" so throttled receives do not
    // send valid jobs to the DLQ unrun
    // (https://repost.aws/knowledge-center/lambda-retrying-valid-sqs-messages).
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "5"
    );
    assert_eq!(aws.queue_tags(&n.queue).await, stack_tags(&env.config()));

    let ddb = &aws.dynamodb;
    let table = ddb
        .describe_table()
        .table_name(&n.jobs_table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(table.key_schema()[0].attribute_name, "job_id");
    assert_eq!(
        table
            .billing_mode_summary
            .and_then(|b| b.billing_mode)
            .map(|b| b.as_str().to_string())
            .as_deref(),
        Some("PAY_PER_REQUEST")
    );
    let ttl = ddb
        .describe_time_to_live()
        .table_name(&n.jobs_table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name.as_deref(), Some("ttl"));

    let mappings = aws.event_source_mappings(Some(&n.function)).await;
    assert_eq!(mappings.len(), 1, "{mappings:?}");
    let m = &mappings[0];
    assert_eq!(
        m.event_source_arn.as_deref(),
        Some(n.queue_arn(&n.queue).as_str())
    );
    assert_eq!(m.function_arn.as_deref(), Some(n.function_arn().as_str()));
    assert_eq!(m.batch_size, Some(10));
    assert_eq!(
        m.function_response_types()
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>(),
        ["ReportBatchItemFailures"]
    );
    // The poller never runs more than the function's 50 reserved instances.
    assert_eq!(
        m.scaling_config
            .as_ref()
            .and_then(|s| s.maximum_concurrency),
        Some(50)
    );

    let id = aws.api_id(&n.api).await.unwrap();
    let routes = aws.apigw.get_routes().api_id(&id).send().await.unwrap();
    let keys: BTreeSet<&str> = routes
        .items()
        .iter()
        .map(|r| r.route_key.as_deref().unwrap())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["POST /agents/{agent}", "POST /jobs", "GET /jobs/{id}"])
    );
    let st = aws.permission_statements(&n.function).await;
    let arns: BTreeSet<String> = st
        .iter()
        .map(|s| {
            s["Condition"]["ArnLike"]["AWS:SourceArn"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        arns,
        BTreeSet::from([
            n.execute_api_arn(&id, "POST /agents/{agent}"),
            n.execute_api_arn(&id, "POST /jobs"),
            n.execute_api_arn(&id, "GET /jobs/{id}"),
        ])
    );

    // Unchanged: no mutating call in async mode either.
    let mutations = env.mutations_during(|| {
        env.deploy().ok();
    });
    assert!(mutations.is_empty(), "{mutations:?}");

    // A maximum concurrency changed by hand is drift: planned and put back.
    aws.lambda
        .update_event_source_mapping()
        .uuid(m.uuid.as_deref().unwrap())
        .scaling_config(
            aws_sdk_lambda::types::ScalingConfig::builder()
                .maximum_concurrency(200)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let plan = env.claw(&["plan", "--zip", &env.zip_arg()]).ok();
    assert!(
        plan.stdout.contains("maximum_concurrency 200 → 50"),
        "{}",
        plan.stdout
    );
    env.deploy().ok();
    let mappings = aws.event_source_mappings(Some(&n.function)).await;
    assert_eq!(
        mappings[0]
            .scaling_config
            .as_ref()
            .and_then(|s| s.maximum_concurrency),
        Some(50)
    );

    // Back to sync: the mapping, queues and jobs table go; the sessions table stays.
    env.set_config(&root_config());
    env.deploy().ok();
    assert!(
        sqs.get_queue_url()
            .queue_name(&n.queue)
            .send()
            .await
            .is_err()
    );
    assert!(sqs.get_queue_url().queue_name(&n.dlq).send().await.is_err());
    assert!(
        ddb.describe_table()
            .table_name(&n.jobs_table)
            .send()
            .await
            .is_err()
    );
    assert!(
        ddb.describe_table()
            .table_name("AgentSessions")
            .send()
            .await
            .is_ok()
    );
    let mappings = aws.event_source_mappings(Some(&n.function)).await;
    assert!(mappings.is_empty(), "{mappings:?}");
    assert_eq!(aws.permission_statements(&n.function).await.len(), 1);
}
