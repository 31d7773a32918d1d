//! Async mode: `POST /jobs` queues a request and answers 202 with a job id; the
//! queue's records run the agent; `GET /jobs/{id}` reads the result. Jobs live in
//! the table `{app}-{stage}-jobs` (partition key [`JOBS_KEY`], string; TTL on
//! [`TTL_ATTR`]), requests in the queue `{app}-{stage}-jobs`. The record and message
//! shapes are `claw_spec::storage`'s, shared with the provisioner.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use claw_spec::storage::{JOB_TTL_DAYS, JOBS_KEY, JobMessage, JobStatus, TTL_ATTR, job};
use serde_json::{Value, json};

use crate::aws::{Aws, describe, queue_url};
use crate::deadline::now_epoch_s;
use crate::event::AgentRequest;

pub struct Jobs<'a> {
    pub aws: &'a Aws,
    pub table: &'a str,
    pub queue: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

impl Jobs<'_> {
    /// Records the job as queued, then queues it. The item comes first so a fast
    /// consumer always finds it.
    pub async fn submit(
        &self,
        job_id: &str,
        agent: &str,
        req: &AgentRequest,
    ) -> Result<(), String> {
        let now = now_epoch_s();
        self.aws
            .dynamodb()
            .await
            .put_item()
            .table_name(self.table)
            .item(JOBS_KEY, AttributeValue::S(job_id.into()))
            .item(
                job::STATUS,
                AttributeValue::S(JobStatus::Queued.as_str().into()),
            )
            .item(job::AGENT, AttributeValue::S(agent.into()))
            .item(job::CREATED_AT, AttributeValue::N(now.to_string()))
            .item(job::UPDATED_AT, AttributeValue::N(now.to_string()))
            .item(
                TTL_ATTR,
                AttributeValue::N((now + JOB_TTL_DAYS * 86_400).to_string()),
            )
            .send()
            .await
            .map_err(|e| format!("recording the job: {}", describe(&e)))?;
        let body = JobMessage {
            job_id: job_id.into(),
            agent: agent.into(),
            message: req.message.clone(),
            session_id: req.session_id.clone(),
        };
        let body =
            serde_json::to_string(&body).map_err(|e| format!("encoding the job message: {e}"))?;
        self.aws
            .sqs()
            .await
            .send_message()
            .queue_url(queue_url(self.region, self.account, self.queue))
            .message_body(body)
            .send()
            .await
            .map_err(|e| format!("queueing the job: {}", describe(&e)))?;
        Ok(())
    }

    /// The job as `GET /jobs/{id}` shows it, or `None` when there is no such job.
    pub async fn status(&self, job_id: &str) -> Result<Option<Value>, String> {
        let out = self
            .aws
            .dynamodb()
            .await
            .get_item()
            .table_name(self.table)
            .key(JOBS_KEY, AttributeValue::S(job_id.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("reading the job: {}", describe(&e)))?;
        Ok(out.item().map(job_view))
    }

    /// Sets the job's status and, when done, its result (when failed, its error).
    pub async fn update(
        &self,
        job_id: &str,
        status: JobStatus,
        result: Option<&Value>,
        error: Option<&str>,
    ) -> Result<(), String> {
        let now = now_epoch_s();
        let mut expr = format!("SET #s = :s, {} = :u, #t = :t", job::UPDATED_AT);
        let mut req = self
            .aws
            .dynamodb()
            .await
            .update_item()
            .table_name(self.table)
            .key(JOBS_KEY, AttributeValue::S(job_id.into()))
            .expression_attribute_names("#s", job::STATUS)
            .expression_attribute_names("#t", TTL_ATTR)
            .expression_attribute_values(":s", AttributeValue::S(status.as_str().into()))
            .expression_attribute_values(":u", AttributeValue::N(now.to_string()))
            .expression_attribute_values(
                ":t",
                AttributeValue::N((now + JOB_TTL_DAYS * 86_400).to_string()),
            );
        if let Some(r) = result {
            expr.push_str(", #r = :r");
            req = req
                .expression_attribute_names("#r", job::RESULT)
                .expression_attribute_values(":r", AttributeValue::S(r.to_string()));
        }
        if let Some(e) = error {
            expr.push_str(", #e = :e");
            req = req
                .expression_attribute_names("#e", job::ERROR)
                .expression_attribute_values(":e", AttributeValue::S(e.into()));
        }
        req.update_expression(expr)
            .send()
            .await
            .map_err(|e| format!("updating the job: {}", describe(&e)))?;
        Ok(())
    }
}

fn job_view(item: &HashMap<String, AttributeValue>) -> Value {
    let s = |k: &str| match item.get(k) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    };
    // The view's field names are the API's (`GET /jobs/{id}`), which happen to be
    // the stored attributes' names.
    let mut v = json!({
        "job_id": s(JOBS_KEY),
        "status": s(job::STATUS),
        "agent": s(job::AGENT),
    });
    if let Some(r) = s(job::RESULT).and_then(|r| serde_json::from_str::<Value>(&r).ok()) {
        v["result"] = r;
    }
    if let Some(e) = s(job::ERROR) {
        v["error"] = json!(e);
    }
    v
}
