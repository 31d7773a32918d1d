//! How a run is answered: the successful [`Answer`], and [`RunError`], which maps
//! each failure once to its HTTP status, the message the caller may see, the audit
//! outcome and category, and whether a retry could succeed.

use serde_json::{Value, json};

use crate::agent::{Stats, Waiting};
use crate::budget::{Denied, OverBudget};
use crate::event::{BadRequest, truncate};

/// A successful run, as every shape reports it.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub(super) response: String,
    pub(super) session_id: String,
    pub(super) stop_reason: String,
    pub(super) stats: Stats,
}

impl Answer {
    pub(super) fn json(&self) -> Value {
        let u = &self.stats.usage;
        let mut v = json!({
            "response": self.response,
            "session_id": self.session_id,
            "tool_calls": self.stats.tool_calls,
            "usage": {
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "cache_creation_input_tokens": u.cache_creation_input_tokens,
                "cache_read_input_tokens": u.cache_read_input_tokens,
            },
            "stop_reason": self.stop_reason,
        });
        if let Some(cost) = self.stats.cost_usd {
            v["cost_usd"] = json!(round_usd(cost));
        }
        v
    }
}

/// Why a run failed, in the terms every event shape answers with.
#[derive(Debug)]
pub(super) enum RunError {
    BadRequest(String),
    NotFound(String),
    Conflict,
    /// A session or caller budget is used up; no model call was made.
    OverBudget(OverBudget),
    /// The deadline came before the model answered once.
    Timeout,
    /// The model declined to answer (`stop_reason: refusal`), with the policy
    /// category the API named.
    Refused {
        category: Option<String>,
    },
    /// Anything else. `category` goes to the audit line, `detail` to the error log.
    Internal {
        category: String,
        detail: String,
    },
    /// Like `Internal`, but running again would fail the same way. `detail` is
    /// shown to the caller when `public`.
    Fatal {
        category: String,
        detail: String,
        public: bool,
    },
    /// A job ran out of this invocation's time: it carries on in another.
    Suspended,
    /// A job stopped before a call that waits for a person's approval.
    AwaitingApproval(Waiting),
    /// A decision on a job that waits on no call; its status.
    NotWaiting(String),
    /// Another delivery of the job advanced it first and owns it from here.
    Superseded,
}

impl RunError {
    pub(super) fn internal(category: &str, detail: impl Into<String>) -> RunError {
        RunError::Internal {
            category: category.into(),
            detail: detail.into(),
        }
    }

    pub(super) fn status(&self) -> u16 {
        match self {
            RunError::BadRequest(_) => 400,
            RunError::NotFound(_) => 404,
            RunError::Conflict | RunError::NotWaiting(_) => 409,
            RunError::Refused { .. } => 422,
            RunError::OverBudget(_) => 429,
            RunError::Timeout => 504,
            RunError::Internal { .. } | RunError::Fatal { .. } => 500,
            RunError::Suspended | RunError::AwaitingApproval(_) => 202,
            RunError::Superseded => 409,
        }
    }

    /// What the caller is told: the problem when it is theirs, nothing internal.
    pub(super) fn public_message(&self) -> String {
        match self {
            RunError::BadRequest(m) | RunError::NotFound(m) => m.clone(),
            RunError::Conflict => "the session was changed by another request; retry".into(),
            RunError::OverBudget(o) => format!(
                "over budget: {}; retry in {} s",
                o.budget.what(),
                o.retry_after_s
            ),
            RunError::Timeout => "the agent ran out of time".into(),
            RunError::Refused { category: Some(c) } => {
                format!("the model declined to answer (category: {c})")
            }
            RunError::Refused { category: None } => "the model declined to answer".into(),
            RunError::Fatal {
                detail,
                public: true,
                ..
            } => detail.clone(),
            RunError::Internal { .. } | RunError::Fatal { .. } => "agent error".into(),
            RunError::Suspended => "continued in another invocation".into(),
            RunError::AwaitingApproval(_) => "waiting for approval".into(),
            RunError::NotWaiting(s) => format!(
                "the job waits on no call (its status is `{}`)",
                truncate(s, 32)
            ),
            RunError::Superseded => "another delivery of the job is running it".into(),
        }
    }

    pub(super) fn outcome(&self) -> &'static str {
        match self {
            RunError::BadRequest(_) | RunError::NotFound(_) | RunError::NotWaiting(_) => {
                "bad_request"
            }
            RunError::Timeout => "deadline",
            RunError::Refused { .. } => "refusal",
            RunError::OverBudget(_) => "over_budget",
            RunError::Conflict | RunError::Internal { .. } | RunError::Fatal { .. } => "error",
            RunError::Suspended => "continued",
            RunError::AwaitingApproval(_) => "waiting_approval",
            RunError::Superseded => "superseded",
        }
    }

    pub(super) fn category(&self) -> String {
        match self {
            RunError::BadRequest(_) => "bad_request".into(),
            RunError::NotFound(_) => "not_found".into(),
            RunError::Conflict => "session_conflict".into(),
            RunError::OverBudget(o) => o.budget.category().into(),
            RunError::Timeout => "deadline".into(),
            RunError::Refused { category: Some(c) } => format!("model_refusal_{c}"),
            RunError::Refused { category: None } => "model_refusal".into(),
            RunError::Internal { category, .. } | RunError::Fatal { category, .. } => {
                category.clone()
            }
            RunError::Suspended => "continued".into(),
            RunError::AwaitingApproval(_) => "waiting_approval".into(),
            RunError::NotWaiting(_) => "job_not_waiting".into(),
            RunError::Superseded => "job_superseded".into(),
        }
    }

    /// Whether running again could succeed. Not a budget refusal: an automatic
    /// retry (EventBridge, SQS) would only spend the next window's budget on a
    /// request its caller may have given up on.
    pub(super) fn retryable(&self) -> bool {
        !matches!(
            self,
            RunError::BadRequest(_)
                | RunError::NotFound(_)
                | RunError::NotWaiting(_)
                | RunError::OverBudget(_)
                | RunError::Refused { .. }
                | RunError::Fatal { .. }
                | RunError::Suspended
                | RunError::AwaitingApproval(_)
        )
    }

    /// Seconds until a budget refusal ends (`retry-after`).
    pub(super) fn retry_after_s(&self) -> Option<u64> {
        match self {
            RunError::OverBudget(o) => Some(o.retry_after_s),
            _ => None,
        }
    }
}

impl From<Denied> for RunError {
    fn from(d: Denied) -> RunError {
        match d {
            Denied::Over(o) => RunError::OverBudget(o),
            Denied::Unavailable(detail) => RunError::internal("budget_store", detail),
        }
    }
}

impl From<BadRequest> for RunError {
    fn from(b: BadRequest) -> RunError {
        RunError::BadRequest(b.0)
    }
}

/// USD to a millionth of a dollar (the unit of the `CostMicroUSD` metric).
pub(super) fn round_usd(usd: f64) -> f64 {
    (usd * 1_000_000.0).round() / 1_000_000.0
}

/// The API Gateway error body.
pub(super) fn error_body(message: &str, request_id: &str) -> Value {
    json!({"error": message, "request_id": request_id})
}

/// The direct-invoke and EventBridge error shape, with `retry_after_s` when a
/// budget refused the request.
pub(super) fn error_object(e: &RunError, request_id: &str) -> Value {
    let mut v =
        json!({"error": e.public_message(), "request_id": request_id, "status": e.status()});
    if let Some(s) = e.retry_after_s() {
        v["retry_after_s"] = s.into();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budget;

    #[test]
    fn each_failure_maps_once_to_status_outcome_category_and_retry() {
        let cases = [
            (
                RunError::BadRequest("b".into()),
                400,
                "bad_request",
                "bad_request",
                false,
            ),
            (
                RunError::NotFound("n".into()),
                404,
                "bad_request",
                "not_found",
                false,
            ),
            (RunError::Conflict, 409, "error", "session_conflict", true),
            (RunError::Timeout, 504, "deadline", "deadline", true),
            (
                RunError::Refused {
                    category: Some("cyber".into()),
                },
                422,
                "refusal",
                "model_refusal_cyber",
                false,
            ),
            (
                RunError::Refused { category: None },
                422,
                "refusal",
                "model_refusal",
                false,
            ),
            (
                RunError::OverBudget(OverBudget {
                    budget: Budget::CallerTokens,
                    retry_after_s: 7,
                }),
                429,
                "over_budget",
                "budget_caller_tokens",
                false,
            ),
            (
                RunError::internal("job_read", "x"),
                500,
                "error",
                "job_read",
                true,
            ),
        ];
        for (e, status, outcome, category, retryable) in cases {
            assert_eq!(e.status(), status, "{e:?}");
            assert_eq!(e.outcome(), outcome, "{e:?}");
            assert_eq!(e.category(), category, "{e:?}");
            assert_eq!(e.retryable(), retryable, "{e:?}");
        }
    }

    #[test]
    fn budget_refusals_say_when_to_retry() {
        let e = RunError::from(Denied::Over(OverBudget {
            budget: Budget::SessionRequests,
            retry_after_s: 12,
        }));
        assert_eq!(
            error_object(&e, "r-3"),
            json!({
                "error": "over budget: this session's requests-per-minute budget is used up; retry in 12 s",
                "request_id": "r-3", "status": 429, "retry_after_s": 12
            })
        );
        let e = RunError::from(Denied::Unavailable("table Sessions: throttled".into()));
        assert_eq!(e.category(), "budget_store");
        assert_eq!(error_object(&e, "r-4")["error"], "agent error");
    }

    #[test]
    fn callers_never_see_internal_detail() {
        let e = RunError::internal("session_store", "table AgentSessions: throttled");
        assert_eq!(
            error_object(&e, "r-1"),
            json!({"error": "agent error", "request_id": "r-1", "status": 500})
        );
        let e = RunError::from(BadRequest("`message` is empty".into()));
        assert_eq!(
            error_body(&e.public_message(), "r-2"),
            json!({"error": "`message` is empty", "request_id": "r-2"})
        );
    }
}
