//! Async mode: `POST /jobs` queues a request and answers 202 with a job id; the
//! queue's records run the agent; `GET /jobs/{id}` reads the result. Jobs live in
//! the table `{app}-{stage}-jobs` (partition key `job_id`, string; `ttl` attribute),
//! requests in the queue `{app}-{stage}-jobs`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use crate::aws::{Aws, describe, queue_url};
use crate::deadline::now_epoch_s;
use crate::event::AgentRequest;

/// How long a job's result stays readable.
pub const JOB_TTL_DAYS: u64 = 7;

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
            .item("job_id", AttributeValue::S(job_id.into()))
            .item("status", AttributeValue::S("queued".into()))
            .item("agent", AttributeValue::S(agent.into()))
            .item("created_at", AttributeValue::N(now.to_string()))
            .item("updated_at", AttributeValue::N(now.to_string()))
            .item(
                "ttl",
                AttributeValue::N((now + JOB_TTL_DAYS * 86_400).to_string()),
            )
            .send()
            .await
            .map_err(|e| format!("recording the job: {}", describe(&e)))?;
        let mut body = json!({"job_id": job_id, "agent": agent, "message": req.message});
        if let Some(s) = &req.session_id {
            body["session_id"] = json!(s);
        }
        self.aws
            .sqs()
            .await
            .send_message()
            .queue_url(queue_url(self.region, self.account, self.queue))
            .message_body(body.to_string())
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
            .key("job_id", AttributeValue::S(job_id.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("reading the job: {}", describe(&e)))?;
        Ok(out.item().map(job_view))
    }

    /// Sets the job's status (`running`, `done`, `failed`) and, when done, its result.
    pub async fn update(
        &self,
        job_id: &str,
        status: &str,
        result: Option<&Value>,
        error: Option<&str>,
    ) -> Result<(), String> {
        let now = now_epoch_s();
        let mut expr = String::from("SET #s = :s, updated_at = :u, #t = :t");
        let mut req = self
            .aws
            .dynamodb()
            .await
            .update_item()
            .table_name(self.table)
            .key("job_id", AttributeValue::S(job_id.into()))
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#t", "ttl")
            .expression_attribute_values(":s", AttributeValue::S(status.into()))
            .expression_attribute_values(":u", AttributeValue::N(now.to_string()))
            .expression_attribute_values(
                ":t",
                AttributeValue::N((now + JOB_TTL_DAYS * 86_400).to_string()),
            );
        if let Some(r) = result {
            expr.push_str(", #r = :r");
            req = req
                .expression_attribute_names("#r", "result")
                .expression_attribute_values(":r", AttributeValue::S(r.to_string()));
        }
        if let Some(e) = error {
            expr.push_str(", #e = :e");
            req = req
                .expression_attribute_names("#e", "error")
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
    let mut v = json!({
        "job_id": s("job_id"),
        "status": s("status"),
        "agent": s("agent"),
    });
    if let Some(r) = s("result").and_then(|r| serde_json::from_str::<Value>(&r).ok()) {
        v["result"] = r;
    }
    if let Some(e) = s("error") {
        v["error"] = json!(e);
    }
    v
}
