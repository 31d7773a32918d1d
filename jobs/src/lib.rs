//! The async jobs table (`{app}-{stage}-jobs`) as the function and the claw CLI
//! both read and write it: the view `GET /jobs/{id}` and `claw jobs show` print,
//! listing jobs (`claw jobs list`), and decisions on the calls jobs wait on
//! (`POST /jobs/{id}/approve|reject`, `claw jobs approve|reject`). The item's
//! attributes are `claw_spec::storage::job`'s.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use claw_spec::storage::{
    Decision, JOBS_KEY, JobMessage, JobStatus, PendingCall, RESUME_MESSAGE, job,
};
use serde_json::{Value, json};

/// An SDK error with its sources, on one line.
pub fn describe<E: std::error::Error>(e: &E) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Whether an update failed its condition.
pub fn is_conditional(e: &SdkError<UpdateItemError>) -> bool {
    matches!(e, SdkError::ServiceError(s)
        if matches!(s.err(), UpdateItemError::ConditionalCheckFailedException(_)))
}

/// A job as `GET /jobs/{id}` shows it: id, status and agent; once it has run,
/// its progress (the totals once it is done); its result or error; and the call
/// it waits on when `waiting_approval`.
pub fn view(item: &HashMap<String, AttributeValue>) -> Value {
    let s = |k: &str| match item.get(k) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    };
    let n = |k: &str| match item.get(k) {
        Some(AttributeValue::N(v)) => v.parse::<f64>().ok(),
        _ => None,
    };
    let count = |k: &str| n(k).map(|f| f as u64).unwrap_or(0);
    // The view's field names are the API's, which happen to be the stored
    // attributes' names.
    let mut v = json!({
        "job_id": s(JOBS_KEY),
        "status": s(job::STATUS),
        "agent": s(job::AGENT),
    });
    for k in [job::CREATED_AT, job::UPDATED_AT] {
        if let Some(t) = n(k) {
            v[k] = json!(t as u64);
        }
    }
    if item.contains_key(job::STARTED_AT) {
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
    if let Some(p) = s(job::PENDING).and_then(|p| serde_json::from_str::<Value>(&p).ok()) {
        v["pending"] = p;
    }
    v
}

/// Every job in the table (without results or checkpoints, which can be large),
/// newest update first; with `status`, only jobs in it.
pub async fn list(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    status: Option<JobStatus>,
) -> Result<Vec<Value>, String> {
    let shown = [
        JOBS_KEY,
        job::STATUS,
        job::AGENT,
        job::CREATED_AT,
        job::UPDATED_AT,
        job::STARTED_AT,
        job::TURNS,
        job::TOOL_CALLS,
        job::INPUT_TOKENS,
        job::OUTPUT_TOKENS,
        job::INVOCATIONS,
        job::COST_USD,
        job::ERROR,
        job::PENDING,
    ];
    let mut jobs = Vec::new();
    let mut start = None;
    loop {
        let mut req = ddb.scan().table_name(table).set_exclusive_start_key(start);
        // Names, not the attributes themselves: `status` is a reserved word.
        let mut projection = Vec::new();
        for (i, a) in shown.iter().enumerate() {
            req = req.expression_attribute_names(format!("#a{i}"), *a);
            projection.push(format!("#a{i}"));
        }
        req = req.projection_expression(projection.join(", "));
        let page = req
            .send()
            .await
            .map_err(|e| format!("listing the jobs of {table}: {}", describe(&e)))?;
        jobs.extend(page.items().iter().map(view));
        match page.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => break,
        }
    }
    if let Some(s) = status {
        jobs.retain(|j| j["status"] == s.as_str());
    }
    jobs.sort_by(|a, b| {
        let t = |v: &Value| v["updated_at"].as_u64().unwrap_or(0);
        t(b).cmp(&t(a))
            .then_with(|| a["job_id"].as_str().cmp(&b["job_id"].as_str()))
    });
    Ok(jobs)
}

/// One job's view, or `None` when there is no such job.
pub async fn show(
    ddb: &aws_sdk_dynamodb::Client,
    table: &str,
    job_id: &str,
) -> Result<Option<Value>, String> {
    let out = ddb
        .get_item()
        .table_name(table)
        .key(JOBS_KEY, AttributeValue::S(job_id.into()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| format!("reading the job: {}", describe(&e)))?;
    Ok(out.item().map(view))
}

/// What a decision on a waiting job did.
#[derive(Debug, Clone, PartialEq)]
pub enum Decided {
    /// Recorded, and the job queued to resume: it runs the call, or tells the
    /// model it was rejected. The call's `tool` and `input` are empty when this
    /// repeated an earlier decision (whose message is sent again).
    Queued(PendingCall),
    NotFound,
    /// The job waits on no call, or the call was decided the other way; its
    /// status.
    NotWaiting(String),
}

/// Where a decision goes: the jobs table, and the queue the resuming message is
/// sent to.
pub struct Store<'a> {
    pub ddb: &'a aws_sdk_dynamodb::Client,
    pub sqs: &'a aws_sdk_sqs::Client,
    pub table: &'a str,
    pub queue_url: &'a str,
}

impl Store<'_> {
    /// Approves or rejects the call a `waiting_approval` job waits on, and
    /// queues the job to resume. The write is conditional on the job still
    /// waiting on that very call, so two decisions cannot both land. Deciding
    /// the same way again on a job a decision queued sends its message again
    /// (the first send may have failed); a resumed job delivered twice is
    /// harmless, as for any redelivery.
    pub async fn decide(
        &self,
        job_id: &str,
        approved: bool,
        by: Option<&str>,
        now_s: u64,
    ) -> Result<Decided, String> {
        let item = self
            .ddb
            .get_item()
            .table_name(self.table)
            .key(JOBS_KEY, AttributeValue::S(job_id.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("reading the job: {}", describe(&e)))?;
        let Some(item) = item.item() else {
            return Ok(Decided::NotFound);
        };
        let s = |k: &str| match item.get(k) {
            Some(AttributeValue::S(v)) => Some(v.clone()),
            _ => None,
        };
        let status = s(job::STATUS).unwrap_or_default();
        let resume = JobMessage {
            job_id: job_id.into(),
            agent: s(job::AGENT).unwrap_or_default(),
            message: RESUME_MESSAGE.into(),
            session_id: None,
            caller: None,
        };
        let pending = s(job::PENDING);
        let call = pending
            .as_deref()
            .and_then(|p| serde_json::from_str::<PendingCall>(p).ok());
        let (Some(pending), Some(call)) = (pending, call) else {
            let queued = status == JobStatus::Queued.as_str();
            let earlier = s(job::DECISION).and_then(|d| serde_json::from_str::<Decision>(&d).ok());
            if let Some(d) = earlier.filter(|d| queued && d.approved == approved) {
                self.send(&resume).await?;
                return Ok(Decided::Queued(PendingCall {
                    tool_use_id: d.tool_use_id,
                    tool: String::new(),
                    input: Value::Null,
                }));
            }
            return Ok(Decided::NotWaiting(status));
        };
        let decision = Decision {
            tool_use_id: call.tool_use_id.clone(),
            approved,
            by: by.map(str::to_string),
            at: now_s,
        };
        let written = self
            .ddb
            .update_item()
            .table_name(self.table)
            .key(JOBS_KEY, AttributeValue::S(job_id.into()))
            .update_expression("SET #d = :d, #s = :queued, #u = :now REMOVE #p")
            .condition_expression("#s = :waiting AND #p = :p")
            .expression_attribute_names("#d", job::DECISION)
            .expression_attribute_names("#s", job::STATUS)
            .expression_attribute_names("#u", job::UPDATED_AT)
            .expression_attribute_names("#p", job::PENDING)
            .expression_attribute_values(
                ":d",
                AttributeValue::S(serde_json::to_string(&decision).unwrap_or_default()),
            )
            .expression_attribute_values(
                ":queued",
                AttributeValue::S(JobStatus::Queued.as_str().into()),
            )
            .expression_attribute_values(
                ":waiting",
                AttributeValue::S(JobStatus::WaitingApproval.as_str().into()),
            )
            .expression_attribute_values(":now", AttributeValue::N(now_s.to_string()))
            .expression_attribute_values(":p", AttributeValue::S(pending))
            .send()
            .await;
        match written {
            Ok(_) => {}
            Err(e) if is_conditional(&e) => return Ok(Decided::NotWaiting(status)),
            Err(e) => return Err(format!("recording the decision: {}", describe(&e))),
        }
        self.send(&resume).await?;
        Ok(Decided::Queued(call))
    }

    async fn send(&self, message: &JobMessage) -> Result<(), String> {
        send(self.sqs, self.queue_url, message).await
    }
}

/// Puts a job's message on the queue: a new job, a continuation, or the
/// resumption after a decision.
pub async fn send(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    message: &JobMessage,
) -> Result<(), String> {
    let body =
        serde_json::to_string(message).map_err(|e| format!("encoding the job message: {e}"))?;
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(body)
        .send()
        .await
        .map_err(|e| format!("queueing the job: {}", describe(&e)))?;
    Ok(())
}
