//! The whole handler, per event shape, against the mock model with fixed secrets:
//! response shapes and statuses, the audit and EMF lines, and that neither the API
//! key nor internals reach a response or a log line.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_fn::anthropic::RetryPolicy;
use agent_fn::app::{App, Invocation, Options};
use agent_fn::deadline::Deadline;
use claw_testkit::mock_model::{MCP_BETA, MockModel, Step};
use serde_json::{Value, json};

const KEY: &str = "sk-ant-test-0123456789";

struct Harness {
    app: App,
    lines: Arc<Mutex<Vec<String>>>,
    mock: MockModel,
}

impl Harness {
    fn new(script: Vec<Step>, edit: impl FnOnce(&mut Value)) -> Harness {
        Harness::with_secrets(script, &[], edit)
    }

    /// With more fixed secrets than the API key.
    fn with_secrets(
        script: Vec<Step>,
        secrets: &[(&str, &str)],
        edit: impl FnOnce(&mut Value),
    ) -> Harness {
        Harness::build(MockModel::start(KEY, script), secrets, edit, None)
    }

    /// With AWS credentials (for SigV4) and Bedrock's endpoint at the mock.
    async fn with_bedrock(script: Vec<Step>, edit: impl FnOnce(&mut Value)) -> Harness {
        let mock = MockModel::start(KEY, script);
        let sdk = claw_testkit::sdk::config(&mock.base_url()).await;
        Harness::build(mock, &[], edit, Some(sdk))
    }

    fn build(
        mock: MockModel,
        secrets: &[(&str, &str)],
        edit: impl FnOnce(&mut Value),
        sdk: Option<aws_config::SdkConfig>,
    ) -> Harness {
        let mut config = json!({
            "app": "crm-leads", "stage": "test", "region": "ap-southeast-2", "account": "123456789012",
            "function": {"timeout_s": 30},
            "model": {"id": "claude-test", "max_tokens": 512, "api_key_secret": "anthropic-key"},
            "limits": {"max_tool_calls": 5, "max_turns": 4},
            "agents": {
                "lead-qualifier": {"system": "Qualify leads.", "tools": []},
                "other": {"system": "Other.", "tools": []}
            },
        });
        edit(&mut config);
        let config: claw_spec::Config = serde_json::from_value(config).unwrap();
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
                    max_retries: 2,
                    base: Duration::from_millis(1),
                    cap: Duration::from_millis(2),
                    max_server_delay: Duration::from_secs(60),
                },
                margin: Some(Duration::from_millis(200)),
                static_secrets: Some(
                    [("anthropic-key", KEY)]
                        .iter()
                        .chain(secrets)
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect::<HashMap<_, _>>(),
                ),
                address_policy: None,
                sink: Some(sink),
                bedrock_endpoint: sdk.as_ref().map(|_| mock.base_url()),
                on_checkpoint: None,
                replay: None,
                aws_config: sdk,
                xray_daemon: None,
            },
        );
        Harness { app, lines, mock }
    }

    async fn invoke(&self, payload: Value) -> Result<Value, String> {
        let inv = Invocation {
            request_id: "req-123".into(),
            deadline: Deadline::after(Duration::from_secs(30)),
            trace_header: None,
        };
        self.app
            .handle(payload, &inv)
            .await
            .map_err(|e| e.to_string())
    }

    fn lines(&self) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).expect("every log line is JSON"))
            .collect()
    }

    fn audit(&self) -> Value {
        let audits: Vec<Value> = self
            .lines()
            .into_iter()
            .filter(|l| l["type"] == "audit")
            .collect();
        assert_eq!(audits.len(), 1, "exactly one audit line per invocation");
        audits[0].clone()
    }

    fn emf(&self) -> Value {
        let emf: Vec<Value> = self
            .lines()
            .into_iter()
            .filter(|l| l.get("_aws").is_some())
            .collect();
        assert_eq!(emf.len(), 1, "exactly one EMF line per invocation");
        emf[0].clone()
    }

    /// Nothing the function printed or answered holds the API key.
    fn assert_no_key(&self, response: &Value) {
        assert!(!response.to_string().contains(KEY));
        for l in self.lines.lock().unwrap().iter() {
            assert!(!l.contains(KEY), "the API key leaked into a log line: {l}");
        }
    }
}

fn apigw(route: &str, params: Value, body: Option<&str>) -> Value {
    let (method, path) = route.split_once(' ').unwrap();
    json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "headers": {"content-type": "application/json"},
        "pathParameters": params,
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"},
            "requestId": "api-req", "routeKey": route, "stage": "$default", "timeEpoch": 0
        },
        "body": body,
        "isBase64Encoded": false
    })
}

fn http_body(resp: &Value) -> Value {
    assert_eq!(resp["headers"]["content-type"], "application/json");
    serde_json::from_str(resp["body"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn api_gateway_success() {
    let h = Harness::new(vec![Step::text("Score: 80").with_usage(50, 7)], |_| {});
    let resp = h
        .invoke(apigw(
            "POST /agents/{agent}",
            json!({"agent": "lead-qualifier"}),
            Some(r#"{"message":"lead 42","session_id":"sess-1"}"#),
        ))
        .await
        .unwrap();
    assert_eq!(resp["statusCode"], 200);
    let body = http_body(&resp);
    assert_eq!(body["response"], "Score: 80");
    assert_eq!(body["session_id"], "sess-1");
    assert_eq!(body["tool_calls"], 0);
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 50, "output_tokens": 7,
               "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
    );
    // `claude-test` has no price: no cost anywhere rather than a wrong one.
    assert!(body.get("cost_usd").is_none());
    assert_eq!(body["stop_reason"], "end_turn");
    let req = &h.mock.requests()[0];
    assert_eq!(req.body["model"], "claude-test");
    // Caching is on by default: the system prompt goes as a marked block.
    assert_eq!(req.body["system"][0]["text"], "Qualify leads.");
    assert!(req.body["system"][0]["cache_control"].is_object());
    assert_eq!(req.body["messages"][0]["content"][0]["text"], "lead 42");
    let a = h.audit();
    assert_eq!(a["request_id"], "req-123");
    assert_eq!(a["source"], "apigw");
    assert_eq!(a["agent"], "lead-qualifier");
    assert_eq!(a["session_id"], "sess-1");
    assert_eq!(a["outcome"], "ok");
    assert_eq!(a["status"], 200);
    assert_eq!(a["turns"], 1);
    assert_eq!(a["input_tokens"], 50);
    assert_eq!(a["output_tokens"], 7);
    assert!(a["duration_ms"].is_u64() && a["model_latency_ms"].is_u64());
    // Absent on success, so `claw logs --filter error` finds only failures.
    assert!(a.get("error").is_none(), "{a}");
    assert!(a.get("cost_usd").is_none(), "{a}");
    assert!(
        !h.lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("\"error\":null"))
    );
    let emf = h.emf();
    assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], "claw");
    assert_eq!(
        emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["app", "stage", "agent"]])
    );
    assert_eq!(
        (emf["app"].as_str(), emf["stage"].as_str()),
        (Some("crm-leads"), Some("test"))
    );
    assert_eq!(emf["OutputTokens"], 7);
    assert_eq!(emf["Errors"], 0);
    h.assert_no_key(&resp);
}

#[tokio::test]
async fn api_gateway_generates_a_session_id() {
    let h = Harness::new(vec![Step::text("hi")], |_| {});
    let resp = h
        .invoke(apigw(
            "POST /agents/{agent}",
            json!({"agent": "other"}),
            Some(r#"{"message":"x"}"#),
        ))
        .await
        .unwrap();
    let sid = http_body(&resp)["session_id"].as_str().unwrap().to_string();
    assert_eq!(sid.len(), 32);
    assert!(sid.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[tokio::test]
async fn api_gateway_bad_requests_name_the_problem() {
    let h = Harness::new(vec![], |_| {});
    let resp = h
        .invoke(apigw(
            "POST /agents/{agent}",
            json!({"agent": "lead-qualifier"}),
            Some("{oops"),
        ))
        .await
        .unwrap();
    assert_eq!(resp["statusCode"], 400);
    let body = http_body(&resp);
    assert!(
        body["error"].as_str().unwrap().contains("not valid JSON"),
        "{body}"
    );
    assert_eq!(body["request_id"], "req-123");
    let a = h.audit();
    assert_eq!(a["outcome"], "bad_request");
    assert_eq!(a["error"], "bad_request");
    assert_eq!(h.mock.request_count(), 0);
}

#[tokio::test]
async fn api_gateway_unknown_agent_is_404_and_never_a_metric_dimension() {
    let h = Harness::new(vec![], |_| {});
    let resp = h
        .invoke(apigw(
            "POST /agents/{agent}",
            json!({"agent": "nope"}),
            Some(r#"{"message":"x"}"#),
        ))
        .await
        .unwrap();
    assert_eq!(resp["statusCode"], 404);
    assert!(
        http_body(&resp)["error"]
            .as_str()
            .unwrap()
            .contains("no agent named `nope`")
    );
    assert!(h.audit()["agent"].is_null());
    assert_eq!(h.emf()["agent"], "none");
}

#[tokio::test]
async fn model_failures_are_generic_to_the_caller_and_detailed_in_the_log() {
    let h = Harness::new(
        vec![Step::error(403, "permission_error", "key revoked")],
        |_| {},
    );
    let resp = h
        .invoke(apigw(
            "POST /agents/{agent}",
            json!({"agent": "lead-qualifier"}),
            Some(r#"{"message":"x"}"#),
        ))
        .await
        .unwrap();
    assert_eq!(resp["statusCode"], 500);
    assert_eq!(
        http_body(&resp),
        json!({"error": "agent error", "request_id": "req-123"})
    );
    let a = h.audit();
    assert_eq!(a["outcome"], "error");
    assert_eq!(a["error"], "model_http_403");
    assert_eq!(h.emf()["Errors"], 1);
    let errors: Vec<Value> = h
        .lines()
        .into_iter()
        .filter(|l| l["type"] == "error")
        .collect();
    assert_eq!(errors.len(), 1);
    assert!(errors[0]["detail"].as_str().unwrap().contains("403"));
    h.assert_no_key(&resp);
}

#[tokio::test]
async fn direct_invoke_answers_with_the_same_body() {
    let h = Harness::new(vec![Step::text("direct answer")], |_| {});
    let resp = h
        .invoke(json!({"agent": "lead-qualifier", "message": "hello", "session_id": "s-9"}))
        .await
        .unwrap();
    assert_eq!(resp["response"], "direct answer");
    assert_eq!(resp["session_id"], "s-9");
    assert_eq!(resp["stop_reason"], "end_turn");
    assert_eq!(h.audit()["source"], "direct");
}

#[tokio::test]
async fn direct_invoke_errors_are_objects_with_a_status() {
    let h = Harness::new(vec![], |_| {});
    let resp = h.invoke(json!({"agent": "lead-qualifier"})).await.unwrap();
    assert_eq!(resp["status"], 400);
    assert_eq!(resp["request_id"], "req-123");
    assert!(
        resp["error"]
            .as_str()
            .unwrap()
            .contains("missing field `message`")
    );
    let resp = h
        .invoke(json!({"agent": "ghost", "message": "x"}))
        .await
        .unwrap();
    assert_eq!(resp["status"], 404);
}

#[tokio::test]
async fn unknown_event_shapes_are_bad_requests() {
    let h = Harness::new(vec![], |_| {});
    let resp = h.invoke(json!({"hello": "world"})).await.unwrap();
    assert_eq!(resp["status"], 400);
    assert!(
        resp["error"]
            .as_str()
            .unwrap()
            .contains("unrecognised event")
    );
    let a = h.audit();
    assert_eq!(a["source"], "unknown");
    assert_eq!(a["outcome"], "bad_request");
}

#[tokio::test]
async fn eventbridge_runs_the_detail_and_fails_retryable_errors() {
    let event = |detail: Value| {
        json!({"version": "0", "id": "e", "detail-type": "LeadCreated", "source": "crm",
               "account": "123456789012", "time": "2024-03-12T19:03:58Z", "region": "ap-southeast-2",
               "resources": [], "detail": detail})
    };
    let h = Harness::new(vec![Step::text("from events")], |_| {});
    let resp = h
        .invoke(event(json!({"agent": "other", "message": "new lead"})))
        .await
        .unwrap();
    assert_eq!(resp["response"], "from events");
    assert_eq!(h.audit()["source"], "eventbridge");

    // A model outage fails the invocation so Lambda retries the event.
    let h = Harness::new((0..3).map(|_| Step::server_error()).collect(), |_| {});
    let err = h
        .invoke(event(json!({"agent": "other", "message": "new lead"})))
        .await
        .unwrap_err();
    assert!(
        err.contains("agent error") && err.contains("req-123"),
        "{err}"
    );

    // A bad event would fail every retry: answered, not failed.
    let h = Harness::new(vec![], |_| {});
    let resp = h
        .invoke(event(json!({"message": "no agent"})))
        .await
        .unwrap();
    assert_eq!(resp["status"], 400);
}

fn sqs(records: &[(&str, &str)]) -> Value {
    json!({"Records": records.iter().map(|(id, body)| json!({
        "messageId": id, "receiptHandle": "rh", "body": body, "attributes": {},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:ap-southeast-2:123456789012:crm-leads-test-jobs",
        "awsRegion": "ap-southeast-2"
    })).collect::<Vec<_>>()})
}

#[tokio::test]
async fn sqs_reports_only_records_a_retry_could_fix() {
    // Three records run concurrently; the mock answers in arrival order, so every
    // reply is a failure or a success regardless of which record gets it: two
    // valid jobs, one of which meets a 400 from the model (not retryable by the
    // client, but a job a later delivery could complete), and two malformed ones.
    let h = Harness::new(
        vec![
            Step::text("job done"),
            Step::error(400, "invalid_request_error", "nope"),
        ],
        |_| {},
    );
    let resp = h
        .invoke(sqs(&[
            ("m-ok", r#"{"job_id":"j1","agent":"other","message":"a"}"#),
            ("m-garbage", "not json"),
            (
                "m-fail",
                r#"{"job_id":"j2","agent":"lead-qualifier","message":"b"}"#,
            ),
            (
                "m-ghost",
                r#"{"job_id":"j3","agent":"ghost","message":"c"}"#,
            ),
        ]))
        .await
        .unwrap();
    let failures = resp["batchItemFailures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{resp}");
    let failed = failures[0]["itemIdentifier"].as_str().unwrap();
    assert!(failed == "m-ok" || failed == "m-fail", "{failed}");
    let a = h.audit();
    assert_eq!(a["source"], "sqs");
    assert_eq!(a["records"], 4);
    assert_eq!(a["failed_records"], 1);
    assert_eq!(a["outcome"], "error");
    assert_eq!(a["error"], "model_http_400");
}

const PROFILE: &str = "us.anthropic.claude-haiku-4-5-20251001-v1:0";

fn on_bedrock(c: &mut Value) {
    c["model"] = json!({"provider": "bedrock", "id": PROFILE, "max_tokens": 256});
}

#[tokio::test]
async fn bedrock_calls_invoke_model_signed_with_no_key_anywhere() {
    let h = Harness::with_bedrock(vec![Step::text("Score: 70").with_usage(100, 10)], |c| {
        on_bedrock(c);
        // Past Haiku 4.5's 4096-token minimum, so the prompt is cached.
        c["agents"]["lead-qualifier"]["system"] = json!("Qualify leads. ".repeat(1000));
    })
    .await;
    let resp = h
        .invoke(json!({"agent": "lead-qualifier", "message": "lead 7"}))
        .await
        .unwrap();
    assert_eq!(resp["response"], "Score: 70", "{resp}");
    // Haiku 4.5's published price: 100 x $1 + 10 x $5 per million.
    assert_eq!(resp["cost_usd"], 0.00015);
    let req = &h.mock.requests()[0];
    assert_eq!(req.status, 200, "{}", req.response);
    assert_eq!(
        req.path,
        "/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/invoke"
    );
    let auth = req.header("authorization").unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=testing/")
            && auth.contains("/ap-southeast-2/bedrock/aws4_request"),
        "{auth}"
    );
    assert!(req.header("x-api-key").is_none());
    assert!(req.body.get("model").is_none());
    assert_eq!(req.body["anthropic_version"], "bedrock-2023-05-31");
    assert_eq!(req.body["max_tokens"], 256);
    // Caching works the same way on Bedrock.
    assert!(req.body["system"][0]["cache_control"].is_object());
    let a = h.audit();
    assert_eq!(a["outcome"], "ok");
    assert!(a.get("error").is_none());
}

#[tokio::test]
async fn bedrock_throttling_is_retried_and_refusals_of_access_are_not() {
    let h = Harness::with_bedrock(
        vec![
            Step::error(429, "rate_limit_error", "Too many requests"),
            Step::text("ok"),
        ],
        on_bedrock,
    )
    .await;
    let resp = h
        .invoke(json!({"agent": "other", "message": "x"}))
        .await
        .unwrap();
    assert_eq!(resp["response"], "ok", "{resp}");
    let reqs = h.mock.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].status, 429);
    assert!(
        reqs[0].response["message"].is_string(),
        "Bedrock's error shape: {}",
        reqs[0].response
    );

    let h = Harness::with_bedrock(
        vec![Step::error(
            403,
            "permission_error",
            "not authorized to invoke",
        )],
        on_bedrock,
    )
    .await;
    let resp = h
        .invoke(json!({"agent": "other", "message": "x"}))
        .await
        .unwrap();
    assert_eq!(resp["status"], 500);
    assert_eq!(resp["error"], "agent error");
    assert_eq!(h.mock.request_count(), 1, "an AccessDenied is not retried");
    assert_eq!(h.audit()["error"], "model_http_403");
    let detail = h
        .lines()
        .into_iter()
        .find(|l| l["type"] == "error")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("AccessDeniedException"), "{detail}");
}

#[tokio::test]
async fn one_agent_on_bedrock_and_one_on_the_anthropic_api() {
    let h = Harness::with_bedrock(
        vec![Step::text("from bedrock"), Step::text("from anthropic")],
        |c| {
            c["agents"]["lead-qualifier"]["model"] = json!({"provider": "bedrock", "id": PROFILE});
        },
    )
    .await;
    let a = h
        .invoke(json!({"agent": "lead-qualifier", "message": "x"}))
        .await
        .unwrap();
    let b = h
        .invoke(json!({"agent": "other", "message": "y"}))
        .await
        .unwrap();
    assert_eq!(
        (a["response"].as_str(), b["response"].as_str()),
        (Some("from bedrock"), Some("from anthropic"))
    );
    let reqs = h.mock.requests();
    assert!(reqs[0].path.starts_with("/model/"));
    assert_eq!(reqs[1].path, "/v1/messages");
    assert_eq!(reqs[1].header("x-api-key"), Some(KEY));
    assert_eq!(reqs[1].body["model"], "claude-test");
}

#[tokio::test]
async fn a_deadline_before_any_answer_is_a_504() {
    let h = Harness::new(
        vec![Step::text("late").delayed(Duration::from_secs(20))],
        |_| {},
    );
    let inv = Invocation {
        request_id: "req-t".into(),
        deadline: Deadline::after(Duration::from_millis(700)),
        trace_header: None,
    };
    let resp = h
        .app
        .handle(
            apigw(
                "POST /agents/{agent}",
                json!({"agent": "other"}),
                Some(r#"{"message":"x"}"#),
            ),
            &inv,
        )
        .await
        .unwrap();
    assert_eq!(resp["statusCode"], 504);
    assert_eq!(h.audit()["outcome"], "deadline");
}

#[tokio::test]
async fn each_agent_runs_on_its_own_model_and_reports_its_cost() {
    // lead-qualifier on Haiku 4.5 ($1 in, $5 out), `other` on the default model
    // with prices given in agent.yaml ($2 in, $10 out).
    let h = Harness::new(
        vec![
            Step::text("routed").with_usage(1000, 100),
            Step::text("answered").with_usage(2000, 300),
        ],
        |c| {
            c["model"]["prices"] = json!({"input": 2.0, "output": 10.0});
            c["agents"]["lead-qualifier"]["model"] =
                json!({"id": "claude-haiku-4-5", "max_tokens": 64, "cache": "off"});
        },
    );
    let resp = h
        .invoke(json!({"agent": "lead-qualifier", "message": "x"}))
        .await
        .unwrap();
    // 1000 x $1 + 100 x $5 = $0.0015
    assert_eq!(resp["cost_usd"], 0.0015);
    let req = &h.mock.requests()[0];
    assert_eq!(req.body["model"], "claude-haiku-4-5");
    assert_eq!(req.body["max_tokens"], 64);
    assert_eq!(
        req.body["system"], "Qualify leads.",
        "cache off: a plain string"
    );
    let a = h.audit();
    assert_eq!(a["cost_usd"], 0.0015);
    let emf = h.emf();
    assert_eq!(emf["CostMicroUSD"], 1500);
    let names: Vec<&str> = emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    for m in [
        "CostMicroUSD",
        "CacheReadInputTokens",
        "CacheCreationInputTokens",
        "CacheWrite5mInputTokens",
        "CacheWrite1hInputTokens",
    ] {
        assert!(names.contains(&m), "{m} in {names:?}");
        assert!(emf[m].is_u64(), "{m} has a value");
    }

    h.lines.lock().unwrap().clear();
    let resp = h
        .invoke(json!({"agent": "other", "message": "y"}))
        .await
        .unwrap();
    // 2000 x $2 + 300 x $10 = $0.007
    assert_eq!(resp["cost_usd"], 0.007);
    let req = &h.mock.requests()[1];
    assert_eq!(req.body["model"], "claude-test");
    assert_eq!(req.body["max_tokens"], 512);
    assert_eq!(h.emf()["CostMicroUSD"], 7000);
}

#[tokio::test]
async fn a_refusal_is_a_422_naming_the_category_and_is_not_kept() {
    let h = Harness::new(vec![Step::refusal("cyber")], |_| {});
    let resp = h
        .invoke(apigw(
            "POST /agents/{agent}",
            json!({"agent": "lead-qualifier"}),
            Some(r#"{"message":"x"}"#),
        ))
        .await
        .unwrap();
    assert_eq!(resp["statusCode"], 422);
    let body = http_body(&resp);
    assert_eq!(
        body["error"],
        "the model declined to answer (category: cyber)"
    );
    let a = h.audit();
    assert_eq!(a["outcome"], "refusal");
    assert_eq!(a["status"], 422);
    assert_eq!(a["error"], "model_refusal_cyber");
    assert_eq!(a["stop_reason"], "refusal");
    assert_eq!(a["turns"], 1);
    // A refusal is the caller's answer, not the function's failure.
    assert_eq!(h.emf()["Errors"], 0);
}

const MCP_TOKEN: &str = "mcp-token-5f8a0c7e9d";

/// `lead-qualifier` with a local tool and the CRM's MCP server (a token, an
/// allow-list); `other` with neither.
fn with_mcp(c: &mut Value) {
    c["tools"] = json!({
        "get_lead_http": {"kind": "http", "description": "Get a lead", "url": "https://crm.example.com/leads/{id}"},
        "crm": {"kind": "mcp", "description": "", "url": "https://mcp.example.com/sse",
                "auth": {"secret": "crm-mcp-token"}, "allowed_tools": ["get_lead", "search_leads"]}
    });
    c["agents"]["lead-qualifier"]["tools"] = json!(["get_lead_http", "crm"]);
}

/// An assistant turn in which the API called the MCP server itself, then paused.
fn mcp_turn() -> Vec<Value> {
    vec![
        json!({"type": "text", "text": "Looking the lead up."}),
        json!({"type": "mcp_tool_use", "id": "mcptoolu_01", "name": "get_lead",
               "server_name": "crm", "input": {"lead_id": "42"}}),
        json!({"type": "mcp_tool_result", "tool_use_id": "mcptoolu_01", "is_error": false,
               "content": [{"type": "text", "text": "{\"lead_id\":\"42\",\"company\":\"Acme\"}"}]}),
    ]
}

#[tokio::test]
async fn mcp_servers_ride_on_the_request_and_their_blocks_go_back_unchanged() {
    let h = Harness::with_secrets(
        vec![
            Step::reply(mcp_turn(), "pause_turn"),
            Step::text("Acme: score 80"),
        ],
        &[("crm-mcp-token", MCP_TOKEN)],
        with_mcp,
    );
    let resp = h
        .invoke(json!({"agent": "lead-qualifier", "message": "qualify lead 42"}))
        .await
        .unwrap();
    assert_eq!(resp["response"], "Acme: score 80", "{resp}");
    let reqs = h.mock.requests();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(r.status, 200, "{}", r.response);
        assert_eq!(r.betas(), [MCP_BETA]);
        assert_eq!(
            r.mcp_servers(),
            [
                json!({"type": "url", "url": "https://mcp.example.com/sse", "name": "crm",
                    "authorization_token": MCP_TOKEN})
            ]
        );
        // The local tool is defined; the server's tools come through its toolset.
        let tools = r.body["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 2, "{tools:?}");
        assert_eq!(tools[0]["name"], "get_lead_http");
        let mut toolset = tools[1].clone();
        toolset.as_object_mut().unwrap().remove("cache_control");
        assert_eq!(
            toolset,
            json!({"type": "mcp_toolset", "mcp_server_name": "crm",
                   "default_config": {"enabled": false},
                   "configs": {"get_lead": {"enabled": true}, "search_leads": {"enabled": true}}})
        );
    }
    // The paused turn went back as the API sent it, plus the request's moving
    // cache breakpoint, which lands on the MCP result (the last block).
    let mut sent = reqs[1].messages()[1].clone();
    assert_eq!(sent["role"], "assistant");
    let blocks = sent["content"].as_array_mut().unwrap();
    assert!(blocks[2]["cache_control"].is_object(), "{blocks:?}");
    for b in blocks.iter_mut() {
        b.as_object_mut().unwrap().remove("cache_control");
    }
    assert_eq!(sent["content"], json!(mcp_turn()));
    let a = h.audit();
    assert_eq!(a["mcp_calls"], 1, "{a}");
    assert_eq!(a["tool_calls"], 0, "{a}");
    assert_eq!(a["turns"], 2, "{a}");
    h.assert_no_key(&resp);
    assert!(!resp.to_string().contains(MCP_TOKEN));
    for l in h.lines.lock().unwrap().iter() {
        assert!(!l.contains(MCP_TOKEN), "the MCP token leaked: {l}");
    }
}

#[tokio::test]
async fn agents_without_mcp_tools_send_no_servers_and_no_beta() {
    let h = Harness::with_secrets(
        vec![Step::text("plain")],
        &[("crm-mcp-token", MCP_TOKEN)],
        with_mcp,
    );
    h.invoke(json!({"agent": "other", "message": "hi"}))
        .await
        .unwrap();
    let req = &h.mock.requests()[0];
    assert_eq!(req.status, 200, "{}", req.response);
    assert!(req.body.get("mcp_servers").is_none(), "{}", req.body);
    assert!(req.body.get("tools").is_none(), "{}", req.body);
    assert_eq!(req.header("anthropic-beta"), None);
    let a = h.audit();
    assert!(a.get("mcp_calls").is_none(), "left out when 0: {a}");
}

#[tokio::test]
async fn the_mock_refuses_mcp_servers_without_the_beta_like_the_api() {
    // The guard the tests above rely on: the same body without the header is a 400.
    let h = Harness::with_secrets(vec![], &[("crm-mcp-token", MCP_TOKEN)], with_mcp);
    let client = reqwest::Client::new();
    let body = json!({
        "model": "claude-test", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "mcp_servers": [{"type": "url", "url": "https://mcp.example.com/sse", "name": "crm"}],
        "tools": [{"type": "mcp_toolset", "mcp_server_name": "crm"}]
    });
    let send = |beta: Option<&str>| {
        let mut r = client
            .post(format!("{}/v1/messages", h.mock.base_url()))
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01")
            .json(&body);
        if let Some(b) = beta {
            r = r.header("anthropic-beta", b);
        }
        r.send()
    };
    let refused = send(None).await.unwrap();
    assert_eq!(refused.status(), 400);
    let text = refused.text().await.unwrap();
    assert!(text.contains(MCP_BETA), "{text}");
    // With the header it passes the checks (and meets the empty script).
    let passed = send(Some(MCP_BETA)).await.unwrap().text().await.unwrap();
    assert!(passed.contains("script exhausted"), "{passed}");
}

#[tokio::test]
async fn a_missing_mcp_token_fails_before_the_model_and_names_only_the_secret() {
    let h = Harness::new(vec![Step::text("never")], with_mcp);
    let resp = h
        .invoke(json!({"agent": "lead-qualifier", "message": "x"}))
        .await
        .unwrap();
    assert_eq!(resp["status"], 500);
    assert_eq!(resp["error"], "agent error");
    assert_eq!(h.audit()["error"], "mcp_token");
    assert_eq!(h.mock.request_count(), 0);
    let errors: Vec<Value> = h
        .lines()
        .into_iter()
        .filter(|l| l["type"] == "error")
        .collect();
    assert!(
        errors[0]["detail"]
            .as_str()
            .unwrap()
            .contains("`crm-mcp-token` does not exist"),
        "{errors:?}"
    );
}

#[path = "handler/streaming.rs"]
mod streaming;
