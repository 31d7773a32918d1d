//! Per-session and per-caller budgets (`limits.session_tokens_per_day`,
//! `limits.session_requests_per_minute`, and the same for `caller_`, the JWT's
//! `sub`): counters in the sessions table, checked before every model call.
//!
//! Counters are items of the sessions table whose key can never be a session id
//! (see [`counter_key`]), one per window: a per-minute item counts requests, a
//! per-UTC-day item counts tokens. The window is part of the key, so a new window
//! starts from nothing without any reset; `ttl` (the window's end) lets DynamoDB
//! delete old ones.
//!
//! How requests and tokens are counted:
//! - **Requests** are counted once per request, before its first model call, by a
//!   conditional `ADD` ([`Budgets::admit`]): `requests < limit` is checked and the
//!   request counted in one atomic `UpdateItem`, so concurrent requests can never
//!   pass a per-minute budget together. A request refused by the caller's counter
//!   after the session's counted it gives the session's count back.
//! - **Tokens** cannot be known before the model answers, so they are checked
//!   before each model call ([`Gate::check`], a strongly consistent read) and
//!   charged after it ([`Gate::charge`], an unconditional atomic `ADD` of what the
//!   reply's `usage` says: the tokens are spent whatever the counter says).
//!
//! Why concurrent invocations of one session (or caller) overspend a token budget
//! by at most one turn each: an invocation runs its turns one after another, and
//! charges each turn before it checks the next, so it has at most one model call
//! that is checked but not yet charged. Every charge is an atomic `ADD`, so none is
//! lost, and every check reads all charges that completed before it. Once the
//! counter reaches the limit, every later check refuses; the only tokens that can
//! land beyond the limit are those of calls checked before that moment and still
//! in flight: at most one per invocation. Check and charge are not one atomic
//! step because the cost of a call is known only after it.

use std::fmt;
use std::sync::Mutex;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use claw_spec::model::Limits;
use claw_spec::storage::budget::{KEY_PREFIX, REQUESTS, TOKENS};
use claw_spec::storage::{SESSIONS_KEY, TTL_ATTR};
use futures::future::{BoxFuture, join_all};
use sha2::{Digest, Sha256};

use crate::anthropic::Usage;
use crate::aws::describe;
use crate::deadline::now_epoch_s;

/// One of the four budgets; its [`Budget::category`] names it in audit lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    SessionTokens,
    SessionRequests,
    CallerTokens,
    CallerRequests,
}

impl Budget {
    /// The audit `error` category of a refusal by this budget.
    pub fn category(self) -> &'static str {
        match self {
            Budget::SessionTokens => "budget_session_tokens",
            Budget::SessionRequests => "budget_session_requests",
            Budget::CallerTokens => "budget_caller_tokens",
            Budget::CallerRequests => "budget_caller_requests",
        }
    }

    /// What the caller is told was used up.
    pub fn what(self) -> &'static str {
        match self {
            Budget::SessionTokens => "this session's daily token budget is used up",
            Budget::SessionRequests => "this session's requests-per-minute budget is used up",
            Budget::CallerTokens => "your daily token budget is used up",
            Budget::CallerRequests => "your requests-per-minute budget is used up",
        }
    }

    pub fn window(self) -> Window {
        match self {
            Budget::SessionTokens | Budget::CallerTokens => Window::Day,
            Budget::SessionRequests | Budget::CallerRequests => Window::Minute,
        }
    }

    fn scope(self) -> &'static str {
        match self {
            Budget::SessionTokens | Budget::SessionRequests => "session",
            Budget::CallerTokens | Budget::CallerRequests => "caller",
        }
    }
}

/// The window a counter covers, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Minute,
    Day,
}

impl Window {
    pub fn seconds(self) -> u64 {
        match self {
            Window::Minute => 60,
            Window::Day => 86_400,
        }
    }

    /// When the window holding `now` (epoch seconds) ends: the next one starts.
    pub fn end(self, now: u64) -> u64 {
        now - now % self.seconds() + self.seconds()
    }

    /// Seconds until the window holding `now` ends (1 at least): `retry-after`.
    pub fn retry_after(self, now: u64) -> u64 {
        self.end(now) - now
    }

    /// The window holding `now`, as it appears in keys: `d20261201` (UTC day) or
    /// `m202612011530` (UTC minute).
    pub fn label(self, now: u64) -> String {
        let (y, m, d) = civil_date(now / 86_400);
        match self {
            Window::Day => format!("d{y:04}{m:02}{d:02}"),
            Window::Minute => {
                let s = now % 86_400;
                format!("m{y:04}{m:02}{d:02}{:02}{:02}", s / 3600, s % 3600 / 60)
            }
        }
    }
}

/// The (year, month, day) of a day number since 1970-01-01 (H. Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// The sessions-table key of `budget`'s counter for `id` (a session id, or a
/// [`caller_id`]) in the window holding `now`:
/// `#budget#{session|caller}#{window}#{id}`. Session ids are 1 to 128 of
/// `A-Za-z0-9-_.:`, so no session can have a key starting with `#`; the id comes
/// last, after fixed-format parts, so two counters' keys are equal only if
/// budget, window and id all are.
pub fn counter_key(budget: Budget, now: u64, id: &str) -> String {
    format!(
        "{KEY_PREFIX}{}#{}#{id}",
        budget.scope(),
        budget.window().label(now)
    )
}

/// How a caller appears in counter keys: the SHA-256 of the JWT's `sub`, in hex.
/// A `sub` may be long, hold any character, or be an e-mail address; the digest
/// is short, safe in a key, and keeps the table free of personal data.
pub fn caller_id(sub: &str) -> String {
    Sha256::digest(sub.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Tokens a reply counts against a budget: input and output, cache writes and
/// cache reads included.
pub fn billable(u: &Usage) -> u64 {
    u.input_tokens + u.output_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
}

/// A budget refused the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverBudget {
    pub budget: Budget,
    /// Seconds until the budget's window ends.
    pub retry_after_s: u64,
}

/// Why a model call may not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    Over(OverBudget),
    /// The counters could not be read or written (the detail is for the log).
    Unavailable(String),
}

/// What the agent loop asks before each model call and tells after it. A trait
/// object, so the loop knows nothing of where the counters are kept.
pub trait Gate: Send + Sync {
    /// Whether another model call may be made now.
    fn check(&self) -> BoxFuture<'_, Result<(), Denied>>;
    /// Records what a model call used. Errors are kept for the caller to log.
    fn charge(&self, usage: Usage) -> BoxFuture<'_, ()>;
}

impl fmt::Debug for dyn Gate + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Gate")
    }
}

/// The budgets that apply to one request: its session's and, on `auth: jwt`
/// routes, its caller's.
pub struct Budgets<'a> {
    pub ddb: &'a aws_sdk_dynamodb::Client,
    pub table: &'a str,
    pub limits: &'a Limits,
    pub session_id: &'a str,
    /// The [`caller_id`] of the JWT's `sub`, when caller budgets apply.
    pub caller: Option<String>,
    /// The first failed charge, for the caller to log.
    pub charge_error: Mutex<Option<String>>,
}

impl Budgets<'_> {
    /// The configured budgets of `window`, with their limits and counter ids.
    fn active(&self, window: Window) -> Vec<(Budget, u64, &str)> {
        let l = self.limits;
        let caller = self.caller.as_deref();
        let all = [
            (
                Budget::SessionTokens,
                l.session_tokens_per_day,
                Some(self.session_id),
            ),
            (
                Budget::SessionRequests,
                l.session_requests_per_minute,
                Some(self.session_id),
            ),
            (Budget::CallerTokens, l.caller_tokens_per_day, caller),
            (Budget::CallerRequests, l.caller_requests_per_minute, caller),
        ];
        all.into_iter()
            .filter(|(b, _, _)| b.window() == window)
            .filter_map(|(b, limit, id)| Some((b, limit?, id?)))
            .collect()
    }

    /// Counts this request against the per-minute budgets, once, before its first
    /// model call; refuses it when one is used up.
    pub async fn admit(&self) -> Result<(), Denied> {
        let now = now_epoch_s();
        let mut counted: Vec<String> = Vec::new();
        for (budget, limit, id) in self.active(Window::Minute) {
            let key = counter_key(budget, now, id);
            match self
                .count_request(&key, limit, Window::Minute.end(now))
                .await
            {
                Ok(()) => counted.push(key),
                Err(e) => {
                    // Give back what this refused request took from other budgets.
                    for key in &counted {
                        let _ = self.add(key, REQUESTS, -1, Window::Minute.end(now)).await;
                    }
                    return Err(match e {
                        CountError::Full => Denied::Over(OverBudget {
                            budget,
                            retry_after_s: Window::Minute.retry_after(now),
                        }),
                        CountError::Store(d) => Denied::Unavailable(d),
                    });
                }
            }
        }
        Ok(())
    }

    /// `ADD requests 1` if `requests < limit`, in one atomic `UpdateItem`.
    async fn count_request(&self, key: &str, limit: u64, ttl: u64) -> Result<(), CountError> {
        let result = self
            .ddb
            .update_item()
            .table_name(self.table)
            .key(SESSIONS_KEY, AttributeValue::S(key.to_string()))
            .update_expression("ADD #n :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#n) OR #n < :limit")
            .expression_attribute_names("#n", REQUESTS)
            .expression_attribute_names("#ttl", TTL_ATTR)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
            .expression_attribute_values(":ttl", AttributeValue::N(ttl.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Err(CountError::Full)
            }
            Err(e) => Err(CountError::Store(format!(
                "counting a request: {}",
                describe(&e)
            ))),
        }
    }

    /// An unconditional atomic `ADD` of `n` to `attr` of the counter `key`.
    async fn add(&self, key: &str, attr: &str, n: i64, ttl: u64) -> Result<(), String> {
        self.ddb
            .update_item()
            .table_name(self.table)
            .key(SESSIONS_KEY, AttributeValue::S(key.to_string()))
            .update_expression("ADD #n :n SET #ttl = :ttl")
            .expression_attribute_names("#n", attr)
            .expression_attribute_names("#ttl", TTL_ATTR)
            .expression_attribute_values(":n", AttributeValue::N(n.to_string()))
            .expression_attribute_values(":ttl", AttributeValue::N(ttl.to_string()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("adding to a budget counter: {}", describe(&e)))
    }

    /// The tokens charged so far to `key` (a consistent read: every completed
    /// charge is seen).
    async fn tokens(&self, key: &str) -> Result<u64, String> {
        let out = self
            .ddb
            .get_item()
            .table_name(self.table)
            .key(SESSIONS_KEY, AttributeValue::S(key.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| format!("reading a budget counter: {}", describe(&e)))?;
        Ok(match out.item().and_then(|i| i.get(TOKENS)) {
            Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
            _ => 0,
        })
    }

    /// The first charge that failed, if any.
    pub fn take_charge_error(&self) -> Option<String> {
        self.charge_error.lock().ok()?.take()
    }
}

enum CountError {
    Full,
    Store(String),
}

impl Gate for Budgets<'_> {
    fn check(&self) -> BoxFuture<'_, Result<(), Denied>> {
        Box::pin(async move {
            let now = now_epoch_s();
            let active = self.active(Window::Day);
            let reads = join_all(
                active
                    .iter()
                    .map(|(b, _, id)| async move { self.tokens(&counter_key(*b, now, id)).await }),
            )
            .await;
            for ((budget, limit, _), used) in active.iter().zip(reads) {
                if used.map_err(Denied::Unavailable)? >= *limit {
                    return Err(Denied::Over(OverBudget {
                        budget: *budget,
                        retry_after_s: Window::Day.retry_after(now),
                    }));
                }
            }
            Ok(())
        })
    }

    fn charge(&self, usage: Usage) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let n = billable(&usage);
            if n == 0 {
                return;
            }
            let now = now_epoch_s();
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            let adds = self
                .active(Window::Day)
                .into_iter()
                .map(|(b, _, id)| async move {
                    let key = counter_key(b, now, id);
                    self.add(&key, TOKENS, n, Window::Day.end(now)).await
                });
            for result in join_all(adds).await {
                if let Err(e) = result
                    && let Ok(mut slot) = self.charge_error.lock()
                {
                    slot.get_or_insert(e);
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;
