//! Prompt caching against the mock's cache, cost per run, `pause_turn`,
//! `refusal`, `model_context_window_exceeded` and the rate-limit headers.

use super::*;
use agent_fn::request::breakpoints;
use claw_spec::pricing::{Prices, Tokens};
use claw_testkit::mock_model::MockOptions;

fn caching_mock(script: Vec<Step>, min_tokens: u64) -> MockModel {
    MockModel::with_options(
        MockOptions {
            api_key: KEY.into(),
            expect_model: None,
            repeat: false,
            cache_min_tokens: Some(min_tokens),
        },
        script,
    )
}

/// A three-turn tool loop: two tool turns, then the answer.
fn three_turns() -> Vec<Step> {
    vec![
        Step::tool_use("t1", "echo", json!({"lead": 42})),
        Step::tool_use("t2", "echo", json!({"domain": "example.com"})),
        Step::text("Lead 42 scores 80."),
    ]
}

/// A system prompt long enough to cache (the mock counts 4 bytes a token).
fn long_system() -> String {
    "You qualify CRM leads with care. ".repeat(200)
}

/// (input, cache writes, cache reads) of each reply the mock sent.
fn billed(mock: &MockModel) -> Vec<(u64, u64, u64)> {
    mock.requests()
        .iter()
        .map(|r| {
            let u = &r.response["usage"];
            let n = |k: &str| u[k].as_u64().unwrap_or_default();
            (
                n("input_tokens"),
                n("cache_creation_input_tokens"),
                n("cache_read_input_tokens"),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_tool_loop_sends_the_same_cached_prefix_and_later_turns_read_it() {
    let mock = caching_mock(three_turns(), 1024);
    let tools = defs(&["echo"]);
    let system = long_system();
    // No known minimum (a model not in the table): every mark is sent, and the
    // mock caches only the prefixes long enough (the tools alone are not).
    let s = Settings {
        system: &system,
        cache: CacheTtl::FiveMinutes,
        min_cache_tokens: None,
        ..settings(&tools)
    };
    let out = run_with(&mock, &s, &["echo"], &Tools::default(), later())
        .await
        .unwrap();
    assert_eq!(out.stop, Stop::EndTurn);
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter().all(|r| r.status == 200),
        "{:?}",
        reqs.last().map(|r| &r.response)
    );
    // Tools and system are byte-for-byte the same prefix on every turn.
    for r in &reqs[1..] {
        assert_eq!(r.body["tools"], reqs[0].body["tools"]);
        assert_eq!(r.body["system"], reqs[0].body["system"]);
    }
    assert_eq!(
        breakpoints(&reqs[0].body),
        ["tools[0] 5m", "system[0] 5m", "messages[0][0] 5m"]
    );
    // The conversation mark moves forward; the previous one stays: four at most.
    assert_eq!(
        breakpoints(&reqs[2].body),
        [
            "tools[0] 5m",
            "system[0] 5m",
            "messages[2][0] 5m",
            "messages[4][0] 5m"
        ]
    );
    let usage = billed(&mock);
    assert_eq!(
        usage[0].2, 0,
        "nothing to read on the first turn: {usage:?}"
    );
    assert!(
        usage[0].1 > 1024,
        "the first turn writes the prefix: {usage:?}"
    );
    for (turn, u) in usage.iter().enumerate().skip(1) {
        let before = usage[turn - 1];
        assert_eq!(
            u.2,
            before.1 + before.2,
            "turn {} reads all the earlier turn wrote or read: {usage:?}",
            turn + 1
        );
        assert!(
            u.1 > 0 && u.1 < 100,
            "turn {} writes only what it added: {usage:?}",
            turn + 1
        );
        assert_eq!(u.0, 0, "nothing is sent after the last mark: {usage:?}");
    }
    let total = out.stats.usage;
    assert_eq!(
        total.cache_read_input_tokens,
        usage.iter().map(|u| u.2).sum::<u64>()
    );
    assert_eq!(
        total.cache_creation_input_tokens,
        usage.iter().map(|u| u.1).sum::<u64>()
    );
    // The stored conversation carries no breakpoint.
    assert!(
        !serde_json::to_string(&out.messages)
            .unwrap()
            .contains("cache_control")
    );
}

#[tokio::test]
async fn without_caching_every_turn_pays_full_price() {
    let mock = caching_mock(three_turns(), 1024);
    let tools = defs(&["echo"]);
    let system = long_system();
    let s = Settings {
        system: &system,
        cache: CacheTtl::Off,
        min_cache_tokens: Some(1024),
        ..settings(&tools)
    };
    run_with(&mock, &s, &["echo"], &Tools::default(), later())
        .await
        .unwrap();
    let usage = billed(&mock);
    assert!(
        usage.iter().all(|u| u.1 == 0 && u.2 == 0 && u.0 > 1024),
        "{usage:?}"
    );
    assert!(
        mock.requests()
            .iter()
            .all(|r| breakpoints(&r.body).is_empty())
    );
}

#[tokio::test]
async fn a_prompt_below_the_minimum_sends_no_breakpoint() {
    let mock = caching_mock(three_turns(), 1024);
    let tools = defs(&["echo"]);
    let s = Settings {
        cache: CacheTtl::FiveMinutes,
        min_cache_tokens: Some(4096),
        ..settings(&tools)
    };
    run_with(&mock, &s, &["echo"], &Tools::default(), later())
        .await
        .unwrap();
    assert!(
        mock.requests()
            .iter()
            .all(|r| breakpoints(&r.body).is_empty())
    );
}

#[tokio::test]
async fn one_hour_caching_writes_the_stable_prefix_for_an_hour() {
    let mock = caching_mock(three_turns(), 1024);
    let tools = defs(&["echo"]);
    let system = long_system();
    let s = Settings {
        system: &system,
        cache: CacheTtl::OneHour,
        min_cache_tokens: Some(1024),
        ..settings(&tools)
    };
    let out = run_with(&mock, &s, &["echo"], &Tools::default(), later())
        .await
        .unwrap();
    let first = &mock.requests()[0].response["usage"]["cache_creation"];
    assert!(
        first["ephemeral_1h_input_tokens"].as_u64().unwrap() > 1024,
        "{first}"
    );
    let (w5, w1) = out.stats.usage.writes_by_ttl();
    assert!(w1 > 1024 && w5 > 0, "{w5} {w1}");
}

#[tokio::test]
async fn cost_is_the_sum_of_each_calls_tokens_at_their_prices() {
    // Hand calculation. Prices (USD per million): input 3, output 15, 5m write
    // 3.75, 1h write 6, read 0.30. Two replies:
    //   1: 1000 input, 200 output                       = 3000 + 3000     = 6000
    //   2: 50 input, 2000 read, 100 5m-write, 300 output = 150 + 600 + 375 + 4500 = 5625
    // Total 11625 / 1e6 = $0.011625.
    let first = Step::tool_use("t1", "echo", json!({})).with_usage(1000, 200);
    let Step::Reply(mut second) = Step::text("done") else {
        unreachable!()
    };
    second["usage"] = json!({"input_tokens": 50, "output_tokens": 300,
        "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 100});
    let mock = MockModel::start(KEY, vec![first, Step::Reply(second)]);
    let tools = defs(&["echo"]);
    let s = Settings {
        prices: Some(Prices::standard(3.0, 15.0)),
        ..settings(&tools)
    };
    let out = run_with(&mock, &s, &["echo"], &Tools::default(), later())
        .await
        .unwrap();
    let cost = out.stats.cost_usd.unwrap();
    assert!((cost - 0.011_625).abs() < 1e-12, "{cost}");
    let t = out.stats.usage.tokens();
    assert_eq!(
        t,
        Tokens {
            input: 1050,
            output: 500,
            cache_write_5m: 100,
            cache_write_1h: 0,
            cache_read: 2000
        }
    );
    // No prices: no cost, rather than a wrong one.
    let mock = MockModel::start(KEY, vec![Step::text("x")]);
    let out = run_with(&mock, &settings(&tools), &[], &Tools::default(), later())
        .await
        .unwrap();
    assert_eq!(out.stats.cost_usd, None);
}

#[tokio::test]
async fn pause_turn_sends_the_paused_turn_back_and_continues() {
    let mock = MockModel::start(
        KEY,
        vec![Step::pause_turn("Searching…"), Step::text("Found it.")],
    );
    let tools = defs(&[]);
    let out = run_with(&mock, &settings(&tools), &[], &Tools::default(), later())
        .await
        .unwrap();
    assert_eq!(out.stop, Stop::EndTurn);
    assert_eq!(out.text, "Found it.");
    assert_eq!(out.stats.turns, 2);
    let reqs = mock.requests();
    assert_eq!(reqs[1].status, 200, "{}", reqs[1].response);
    let last = reqs[1].messages().last().unwrap().clone();
    assert_eq!(last["role"], "assistant");
    assert_eq!(last["content"][0]["text"], "Searching…");
}

#[tokio::test]
async fn refusal_and_a_full_context_window_end_the_run_as_the_api_means() {
    let mock = MockModel::start(KEY, vec![Step::refusal("cyber")]);
    let tools = defs(&[]);
    let out = run_with(&mock, &settings(&tools), &[], &Tools::default(), later())
        .await
        .unwrap();
    assert_eq!(out.stop, Stop::Refusal);
    assert_eq!(out.stats.refusal_category.as_deref(), Some("cyber"));

    let mock = MockModel::start(
        KEY,
        vec![Step::reply(
            vec![text_block("The answer is")],
            "model_context_window_exceeded",
        )],
    );
    let out = run_with(&mock, &settings(&tools), &[], &Tools::default(), later())
        .await
        .unwrap();
    assert_eq!(out.stop, Stop::ContextWindow);
    assert_eq!(out.stop.as_str(), "model_context_window_exceeded");
    assert_eq!(out.stop.outcome(), "max_tokens");
    assert_eq!(out.text, "The answer is");
}

fn rfc3339_in(ms: u64) -> String {
    let t = agent_fn::deadline::now_epoch_ms() + ms;
    let secs = t / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        t % 1000
    )
}

#[tokio::test]
async fn a_spent_input_limit_is_waited_out_before_the_next_call() {
    let reset = rfc3339_in(800);
    let mock = MockModel::start(
        KEY,
        vec![
            Step::tool_use("t1", "echo", json!({}))
                .with_usage(5000, 10)
                .with_header("anthropic-ratelimit-input-tokens-remaining", "100")
                .with_header("anthropic-ratelimit-input-tokens-reset", &reset)
                .with_header("anthropic-ratelimit-requests-remaining", "49"),
            Step::text("done")
                .with_header("anthropic-ratelimit-input-tokens-remaining", "39000")
                .with_header("anthropic-ratelimit-requests-remaining", "48"),
        ],
    );
    let tools = defs(&["echo"]);
    let out = run_with(
        &mock,
        &settings(&tools),
        &["echo"],
        &Tools::default(),
        later(),
    )
    .await
    .unwrap();
    assert_eq!(out.stop, Stop::EndTurn);
    assert!(
        out.stats.ratelimit_wait > Duration::ZERO,
        "5000 prompt tokens needed, 100 left: the loop waits for the reset"
    );
    assert_eq!(out.stats.ratelimit.input_tokens_remaining, Some(39_000));
    assert_eq!(out.stats.ratelimit.requests_remaining, Some(48));

    // Plenty left: no wait.
    let mock = MockModel::start(
        KEY,
        vec![
            Step::tool_use("t1", "echo", json!({}))
                .with_usage(5000, 10)
                .with_header("anthropic-ratelimit-input-tokens-remaining", "90000")
                .with_header("anthropic-ratelimit-input-tokens-reset", &reset),
            Step::text("done"),
        ],
    );
    let out = run_with(
        &mock,
        &settings(&tools),
        &["echo"],
        &Tools::default(),
        later(),
    )
    .await
    .unwrap();
    assert_eq!(out.stats.ratelimit_wait, Duration::ZERO);
}
