//! Async jobs that outlive one invocation, against moto: a run stopped right after
//! each of its checkpoints and delivered again ends the same, with every tool
//! call made once and every model turn asked once; a job longer than an
//! invocation completes through continuations; two concurrent deliveries of one
//! message advance the job once; `limits.job_max_minutes` ends a job.
//!
//! "Stopped" here is the handler's future dropped while it waits in the
//! checkpoint hook, right after the checkpoint landed in DynamoDB: from there on
//! nothing of that run happens, as when Lambda kills the process.

use std::future::pending;

use agent_fn::app::CheckpointHook;
use claw_testkit::http::{Reply, Server};
use claw_testkit::realism::wire::json_ok;
use futures::FutureExt;

use super::*;

const JOBS: &str = "crm-leads-test-jobs";

/// The CRM the tools write to: it counts every request it is sent, by path.
struct Crm {
    server: Server,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Crm {
    fn start(delay: Duration) -> Crm {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&hits);
        let server = Server::start(move |req| {
            let path = req.head.split(' ').nth(1).unwrap_or("").to_string();
            seen.lock().unwrap().push(path.clone());
            std::thread::sleep(delay);
            Reply::from(json_ok(&json!({"saved": path})))
        });
        Crm { server, hits }
    }

    fn hits(&self) -> Vec<String> {
        let mut h = self.hits.lock().unwrap().clone();
        h.sort();
        h
    }
}

fn job_config(crm: &Crm, max_minutes: Option<u32>) -> claw_spec::Config {
    let base = crm.server.url();
    config(|c| {
        c["api"] = json!({"mode": "async"});
        c["limits"] = json!({"max_turns": 10});
        if let Some(m) = max_minutes {
            c["limits"]["job_max_minutes"] = json!(m);
        }
        let tool = |path: &str| {
            json!({"kind": "http", "description": "Write to the CRM", "method": "POST",
                   "url": format!("{base}/{path}/{{id}}"), "allow_private_hosts": true})
        };
        c["tools"] = json!({"save_lead": tool("leads"), "notify": tool("notify")});
        c["agents"]["lead-qualifier"]["tools"] = json!(["save_lead", "notify"]);
    })
}

async fn jobs_table(sdk: &SdkConfig) {
    secret(sdk, "prod/anthropic-key", KEY).await;
    table(sdk, JOBS, "job_id").await;
}

async fn queue(sdk: &SdkConfig) -> String {
    aws_sdk_sqs::Client::new(sdk)
        .create_queue()
        .queue_name(JOBS)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap()
}

fn delivery(job_id: &str, message_id: &str) -> Value {
    let body =
        json!({"job_id": job_id, "agent": "lead-qualifier", "message": "Save acme and globex."});
    sqs_event(message_id, &body.to_string())
}

fn sqs_event(message_id: &str, body: &str) -> Value {
    claw_testkit::fixtures::sqs_event(JOBS, message_id, body)
}

async fn job_view(app: &App, job_id: &str) -> Value {
    let resp = app
        .handle(
            apigw("GET /jobs/{id}", json!({"id": job_id}), None),
            &inv("view"),
        )
        .await
        .unwrap();
    body(&resp)
}

/// Three turns: two writes at once, one more write, the answer. Six checkpoints:
/// turn 1, its two tool results, turn 2, its tool result, turn 3.
fn three_turns() -> Vec<Step> {
    vec![
        Step::tool_uses(
            Some("Saving."),
            &[
                ("tu_1", "save_lead", json!({"id": "acme"})),
                ("tu_2", "notify", json!({"id": "sales"})),
            ],
        ),
        Step::tool_use("tu_3", "save_lead", json!({"id": "globex"})),
        Step::text("Saved acme and globex."),
    ]
}
const CHECKPOINTS: u64 = 6;

/// Stops the run (never returns) after checkpoint `k`, and says so on `tx`.
fn stop_after(k: u64, tx: tokio::sync::oneshot::Sender<()>) -> CheckpointHook {
    let tx = Mutex::new(Some(tx));
    Arc::new(move |version| {
        if version == k {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
            pending().boxed()
        } else {
            async {}.boxed()
        }
    })
}

#[tokio::test]
async fn a_job_stopped_after_any_checkpoint_resumes_without_repeating_a_tool_or_a_turn() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    jobs_table(&sdk).await;

    // The run nothing stops: what every resumed run must match.
    let crm = Crm::start(Duration::ZERO);
    let mock = MockModel::start(KEY, three_turns());
    let (plain, _) = app(job_config(&crm, None), &mock, sdk.clone());
    let resp = plain.handle(delivery("job-0", "m0"), &inv("r0")).await;
    assert_eq!(resp.unwrap(), json!({"batchItemFailures": []}));
    let reference = job_view(&plain, "job-0").await;
    assert_eq!(reference["status"], "done", "{reference}");
    assert_eq!(reference["result"]["response"], "Saved acme and globex.");
    let reference_requests: Vec<Vec<Value>> = mock
        .requests()
        .iter()
        .map(|r| r.messages().to_vec())
        .collect();
    assert_eq!(reference_requests.len(), 3);
    let writes = ["/leads/acme", "/leads/globex", "/notify/sales"];
    assert_eq!(crm.hits(), writes);

    for k in 1..=CHECKPOINTS {
        let job_id = format!("job-{k}");
        let crm = Crm::start(Duration::ZERO);
        let mock = MockModel::start(KEY, three_turns());
        let cfg = job_config(&crm, None);
        let (tx, stopped) = tokio::sync::oneshot::channel();
        let margin = Duration::from_millis(200);
        let (first, _) = app_with(
            cfg.clone(),
            &mock,
            sdk.clone(),
            margin,
            Some(stop_after(k, tx)),
        );
        let event = delivery(&job_id, &format!("m{k}"));
        let i = inv("first");
        tokio::select! {
            r = first.handle(event.clone(), &i) => {
                panic!("k={k}: the run ended before checkpoint {k}: {r:?}")
            }
            _ = stopped => {}
        }
        drop(first);
        let mid = job_view(&plain, &job_id).await;
        assert_eq!(mid["status"], "running", "k={k}: {mid}");

        // SQS delivers the message again, to a fresh process.
        let (second, lines) = app(cfg, &mock, sdk.clone());
        let resp = second.handle(event, &inv("again")).await.unwrap();
        assert_eq!(resp, json!({"batchItemFailures": []}), "k={k}");
        let job = job_view(&second, &job_id).await;
        assert_eq!(job["status"], "done", "k={k}: {job}");
        // The same answer (in its own new session).
        let without_session = |v: &Value| {
            let mut v = v.clone();
            v.as_object_mut().unwrap().remove("session_id");
            v
        };
        assert_eq!(
            without_session(&job["result"]),
            without_session(&reference["result"]),
            "k={k}"
        );
        assert_eq!(job["progress"]["turns"], 3, "k={k}: {job}");
        assert_eq!(job["progress"]["tool_calls"], 3, "k={k}: {job}");
        assert_eq!(job["progress"]["invocations"], 2, "k={k}: {job}");
        // Each write reached the CRM once, and the model was asked each turn
        // once, with the same conversation as the run nothing stopped.
        assert_eq!(crm.hits(), writes, "k={k}");
        let asked: Vec<Vec<Value>> = mock
            .requests()
            .iter()
            .map(|r| r.messages().to_vec())
            .collect();
        assert_eq!(asked, reference_requests, "k={k}");
        // The second invocation's audit line counts its own part only.
        let audit: Value = lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|l| l["type"] == "audit")
            .unwrap();
        let turns_before = [0, 1, 1, 1, 2, 2, 3][k as usize];
        assert_eq!(audit["turns"], 3 - turns_before, "k={k}: {audit}");
    }
}

#[tokio::test]
async fn a_job_longer_than_an_invocation_completes_through_continuations() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    jobs_table(&sdk).await;
    let queue_url = queue(&sdk).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    // Each write takes 500 ms; an invocation has 1.8 s and stops 1 s before its
    // deadline, so no invocation can make all three.
    let crm = Crm::start(Duration::from_millis(500));
    let mock = MockModel::start(
        KEY,
        vec![
            Step::tool_use("tu_1", "save_lead", json!({"id": "a"})),
            Step::tool_use("tu_2", "save_lead", json!({"id": "b"})),
            Step::tool_use("tu_3", "notify", json!({"id": "c"})),
            Step::text("All three saved."),
        ],
    );
    let (app, lines) = app_with(
        job_config(&crm, None),
        &mock,
        sdk.clone(),
        Duration::from_secs(1),
        None,
    );
    let short = |id: &str| Invocation {
        request_id: id.into(),
        deadline: Deadline::after(Duration::from_millis(1800)),
        trace_header: None,
    };
    let mut event = delivery("job-long", "m-1");
    let mut invocations = 0;
    loop {
        invocations += 1;
        assert!(invocations <= 8, "the job never finished");
        let resp = app
            .handle(event, &short(&format!("inv-{invocations}")))
            .await;
        assert_eq!(resp.unwrap(), json!({"batchItemFailures": []}));
        if job_view(&app, "job-long").await["status"] == "done" {
            break;
        }
        // The continuation: a new message for the same job.
        let msgs = sqs
            .receive_message()
            .queue_url(&queue_url)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert_eq!(msgs.len(), 1, "after invocation {invocations}");
        let next: Value = serde_json::from_str(msgs[0].body().unwrap()).unwrap();
        assert_eq!(next["job_id"], "job-long");
        event = sqs_event(msgs[0].message_id().unwrap(), msgs[0].body().unwrap());
    }
    assert!(invocations >= 2, "{invocations}");
    let job = job_view(&app, "job-long").await;
    assert_eq!(job["result"]["response"], "All three saved.", "{job}");
    assert_eq!(job["progress"]["invocations"], invocations, "{job}");
    assert_eq!(crm.hits(), ["/leads/a", "/leads/b", "/notify/c"]);
    assert_eq!(mock.request_count(), 4);
    let outcomes: Vec<String> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["type"] == "audit" && l["source"] == "sqs")
        .map(|l| l["outcome"].as_str().unwrap().to_string())
        .collect();
    let mut expected = vec!["continued"; invocations - 1];
    expected.push("ok");
    assert_eq!(outcomes, expected);
}

#[tokio::test]
async fn two_concurrent_deliveries_of_one_message_advance_the_job_once() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    jobs_table(&sdk).await;
    let crm = Crm::start(Duration::ZERO);
    // Both deliveries ask the model before either answer arrives.
    let slow = Duration::from_millis(400);
    let ask = || Step::tool_use("tu_1", "save_lead", json!({"id": "acme"})).delayed(slow);
    let mock = MockModel::start(KEY, vec![ask(), ask(), Step::text("Saved acme.")]);
    let (app, _) = app(job_config(&crm, None), &mock, sdk.clone());
    let event = delivery("job-twice", "m-dup");
    let (i1, i2) = (inv("d1"), inv("d2"));
    let (a, b) = tokio::join!(app.handle(event.clone(), &i1), app.handle(event, &i2));
    let mut answers = [a.unwrap(), b.unwrap()];
    answers.sort_by_key(|v| v["batchItemFailures"].as_array().unwrap().len());
    // The loser stopped at its first checkpoint and hands the message back, in
    // case the winner dies; the winner finished.
    assert_eq!(answers[0], json!({"batchItemFailures": []}));
    assert_eq!(
        answers[1],
        json!({"batchItemFailures": [{"itemIdentifier": "m-dup"}]})
    );
    let job = job_view(&app, "job-twice").await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["result"]["response"], "Saved acme.");
    assert_eq!(crm.hits(), ["/leads/acme"]);

    // The message delivered again later finds the job done, and leaves it be.
    let resp = app
        .handle(delivery("job-twice", "m-dup"), &inv("d3"))
        .await
        .unwrap();
    assert_eq!(resp, json!({"batchItemFailures": []}));
    assert_eq!(mock.request_count(), 3);
    assert_eq!(job_view(&app, "job-twice").await["result"], job["result"]);
}

#[tokio::test]
async fn a_job_past_job_max_minutes_fails_without_a_model_call() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    jobs_table(&sdk).await;
    let crm = Crm::start(Duration::ZERO);
    let mock = MockModel::start(KEY, vec![Step::text("never")]);
    let (app, _) = app(job_config(&crm, Some(30)), &mock, sdk.clone());
    let started = agent_fn::deadline::now_epoch_s() - 31 * 60;
    aws_sdk_dynamodb::Client::new(&sdk)
        .put_item()
        .table_name(JOBS)
        .item("job_id", AttributeValue::S("job-old".into()))
        .item("status", AttributeValue::S("running".into()))
        .item("started_at", AttributeValue::N(started.to_string()))
        .send()
        .await
        .unwrap();
    let resp = app
        .handle(delivery("job-old", "m-old"), &inv("o1"))
        .await
        .unwrap();
    assert_eq!(resp, json!({"batchItemFailures": []}));
    let job = job_view(&app, "job-old").await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(
        job["error"],
        "the job ran longer than limits.job_max_minutes (30 min)"
    );
    assert_eq!(mock.request_count(), 0);
}

/// `save_lead` needs approval; `notify` does not.
fn approval_config(crm: &Crm) -> claw_spec::Config {
    let mut cfg = job_config(crm, None);
    let tool = cfg.tools.get_mut("save_lead").unwrap();
    tool.approval = claw_spec::model::Approval::Required;
    cfg
}

async fn decide(app: &App, job_id: &str, verb: &str) -> (u64, Value) {
    let route = format!("POST /jobs/{{id}}/{verb}");
    let resp = app
        .handle(apigw(&route, json!({"id": job_id}), None), &inv(verb))
        .await
        .unwrap();
    (resp["statusCode"].as_u64().unwrap(), body(&resp))
}

/// Takes the one message on the queue as an SQS event.
async fn next_delivery(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Value {
    let msgs = sqs
        .receive_message()
        .queue_url(queue_url)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(msgs.len(), 1, "one message to resume the job");
    sqs.delete_message()
        .queue_url(queue_url)
        .receipt_handle(msgs[0].receipt_handle().unwrap())
        .send()
        .await
        .unwrap();
    sqs_event(msgs[0].message_id().unwrap(), msgs[0].body().unwrap())
}

#[tokio::test]
async fn a_call_that_needs_approval_waits_and_runs_once_approved() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    jobs_table(&sdk).await;
    let queue_url = queue(&sdk).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let crm = Crm::start(Duration::ZERO);
    let mock = MockModel::start(
        KEY,
        vec![
            Step::tool_uses(
                None,
                &[
                    ("tu_1", "notify", json!({"id": "sales"})),
                    ("tu_2", "save_lead", json!({"id": "acme"})),
                ],
            ),
            Step::text("Saved acme."),
        ],
    );
    let (app, _) = app(approval_config(&crm), &mock, sdk.clone());
    let resp = app.handle(delivery("job-ok", "m1"), &inv("w1")).await;
    assert_eq!(resp.unwrap(), json!({"batchItemFailures": []}));

    // The call before it ran; the job waits on save_lead, showing its input.
    let job = job_view(&app, "job-ok").await;
    assert_eq!(job["status"], "waiting_approval", "{job}");
    assert_eq!(
        job["pending"],
        json!({"tool_use_id": "tu_2", "tool": "save_lead", "input": {"id": "acme"}})
    );
    assert_eq!(crm.hits(), ["/notify/sales"]);

    // Rejecting after approving is refused; approving again only re-queues.
    let (status, v) = decide(&app, "job-ok", "approve").await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["tool_use_id"], "tu_2");
    let (status, v) = decide(&app, "job-ok", "reject").await;
    assert_eq!(status, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("`queued`"), "{v}");
    let event = next_delivery(&sqs, &queue_url).await;

    let resp = app.handle(event, &inv("w2")).await;
    assert_eq!(resp.unwrap(), json!({"batchItemFailures": []}));
    let job = job_view(&app, "job-ok").await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["result"]["response"], "Saved acme.");
    assert_eq!(job.get("pending"), None);
    assert_eq!(crm.hits(), ["/leads/acme", "/notify/sales"]);
    // The model was asked once per turn; its second turn saw both results.
    assert_eq!(mock.request_count(), 2);
    let results = mock.requests()[1].tool_results();
    assert_eq!(results.len(), 2);
    assert!(
        results.iter().all(|r| r.get("is_error").is_none()),
        "{results:?}"
    );

    // A decision on a job that waits on nothing is refused.
    let (status, _) = decide(&app, "job-ok", "approve").await;
    assert_eq!(status, 409);
    let (status, _) = decide(&app, "no-such-job", "approve").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_rejected_call_never_runs_and_the_model_is_told() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    jobs_table(&sdk).await;
    let queue_url = queue(&sdk).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let crm = Crm::start(Duration::ZERO);
    let mock = MockModel::start(
        KEY,
        vec![
            Step::tool_use("tu_1", "save_lead", json!({"id": "acme"})),
            Step::text("Not saved: rejected."),
        ],
    );
    let (app, _) = app(approval_config(&crm), &mock, sdk.clone());
    let resp = app.handle(delivery("job-no", "m1"), &inv("r1")).await;
    assert_eq!(resp.unwrap(), json!({"batchItemFailures": []}));
    assert_eq!(job_view(&app, "job-no").await["status"], "waiting_approval");
    let (status, v) = decide(&app, "job-no", "reject").await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["approved"], false);
    let event = next_delivery(&sqs, &queue_url).await;
    let resp = app.handle(event, &inv("r2")).await;
    assert_eq!(resp.unwrap(), json!({"batchItemFailures": []}));
    let job = job_view(&app, "job-no").await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["result"]["response"], "Not saved: rejected.");
    assert!(crm.hits().is_empty(), "{:?}", crm.hits());
    let results = mock.requests()[1].tool_results();
    assert_eq!(results[0]["is_error"], true);
    assert!(
        results[0]["content"]
            .as_str()
            .unwrap()
            .contains("a person rejected this call"),
        "{results:?}"
    );
}
