//! Async mode (`api.mode: async`) on the local server. The function itself
//! answers `POST /jobs` by recording the job in the jobs table and sending it to
//! the queue `{app}-{stage}-jobs`, and `GET /jobs/{id}` by reading the table,
//! wherever `AWS_ENDPOINT_URL` points (moto, LocalStack, or AWS). What Lambda's
//! event source mapping does in the deployed stack, claw does here: it
//! long-polls the queue, hands the function each batch (up to 10 messages) as
//! the SQS event Lambda sends
//! (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#example-standard-queue-message-event),
//! deletes the messages the function did not report in `batchItemFailures`,
//! and leaves the others to come back after the visibility timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use claw_spec::Names;
use claw_spec::model::ApiMode;
use serde_json::{Value, json};

use super::logs::Summary;
use super::server::Server;
use crate::aws::Aws;
use crate::local::InvocationResult;

/// Drains the jobs queue into the function until the process ends.
pub fn drain(server: Arc<Server>, rt: tokio::runtime::Handle) {
    let mut aws: Option<(String, Aws)> = None;
    let mut missing_told = false;
    loop {
        let (mode, names, region) = {
            let st = server.state();
            (
                st.config.api.mode,
                Names::new(&st.config),
                st.config.region.clone(),
            )
        };
        if mode != ApiMode::Async {
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        if aws.as_ref().is_none_or(|(r, _)| *r != region) {
            aws = Some((region.clone(), rt.block_on(Aws::new(&region))));
        }
        let Some((_, client)) = &aws else { continue };
        let sqs = &client.sqs;
        let url = match rt.block_on(sqs.get_queue_url().queue_name(&names.queue).send()) {
            Ok(o) => o.queue_url.unwrap_or_default(),
            Err(e) => {
                if !missing_told {
                    missing_told = true;
                    eprintln!(
                        "async mode: cannot find the jobs queue {} ({}); POST /jobs will fail until \
                         it exists (`claw deploy`, or a local endpoint in AWS_ENDPOINT_URL, where \
                         `claw dev` creates it)",
                        names.queue,
                        describe(e)
                    );
                }
                std::thread::sleep(Duration::from_secs(2));
                continue;
            }
        };
        missing_told = false;
        let received = rt.block_on(
            sqs.receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send(),
        );
        let messages = match received {
            Ok(o) => o.messages.unwrap_or_default(),
            Err(e) => {
                eprintln!(
                    "async mode: receiving from {}: {}",
                    names.queue,
                    describe(e)
                );
                std::thread::sleep(Duration::from_secs(2));
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let arn = names.queue_arn(&names.queue);
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attrs: serde_json::Map<String, Value> = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_string(), Value::String(v.clone())))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attrs,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": region,
                })
            })
            .collect();
        let event = serde_json::to_vec(&json!({ "Records": records })).unwrap_or_default();
        let started = Instant::now();
        let request_id = crate::local::new_request_id();
        let report = server
            .state()
            .warm
            .invoke(&request_id, &event, &mut |_| {}, &mut |_| {});
        let mut s = Summary {
            method: "SQS".into(),
            path: names.queue.clone(),
            route: format!(
                "{} job{}",
                records.len(),
                if records.len() == 1 { "" } else { "s" }
            ),
            request_id: request_id.clone(),
            ..Summary::default()
        };
        // The ids the function asks to see again; on a failed invocation, all.
        let failed: Option<Vec<String>> = match &report {
            Ok(r) => match &r.outcome {
                InvocationResult::Response(body) => Some(batch_failures(body)),
                other => {
                    s.note = other.error(&r.request_id).map(|(t, m)| format!("{t}: {m}"));
                    None
                }
            },
            Err(e) => {
                s.note = Some(format!("{e:#}"));
                None
            }
        };
        let entries: Vec<DeleteMessageBatchRequestEntry> = match &failed {
            None => Vec::new(),
            Some(failed) => messages
                .iter()
                .enumerate()
                .filter(|(_, m)| !failed.iter().any(|f| Some(f.as_str()) == m.message_id()))
                .filter_map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .build()
                        .ok()
                })
                .collect(),
        };
        let kept = messages.len() - entries.len();
        if !entries.is_empty()
            && let Err(e) = rt.block_on(
                sqs.delete_message_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries))
                    .send(),
            )
        {
            eprintln!("async mode: deleting done messages: {}", describe(e));
        }
        s.status = if failed.is_some() { 200 } else { 500 };
        if kept > 0 && s.note.is_none() {
            s.note = Some(format!("{kept} left on the queue to retry"));
        }
        s.audit = server.audits.take(&request_id, Duration::from_millis(500));
        s.duration = started.elapsed();
        server.print(&s);
    }
}

/// `batchItemFailures[].itemIdentifier` of the function's answer.
fn batch_failures(body: &[u8]) -> Vec<String> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("batchItemFailures").cloned())
        .and_then(|f| f.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f["itemIdentifier"].as_str().map(String::from))
        .collect()
}

/// With a local endpoint (`AWS_ENDPOINT_URL`), creates the jobs queue and table
/// when they are missing, as `claw deploy` would (a six-times-the-timeout
/// visibility, an on-demand table keyed on `job_id` with TTL). Against AWS
/// itself nothing is created: deploy the stage first.
pub async fn ensure_local_resources(config: &claw_spec::Config) -> anyhow::Result<Vec<String>> {
    if config.api.mode != ApiMode::Async || std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        return Ok(Vec::new());
    }
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let names = Names::new(config);
    let aws = Aws::new(&config.region).await;
    let mut made = Vec::new();
    if aws
        .sqs
        .get_queue_url()
        .queue_name(&names.queue)
        .send()
        .await
        .is_err()
    {
        aws.sqs
            .create_queue()
            .queue_name(&names.queue)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                (config.function.timeout_s * 6).to_string(),
            )
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("creating the queue {}: {}", names.queue, describe(e)))?;
        made.push(format!("queue {}", names.queue));
    }
    let exists = aws
        .dynamodb
        .describe_table()
        .table_name(&names.jobs_table)
        .send()
        .await
        .is_ok();
    if !exists {
        aws.dynamodb
            .create_table()
            .table_name(&names.jobs_table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(claw_spec::storage::JOBS_KEY)
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(claw_spec::storage::JOBS_KEY)
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!("creating the table {}: {}", names.jobs_table, describe(e))
            })?;
        made.push(format!("table {}", names.jobs_table));
    }
    Ok(made)
}

/// An SDK error in words: its code and message, or the transport's cause chain.
fn describe<E>(e: E) -> String
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    crate::aws::error::aws_error("SQS/DynamoDB", "", e).to_string()
}
