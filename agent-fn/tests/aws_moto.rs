//! The AWS-backed parts against moto: the API key from Secrets Manager, session
//! memory and its conditional write, async jobs (queue, table, status), and the
//! DynamoDB, S3, SQS and EventBridge tools.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_fn::agent::ToolRunner;
use agent_fn::anthropic::RetryPolicy;
use agent_fn::app::{App, Invocation, Options};
use agent_fn::aws::Aws;
use agent_fn::deadline::Deadline;
use agent_fn::secrets::{Secrets, Source};
use agent_fn::sessions;
use agent_fn::tools::Toolbox;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use claw_testkit::mock_model::{MockModel, Step};
use claw_testkit::moto::Moto;
use serde_json::{Value, json};

#[path = "aws_moto/jobs.rs"]
mod jobs;

const KEY: &str = "sk-ant-moto-key-42";

async fn sdk(moto: &Moto) -> SdkConfig {
    claw_testkit::sdk::config(&moto.endpoint()).await
}

async fn table(sdk: &SdkConfig, name: &str, key: &str) {
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

async fn secret(sdk: &SdkConfig, name: &str, value: &str) {
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap();
}

fn config(edit: impl FnOnce(&mut Value)) -> claw_spec::Config {
    let mut c = json!({
        "app": "crm-leads", "stage": "test", "region": "ap-southeast-2", "account": "123456789012",
        "function": {"timeout_s": 30},
        "model": {"id": "claude-test", "api_key_secret": "prod/anthropic-key"},
        "agents": {"lead-qualifier": {"system": "Qualify.", "tools": []}},
    });
    edit(&mut c);
    serde_json::from_value(c).unwrap()
}

fn app(
    config: claw_spec::Config,
    mock: &MockModel,
    sdk: SdkConfig,
) -> (App, Arc<Mutex<Vec<String>>>) {
    app_with(config, mock, sdk, Duration::from_millis(200), None)
}

/// With the loop's margin before the deadline, and a hook called after each job
/// checkpoint.
fn app_with(
    config: claw_spec::Config,
    mock: &MockModel,
    sdk: SdkConfig,
    margin: Duration,
    on_checkpoint: Option<agent_fn::app::CheckpointHook>,
) -> (App, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
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
            margin: Some(margin),
            static_secrets: None,
            address_policy: None,
            sink: Some(sink),
            aws_config: Some(sdk),
            xray_daemon: None,
            bedrock_endpoint: None,
            on_checkpoint,
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

fn apigw(route: &str, params: Value, body: Option<Value>) -> Value {
    let (method, path) = route.split_once(' ').unwrap();
    json!({
        "version": "2.0", "routeKey": route, "rawPath": path,
        "pathParameters": params,
        "requestContext": {"http": {"method": method, "path": path}, "routeKey": route, "timeEpoch": 0},
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    })
}

fn body(resp: &Value) -> Value {
    serde_json::from_str(resp["body"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn the_api_key_comes_from_secrets_manager_and_sessions_remember() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    secret(&sdk, "prod/anthropic-key", &format!("{KEY}\n")).await;
    table(&sdk, "AgentSessions", "session_id").await;
    let mock = MockModel::start(
        KEY,
        vec![Step::text("first answer"), Step::text("second answer")],
    );
    let cfg = config(|c| c["sessions"] = json!({"table": "AgentSessions", "ttl_days": 7}));
    let (app, lines) = app(cfg, &mock, sdk.clone());

    let ask = |m: &str| json!({"agent": "lead-qualifier", "message": m, "session_id": "sess-42"});
    let r1 = app.handle(ask("one"), &inv("r1")).await.unwrap();
    assert_eq!(r1["response"], "first answer", "{r1}");
    let r2 = app.handle(ask("two"), &inv("r2")).await.unwrap();
    assert_eq!(r2["response"], "second answer", "{r2}");

    // The second request carried the first turn.
    let second = &mock.requests()[1];
    let texts: Vec<&str> = second
        .messages()
        .iter()
        .map(|m| m["content"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["one", "first answer", "two"]);

    let item = aws_sdk_dynamodb::Client::new(&sdk)
        .get_item()
        .table_name("AgentSessions")
        .key("session_id", AttributeValue::S("sess-42".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["version"], AttributeValue::N("2".into()));
    let ttl: u64 = item["ttl"].as_n().unwrap().parse().unwrap();
    let now = agent_fn::deadline::now_epoch_s();
    assert!(
        ttl > now + 6 * 86_400 && ttl <= now + 7 * 86_400 + 60,
        "{ttl}"
    );
    let history: Vec<Value> = serde_json::from_str(item["history"].as_s().unwrap()).unwrap();
    assert_eq!(history.len(), 4);

    for l in lines.lock().unwrap().iter() {
        assert!(!l.contains(KEY), "the key leaked: {l}");
    }
}

#[tokio::test]
async fn concurrent_turns_on_one_session_cannot_both_win() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    secret(&sdk, "prod/anthropic-key", KEY).await;
    table(&sdk, "AgentSessions", "session_id").await;
    // Both requests read the (empty) session before either model reply arrives.
    let slow = Duration::from_millis(400);
    let mock = MockModel::start(
        KEY,
        vec![Step::text("a").delayed(slow), Step::text("b").delayed(slow)],
    );
    let cfg = config(|c| c["sessions"] = json!({"table": "AgentSessions"}));
    let (app, _) = app(cfg, &mock, sdk.clone());
    let ev = |m: &str| {
        apigw(
            "POST /agents/{agent}",
            json!({"agent": "lead-qualifier"}),
            Some(json!({"message": m, "session_id": "shared"})),
        )
    };
    let (i1, i2) = (inv("c1"), inv("c2"));
    let (a, b) = tokio::join!(app.handle(ev("x"), &i1), app.handle(ev("y"), &i2));
    let mut statuses = vec![
        a.unwrap()["statusCode"].as_u64().unwrap(),
        b.unwrap()["statusCode"].as_u64().unwrap(),
    ];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);

    // And at the storage layer: a stale version never overwrites.
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let msgs = vec![agent_fn::anthropic::Message::user_text("z")];
    let stale = sessions::save(&ddb, "AgentSessions", "shared", &msgs, 0, 7).await;
    assert!(
        matches!(stale, Err(sessions::SaveError::Conflict)),
        "{stale:?}"
    );
    assert!(
        sessions::save(&ddb, "AgentSessions", "shared", &msgs, 1, 7)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn async_jobs_queue_run_and_report() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    secret(&sdk, "prod/anthropic-key", KEY).await;
    table(&sdk, "crm-leads-test-jobs", "job_id").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = sqs
        .create_queue()
        .queue_name("crm-leads-test-jobs")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let mock = MockModel::start(KEY, vec![Step::text("job answer")]);
    let cfg = config(|c| c["api"] = json!({"mode": "async"}));
    let (app, _) = app(cfg, &mock, sdk.clone());

    let resp = app
        .handle(
            apigw(
                "POST /jobs",
                json!({}),
                Some(json!({"agent": "lead-qualifier", "message": "later"})),
            ),
            &inv("j1"),
        )
        .await
        .unwrap();
    assert_eq!(resp["statusCode"], 202, "{resp}");
    let job_id = body(&resp)["job_id"].as_str().unwrap().to_string();
    let status = |id: String| apigw("GET /jobs/{id}", json!({"id": id}), None);
    let resp = app
        .handle(status(job_id.clone()), &inv("j2"))
        .await
        .unwrap();
    assert_eq!(body(&resp)["status"], "queued");

    let msgs = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(msgs.len(), 1);
    let queued: Value = serde_json::from_str(msgs[0].body().unwrap()).unwrap();
    assert_eq!(queued["job_id"], job_id.as_str());
    assert_eq!(queued["message"], "later");

    let event = claw_testkit::fixtures::sqs_event(
        "crm-leads-test-jobs",
        msgs[0].message_id().unwrap(),
        msgs[0].body().unwrap(),
    );
    let resp = app.handle(event, &inv("j3")).await.unwrap();
    assert_eq!(resp, json!({"batchItemFailures": []}));

    let resp = app
        .handle(status(job_id.clone()), &inv("j4"))
        .await
        .unwrap();
    let job = body(&resp);
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["result"]["response"], "job answer");

    let resp = app
        .handle(status("no-such-job".into()), &inv("j5"))
        .await
        .unwrap();
    assert_eq!(resp["statusCode"], 404);
}

/// A job whose answer passes DynamoDB's 400 KB item limit (moto enforces it, as
/// AWS does) is stored truncated with a marker and not handed back to SQS:
/// before, the refused update made SQS run the job again until the DLQ.
#[tokio::test]
async fn a_job_result_over_the_item_limit_is_stored_truncated_not_retried() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    secret(&sdk, "prod/anthropic-key", KEY).await;
    table(&sdk, "crm-leads-test-jobs", "job_id").await;
    let long = "x".repeat(500 * 1024);
    let mock = MockModel::start(KEY, vec![Step::text(&long)]);
    let cfg = config(|c| c["api"] = json!({"mode": "async"}));
    let (app, _) = app(cfg, &mock, sdk.clone());
    let job_id = "job-big";
    aws_sdk_dynamodb::Client::new(&sdk)
        .put_item()
        .table_name("crm-leads-test-jobs")
        .item(
            "job_id",
            aws_sdk_dynamodb::types::AttributeValue::S(job_id.into()),
        )
        .item(
            "status",
            aws_sdk_dynamodb::types::AttributeValue::S("queued".into()),
        )
        .send()
        .await
        .unwrap();
    let body_text = json!({"job_id": job_id, "agent": "lead-qualifier", "message": "long"});
    let event =
        claw_testkit::fixtures::sqs_event("crm-leads-test-jobs", "m1", &body_text.to_string());
    let resp = app.handle(event, &inv("b1")).await.unwrap();
    assert_eq!(resp, json!({"batchItemFailures": []}));
    let resp = app
        .handle(
            apigw("GET /jobs/{id}", json!({"id": job_id}), None),
            &inv("b2"),
        )
        .await
        .unwrap();
    let job = body(&resp);
    assert_eq!(job["status"], "done");
    assert_eq!(job["result"]["truncated"], true);
    let text = job["result"]["response"].as_str().unwrap();
    assert!(
        text.ends_with(agent_fn::jobs::TRUNCATED_MARKER),
        "{}",
        &text[text.len() - 80..]
    );
    assert!(text.len() <= agent_fn::jobs::RESULT_LIMIT);
}

#[tokio::test]
async fn aws_tools_do_their_one_call() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    table(&sdk, "Companies", "domain").await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
    .create_bucket()
    .bucket("reports")
    .create_bucket_configuration(
        aws_sdk_s3::types::CreateBucketConfiguration::builder()
            .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::ApSoutheast2)
            .build(),
    )
    .send()
    .await
    .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let q = sqs
        .create_queue()
        .queue_name("outbox")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();

    let cfg = config(|c| {
        c["tools"] = json!({
            "put_company": {"kind": "dynamodb_put", "description": "d", "table": "Companies"},
            "get_company": {"kind": "dynamodb_get", "description": "d", "table": "Companies"},
            "find_company": {"kind": "dynamodb_query", "description": "d", "table": "Companies", "partition_key": "domain"},
            "save_report": {"kind": "s3_put", "description": "d", "bucket": "reports", "prefix": "out/"},
            "read_report": {"kind": "s3_get", "description": "d", "bucket": "reports", "prefix": "out/"},
            "notify": {"kind": "sqs_send", "description": "d", "queue": "outbox"},
            "emit": {"kind": "eventbridge_put", "description": "d", "source": "crm.agent", "detail_type": "LeadScored"},
        });
    });
    let aws = Arc::new(Aws::from_config("ap-southeast-2", sdk.clone()));
    let tb = Toolbox::new(
        Arc::new(cfg),
        aws,
        Arc::new(Secrets::new(Source::Static(Default::default()))),
    );
    let run = |name: &'static str, input: Value| {
        let tb = &tb;
        async move {
            let out = tb
                .run(name, &input, Deadline::after(Duration::from_secs(20)))
                .await;
            let v: Value = serde_json::from_str(&out.content).unwrap();
            (out.is_error, v)
        }
    };

    let company = json!({"domain": "acme.example", "employees": 120, "tags": ["b2b"], "hq": {"city": "Sydney"}});
    let (err, v) = run("put_company", json!({"item": company})).await;
    assert!(!err, "{v}");
    let (err, v) = run("get_company", json!({"key": {"domain": "acme.example"}})).await;
    assert!(!err, "{v}");
    assert_eq!(v["found"], true);
    assert_eq!(v["item"], company);
    let (_, v) = run("get_company", json!({"key": {"domain": "nope.example"}})).await;
    assert_eq!(v["found"], false);
    let (err, v) = run("find_company", json!({"value": "acme.example", "limit": 5})).await;
    assert!(!err, "{v}");
    assert_eq!(v["count"], 1);
    assert_eq!(v["items"][0]["employees"], 120);
    let (err, v) = run(
        "find_company",
        json!({"value": "acme.example", "limit": 1000}),
    )
    .await;
    assert!(err, "{v}");

    let (err, v) = run(
        "save_report",
        json!({"key": "2024/q1.txt", "body": "score 80"}),
    )
    .await;
    assert!(!err, "{v}");
    assert_eq!(v["key"], "out/2024/q1.txt");
    let (err, v) = run("read_report", json!({"key": "2024/q1.txt"})).await;
    assert!(!err, "{v}");
    assert_eq!(v["body"], "score 80");
    let (err, _) = run("read_report", json!({"key": "../secrets.txt"})).await;
    assert!(err);

    let (err, v) = run("notify", json!({"message": "lead 42 scored"})).await;
    assert!(!err, "{v}");
    let got = sqs
        .receive_message()
        .queue_url(&q)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(got[0].body(), Some("lead 42 scored"));

    let (err, v) = run("emit", json!({"detail": {"lead": 42, "score": 80}})).await;
    assert!(!err, "{v}");
    assert!(v["event_id"].is_string(), "{v}");
}

#[tokio::test]
async fn a_rejected_key_is_fetched_again_after_rotation() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    secret(&sdk, "prod/anthropic-key", "sk-old-revoked").await;
    let mock = MockModel::start(KEY, vec![Step::text("after rotation")]);
    let (app, _) = app(config(|_| {}), &mock, sdk.clone());
    let ask = json!({"agent": "lead-qualifier", "message": "hi"});
    let r1 = app.handle(ask.clone(), &inv("k1")).await.unwrap();
    assert_eq!(r1["status"], 500, "{r1}");
    aws_sdk_secretsmanager::Client::new(&sdk)
        .put_secret_value()
        .secret_id("prod/anthropic-key")
        .secret_string(KEY)
        .send()
        .await
        .unwrap();
    let r2 = app.handle(ask, &inv("k2")).await.unwrap();
    assert_eq!(r2["response"], "after rotation", "{r2}");
}

#[tokio::test]
async fn an_mcp_token_comes_from_secrets_manager_and_never_reaches_the_session() {
    const TOKEN: &str = "mcp-moto-token-7c1e";
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    secret(&sdk, "prod/anthropic-key", KEY).await;
    secret(&sdk, "prod/crm-mcp", TOKEN).await;
    table(&sdk, "AgentSessions", "session_id").await;
    // The API called the server and answered in one turn.
    let turn = vec![
        json!({"type": "mcp_tool_use", "id": "mcptoolu_7", "name": "search_leads",
               "server_name": "crm", "input": {"q": "Acme"}}),
        json!({"type": "mcp_tool_result", "tool_use_id": "mcptoolu_7", "is_error": false,
               "content": [{"type": "text", "text": "2 leads"}]}),
        json!({"type": "text", "text": "Found 2 leads."}),
    ];
    let mock = MockModel::start(
        KEY,
        vec![Step::reply(turn.clone(), "end_turn"), Step::text("ok")],
    );
    let cfg = config(|c| {
        c["sessions"] = json!({"table": "AgentSessions"});
        c["tools"] = json!({"crm": {"kind": "mcp", "description": "",
            "url": "https://mcp.example.com/mcp", "auth": {"secret": "prod/crm-mcp"}}});
        c["agents"]["lead-qualifier"]["tools"] = json!(["crm"]);
    });
    let (app, lines) = app(cfg, &mock, sdk.clone());
    let ask = |m: &str| json!({"agent": "lead-qualifier", "message": m, "session_id": "mcp-1"});
    let r1 = app.handle(ask("find Acme"), &inv("m1")).await.unwrap();
    assert_eq!(r1["response"], "Found 2 leads.", "{r1}");
    let r2 = app.handle(ask("and then?"), &inv("m2")).await.unwrap();
    assert_eq!(r2["response"], "ok", "{r2}");

    let reqs = mock.requests();
    assert_eq!(reqs[0].mcp_servers()[0]["authorization_token"], TOKEN);
    assert_eq!(reqs[0].mcp_servers()[0]["name"], "crm");
    // The stored turn came back with the MCP blocks as the API wrote them.
    let mut sent = reqs[1].messages()[1].clone();
    for b in sent["content"].as_array_mut().unwrap() {
        b.as_object_mut().unwrap().remove("cache_control");
    }
    assert_eq!(sent["content"], json!(turn));

    let item = aws_sdk_dynamodb::Client::new(&sdk)
        .get_item()
        .table_name("AgentSessions")
        .key("session_id", AttributeValue::S("mcp-1".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let history_text = item["history"].as_s().unwrap();
    let history: Vec<Value> = serde_json::from_str(history_text).unwrap();
    assert_eq!(history[1]["content"], json!(turn));
    for (k, v) in &item {
        assert!(!format!("{v:?}").contains(TOKEN), "the token is in `{k}`");
    }
    let audits: Vec<Value> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["type"] == "audit")
        .collect();
    assert_eq!(audits[0]["mcp_calls"], 1, "{audits:?}");
    assert!(audits[1].get("mcp_calls").is_none(), "{audits:?}");
    for l in lines.lock().unwrap().iter() {
        assert!(
            !l.contains(TOKEN) && !l.contains(KEY),
            "a secret leaked: {l}"
        );
    }
}
