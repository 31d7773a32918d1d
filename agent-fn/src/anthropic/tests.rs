//! The retry policy and the error texts, without a server (the client against a
//! scripted Messages API is tested in tests/agent_loop.rs).

use super::*;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_static(v));
    }
    h
}

fn policy() -> RetryPolicy {
    RetryPolicy::default()
}

#[test]
fn retryable_statuses() {
    for s in [408, 409, 429, 500, 502, 503, 504, 529] {
        assert!(
            retryable_status(StatusCode::from_u16(s).unwrap()),
            "{s} should be retried"
        );
    }
    for s in [400, 401, 403, 404, 413, 422] {
        assert!(
            !retryable_status(StatusCode::from_u16(s).unwrap()),
            "{s} should not be retried"
        );
    }
}

#[test]
fn retry_after_ms_wins_over_retry_after() {
    let h = headers(&[("retry-after-ms", "1500"), ("retry-after", "30")]);
    assert_eq!(
        policy().decide(0, Some(StatusCode::TOO_MANY_REQUESTS), Some(&h)),
        Some(Duration::from_millis(1500))
    );
}

#[test]
fn retry_after_seconds_is_honoured() {
    let h = headers(&[("retry-after", "7")]);
    assert_eq!(
        policy().decide(1, Some(StatusCode::TOO_MANY_REQUESTS), Some(&h)),
        Some(Duration::from_secs(7))
    );
}

#[test]
fn absurd_retry_after_falls_back_to_backoff() {
    let h = headers(&[("retry-after", "86400")]);
    let d = policy()
        .decide(0, Some(StatusCode::TOO_MANY_REQUESTS), Some(&h))
        .unwrap();
    assert!(d <= Duration::from_millis(500), "{d:?}");
    for odd in ["-1", "NaN", "inf", "1e300", "18446744073709551616"] {
        let h = HeaderMap::from_iter([(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_str(odd).unwrap(),
        )]);
        let d = policy()
            .decide(0, Some(StatusCode::TOO_MANY_REQUESTS), Some(&h))
            .unwrap();
        assert!(d <= Duration::from_millis(500), "{odd}: {d:?}");
    }
    let h = headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]);
    let d = policy()
        .decide(0, Some(StatusCode::TOO_MANY_REQUESTS), Some(&h))
        .unwrap();
    assert!(d <= Duration::from_millis(500), "{d:?}");
}

#[test]
fn x_should_retry_overrides_the_status() {
    let yes = headers(&[("x-should-retry", "true")]);
    assert!(
        policy()
            .decide(0, Some(StatusCode::BAD_REQUEST), Some(&yes))
            .is_some()
    );
    let no = headers(&[("x-should-retry", "false")]);
    assert!(
        policy()
            .decide(0, Some(StatusCode::SERVICE_UNAVAILABLE), Some(&no))
            .is_none()
    );
    assert!(
        policy()
            .decide(0, Some(StatusCode::BAD_REQUEST), None)
            .is_none()
    );
}

#[test]
fn connection_errors_are_retried_until_the_budget_is_spent() {
    let p = policy();
    for attempt in 0..p.max_retries {
        assert!(p.decide(attempt, None, None).is_some());
    }
    assert!(p.decide(p.max_retries, None, None).is_none());
}

#[test]
fn backoff_grows_is_capped_and_jittered_down_only() {
    let p = policy();
    for attempt in 0..40 {
        let d = p.backoff(attempt);
        let full = p.base.saturating_mul(1 << attempt.min(20)).min(p.cap);
        assert!(d <= full && d >= full.mul_f64(0.75), "{attempt}: {d:?}");
    }
    assert!(p.backoff(30) <= p.cap);
}

#[test]
fn blocks_are_classified_and_unknown_ones_tolerated() {
    let t = serde_json::json!({"type": "text", "text": "hi"});
    let u = serde_json::json!({"type": "tool_use", "id": "t1", "name": "x", "input": {}});
    let odd = serde_json::json!({"type": "thinking", "thinking": "…", "signature": "s"});
    let broken = serde_json::json!({"type": "tool_use", "name": "x"});
    assert_eq!(Block::of(&t), Block::Text("hi"));
    assert!(matches!(Block::of(&u), Block::ToolUse { id: "t1", .. }));
    assert_eq!(Block::of(&odd), Block::Other);
    assert_eq!(Block::of(&broken), Block::Other);
    assert_eq!(Block::of(&serde_json::json!(42)), Block::Other);
}

#[test]
fn model_errors_read_the_same_in_logs() {
    let status = ModelError::Status {
        status: 429,
        error_type: Some("rate_limit_error".into()),
    };
    assert_eq!(
        status.to_string(),
        "the Messages API answered 429 (rate_limit_error)"
    );
    assert_eq!(status.category(), "model_http_429");
    let untyped = ModelError::Status {
        status: 500,
        error_type: None,
    };
    assert_eq!(
        untyped.to_string(),
        "the Messages API answered 500 (no error type)"
    );
    assert_eq!(
        ModelError::Deadline { last: None }.to_string(),
        "no time left before the deadline for a model call"
    );
    let gave_up = ModelError::Deadline {
        last: Some(Box::new(ModelError::Transport("connection reset".into()))),
    };
    assert_eq!(
        gave_up.to_string(),
        "gave up before the deadline; last failure: calling the Messages API failed: \
         connection reset"
    );
    assert_eq!(gave_up.category(), "model_deadline");
    assert_eq!(
        ModelError::Decode("eof".into()).to_string(),
        "the Messages API reply was not understood: eof"
    );
}
