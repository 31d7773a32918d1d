//! The identifiers Lambda makes up for an invocation: request ids, X-Ray trace
//! headers and log stream names. Random parts come from `rand`'s thread-local
//! generator (seeded from the OS), dates from humantime's RFC 3339 formatting.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng as _;

/// `2025/01/31/[$LATEST]<32 hex>`, Lambda's log stream name form.
pub(super) fn log_stream_name() -> String {
    format!(
        "{}/[$LATEST]{}",
        stream_date(SystemTime::now()),
        random_hex(32)
    )
}

/// `YYYY/MM/DD` of `at`, in UTC.
fn stream_date(at: SystemTime) -> String {
    // `2025-01-31T12:34:56Z`: the date is the first ten characters.
    let rfc3339 = humantime::format_rfc3339_seconds(at).to_string();
    rfc3339[..10].replace('-', "/")
}

/// `len` random lowercase hex digits.
fn random_hex(len: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(HEX[rng.random_range(0..HEX.len())]))
        .collect()
}

/// A random UUID-shaped (version 4) request id, as Lambda's are.
pub fn new_request_id() -> String {
    let r = random_hex(32);
    format!(
        "{}-{}-4{}-8{}-{}",
        &r[0..8],
        &r[8..12],
        &r[13..16],
        &r[17..20],
        &r[20..32]
    )
}

/// A new X-Ray trace: its header, `Root=1-<epoch hex>-<24 hex>;Parent=<16
/// hex>;Sampled=<0|1>`, and its root (the trace id, `1-<epoch hex>-<24 hex>`).
pub(super) fn trace_header(sampled: bool) -> (String, String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let root = format!("1-{secs:08x}-{}", random_hex(24));
    let header = format!(
        "Root={root};Parent={};Sampled={}",
        random_hex(16),
        u8::from(sampled)
    );
    (header, root)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn day(n: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(n * 86_400)
    }

    #[test]
    fn stream_dates_are_utc_calendar_days() {
        assert_eq!(stream_date(day(0)), "1970/01/01");
        assert_eq!(stream_date(day(19_723)), "2024/01/01");
        assert_eq!(stream_date(day(19_782)), "2024/02/29");
        // The last second of a day is still that day.
        assert_eq!(
            stream_date(day(19_783) - Duration::from_secs(1)),
            "2024/02/29"
        );
    }

    #[test]
    fn log_stream_names_have_lambdas_form() {
        let name = log_stream_name();
        let (date, rest) = name.split_at(10);
        assert_eq!(date.matches('/').count(), 2, "{name}");
        let hex = rest.strip_prefix("/[$LATEST]").expect(&name);
        assert_eq!(hex.len(), 32, "{name}");
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
    }

    #[test]
    fn request_ids_look_like_uuids_and_differ() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn trace_headers_have_xrays_form() {
        let (t, root) = trace_header(false);
        assert_eq!(t.split(';').next(), Some(format!("Root={root}").as_str()));
        assert!(trace_header(true).0.ends_with(";Sampled=1"));
        let parts: Vec<&str> = t.split(';').collect();
        assert_eq!(parts.len(), 3, "{t}");
        let root: Vec<&str> = parts[0]
            .strip_prefix("Root=1-")
            .expect(&t)
            .split('-')
            .collect();
        assert_eq!((root[0].len(), root[1].len()), (8, 24), "{t}");
        assert_eq!(parts[1].len(), "Parent=".len() + 16, "{t}");
        assert_eq!(parts[2], "Sampled=0");
    }
}
