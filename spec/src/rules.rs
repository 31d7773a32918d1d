//! Name rules AWS enforces, shared by the config checks and the tool kinds' checks.

use crate::net;

/// 1 to `max` of letters, digits, `_` and `-` (agent, tool, queue and function names).
pub(crate) fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A DynamoDB table or index name: 3 to 255 of letters, digits, `_-.`.
pub(crate) fn is_table_name(s: &str) -> bool {
    (3..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// An S3 bucket name (lowercase, 3 to 63, not an IP address).
pub(crate) fn is_bucket_name(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        && !s.contains("..")
        && net::parse_ip_literal(s).is_none()
}
