//! SQS: a batch of async jobs, run concurrently (each one's claim, checkpoints and
//! end are `job`'s); only records a retry could fix are reported in
//! `batchItemFailures`, and the invocation's audit line sums the records'.

use claw_spec::model::ApiMode;
use futures::future::join_all;
use serde_json::{Value, json};

use super::respond::RunError;
use super::{App, Invocation};
use crate::audit::Audit;
use crate::event::SqsRecord;

impl App {
    pub(super) async fn sqs(
        &self,
        records: Vec<SqsRecord>,
        inv: &Invocation,
        audit: &mut Audit,
    ) -> Value {
        let runs = join_all(records.iter().map(|r| self.job_record(r, inv))).await;
        let mut failures = Vec::new();
        let mut agents: Vec<String> = Vec::new();
        let mut worst = 0;
        audit.records = Some(records.len());
        for (record, (retry, mut a)) in records.iter().zip(runs) {
            audit.spans.append(&mut a.spans);
            if retry {
                failures.push(json!({"itemIdentifier": record.message_id}));
            }
            audit.turns += a.turns;
            audit.tool_calls += a.tool_calls;
            audit.input_tokens += a.input_tokens;
            audit.output_tokens += a.output_tokens;
            audit.model_latency_ms += a.model_latency_ms;
            if let Some(ag) = &a.agent
                && !agents.contains(ag)
            {
                agents.push(ag.clone());
            }
            // The invocation's outcome is its worst record's: one SQS will deliver
            // again beats one that was dropped, which beats none.
            let rank = match (retry, a.error.is_some()) {
                (true, _) => 2,
                (false, true) => 1,
                _ => 0,
            };
            if rank > worst {
                worst = rank;
                audit.error = a.error.clone();
                audit.outcome = a.outcome;
                audit.status = a.status;
            }
            if records.len() == 1 {
                audit.session_id = a.session_id;
                audit.job_id = a.job_id;
                audit.stop_reason = a.stop_reason;
                if audit.error.is_none() {
                    audit.outcome = a.outcome;
                }
            }
        }
        if agents.len() == 1 {
            audit.agent = agents.pop();
        }
        audit.failed_records = Some(failures.len());
        json!({"batchItemFailures": failures})
    }

    /// Runs one queued job. Returns whether SQS should deliver it again, and the
    /// record's own audit figures.
    async fn job_record(&self, record: &SqsRecord, inv: &Invocation) -> (bool, Audit) {
        let mut audit = Audit::new(&inv.request_id);
        let job = match &record.job {
            Ok(j) => j,
            Err(bad) => {
                self.note_error(&mut audit, &RunError::BadRequest(bad.0.clone()));
                return (false, audit);
            }
        };
        audit.job_id = Some(job.job_id.clone());
        if self.config.api.mode == ApiMode::Async {
            let retry = self.tracked_job(job, inv, &mut audit).await;
            return (retry, audit);
        }
        // A queue of agent requests outside async mode: no job record to keep.
        let agent = job.request.agent.clone().unwrap_or_default();
        let result = self
            .converse(&agent, &job.request, inv, &mut audit, None, None)
            .await;
        let mut retry = false;
        if let Err(e) = &result {
            self.note_error(&mut audit, e);
            retry = e.retryable();
        }
        (retry, audit)
    }
}
