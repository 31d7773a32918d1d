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
    fn ids_are_32_hex_digits() {
        let a = random_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_id());
    }
}
