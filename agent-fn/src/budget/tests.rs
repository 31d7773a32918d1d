//! The key, window and retry-after arithmetic.

use super::*;

// 2026-12-01T15:30:42Z
const T: u64 = 1_796_139_042;

#[test]
fn windows_are_utc_minutes_and_days() {
    assert_eq!(Window::Day.label(T), "d20261201");
    assert_eq!(Window::Minute.label(T), "m202612011530");
    assert_eq!(Window::Day.label(0), "d19700101");
    // The last second of a leap day, and the first of the next day.
    assert_eq!(Window::Minute.label(951_868_799), "m200002292359");
    assert_eq!(Window::Day.label(951_868_800), "d20000301");
    assert_eq!(Window::Day.label(1_767_225_599), "d20251231");
    assert_eq!(Window::Day.label(1_767_225_600), "d20260101");
}

#[test]
fn retry_after_is_the_time_left_in_the_window() {
    assert_eq!(Window::Minute.retry_after(T), 18);
    assert_eq!(
        Window::Day.retry_after(T),
        86_400 - (15 * 3600 + 30 * 60 + 42)
    );
    // At a window's first second the whole window is left, never 0.
    assert_eq!(Window::Minute.retry_after(T - 42), 60);
    assert_eq!(Window::Day.retry_after(1_767_225_600), 86_400);
    assert_eq!(Window::Minute.retry_after(T + 17), 1);
    assert_eq!(Window::Day.end(T), 1_796_169_600);
    assert_eq!(Window::Minute.end(T), T + 18);
}

#[test]
fn counter_keys_cannot_be_session_ids() {
    let k = counter_key(Budget::SessionTokens, T, "s-1");
    assert_eq!(k, "#budget#session#d20261201#s-1");
    assert_eq!(
        counter_key(Budget::CallerRequests, T, "ab12"),
        "#budget#caller#m202612011530#ab12"
    );
    // The same session's counters of two windows or two budgets differ.
    assert_ne!(k, counter_key(Budget::SessionTokens, T + 86_400, "s-1"));
    assert_ne!(k, counter_key(Budget::SessionRequests, T, "s-1"));
    assert_ne!(k, counter_key(Budget::CallerTokens, T, "s-1"));
    for b in [
        Budget::SessionTokens,
        Budget::SessionRequests,
        Budget::CallerTokens,
        Budget::CallerRequests,
    ] {
        let key = counter_key(b, T, "x");
        assert!(crate::event::check_id(&key, "session_id").is_err(), "{key}");
    }
}

#[test]
fn callers_are_keyed_by_a_digest_of_sub() {
    let id = caller_id("user@example.com");
    assert_eq!(id.len(), 64);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(id, caller_id("user@example.com"));
    assert_ne!(id, caller_id("user@example.org"));
    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    assert_eq!(
        caller_id("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn cache_tokens_count() {
    let u = Usage {
        input_tokens: 10,
        output_tokens: 5,
        cache_creation_input_tokens: 100,
        cache_read_input_tokens: 1000,
        cache_creation: None,
    };
    assert_eq!(billable(&u), 1115);
}

#[test]
fn categories_name_the_budget() {
    assert_eq!(Budget::SessionTokens.category(), "budget_session_tokens");
    assert_eq!(Budget::CallerRequests.category(), "budget_caller_requests");
    assert_eq!(Budget::CallerTokens.window(), Window::Day);
    assert_eq!(Budget::SessionRequests.window(), Window::Minute);
}
