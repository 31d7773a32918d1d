//! `rollout:` against moto: callers move to the alias `live`, a change is
//! published as a version and its traffic moved by the alias's routing
//! config; a gate alarm in ALARM rolls it back (exit 1, naming the alarm), a
//! quiet shift promotes, a shift left under way is resumed, `claw rollback`
//! moves back, and a no-op deploy makes no change. A rollout minute lasts
//! 200 ms here (`CLAW_ROLLOUT_MINUTE_MS`).

use aws_sdk_cloudwatch::types::StateValue;
use claw_testkit::fixtures::{root_config, write_zip};

use crate::support::{Aws, Env, LOCK_CALLS};

const CANARY: &str =
    "\nrollout:\n  strategy: canary\n  canary: { percent: 10, minutes: 5 }\n  keep_versions: 2\n";

const MINUTE_MS: &str = "200";

fn with_rollout(env: &Env) {
    env.set_config(&format!("{}{CANARY}", root_config()));
}

fn deploy(env: &Env, extra: &[&str]) -> claw_testkit::claw::Output {
    let zip = env.zip_arg();
    let mut args = vec!["deploy", "--yes", "--zip", &zip];
    args.extend_from_slice(extra);
    env.command()
        .env("CLAW_ROLLOUT_MINUTE_MS", MINUTE_MS)
        .args(&args)
        .run()
}

struct AliasNow {
    version: String,
    weights: Vec<(String, f64)>,
}

async fn alias(aws: &Aws, function: &str) -> AliasNow {
    let a = aws
        .lambda
        .get_alias()
        .function_name(function)
        .name("live")
        .send()
        .await
        .expect("GetAlias");
    AliasNow {
        version: a.function_version().unwrap_or_default().to_string(),
        weights: a
            .routing_config()
            .and_then(|r| r.additional_version_weights())
            .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default(),
    }
}

async fn has_alias(aws: &Aws, function: &str) -> bool {
    aws.lambda
        .get_alias()
        .function_name(function)
        .name("live")
        .send()
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_moves_to_the_alias_and_a_canary_publishes_shifts_and_promotes() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    let f = env.names().function;
    deploy(&env, &[]).ok();
    // The first stack has no alias: callers invoke the function.
    assert!(!has_alias(&aws, &f).await);

    // `rollout:` added with no code change: callers move to the alias, on the
    // code live now, and the plan says so.
    with_rollout(&env);
    let plan = env.plan_json();
    let rows = plan["plan"]["changes"].as_array().unwrap();
    let alias_row = rows.iter().find(|c| c["kind"] == "alias").unwrap();
    assert_eq!(alias_row["action"], "create", "{alias_row}");
    assert!(
        alias_row["note"]
            .as_str()
            .unwrap()
            .contains("on the code live now")
    );
    // The API's integration is made anew for the alias and its route moves to it.
    assert!(
        rows.iter()
            .any(|c| c["kind"] == "integration" && c["action"] == "create"),
        "{plan}"
    );
    deploy(&env, &[]).ok();
    let a = alias(&aws, &f).await;
    assert_eq!((a.version.as_str(), a.weights.len()), ("1", 0));

    // Every caller targets the alias: the integration, and the invoke
    // permissions are the alias's own policy (none left on the function).
    let api = aws.api_id(&f).await.unwrap();
    let routes = aws.apigw.get_routes().api_id(&api).send().await.unwrap();
    for r in routes.items() {
        let id = r.target().unwrap().trim_start_matches("integrations/");
        let i = aws
            .apigw
            .get_integration()
            .api_id(&api)
            .integration_id(id)
            .send()
            .await
            .unwrap();
        assert_eq!(
            i.integration_uri().unwrap(),
            format!("{}:live", env.names().function_arn()),
            "route {:?}",
            r.route_key()
        );
    }
    let on_alias = aws
        .lambda
        .get_policy()
        .function_name(&f)
        .qualifier("live")
        .send()
        .await
        .expect("the alias has its own resource policy");
    assert!(on_alias.policy().unwrap().contains("claw-apigw-"));
    let own = aws.permission_statements(&f).await;
    assert!(
        own.iter()
            .all(|s| !s["Sid"].as_str().unwrap_or_default().starts_with("claw-")),
        "claw statements left on the function: {own:?}"
    );

    // A no-op deploy with a rollout configured makes no change at all.
    let calls = env.mutations_during(|| {
        deploy(&env, &[]).ok();
    });
    assert!(calls.is_empty(), "{calls:?}");

    // A code change: a new version, 10% of traffic, watched, promoted.
    write_zip(&env.zip, "v2");
    let out = deploy(&env, &["--no-wait"]).ok();
    let doc_text = out.stdout().to_string();
    assert!(
        doc_text.contains("version 2 takes 10% of traffic"),
        "{doc_text}"
    );
    let a = alias(&aws, &f).await;
    assert_eq!(a.version, "1");
    assert_eq!(a.weights, [("2".to_string(), 0.1)]);
    let status = env
        .claw(&["rollout", "status", "--output", "json"])
        .ok()
        .json();
    assert_eq!(status["version"], 1, "{status}");
    assert_eq!(status["shifting_to"]["version"], 2, "{status}");
    assert_eq!(status["shifting_to"]["percent"], 10.0, "{status}");
    assert_eq!(status["step"]["index"], 1, "{status}");

    // The next deploy finds the shift under way and resumes it to the end.
    let plan = env.plan_json();
    let alias_row = plan["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "alias")
        .unwrap()
        .clone();
    assert_eq!(alias_row["fields"][0]["field"], "rollout", "{alias_row}");
    let out = deploy(&env, &["--output", "json"]).ok();
    let doc = out.json();
    assert_eq!(doc["rollout"]["result"], "promoted", "{doc}");
    let a = alias(&aws, &f).await;
    assert_eq!((a.version.as_str(), a.weights.len()), ("2", 0));

    // `claw rollback` moves the alias to the version before.
    env.claw(&["rollback"]).refused(&["--yes"]);
    env.claw(&["rollback", "--yes"]).ok();
    assert_eq!(alias(&aws, &f).await.version, "1");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gate_alarm_in_alarm_rolls_the_alias_back_and_the_deploy_exits_1_naming_it() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    let f = env.names().function;
    with_rollout(&env);
    deploy(&env, &[]).ok();
    assert_eq!(alias(&aws, &f).await.version, "1");

    write_zip(&env.zip, "v2");
    deploy(&env, &["--no-wait"]).ok();
    assert_eq!(alias(&aws, &f).await.weights.len(), 1);
    let errors_alarm = env.names().alarm_name("errors");
    aws.cloudwatch
        .set_alarm_state()
        .alarm_name(&errors_alarm)
        .state_value(StateValue::Alarm)
        .state_reason("Threshold Crossed: 3 datapoints were greater than the threshold")
        .send()
        .await
        .unwrap();
    let out = deploy(&env, &["--output", "json"]).code(1);
    let doc = out.json();
    assert_eq!(doc["rollout"]["result"], "rolled_back", "{doc}");
    let reason = doc["rollout"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&errors_alarm) && reason.contains("ALARM"),
        "{reason}"
    );
    let a = alias(&aws, &f).await;
    assert_eq!((a.version.as_str(), a.weights.len()), ("1", 0));

    // The lock is released: `claw rollout abort` runs (nothing to abort).
    let calls = env.mutations_during(|| {
        env.claw(&["rollout", "abort"]).ok();
    });
    assert!(
        calls
            .iter()
            .all(|c| LOCK_CALLS.contains(&c.action.as_str())),
        "{calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_killed_mid_shift_is_resumed_by_the_next_and_old_versions_go() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    let f = env.names().function;
    with_rollout(&env);
    deploy(&env, &[]).ok();
    for (n, code) in ["v2", "v3"].iter().enumerate() {
        write_zip(&env.zip, code);
        deploy(&env, &[]).ok();
        assert_eq!(alias(&aws, &f).await.version, (n + 2).to_string());
    }
    // A deploy that would hold its canary for minutes, killed mid-shift.
    write_zip(&env.zip, "v4");
    let zip = env.zip_arg();
    let log = env.dir.path().join("killed.log");
    let mut child = env
        .command()
        .env("CLAW_ROLLOUT_MINUTE_MS", "60000")
        .args(["deploy", "--yes", "--zip", &zip])
        .command()
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Ok(a) = aws
            .lambda
            .get_alias()
            .function_name(&f)
            .name("live")
            .send()
            .await
            && a.routing_config()
                .and_then(|r| r.additional_version_weights())
                .is_some_and(|w| !w.is_empty())
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the canary never started: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The killed run's lock is its process's, gone: the next deploy takes it,
    // resumes the shift where the alias says and promotes.
    let doc = deploy(&env, &["--output", "json"]).ok().json();
    assert_eq!(doc["rollout"]["result"], "promoted", "{doc}");
    assert_eq!(doc["rollout"]["to"], 4, "{doc}");
    let a = alias(&aws, &f).await;
    assert_eq!((a.version.as_str(), a.weights.len()), ("4", 0));
    // keep_versions: 2 — versions 1 and 2 are gone, 3 and 4 stay.
    let versions: Vec<String> = aws
        .lambda
        .list_versions_by_function()
        .function_name(&f)
        .send()
        .await
        .unwrap()
        .versions()
        .iter()
        .filter_map(|v| v.version().map(str::to_string))
        .filter(|v| v != "$LATEST")
        .collect();
    assert_eq!(versions, ["3", "4"], "{doc}");
}

/// The async queue's mapping and the function URL move to the alias with the
/// rest (the URL gets a new address), a no-op deploy then changes nothing, and
/// removing `rollout:` moves every caller back to the function and deletes the
/// alias.
#[tokio::test(flavor = "multi_thread")]
async fn the_queue_mapping_and_the_function_url_follow_the_alias_there_and_back() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    let f = env.names().function;
    let plain = claw_testkit::fixtures::edit(
        &crate::support::async_config(),
        "  throttle: { rate: 10, burst: 20 }\n",
        "  throttle: { rate: 10, burst: 20 }\n  stream:\n    allow: [\"210987654321\"]\n",
    );
    env.set_config(&plain);
    deploy(&env, &[]).ok();
    let old_url = aws
        .lambda
        .get_function_url_config()
        .function_name(&f)
        .send()
        .await
        .expect("the function's own URL")
        .function_url()
        .to_string();

    env.set_config(&format!("{plain}{CANARY}"));
    let plan = env.plan_json();
    let url_row = plan["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "function_url")
        .unwrap()
        .clone();
    assert_eq!(url_row["action"], "create", "{url_row}");
    assert!(
        url_row["note"].as_str().unwrap().contains(&old_url),
        "the plan names the address that stops working: {url_row}"
    );
    let doc = deploy(&env, &["--output", "json"]).ok().json();
    let alias_arn = format!("{}:live", env.names().function_arn());
    let mappings = aws.event_source_mappings(None).await;
    assert_eq!(mappings.len(), 1, "{mappings:?}");
    assert_eq!(mappings[0].function_arn(), Some(alias_arn.as_str()));
    let on_alias = aws
        .lambda
        .get_function_url_config()
        .function_name(&f)
        .qualifier("live")
        .send()
        .await
        .expect("the alias's URL");
    assert_ne!(on_alias.function_url(), old_url);
    assert_eq!(doc["function_url"], on_alias.function_url(), "{doc}");
    assert!(
        aws.lambda
            .get_function_url_config()
            .function_name(&f)
            .send()
            .await
            .is_err(),
        "the function's own URL is deleted"
    );
    let calls = env.mutations_during(|| {
        deploy(&env, &[]).ok();
    });
    assert!(calls.is_empty(), "{calls:?}");
    // `claw status` shows the alias.
    let status = env
        .claw(&["status", "--output", "json", "--zip", &env.zip_arg()])
        .ok()
        .json();
    assert_eq!(status["alias"]["version"], "1", "{status}");
    assert!(status["in_sync"].as_bool().unwrap(), "{status}");

    // Without `rollout:` again: callers back on the function, the alias gone.
    env.set_config(&plain);
    deploy(&env, &[]).ok();
    assert!(!has_alias(&aws, &f).await);
    let mappings = aws.event_source_mappings(None).await;
    assert_eq!(
        mappings[0].function_arn(),
        Some(env.names().function_arn().as_str())
    );
    aws.lambda
        .get_function_url_config()
        .function_name(&f)
        .send()
        .await
        .expect("the function has its own URL again");
    let calls = env.mutations_during(|| {
        deploy(&env, &[]).ok();
    });
    assert!(calls.is_empty(), "{calls:?}");
}

/// The new version's own errors (`ExecutedVersion`, seeded into moto, which
/// has no Lambda metrics of its own) roll it back; `claw rollout abort` and
/// `claw rollout promote --now` move a shift by hand; destroy takes the alias
/// and versions with the function.
#[tokio::test(flavor = "multi_thread")]
async fn the_new_version_s_own_errors_roll_it_back_and_abort_and_promote_move_by_hand() {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let env = Env::with_secrets();
    let aws = env.aws().await;
    let f = env.names().function;
    with_rollout(&env);
    deploy(&env, &[]).ok();
    write_zip(&env.zip, "v2");
    deploy(&env, &["--no-wait"]).ok();
    let now = aws_sdk_cloudwatch::primitives::DateTime::from(std::time::SystemTime::now());
    let datum = |metric: &str, version: &str, value: f64| {
        MetricDatum::builder()
            .metric_name(metric)
            .set_dimensions(Some(
                [
                    ("FunctionName", f.clone()),
                    ("Resource", format!("{f}:live")),
                    ("ExecutedVersion", version.to_string()),
                ]
                .into_iter()
                .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                .collect(),
            ))
            .timestamp(now)
            .value(value)
            .build()
    };
    aws.cloudwatch
        .put_metric_data()
        .namespace("AWS/Lambda")
        .metric_data(datum("Invocations", "2", 10.0))
        .metric_data(datum("Errors", "2", 3.0))
        .metric_data(datum("Invocations", "1", 90.0))
        .metric_data(datum("Errors", "1", 0.0))
        .send()
        .await
        .unwrap();
    let doc = deploy(&env, &["--output", "json"]).code(1).json();
    assert_eq!(doc["rollout"]["result"], "rolled_back", "{doc}");
    let reason = doc["rollout"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("version 2 failed 3 of 10") && reason.contains("version 1 0 of 90"),
        "{reason}"
    );
    assert_eq!(alias(&aws, &f).await.weights.len(), 0);

    // By hand: a new shift, aborted; another, promoted at once.
    write_zip(&env.zip, "v3");
    deploy(&env, &["--no-wait"]).ok();
    let a = alias(&aws, &f).await;
    assert_eq!(a.weights.len(), 1);
    let to = a.weights[0].0.clone();
    env.claw(&["rollout", "abort"]).ok();
    let a = alias(&aws, &f).await;
    assert_eq!((a.version.as_str(), a.weights.len()), ("1", 0));
    deploy(&env, &["--no-wait"]).ok();
    assert_eq!(alias(&aws, &f).await.weights.len(), 1);
    env.claw(&["rollout", "promote", "--now"]).ok();
    let a = alias(&aws, &f).await;
    assert_eq!((a.version, a.weights.len()), (to, 0));

    env.claw(&["destroy", "--yes"]).ok();
    assert!(!aws.function_exists(&f).await);
}
