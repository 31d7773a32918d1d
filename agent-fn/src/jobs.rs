//! Async mode: `POST /jobs` queues a request and answers 202 with a job id; the
//! queue's records run the agent; `GET /jobs/{id}` reads the result. Jobs live in
//! the table `{app}-{stage}-jobs` (partition key [`JOBS_KEY`], string; TTL on
//! [`TTL_ATTR`]), requests in the queue `{app}-{stage}-jobs`. The record and message
//! shapes are `claw_spec::storage`'s, shared with the provisioner.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use claw_spec::storage::{JOB_TTL_DAYS, JOBS_KEY, JobMessage, JobStatus, TTL_ATTR, job};

mod run;
pub use run::{Claim, Finish};
use serde_json::{Value, json};

use crate::aws::{Aws, describe, queue_url};
use crate::deadline::now_epoch_s;
use crate::event::AgentRequest;

/// The most bytes a job's stored result may take. DynamoDB refuses items over
/// 400 KB (attribute names and values together,
/// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html);
/// an answer of `max_tokens` up to 128,000 can pass that, the update would fail,
/// and SQS would run the job again and again. 300 KiB leaves room for the rest
/// of the item.
pub const RESULT_LIMIT: usize = 300 * 1024;

/// What ends a response cut to fit [`RESULT_LIMIT`].
pub const TRUNCATED_MARKER: &str =
    "\n[truncated: the answer is longer than a job record holds (400 KB)]";

/// The result as stored: its JSON, or, when that is over [`RESULT_LIMIT`], the
/// same JSON with `response` cut at a character boundary and ended with
/// [`TRUNCATED_MARKER`], and `"truncated": true`.
pub fn stored_result(result: &Value) -> String {
    let full = result.to_string();
    if full.len() <= RESULT_LIMIT {
        return full;
    }
    let text = result["response"].as_str().unwrap_or_default();
    // Cutting n bytes of text shrinks the JSON by at least n (escapes only add).
    let mut keep = text.len().saturating_sub(full.len() - RESULT_LIMIT + 256);
    loop {
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
        let mut v = result.clone();
        v["response"] = json!(format!("{}{TRUNCATED_MARKER}", &text[..keep]));
        v["truncated"] = json!(true);
        let out = v.to_string();
        if out.len() <= RESULT_LIMIT {
            return out;
        }
        if keep == 0 {
            // Not the response's fault: keep only the marker.
            return json!({"response": TRUNCATED_MARKER, "truncated": true}).to_string();
        }
        keep = keep.saturating_sub(out.len() - RESULT_LIMIT).min(keep / 2);
    }
}

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
        self.send(&JobMessage {
            job_id: job_id.into(),
            agent: agent.into(),
            message: req.message.clone(),
            session_id: req.session_id.clone(),
            caller: req.caller.clone(),
        })
        .await
    }

    /// Puts a job's message on the queue: a new job, or the continuation of one.
    pub async fn send(&self, message: &JobMessage) -> Result<(), String> {
        let body =
            serde_json::to_string(message).map_err(|e| format!("encoding the job message: {e}"))?;
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
}

fn job_view(item: &HashMap<String, AttributeValue>) -> Value {
    let s = |k: &str| match item.get(k) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    };
    let n = |k: &str| match item.get(k) {
        Some(AttributeValue::N(v)) => v.parse::<f64>().ok(),
        _ => None,
    };
    let count = |k: &str| n(k).map(|f| f as u64).unwrap_or(0);
    // The view's field names are the API's (`GET /jobs/{id}`), which happen to be
    // the stored attributes' names.
    let mut v = json!({
        "job_id": s(JOBS_KEY),
        "status": s(job::STATUS),
        "agent": s(job::AGENT),
    });
    if item.contains_key(job::STARTED_AT) {
        // Where a job that has run is, so far (the totals, once it is done).
        let mut progress = json!({
            "turns": count(job::TURNS),
            "tool_calls": count(job::TOOL_CALLS),
            "input_tokens": count(job::INPUT_TOKENS),
            "output_tokens": count(job::OUTPUT_TOKENS),
            "invocations": count(job::INVOCATIONS),
        });
        if let Some(c) = n(job::COST_USD) {
            progress["cost_usd"] = json!(c);
        }
        v["progress"] = progress;
    }
    if let Some(r) = s(job::RESULT).and_then(|r| serde_json::from_str::<Value>(&r).ok()) {
        v["result"] = r;
    }
    if let Some(e) = s(job::ERROR) {
        v["error"] = json!(e);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(response: String) -> Value {
        json!({
            "response": response,
            "session_id": "s",
            "tool_calls": 0,
            "usage": {"input_tokens": 1, "output_tokens": 128000},
            "stop_reason": "max_tokens",
        })
    }

    /// An answer of 128,000 tokens can pass DynamoDB's 400 KB item limit; it is
    /// stored cut, marked, as valid JSON under the limit, never refused.
    #[test]
    fn a_result_over_the_item_limit_is_truncated_with_a_marker() {
        // Multi-byte characters and quotes (which JSON escapes) included.
        let long: String = "é\"日本語 ".repeat(60_000);
        assert!(long.len() > 400 * 1024);
        let stored = stored_result(&answer(long.clone()));
        assert!(stored.len() <= RESULT_LIMIT, "{}", stored.len());
        let v: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(v["truncated"], true);
        let text = v["response"].as_str().unwrap();
        let kept = text.strip_suffix(TRUNCATED_MARKER).expect("the marker");
        assert!(
            long.starts_with(kept) && kept.len() > 200 * 1024,
            "{}",
            kept.len()
        );
        assert_eq!(v["stop_reason"], "max_tokens");

        // A result that fits is stored as it is.
        let short = answer("ok".into());
        assert_eq!(stored_result(&short), short.to_string());
    }
}
