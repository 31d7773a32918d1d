//! Per-session and per-caller budgets against moto: refusals answer 429 with
//! `retry-after` before any model call, requests are counted once, callers are
//! told apart by the JWT's `sub`, and parallel invocations of one session
//! overspend a token budget by at most one turn each.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_fn::anthropic::RetryPolicy;
use agent_fn::app::{App, Invocation, Options};
use agent_fn::budget::{Budget, caller_id, counter_key};
use agent_fn::deadline::{Deadline, now_epoch_s};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use claw_testkit::mock_model::{MockModel, MockOptions, Step};
use claw_testkit::moto::Moto;
use futures::future::join_all;
use serde_json::{Value, json};

const KEY: &str = "sk-ant-moto-key-42";
const TABLE: &str = "AgentSessions";

struct Env {
    _moto: Moto,
    sdk: SdkConfig,
}

async fn env() -> Env {
    let moto = Moto::start();
    let sdk = claw_testkit::sdk::config(&moto.endpoint()).await;
    let key = |k: &str| {
        (
            AttributeDefinition::builder()
                .attribute_name(k)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
            KeySchemaElement::builder()
                .attribute_name(k)
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
    };
    for (table, k) in [(TABLE, "session_id"), ("crm-leads-test-jobs", "job_id")] {
        let (def, schema) = key(k);
        aws_sdk_dynamodb::Client::new(&sdk)
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(def)
            .key_schema(schema)
            .send()
            .await
            .unwrap();
    }
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name("prod/anthropic-key")
        .secret_string(KEY)
        .send()
        .await
        .unwrap();
    Env { _moto: moto, sdk }
}

fn config(limits: Value, edit: impl FnOnce(&mut Value)) -> claw_spec::Config {
    let mut c = json!({
        "app": "crm-leads", "stage": "test", "region": "ap-southeast-2", "account": "123456789012",
        "function": {"timeout_s": 30},
        "model": {"id": "claude-test", "api_key_secret": "prod/anthropic-key"},
        "agents": {"lead-qualifier": {"system": "Qualify.", "tools": []}},
        "sessions": {"table": TABLE},
        "limits": limits,
    });
    edit(&mut c);
    serde_json::from_value(c).unwrap()
}

fn jwt(c: &mut Value) {
    c["api"] =
        json!({"auth": "jwt", "jwt": {"issuer": "https://auth.example.com/", "audience": ["api"]}});
}

type Lines = Arc<Mutex<Vec<String>>>;

fn app(config: claw_spec::Config, mock: &MockModel, env: &Env) -> (App, Lines) {
    let lines: Lines = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let lines = Arc::clone(&lines);
        Arc::new(move |l: &str| lines.lock().unwrap().push(l.to_string()))
    };
    let app = App::new(
        config,
        Options {
            model_base_url: mock.base_url(),
            retry: RetryPolicy {
                max_retries: 1,
                base: Duration::from_millis(1),
                cap: Duration::from_millis(2),
                max_server_delay: Duration::from_secs(5),
            },
            margin: Some(Duration::from_millis(200)),
            static_secrets: None,
            address_policy: None,
            sink: Some(sink),
            aws_config: Some(env.sdk.clone()),
            xray_daemon: None,
            bedrock_endpoint: None,
            on_checkpoint: None,
            replay: None,
        },
    );
    (app, lines)
}

fn inv(id: &str) -> Invocation {
    Invocation {
        request_id: id.into(),
        deadline: Deadline::after(Duration::from_secs(30)),
        trace_header: None,
    }
}

/// An API Gateway request; `sub` is the JWT authorizer's claim.
fn apigw(session: &str, sub: Option<&str>) -> Value {
    let mut ctx = json!({"http": {"method": "POST", "path": "/agents/lead-qualifier"},
        "routeKey": "POST /agents/{agent}", "timeEpoch": 0});
    if let Some(sub) = sub {
        ctx["authorizer"] =
            json!({"jwt": {"claims": {"sub": sub, "scope": "chat"}, "scopes": null}});
    }
    json!({
        "version": "2.0", "routeKey": "POST /agents/{agent}", "rawPath": "/agents/lead-qualifier",
        "pathParameters": {"agent": "lead-qualifier"},
        "requestContext": ctx,
        "body": json!({"message": "hi", "session_id": session}).to_string(),
        "isBase64Encoded": false
    })
}

fn direct(session: &str) -> Value {
    json!({"agent": "lead-qualifier", "message": "hi", "session_id": session})
}

/// A reply using 100 tokens: 60 in, 20 out, 15 written to and 5 read from the cache.
fn costs_100(step: Step) -> Step {
    match step {
        Step::Reply(mut v) => {
            v["usage"] = json!({"input_tokens": 60, "output_tokens": 20,
                "cache_creation_input_tokens": 15, "cache_read_input_tokens": 5});
            Step::Reply(v)
        }
        other => other,
    }
}

/// A turn that asks for a tool the agent does not have: the loop answers with an
/// error result and asks the model again.
fn tool_turn() -> Step {
    costs_100(Step::tool_use("t1", "lookup", json!({})))
}

async fn counter(env: &Env, key: &str) -> Option<(u64, u64, u64)> {
    let item = aws_sdk_dynamodb::Client::new(&env.sdk)
        .get_item()
        .table_name(TABLE)
        .key("session_id", AttributeValue::S(key.into()))
        .send()
        .await
        .unwrap()
        .item?;
    let n = |a: &str| {
        item.get(a)
            .map_or(0, |v| v.as_n().unwrap().parse().unwrap())
    };
    Some((n("tokens"), n("requests"), n("ttl")))
}

/// The audit lines written so far.
fn audits(lines: &Lines) -> Vec<Value> {
    lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "audit")
        .collect()
}

/// Per-minute tests wait out the last seconds of a minute, so their requests all
/// fall in one window.
async fn fresh_minute() {
    let left = 60 - now_epoch_s() % 60;
    if left < 15 {
        tokio::time::sleep(Duration::from_secs(left + 1)).await;
    }
}

#[tokio::test]
async fn over_the_token_budget_answers_429_without_calling_the_model() {
    let env = env().await;
    let script = ["a", "b", "c"].map(|t| costs_100(Step::text(t)));
    let mock = MockModel::start(KEY, script.to_vec());
    let cfg = config(json!({"session_tokens_per_day": 150}), |_| {});
    let (app, lines) = app(cfg, &mock, &env);

    for id in ["r1", "r2"] {
        let r = app.handle(apigw("s-1", None), &inv(id)).await.unwrap();
        assert_eq!(r["statusCode"], 200, "{r}");
    }
    // 200 tokens charged (cache tokens included), over the 150 of the budget.
    let now = now_epoch_s();
    let key = counter_key(Budget::SessionTokens, now, "s-1");
    let (tokens, _, ttl) = counter(&env, &key).await.expect("the day's counter");
    assert_eq!(tokens, 200);
    assert_eq!(
        ttl,
        now - now % 86_400 + 86_400,
        "expires at the end of the UTC day"
    );

    let r = app.handle(apigw("s-1", None), &inv("r3")).await.unwrap();
    assert_eq!(r["statusCode"], 429, "{r}");
    let retry: u64 = r["headers"]["retry-after"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("daily token budget"),
        "{body}"
    );
    assert_eq!(mock.request_count(), 2, "no model call when over budget");

    let r = app.handle(direct("s-1"), &inv("r4")).await.unwrap();
    assert_eq!(r["status"], 429, "{r}");
    assert!(r["retry_after_s"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(mock.request_count(), 2);

    let a = audits(&lines);
    assert_eq!(a[2]["outcome"], "over_budget");
    assert_eq!(a[2]["error"], "budget_session_tokens");
    assert_eq!(a[2]["status"], 429);
    // Another session has its own budget.
    let r = app.handle(direct("s-2"), &inv("r5")).await.unwrap();
    assert_eq!(r["response"], "c", "{r}");
}

#[tokio::test]
async fn requests_per_minute_are_counted_once_per_request() {
    fresh_minute().await;
    let env = env().await;
    // Two turns per request.
    let script = vec![tool_turn(), costs_100(Step::text("done"))];
    let mock = MockModel::with_options(
        MockOptions {
            api_key: KEY.into(),
            expect_model: None,
            repeat: true,
            cache_min_tokens: None,
        },
        script,
    );
    let cfg = config(json!({"session_requests_per_minute": 2}), |_| {});
    let (app, lines) = app(cfg, &mock, &env);

    for id in ["r1", "r2"] {
        let r = app.handle(direct("s-1"), &inv(id)).await.unwrap();
        assert_eq!(r["stop_reason"], "end_turn", "{r}");
    }
    assert_eq!(mock.request_count(), 4);
    let r = app.handle(direct("s-1"), &inv("r3")).await.unwrap();
    assert_eq!(r["status"], 429, "{r}");
    assert!(
        (1..=60).contains(&r["retry_after_s"].as_u64().unwrap()),
        "{r}"
    );
    assert_eq!(mock.request_count(), 4);
    assert_eq!(audits(&lines)[2]["error"], "budget_session_requests");

    let now = now_epoch_s();
    let key = counter_key(Budget::SessionRequests, now, "s-1");
    let (_, requests, ttl) = counter(&env, &key).await.expect("the minute's counter");
    assert_eq!(
        requests, 2,
        "two requests of two turns each, the refused one not counted"
    );
    assert_eq!(ttl, now - now % 60 + 60);
}

#[tokio::test]
async fn caller_budgets_are_keyed_by_the_jwt_sub() {
    fresh_minute().await;
    let env = env().await;
    let mock = MockModel::with_options(
        MockOptions {
            api_key: KEY.into(),
            expect_model: None,
            repeat: true,
            cache_min_tokens: None,
        },
        vec![costs_100(Step::text("ok"))],
    );
    let limits = json!({"caller_requests_per_minute": 1, "session_requests_per_minute": 5,
        "caller_tokens_per_day": 1000});
    let (app, lines) = app(config(limits, jwt), &mock, &env);

    let r = app
        .handle(apigw("a-1", Some("alice")), &inv("r1"))
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 200, "{r}");
    // Another session of the same caller: the caller's minute is used up.
    let r = app
        .handle(apigw("a-2", Some("alice")), &inv("r2"))
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 429, "{r}");
    assert!(r["headers"]["retry-after"].is_string(), "{r}");
    assert_eq!(audits(&lines)[1]["error"], "budget_caller_requests");
    // Another caller is not affected.
    let r = app
        .handle(apigw("b-1", Some("bob")), &inv("r3"))
        .await
        .unwrap();
    assert_eq!(r["statusCode"], 200, "{r}");
    assert_eq!(mock.request_count(), 2);

    let now = now_epoch_s();
    let alice = caller_id("alice");
    let (_, requests, _) = counter(&env, &counter_key(Budget::CallerRequests, now, &alice))
        .await
        .unwrap();
    assert_eq!(requests, 1);
    let (tokens, _, _) = counter(&env, &counter_key(Budget::CallerTokens, now, &alice))
        .await
        .unwrap();
    assert_eq!(tokens, 100);
    // The refused request gave its session count back.
    let (_, requests, _) = counter(&env, &counter_key(Budget::SessionRequests, now, "a-2"))
        .await
        .unwrap();
    assert_eq!(requests, 0);

    // A token without `sub` cannot be charged to anyone.
    let r = app.handle(apigw("c-1", None), &inv("r4")).await.unwrap();
    assert_eq!(r["statusCode"], 400, "{r}");
    assert_eq!(mock.request_count(), 2);
    // Direct invocations have no caller: only session budgets apply.
    let r = app.handle(direct("a-3"), &inv("r5")).await.unwrap();
    assert_eq!(r["stop_reason"], "end_turn", "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_invocations_of_one_session_overspend_by_at_most_one_turn_each() {
    let env = env().await;
    // Every turn asks for another tool call: without a budget each invocation
    // would run all 12 turns (96 model calls for 8 invocations).
    let mock = MockModel::with_options(
        MockOptions {
            api_key: KEY.into(),
            expect_model: None,
            repeat: true,
            cache_min_tokens: None,
        },
        vec![tool_turn()],
    );
    const LIMIT: u64 = 1000;
    const TURN: u64 = 100;
    const PARALLEL: u64 = 8;
    let cfg = config(
        json!({"session_tokens_per_day": LIMIT, "max_tool_calls": 100}),
        |_| {},
    );
    let (app, lines) = app(cfg, &mock, &env);

    let invocations: Vec<Invocation> = (0..PARALLEL)
        .map(|i| Invocation {
            request_id: format!("p{i}"),
            deadline: Deadline::after(Duration::from_secs(10)),
            trace_header: None,
        })
        .collect();
    let results = join_all(invocations.iter().map(|i| app.handle(direct("shared"), i))).await;

    let key = counter_key(Budget::SessionTokens, now_epoch_s(), "shared");
    let (tokens, _, _) = counter(&env, &key).await.unwrap();
    let calls = mock.request_count() as u64;
    assert_eq!(tokens, calls * TURN, "every model call is charged");
    assert!(tokens >= LIMIT, "the budget was reached: {tokens}");
    assert!(
        tokens < LIMIT + PARALLEL * TURN,
        "{tokens} tokens: more than one turn per invocation over {LIMIT}"
    );
    // Every invocation was stopped by the budget, none ran to its turn limit; the
    // first to save the session answered, the others lost the race for it (409).
    let audits = audits(&lines);
    assert_eq!(audits.len(), PARALLEL as usize);
    let turns: u64 = audits.iter().map(|a| a["turns"].as_u64().unwrap()).sum();
    assert_eq!(turns, calls);
    let mut refused = 0;
    for a in &audits {
        assert!(a["turns"].as_u64().unwrap() < 12, "{a}");
        match a["error"].as_str() {
            Some("budget_session_tokens") => {
                assert_eq!(a["outcome"], "over_budget", "{a}");
                refused += 1;
            }
            Some("session_conflict") => assert_eq!(a["status"], 409, "{a}"),
            _ => panic!("not stopped by the budget: {a}"),
        }
    }
    assert!(refused >= 1, "{audits:?}");
    let answered = results
        .iter()
        .filter(|r| r.as_ref().unwrap()["stop_reason"] == "over_budget");
    assert!(answered.count() <= 1, "{results:?}");
    // And the next request is refused before any model call.
    let r = app.handle(direct("shared"), &inv("after")).await.unwrap();
    assert_eq!(r["status"], 429, "{r}");
    assert_eq!(mock.request_count() as u64, calls);
}

#[tokio::test]
async fn an_over_budget_job_fails_and_is_not_delivered_again() {
    let env = env().await;
    let mock = MockModel::start(KEY, vec![costs_100(Step::text("a"))]);
    let cfg = config(json!({"session_tokens_per_day": 50}), |c| {
        c["api"] = json!({"mode": "async"});
    });
    let (app, lines) = app(cfg, &mock, &env);
    let r = app.handle(direct("s-1"), &inv("r1")).await.unwrap();
    assert_eq!(r["response"], "a", "{r}");

    let job = |id: &str| {
        json!({"job_id": id, "agent": "lead-qualifier", "message": "hi", "session_id": "s-1"})
            .to_string()
    };
    aws_sdk_dynamodb::Client::new(&env.sdk)
        .put_item()
        .table_name("crm-leads-test-jobs")
        .item("job_id", AttributeValue::S("j-1".into()))
        .item("status", AttributeValue::S("queued".into()))
        .send()
        .await
        .unwrap();
    let event = json!({"Records": [{
        "messageId": "m-1", "receiptHandle": "rh", "body": job("j-1"),
        "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:ap-southeast-2:123456789012:crm-leads-test-jobs",
        "awsRegion": "ap-southeast-2"
    }]});
    let r = app.handle(event, &inv("r2")).await.unwrap();
    assert_eq!(r, json!({"batchItemFailures": []}), "acknowledged");
    assert_eq!(mock.request_count(), 1);
    let item = aws_sdk_dynamodb::Client::new(&env.sdk)
        .get_item()
        .table_name("crm-leads-test-jobs")
        .key("job_id", AttributeValue::S("j-1".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["status"].as_s().unwrap(), "failed");
    assert!(
        item["error"].as_s().unwrap().contains("over budget"),
        "{item:?}"
    );
    assert_eq!(audits(&lines)[1]["error"], "budget_session_tokens");
}
