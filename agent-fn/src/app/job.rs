//! One delivery of an async job: claim it, resume from its checkpoint, record
//! every model turn and tool result, and end it: done, failed, or continued in a
//! new invocation (a message with the same job id) when this one's time runs out.
//!
//! SQS delivers at least once, so a job may arrive again after it ended, or twice
//! at once. An ended job is acknowledged untouched; of two concurrent deliveries,
//! the first checkpoint written wins and the other stops there, before it runs a
//! tool (its message is returned to the queue, in case the winner dies).

use std::sync::atomic::{AtomicU64, Ordering};

use claw_spec::storage::{JobMessage, JobStatus, PendingCall};
use futures::future::BoxFuture;
use tokio::sync::Mutex;

use super::respond::RunError;
use super::{App, CheckpointHook, Invocation};
use crate::agent::{Stats, ToolOutput};
use crate::anthropic::Message;
use crate::audit::Audit;
use crate::checkpoint::{Checkpoint, Ended, Journal, JournalError, Progress, SavedOutput};
use crate::deadline::now_epoch_s;
use crate::event::Job;
use crate::jobs::{Claim, Finish, Jobs};
use crate::request::Mark;

/// Where a job's checkpoints go: the jobs table, each write conditional on the
/// version the last one made.
pub(super) struct JobJournal<'a> {
    jobs: Jobs<'a>,
    job_id: &'a str,
    /// The version last written, and the checkpoint as written.
    state: Mutex<(u64, Checkpoint)>,
    /// Where this invocation starts from.
    pub(super) resume: Option<Checkpoint>,
    pub(super) session_version: AtomicU64,
    pub(super) session_id: std::sync::Mutex<Option<String>>,
    hook: Option<&'a CheckpointHook>,
}

impl JobJournal<'_> {
    /// The version this run last wrote.
    async fn version(&self) -> u64 {
        self.state.lock().await.0
    }

    async fn write(&self, edit: impl FnOnce(&mut Checkpoint)) -> Result<(), JournalError> {
        let mut state = self.state.lock().await;
        let (version, cp) = &mut *state;
        edit(cp);
        cp.session_version = self.session_version.load(Ordering::Relaxed);
        cp.session_id = self.session_id.lock().map(|s| s.clone()).unwrap_or(None);
        self.jobs.checkpoint(self.job_id, *version, cp).await?;
        *version += 1;
        if let Some(hook) = self.hook {
            hook(*version).await;
        }
        Ok(())
    }
}

impl Journal for JobJournal<'_> {
    fn turn<'a>(
        &'a self,
        messages: &'a [Message],
        stats: &'a Stats,
        cache_mark: Option<Mark>,
        ended: Option<Ended>,
    ) -> BoxFuture<'a, Result<(), JournalError>> {
        let ending = ended.is_some();
        Box::pin(async move {
            let written = self
                .write(move |cp| {
                    cp.messages = messages.to_vec();
                    cp.progress = Progress::of(stats);
                    cp.tools_done.clear();
                    cp.cache_mark = cache_mark;
                    cp.ended = ended;
                })
                .await;
            match written {
                // The last turn's answer is too long to checkpoint, but it is
                // about to be the job's result (stored truncated if need be).
                // Lost to a crash in between, that turn alone runs again.
                Err(JournalError::TooLarge(_)) if ending => Ok(()),
                w => w,
            }
        })
    }

    fn tool<'a>(
        &'a self,
        tool_use_id: &'a str,
        output: &'a ToolOutput,
    ) -> BoxFuture<'a, Result<(), JournalError>> {
        Box::pin(self.write(move |cp| {
            cp.tools_done
                .insert(tool_use_id.to_string(), SavedOutput::from(output));
        }))
    }
}

impl App {
    /// Runs one delivery of a tracked job (async mode). Returns whether SQS
    /// should deliver the message again.
    pub(super) async fn tracked_job(&self, job: &Job, inv: &Invocation, audit: &mut Audit) -> bool {
        let jobs = self.jobs();
        let agent = job.request.agent.clone().unwrap_or_default();
        let (version, checkpoint) = match jobs.claim(&job.job_id, &agent).await {
            Err(e) => {
                self.note_error(audit, &RunError::internal("job_update", e));
                return true;
            }
            Ok(Claim::Ended) => {
                audit.outcome = "duplicate";
                return false;
            }
            Ok(Claim::Unreadable(e)) => {
                let err = RunError::Fatal {
                    category: "job_checkpoint".into(),
                    detail: e,
                    public: false,
                };
                return self.end_job(&jobs, job, audit, Err(err), None).await;
            }
            Ok(Claim::Run {
                version,
                checkpoint,
                started_at,
            }) => {
                let max_s = u64::from(self.config.limits.job_max_minutes) * 60;
                if now_epoch_s().saturating_sub(started_at) >= max_s {
                    let err = RunError::Fatal {
                        category: "job_max_minutes".into(),
                        detail: format!(
                            "the job ran longer than limits.job_max_minutes ({} min)",
                            self.config.limits.job_max_minutes
                        ),
                        public: true,
                    };
                    return self
                        .end_job(&jobs, job, audit, Err(err), Some(version))
                        .await;
                }
                (version, checkpoint)
            }
        };
        let journal = JobJournal {
            jobs: self.jobs(),
            job_id: &job.job_id,
            state: Mutex::new((version, checkpoint.as_deref().cloned().unwrap_or_default())),
            session_id: std::sync::Mutex::new(
                checkpoint.as_ref().and_then(|c| c.session_id.clone()),
            ),
            resume: checkpoint.map(|c| *c),
            session_version: AtomicU64::new(0),
            hook: self.on_checkpoint.as_ref(),
        };
        // A job resumed by a decision comes with a message that carries
        // nothing but its id: the checkpoint has the rest.
        let mut request = job.request.clone();
        if let Some(cp) = &journal.resume {
            request.caller = request.caller.or_else(|| cp.caller.clone());
        }
        journal.state.lock().await.1.caller = request.caller.clone();
        let result = self
            .converse(&agent, &request, inv, audit, None, Some(&journal))
            .await;
        let version = journal.version().await;
        self.end_job(&jobs, job, audit, result.map(|a| a.json()), Some(version))
            .await
    }

    /// Records how a delivery ended. Returns whether SQS should deliver again.
    async fn end_job(
        &self,
        jobs: &Jobs<'_>,
        job: &Job,
        audit: &mut Audit,
        result: Result<serde_json::Value, RunError>,
        version: Option<u64>,
    ) -> bool {
        let mut waiting = None;
        let (status, value, error) = match result {
            Err(RunError::Suspended | RunError::Timeout) => {
                // Out of time: the checkpoint holds the run; a new message
                // carries it on in a fresh invocation.
                audit.outcome = "continued";
                let r = &job.request;
                let next = JobMessage {
                    job_id: job.job_id.clone(),
                    agent: r.agent.clone().unwrap_or_default(),
                    message: r.message.clone(),
                    session_id: r.session_id.clone(),
                    caller: r.caller.clone(),
                };
                return match jobs.send(&next).await {
                    Ok(()) => false,
                    Err(e) => {
                        self.note_error(audit, &RunError::internal("job_continue", e));
                        true
                    }
                };
            }
            Err(RunError::Superseded) => {
                // Another delivery owns the job. This message goes back to the
                // queue: if that delivery dies, its work resumes from here.
                self.note_error(audit, &RunError::Superseded);
                return true;
            }
            Err(RunError::AwaitingApproval(w)) => {
                // The run stops before the call; a decision queues it again.
                audit.outcome = "waiting_approval";
                waiting = Some(PendingCall {
                    tool_use_id: w.tool_use_id,
                    tool: w.tool,
                    input: serde_json::from_str(&w.input).unwrap_or_default(),
                });
                (JobStatus::WaitingApproval, None, None)
            }
            Ok(v) => (JobStatus::Done, Some(v), None),
            Err(e) => (JobStatus::Failed, None, Some(e)),
        };
        let retrying = error.as_ref().is_some_and(RunError::retryable);
        if let Some(e) = &error {
            self.note_error(audit, e);
        }
        let public = error.as_ref().map(RunError::public_message);
        let finish = Finish {
            status,
            result: value.as_ref(),
            error: public.as_deref(),
            retrying,
            waiting: waiting.as_ref(),
            version,
        };
        match jobs.finish(&job.job_id, finish).await {
            Ok(true) => retrying,
            Ok(false) => {
                // Another delivery advanced the job meanwhile; it decides the end.
                self.note_error(audit, &RunError::Superseded);
                true
            }
            Err(e) => {
                self.note_error(audit, &RunError::internal("job_update", e));
                true
            }
        }
    }
}
