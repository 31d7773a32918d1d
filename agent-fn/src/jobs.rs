//! Async mode: `POST /jobs` queues a request and answers 202 with a job id; the
//! queue's records run the agent; `GET /jobs/{id}` reads the result. Jobs live in
//! the table `{app}-{stage}-jobs` (partition key [`JOBS_KEY`], string; TTL on
//! [`TTL_ATTR`]), requests in the queue `{app}-{stage}-jobs`. The record and message
//! shapes are `claw_spec::storage`'s, shared with the provisioner.
//!
//! A running job's writes (claiming a delivery, each checkpoint, the final
//! status) are conditional on the version read, so two deliveries of one job
//! cannot both advance it.

mod result;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use claw_spec::storage::{
    Decision, JOB_TTL_DAYS, JOBS_KEY, JobMessage, JobStatus, PendingCall, TTL_ATTR, job,
};
use serde_json::Value;

pub use result::{RESULT_LIMIT, TRUNCATED_MARKER, stored_result};

use claw_jobs::is_conditional;

use crate::aws::{Aws, describe, queue_url};
use crate::checkpoint::{Checkpoint, JournalError};
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
        let url = queue_url(self.region, self.account, self.queue);
        claw_jobs::send(self.aws.sqs().await, &url, message).await
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
        Ok(out.item().map(claw_jobs::view))
    }
}

/// Marks a job whose last delivery failed in a way a retry could fix: its status
/// is `failed`, but the next delivery may still run it.
const RETRYING: &str = "retrying";

/// What one delivery of a job found.
#[derive(Debug)]
pub enum Claim {
    /// The job has ended (done, or failed for good): a redelivery, or a
    /// continuation that arrived after the end. Nothing to do.
    Ended,
    /// Run it, from `checkpoint` when an earlier invocation left one.
    Run {
        version: u64,
        checkpoint: Option<Box<Checkpoint>>,
        /// Epoch seconds of the job's first run.
        started_at: u64,
    },
    /// The stored checkpoint cannot be read: resuming would repeat what it
    /// recorded, so the job must fail.
    Unreadable(String),
}

/// The final write of a run.
#[derive(Debug)]
pub struct Finish<'a> {
    pub status: JobStatus,
    pub result: Option<&'a Value>,
    pub error: Option<&'a str>,
    /// Failed, but SQS will deliver it again: the checkpoint stays.
    pub retrying: bool,
    /// Stopped before this call, which waits for a decision: the checkpoint
    /// stays.
    pub waiting: Option<&'a PendingCall>,
    /// The version this run last wrote; `None` writes whatever it finds.
    pub version: Option<u64>,
}

fn num(item: &HashMap<String, AttributeValue>, k: &str) -> Option<u64> {
    match item.get(k) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

/// The most bytes a checkpoint may take, leaving room in DynamoDB's 400 KB item
/// for the rest of the record (as [`RESULT_LIMIT`] does for a result).
pub const CHECKPOINT_LIMIT: usize = RESULT_LIMIT + 40 * 1024;

impl Jobs<'_> {
    /// An UpdateItem of the job's record that also stamps it updated
    /// (`#u = :now` for the caller's expression).
    async fn update(&self, job_id: &str, now: u64) -> UpdateBuilder {
        self.aws
            .dynamodb()
            .await
            .update_item()
            .table_name(self.table)
            .key(JOBS_KEY, AttributeValue::S(job_id.into()))
            .expression_attribute_names("#u", job::UPDATED_AT)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
    }

    /// Marks the job running and reads where it is. A job that has ended is not
    /// claimed; one whose last delivery failed with `retrying` is.
    pub async fn claim(&self, job_id: &str, agent: &str) -> Result<Claim, String> {
        let now = now_epoch_s();
        let out = self
            .update(job_id, now)
            .await
            .update_expression(
                "SET #s = :running, #u = :now, #st = if_not_exists(#st, :now), \
                 #a = if_not_exists(#a, :agent), #t = :ttl ADD #i :one REMOVE #r",
            )
            .condition_expression(
                "attribute_not_exists(#k) OR (#s <> :done AND (#s <> :failed OR attribute_exists(#r)))",
            )
            .expression_attribute_names("#k", JOBS_KEY)
            .expression_attribute_names("#s", job::STATUS)
            .expression_attribute_names("#st", job::STARTED_AT)
            .expression_attribute_names("#a", job::AGENT)
            .expression_attribute_names("#t", TTL_ATTR)
            .expression_attribute_names("#i", job::INVOCATIONS)
            .expression_attribute_names("#r", RETRYING)
            .expression_attribute_values(
                ":running",
                AttributeValue::S(JobStatus::Running.as_str().into()),
            )
            .expression_attribute_values(":done", AttributeValue::S(JobStatus::Done.as_str().into()))
            .expression_attribute_values(
                ":failed",
                AttributeValue::S(JobStatus::Failed.as_str().into()),
            )
            .expression_attribute_values(":agent", AttributeValue::S(agent.into()))
            .expression_attribute_values(":ttl", AttributeValue::N(ttl(now)))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) if is_conditional(&e) => return Ok(Claim::Ended),
            Err(e) => return Err(format!("claiming the job: {}", describe(&e))),
        };
        let item = out.attributes().cloned().unwrap_or_default();
        let mut checkpoint: Option<Box<Checkpoint>> = match item.get(job::CHECKPOINT) {
            Some(AttributeValue::S(text)) => match serde_json::from_str(text) {
                Ok(c) => Some(Box::new(c)),
                Err(e) => return Ok(Claim::Unreadable(format!("the checkpoint: {e}"))),
            },
            _ => None,
        };
        // A person's decision on the call the job waited on.
        let decision = match item.get(job::DECISION) {
            Some(AttributeValue::S(text)) => serde_json::from_str::<Decision>(text).ok(),
            _ => None,
        };
        if let (Some(cp), Some(d)) = (checkpoint.as_mut(), decision) {
            cp.approvals.insert(d.tool_use_id, d.approved);
        }
        Ok(Claim::Run {
            version: num(&item, job::VERSION).unwrap_or(0),
            checkpoint,
            started_at: num(&item, job::STARTED_AT).unwrap_or(now),
        })
    }

    /// Writes a checkpoint over version `version`, making it `version + 1`.
    pub async fn checkpoint(
        &self,
        job_id: &str,
        version: u64,
        cp: &Checkpoint,
    ) -> Result<(), JournalError> {
        let text = serde_json::to_string(cp)
            .map_err(|e| JournalError::Store(format!("encoding the checkpoint: {e}")))?;
        if text.len() > CHECKPOINT_LIMIT {
            return Err(JournalError::TooLarge(text.len()));
        }
        let p = &cp.progress;
        let mut expr = "SET #c = :c, #v = :next, #u = :now, #turns = :turns, #tools = :tools, \
                        #in = :in, #out = :out"
            .to_string();
        let now = now_epoch_s();
        let mut req = self
            .update(job_id, now)
            .await
            .expression_attribute_names("#c", job::CHECKPOINT)
            .expression_attribute_names("#turns", job::TURNS)
            .expression_attribute_names("#tools", job::TOOL_CALLS)
            .expression_attribute_names("#in", job::INPUT_TOKENS)
            .expression_attribute_names("#out", job::OUTPUT_TOKENS)
            .expression_attribute_values(":c", AttributeValue::S(text))
            .expression_attribute_values(":turns", AttributeValue::N(p.turns.to_string()))
            .expression_attribute_values(
                ":tools",
                AttributeValue::N((p.tool_calls as usize + cp.tools_done.len()).to_string()),
            )
            .expression_attribute_values(":in", AttributeValue::N(p.usage.input_tokens.to_string()))
            .expression_attribute_values(
                ":out",
                AttributeValue::N(p.usage.output_tokens.to_string()),
            );
        if let Some(cost) = p.cost_usd {
            expr.push_str(", #cost = :cost");
            req = req
                .expression_attribute_names("#cost", job::COST_USD)
                .expression_attribute_values(":cost", AttributeValue::N(format!("{cost:.6}")));
        }
        let result = versioned(req, version).update_expression(expr).send().await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional(&e) => Err(JournalError::Superseded),
            Err(e) => Err(JournalError::Store(format!(
                "writing the checkpoint: {}",
                describe(&e)
            ))),
        }
    }

    /// The run's final status: done with the result, or failed with the error.
    /// Unless `retrying`, the checkpoint is removed: the job has ended. Returns
    /// `false` when another delivery advanced the job past `version`.
    pub async fn finish(&self, job_id: &str, f: Finish<'_>) -> Result<bool, String> {
        let now = now_epoch_s();
        let mut expr = "SET #s = :s, #u = :now, #t = :ttl".to_string();
        let mut req = self
            .update(job_id, now)
            .await
            .expression_attribute_names("#s", job::STATUS)
            .expression_attribute_names("#t", TTL_ATTR)
            .expression_attribute_values(":s", AttributeValue::S(f.status.as_str().into()))
            .expression_attribute_values(":ttl", AttributeValue::N(ttl(now)));
        if let Some(r) = f.result {
            expr.push_str(", #res = :res");
            req = req
                .expression_attribute_names("#res", job::RESULT)
                .expression_attribute_values(":res", AttributeValue::S(stored_result(r)));
        }
        if let Some(e) = f.error {
            expr.push_str(", #e = :e");
            req = req
                .expression_attribute_names("#e", job::ERROR)
                .expression_attribute_values(":e", AttributeValue::S(e.into()));
        }
        if f.retrying {
            expr.push_str(", #r = :true");
            req = req
                .expression_attribute_names("#r", RETRYING)
                .expression_attribute_values(":true", AttributeValue::Bool(true));
        } else if let Some(call) = f.waiting {
            let text = serde_json::to_string(call).unwrap_or_default();
            expr.push_str(", #p = :p");
            req = req
                .expression_attribute_names("#p", job::PENDING)
                .expression_attribute_values(":p", AttributeValue::S(text));
        } else {
            expr.push_str(" REMOVE #c");
            req = req.expression_attribute_names("#c", job::CHECKPOINT);
        }
        if let Some(v) = f.version {
            req = versioned(req, v);
            // `versioned` adds the SET of the next version.
            expr = expr.replacen("SET ", "SET #v = :next, ", 1);
        }
        match req.update_expression(expr).send().await {
            Ok(_) => Ok(true),
            Err(e) if is_conditional(&e) => Ok(false),
            Err(e) => Err(format!("updating the job: {}", describe(&e))),
        }
    }
}

type UpdateBuilder = aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;

/// Makes an update conditional on the job being at `version` (no version yet for
/// 0), binding `#v` and `:next` for the caller's `SET #v = :next`.
fn versioned(req: UpdateBuilder, version: u64) -> UpdateBuilder {
    let req = req
        .expression_attribute_names("#v", job::VERSION)
        .expression_attribute_values(":next", AttributeValue::N((version + 1).to_string()));
    if version == 0 {
        req.condition_expression("attribute_not_exists(#v)")
    } else {
        req.condition_expression("#v = :v")
            .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
    }
}

fn ttl(now: u64) -> String {
    (now + JOB_TTL_DAYS * 86_400).to_string()
}
