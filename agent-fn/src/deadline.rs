//! The invocation's deadline, as a monotonic instant. Every wait in the function
//! (model calls, retries, tools) is bounded by it so the function answers before
//! Lambda kills it, instead of dying mid-turn with nothing logged.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// A deadline `d` from now (at most a year: the clock cannot represent any
    /// instant, and no invocation lasts that long).
    pub fn after(d: Duration) -> Deadline {
        let now = Instant::now();
        let d = d.min(Duration::from_secs(365 * 86_400));
        Deadline {
            at: now.checked_add(d).unwrap_or(now),
        }
    }

    /// From Lambda's `Lambda-Runtime-Deadline-Ms` (milliseconds since the epoch).
    /// The wall clock is read once here; from then on only the monotonic clock counts.
    pub fn from_epoch_ms(deadline_ms: u64) -> Deadline {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Deadline::after(Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
    }

    /// From the `Lambda-Runtime-Deadline-Ms` header as a runtime sends it. Lambda
    /// sends an epoch time in milliseconds; some local emulators send a duration
    /// instead (`cargo lambda watch` 1.9.2 sends `600000`). A deadline before the
    /// process started cannot be a real one: it is read as `timeout` from now, and
    /// the second value is true so the caller can warn (once).
    pub fn from_runtime_header(
        deadline_ms: u64,
        process_started_ms: u64,
        timeout: Duration,
    ) -> (Deadline, bool) {
        if deadline_ms < process_started_ms {
            (Deadline::after(timeout), true)
        } else {
            (Deadline::from_epoch_ms(deadline_ms), false)
        }
    }

    /// The earlier of two deadlines.
    pub fn min(self, other: Deadline) -> Deadline {
        if other.at < self.at { other } else { self }
    }

    /// When the caller of a synchronous API Gateway request stops waiting: the
    /// request's `timeEpoch` plus the HTTP API's integration timeout (30 s at most,
    /// https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html),
    /// less a second to answer in. Work after it spends tokens for nobody.
    pub fn api_gateway(request_time_epoch_ms: u64) -> Deadline {
        Deadline::from_epoch_ms(request_time_epoch_ms.saturating_add(API_GATEWAY_BUDGET_MS))
    }

    /// This deadline, or the API Gateway caller's when the request is live. A
    /// request stamped more than Lambda's longest run (15 minutes) away from now is
    /// a recorded event replayed (a test, `claw invoke --payload @event.json`),
    /// whose caller is not waiting: it keeps this deadline.
    pub fn for_api_request(self, request_time_epoch_ms: Option<u64>) -> Deadline {
        const LIVE_WINDOW_MS: u64 = 15 * 60 * 1000;
        match request_time_epoch_ms {
            Some(t) if now_epoch_ms().abs_diff(t) <= LIVE_WINDOW_MS => {
                self.min(Deadline::api_gateway(t))
            }
            _ => self,
        }
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Time left for work that must finish `margin` before the deadline.
    pub fn budget(&self, margin: Duration) -> Duration {
        self.remaining().saturating_sub(margin)
    }

    pub fn instant(&self) -> Instant {
        self.at
    }
}

/// The HTTP API's maximum integration timeout (30 s) less one second to answer in.
pub const API_GATEWAY_BUDGET_MS: u64 = 29_000;

/// Milliseconds since the epoch, for logs and EMF.
pub fn now_epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Seconds since the epoch, for DynamoDB TTL attributes.
pub fn now_epoch_s() -> u64 {
    now_epoch_ms() / 1000
}

/// 32 random hex digits: session and job ids that cannot be guessed.
pub fn random_id() -> String {
    let n: u128 = rand::random();
    format!("{n:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_deadlines_do_not_panic() {
        assert!(Deadline::from_epoch_ms(u64::MAX).remaining() > Duration::from_secs(86_400));
        assert_eq!(Deadline::from_epoch_ms(0).remaining(), Duration::ZERO);
        assert!(Deadline::after(Duration::MAX).remaining() > Duration::ZERO);
    }

    #[test]
    fn a_deadline_before_the_process_started_is_read_as_a_duration() {
        let started = now_epoch_ms();
        // cargo lambda watch 1.9.2 sends the timeout itself: 600000.
        let (d, odd) = Deadline::from_runtime_header(600_000, started, Duration::from_secs(30));
        assert!(odd);
        let left = d.remaining();
        assert!(
            left > Duration::from_secs(25) && left <= Duration::from_secs(30),
            "{left:?}"
        );
        // A real epoch deadline is kept as it is.
        let (d, odd) =
            Deadline::from_runtime_header(started + 10_000, started, Duration::from_secs(30));
        assert!(!odd);
        assert!(d.remaining() <= Duration::from_secs(10));
    }

    #[test]
    fn api_gateway_requests_end_29_seconds_after_they_arrived() {
        let now = now_epoch_ms();
        let lambda = Deadline::after(Duration::from_secs(120));
        let d = lambda.min(Deadline::api_gateway(now - 9_000));
        let left = d.remaining();
        assert!(
            left <= Duration::from_secs(20) && left > Duration::from_secs(15),
            "{left:?}"
        );
        // A request older than the gateway's timeout has no time left at all.
        assert_eq!(
            Deadline::api_gateway(now - 60_000).remaining(),
            Duration::ZERO
        );
        assert_eq!(lambda.min(lambda), lambda);
        // A replayed event from long ago keeps the Lambda deadline.
        assert_eq!(lambda.for_api_request(Some(1_710_270_238_000)), lambda);
        assert_eq!(lambda.for_api_request(None), lambda);
        assert!(lambda.for_api_request(Some(now)).remaining() <= Duration::from_secs(29));
    }

    #[test]
    fn ids_are_32_hex_digits() {
        let a = random_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_id());
    }
}
