//! The data-plane contract between the function and the provisioner: the keys and
//! attributes of the tables and the body of a queued job. claw creates the tables
//! with these keys (and TTL on [`TTL_ATTR`]); agent-fn reads and writes items and
//! messages of this shape. One definition, so renaming a key cannot make the two
//! disagree while both still compile.

use serde::{Deserialize, Serialize};

/// Partition key (string) of the jobs table `{app}-{stage}-jobs` (async mode).
pub const JOBS_KEY: &str = "job_id";
/// Partition key (string) of the sessions table (`sessions.table`).
pub const SESSIONS_KEY: &str = "session_id";
/// The attribute both tables expire items by (DynamoDB TTL, epoch seconds).
pub const TTL_ATTR: &str = "ttl";
/// How long a job's result stays readable after its last update.
pub const JOB_TTL_DAYS: u64 = 7;

/// Attributes of a job record, besides [`JOBS_KEY`] and [`TTL_ATTR`].
pub mod job {
    /// A [`super::JobStatus`], as its name.
    pub const STATUS: &str = "status";
    /// The agent that runs the job.
    pub const AGENT: &str = "agent";
    /// Epoch seconds.
    pub const CREATED_AT: &str = "created_at";
    /// Epoch seconds.
    pub const UPDATED_AT: &str = "updated_at";
    /// The answer, as a JSON string (when done).
    pub const RESULT: &str = "result";
    /// The public error message (when failed).
    pub const ERROR: &str = "error";
    /// Epoch seconds the job first ran (`limits.job_max_minutes` counts from it).
    pub const STARTED_AT: &str = "started_at";
    /// Invocations the job has run in (number): 1, plus one per continuation or
    /// redelivery.
    pub const INVOCATIONS: &str = "invocations";
    /// Incremented by every checkpoint and by the final write, each conditional on
    /// the version read, so two deliveries of one job cannot both advance it.
    pub const VERSION: &str = "version";
    /// Where the run is, a JSON string: the conversation so far, the counters, and
    /// the results of the current turn's tool calls already made. Removed when the
    /// job ends.
    pub const CHECKPOINT: &str = "checkpoint";
    /// Progress for `GET /jobs/{id}`, numbers: model turns, tool calls, tokens.
    pub const TURNS: &str = "turns";
    pub const TOOL_CALLS: &str = "tool_calls";
    pub const INPUT_TOKENS: &str = "input_tokens";
    pub const OUTPUT_TOKENS: &str = "output_tokens";
    /// USD so far (number), when the model's prices are known.
    pub const COST_USD: &str = "cost_usd";
    /// The call a `waiting_approval` job waits on, a JSON [`super::PendingCall`].
    pub const PENDING: &str = "pending";
    /// The last decision on a pending call, a JSON [`super::Decision`]: written
    /// with the status `queued` and the removal of [`PENDING`], conditional on
    /// the status being `waiting_approval` and [`PENDING`] unchanged; the run that
    /// resumes the job reads it.
    pub const DECISION: &str = "decision";
}

/// A tool call an async job waits on (`tools.NAME.approval: required`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingCall {
    pub tool_use_id: String,
    pub tool: String,
    pub input: serde_json::Value,
}

/// A person's decision on a [`PendingCall`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub tool_use_id: String,
    pub approved: bool,
    /// Who decided, when known (the caller's JWT `sub`, IAM ARN, or claw's
    /// credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Epoch seconds.
    pub at: u64,
}

/// The body of the message that resumes a job after a decision. A job resumed
/// from its checkpoint takes nothing from the message but its id and agent.
pub const RESUME_MESSAGE: &str = "(resumed after a decision)";

/// Attributes of a session record, besides [`SESSIONS_KEY`] and [`TTL_ATTR`].
pub mod session {
    /// The conversation, a JSON string.
    pub const HISTORY: &str = "history";
    /// Incremented on every write; writes are conditional on the version read.
    pub const VERSION: &str = "version";
    /// Epoch seconds.
    pub const UPDATED_AT: &str = "updated_at";
}

/// Budget counters (`limits.session_*`, `limits.caller_*`) are items of the
/// sessions table, beside the sessions. Their [`SESSIONS_KEY`] starts with
/// [`budget::KEY_PREFIX`]: a `#`, which session ids may not contain (1 to 128 of
/// `A-Za-z0-9-_.:`), so a counter can never be read or overwritten as a session.
pub mod budget {
    /// The start of every counter's key.
    pub const KEY_PREFIX: &str = "#budget#";
    /// Tokens charged in the window (number), on per-day counters.
    pub const TOKENS: &str = "tokens";
    /// Requests admitted in the window (number), on per-minute counters.
    pub const REQUESTS: &str = "requests";
}

/// What the function does to the sessions table: read and write sessions, and
/// with budgets also add to counters (`UpdateItem` with `ADD`).
pub fn sessions_table_actions(budgets: bool) -> &'static [&'static str] {
    if budgets {
        &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ]
    } else {
        &["dynamodb:GetItem", "dynamodb:PutItem"]
    }
}

/// Where a job is, as stored in [`job::STATUS`] and shown by `GET /jobs/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Recorded and sent to the queue.
    Queued,
    /// A queue consumer has started it.
    Running,
    /// Finished with an answer.
    Done,
    /// Finished with an error.
    Failed,
    /// Stopped before a tool call that needs a person's approval
    /// ([`job::PENDING`]); `approve` or `reject` queues it again.
    WaitingApproval,
}

impl JobStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::WaitingApproval => "waiting_approval",
        }
    }
}

/// The body of one SQS message on the jobs queue: `POST /jobs` sends it, the
/// queue's event source mapping delivers it back to the function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: String,
    pub agent: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The submitter's JWT `sub` claim (`auth: jwt`), so the job is charged to
    /// the caller's budget when it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_stored_by_their_names() {
        for s in [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Done,
            JobStatus::Failed,
            JobStatus::WaitingApproval,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    #[test]
    fn job_messages_keep_their_shape() {
        let m = JobMessage {
            job_id: "j1".into(),
            agent: "a".into(),
            message: "hi".into(),
            session_id: None,
            caller: None,
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"job_id":"j1","agent":"a","message":"hi"}"#
        );
    }
}
