//! The `anthropic-ratelimit-*` response headers, read after every call so the loop
//! can wait for the window to reset before a call that would be refused, rather
//! than spend a 429 and a retry on it. Header names and formats:
//! <https://docs.claude.com/en/api/rate-limits> ("Response headers"): `*-remaining`
//! is a count, `*-reset` an RFC 3339 time.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// What one reply said about the limits. `None` where the header was absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    pub requests_remaining: Option<u64>,
    pub requests_reset_ms: Option<u64>,
    pub tokens_remaining: Option<u64>,
    pub tokens_reset_ms: Option<u64>,
    pub input_tokens_remaining: Option<u64>,
    pub input_tokens_reset_ms: Option<u64>,
    pub output_tokens_remaining: Option<u64>,
}

impl RateLimit {
    pub fn from_headers(h: &HeaderMap) -> RateLimit {
        let get = |name: &str| {
            h.get(format!("anthropic-ratelimit-{name}"))
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let count = |name: &str| get(name).and_then(|v| v.parse::<u64>().ok());
        let time = |name: &str| get(name).and_then(rfc3339_epoch_ms);
        RateLimit {
            requests_remaining: count("requests-remaining"),
            requests_reset_ms: time("requests-reset"),
            tokens_remaining: count("tokens-remaining"),
            tokens_reset_ms: time("tokens-reset"),
            input_tokens_remaining: count("input-tokens-remaining"),
            input_tokens_reset_ms: time("input-tokens-reset"),
            output_tokens_remaining: count("output-tokens-remaining"),
        }
    }

    /// The fewest prompt tokens left this window, by either header.
    pub fn prompt_tokens_remaining(&self) -> Option<u64> {
        match (self.input_tokens_remaining, self.tokens_remaining) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// How long to wait before a call needing `prompt_tokens` (uncached input and
    /// cache writes; cache reads do not count toward the input limit on current
    /// models) so it is not refused: until the reset of whichever limit is spent.
    /// `None` when nothing is low.
    pub fn wait_before(&self, prompt_tokens: u64, now_ms: u64) -> Option<Duration> {
        let mut until: Option<u64> = None;
        let mut low = |reset: Option<u64>| {
            if let Some(r) = reset {
                until = Some(until.map_or(r, |u| u.max(r)));
            }
        };
        if self.requests_remaining == Some(0) {
            low(self.requests_reset_ms);
        }
        if self
            .input_tokens_remaining
            .is_some_and(|r| r < prompt_tokens)
        {
            low(self.input_tokens_reset_ms);
        }
        if self.tokens_remaining.is_some_and(|r| r < prompt_tokens) {
            low(self.tokens_reset_ms);
        }
        until
            .filter(|u| *u > now_ms)
            .map(|u| Duration::from_millis(u - now_ms))
    }
}

/// `2026-12-02T17:36:13Z` or with a fraction and/or a `±hh:mm` offset, as epoch
/// milliseconds.
pub fn rfc3339_epoch_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let ms: String = frac[..digits]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        millis = ms.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_s = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 3600 + o[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    u64::try_from(secs * 1000 + millis).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn rfc3339_times() {
        assert_eq!(rfc3339_epoch_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            rfc3339_epoch_ms("2026-12-02T17:36:13Z"),
            Some(1_796_232_973_000)
        );
        assert_eq!(
            rfc3339_epoch_ms("2026-12-02T17:36:13.25Z"),
            Some(1_796_232_973_250)
        );
        assert_eq!(
            rfc3339_epoch_ms("2026-12-02T18:36:13+01:00"),
            Some(1_796_232_973_000)
        );
        for bad in [
            "",
            "2026-12-02",
            "2026-13-02T00:00:00Z",
            "2026-12-02T00:00:00",
            "soon",
        ] {
            assert_eq!(rfc3339_epoch_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn waits_only_for_a_spent_limit() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("anthropic-ratelimit-requests-remaining", "5"),
            ("anthropic-ratelimit-requests-reset", "1970-01-01T00:00:10Z"),
            ("anthropic-ratelimit-input-tokens-remaining", "800"),
            (
                "anthropic-ratelimit-input-tokens-reset",
                "1970-01-01T00:00:20Z",
            ),
            ("anthropic-ratelimit-tokens-remaining", "5000"),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        let rl = RateLimit::from_headers(&h);
        assert_eq!(rl.prompt_tokens_remaining(), Some(800));
        assert_eq!(rl.wait_before(500, 1_000), None);
        assert_eq!(rl.wait_before(900, 1_000), Some(Duration::from_secs(19)));
        // A reset already past is no reason to wait.
        assert_eq!(rl.wait_before(900, 30_000), None);
        let spent = RateLimit {
            requests_remaining: Some(0),
            ..rl
        };
        assert_eq!(spent.wait_before(10, 1_000), Some(Duration::from_secs(9)));
        assert_eq!(RateLimit::default().wait_before(u64::MAX, 0), None);
    }
}
