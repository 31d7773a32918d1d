//! Decisions on calls that wait for a person (`tools.NAME.approval: required`):
//! a job stopped before such a call is `waiting_approval` with the call in
//! `pending`; a decision records itself in `decision`, sets the job `queued`
//! and queues the message that resumes it (`claw_spec::storage::job`).

use aws_sdk_dynamodb::types::AttributeValue;
use claw_spec::storage::{
    Decision, JOBS_KEY, JobMessage, JobStatus, PendingCall, RESUME_MESSAGE, job,
};
use serde_json::Value;

use crate::aws::describe;
use crate::deadline::now_epoch_s;
use crate::jobs::{Jobs, is_conditional};

/// What a decision on a waiting job did.
#[derive(Debug)]
pub enum Decided {
    /// Recorded, and the job queued to resume: it runs the call, or tells the
    /// model it was rejected.
    Queued(PendingCall),
    NotFound,
    /// The job waits on no call (its status is given).
    NotWaiting(String),
}

impl Jobs<'_> {
    /// Approves or rejects the call a `waiting_approval` job waits on, and
    /// queues the job to resume. Deciding again on a job already queued by a
    /// decision sends its message again (the first send may have failed);
    /// resuming twice is harmless, as for any redelivery.
    pub async fn decide(
        &self,
        job_id: &str,
        approved: bool,
        by: Option<&str>,
    ) -> Result<Decided, String> {
        let ddb = self.aws.dynamodb().await;
        let item = ddb
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
        let agent = s(job::AGENT).unwrap_or_default();
        let resume = JobMessage {
            job_id: job_id.into(),
            agent,
            message: RESUME_MESSAGE.into(),
            session_id: None,
            caller: None,
        };
        let pending = s(job::PENDING);
        let call = pending
            .as_deref()
            .and_then(|p| serde_json::from_str::<PendingCall>(p).ok());
        let (Some(pending), Some(call)) = (pending, call) else {
            let earlier = s(job::DECISION).and_then(|d| serde_json::from_str::<Decision>(&d).ok());
            let queued = status == JobStatus::Queued.as_str();
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
            at: now_epoch_s(),
        };
        let written = ddb
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
            .expression_attribute_values(":now", AttributeValue::N(now_epoch_s().to_string()))
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
}
