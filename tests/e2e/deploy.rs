//! Deploys after the first: no change means no mutating call, a change is exactly
//! its updates, removals remove; deploy without `--zip` builds; refusals stop
//! before any mutating call.

use std::collections::BTreeSet;
use std::path::PathBuf;

use claw_testkit::fixtures::{ROOT_SECRETS, edit, repo_root, root_config, write_zip};

use crate::support::{Env, LOCK_CALLS};

/// A second deploy with nothing changed makes no mutating call, and
/// `plan --detailed-exitcode` exits 0.
#[tokio::test(flavor = "multi_thread")]
async fn redeploy_unchanged_makes_no_mutating_call() {
    let env = Env::with_secrets();
    env.deploy().ok();
    let mut out = None;
    let mutations = env.mutations_during(|| out = Some(env.deploy()));
    let out = out.unwrap().ok();
    let listed: Vec<String> = mutations.iter().map(|c| c.to_string()).collect();
    assert!(
        mutations.is_empty(),
        "a no-op deploy made {} mutating calls:\n  {}",
        mutations.len(),
        listed.join("\n  ")
    );
    // Reads happened (the recorder works) and claw says nothing changed.
    assert!(!env.moto.calls().is_empty());
    assert!(out.stdout.contains("No changes."), "{}", out.stdout);
    assert!(out.stdout.contains("0 of them changes"), "{}", out.stdout);

    let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(!plan.stdout.contains("+ create"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("~ update"), "{}", plan.stdout);

    // A new package is a change: exit 2.
    write_zip(&env.zip, "v2");
    let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("(code "), "{}", plan.stdout);
}

fn updates(plan: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
    plan["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no_change")
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
                c["fields"]
                    .as_array()
                    .map(|f| {
                        f.iter()
                            .map(|x| {
                                format!(
                                    "{} {} -> {}",
                                    x["field"].as_str().unwrap(),
                                    x["from"].as_str().unwrap(),
                                    x["to"].as_str().unwrap()
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// Changing memory and the errors threshold plans exactly those updates
/// (the function, and the two alarms `alarms.errors` sets: Lambda's failed
/// invocations and the function's own errors), and deploy applies them.
#[tokio::test(flavor = "multi_thread")]
async fn memory_and_errors_threshold_change_are_exactly_those_updates() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    env.deploy().ok();
    let text = edit(&env.config_text(), "memory_mb: 256", "memory_mb: 512");
    let text = edit(&text, "  errors: 1\n", "  errors: 3\n");
    env.set_config(&text);
    let plan = env.plan_json();
    assert_eq!(
        updates(&plan),
        [
            (
                "function".to_string(),
                "crm-leads-dev".to_string(),
                vec!["memory_mb 256 -> 512".to_string()]
            ),
            (
                "alarm".to_string(),
                "crm-leads-dev-errors".to_string(),
                vec!["threshold 1 -> 3".to_string()]
            ),
            (
                "alarm".to_string(),
                "crm-leads-dev-agent-errors".to_string(),
                vec!["threshold 1 -> 3".to_string()]
            ),
        ]
    );
    // No permission changes: no approval needed, nothing in the security table.
    assert_eq!(plan["needs_approval"], false);
    assert!(plan["plan"]["security"].as_array().unwrap().is_empty());
    let text_plan = env.claw(&["plan", "--zip", &env.zip_arg()]).ok();
    assert!(
        text_plan.stdout.contains("(memory_mb 256 → 512)"),
        "{}",
        text_plan.stdout
    );

    // Deploy without --yes and without a terminal: nothing broadens, so it applies,
    // with one configuration update and two alarm updates and nothing else.
    let mutations = env.mutations_during(|| {
        env.claw(&["deploy", "--zip", &env.zip_arg()]).ok();
    });
    // The deploy lock's own calls (a stream created, a heartbeat, the stream
    // deleted) are not changes to the stack.
    let mut calls: Vec<String> = mutations
        .iter()
        .filter(|c| !(c.service == "logs" && LOCK_CALLS.contains(&c.action.as_str())))
        .map(|c| c.action.clone())
        .collect();
    calls.sort();
    assert_eq!(
        calls,
        [
            "PUT /2015-03-31/functions/crm-leads-dev/configuration",
            "PutMetricAlarm",
            "PutMetricAlarm"
        ],
        "{mutations:?}"
    );

    let c = aws
        .lambda
        .get_function_configuration()
        .function_name("crm-leads-dev")
        .send()
        .await
        .unwrap();
    assert_eq!(c.memory_size, Some(512));
    let a = aws
        .cloudwatch
        .describe_alarms()
        .alarm_names("crm-leads-dev-errors")
        .send()
        .await
        .unwrap()
        .metric_alarms
        .unwrap();
    assert_eq!(a[0].threshold, Some(3.0));
    let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
}

/// Removing a route and the VPC block removes the route, its permission
/// and the function's VPC config.
#[tokio::test(flavor = "multi_thread")]
async fn removing_a_route_and_the_vpc_removes_them() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    let two_routes = edit(
        &env.config_text(),
        r#"routes: ["POST /agents/{agent}"]"#,
        r#"routes: ["POST /agents/{agent}", "GET /status"]"#,
    );
    env.set_config(&two_routes);
    env.deploy().ok();
    let n = env.names();
    let id = aws.api_id(&n.api).await.unwrap();
    let routes = aws.apigw.get_routes().api_id(&id).send().await.unwrap();
    assert_eq!(routes.items().len(), 2);
    assert_eq!(aws.permission_statements(&n.function).await.len(), 2);

    let vpc_block = "vpc:\n  subnet_ids: [subnet-0abc1234def567890, subnet-0def5678abc123456]\n  security_group_ids: [sg-0123456789abcdef0]\n";
    let text = edit(&root_config(), vpc_block, "");
    env.set_config(&text);
    let plan = env.claw(&["plan", "--zip", &env.zip_arg()]).ok();
    assert!(
        plan.stdout
            .contains("- delete     api route             GET /status"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("- delete     invoke permission     claw-apigw-GET-status"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("(vpc subnets"), "{}", plan.stdout);
    // Narrowing only: deploy needs no approval.
    env.claw(&["deploy", "--zip", &env.zip_arg()]).ok();

    let routes = aws.apigw.get_routes().api_id(&id).send().await.unwrap();
    let keys: Vec<&str> = routes
        .items()
        .iter()
        .map(|r| r.route_key.as_deref().unwrap())
        .collect();
    assert_eq!(keys, ["POST /agents/{agent}"]);
    let st = aws.permission_statements(&n.function).await;
    let sids: Vec<&str> = st.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
    assert_eq!(sids, ["claw-apigw-POST-agents-agent"]);
    let c = aws
        .lambda
        .get_function_configuration()
        .function_name(&n.function)
        .send()
        .await
        .unwrap();
    let vpc = c.vpc_config();
    assert!(
        vpc.is_none_or(|v| v.subnet_ids().is_empty() && v.security_group_ids().is_empty()),
        "{vpc:?}"
    );
    // The role lost its ENI permissions with the VPC.
    let rp = aws
        .iam
        .get_role_policy()
        .role_name(&n.role)
        .policy_name(&n.role_policy)
        .send()
        .await
        .unwrap();
    assert!(!claw_testkit::iam::decode(&rp.policy_document).contains("ec2:CreateNetworkInterface"));
    let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
}

/// Without `--zip`, deploy builds the function through `claw build`'s module (an
/// incremental cross-build; slow when cold) and deploys exactly that package;
/// `claw plan` then compares against the built package without building.
#[tokio::test(flavor = "multi_thread")]
async fn deploy_without_zip_builds_and_deploys_the_package() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    let with_workspace = |args: &[&str]| {
        env.command()
            .args(args)
            .env("CLAW_WORKSPACE", repo_root())
            .run()
    };
    let run = with_workspace(&["deploy", "--yes", "--output", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let out = run.json();
    let target_root = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let dir = target_root.join("claw/crm-leads-dev/arm64");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("function.json")).unwrap()).unwrap();
    let sha = manifest["code_sha256"].as_str().unwrap().to_string();
    assert_eq!(out["code_sha256"], sha.as_str());
    let c = aws
        .lambda
        .get_function_configuration()
        .function_name("crm-leads-dev")
        .send()
        .await
        .unwrap();
    assert_eq!(c.code_sha256.as_deref(), Some(sha.as_str()));
    let zip = zip::ZipArchive::new(std::fs::File::open(dir.join("function.zip")).unwrap()).unwrap();
    let names: BTreeSet<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert!(
        names.contains("bootstrap") && names.contains("agent.json"),
        "{names:?}"
    );

    let plan = with_workspace(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        !plan.stdout.contains("was not compared"),
        "plan uses the built package: {}",
        plan.stdout
    );
}

/// Refusals: wrong account, missing secrets, a resource with claw's name that claw
/// did not create. Each stops before any mutating call and says how to fix it.
#[tokio::test(flavor = "multi_thread")]
async fn deploy_refuses_wrong_account_missing_secrets_and_foreign_resources() {
    let env = Env::new();
    let aws = env.aws().await;

    // Missing secrets: every one listed with its fix.
    let mut run = None;
    let m = env.mutations_during(|| run = Some(env.deploy()));
    let run = run.unwrap();
    assert_eq!(run.code, 1, "{}", run.stdout);
    for s in ROOT_SECRETS {
        assert!(
            run.stderr.contains(&format!("claw secrets set {s}")),
            "{}",
            run.stderr
        );
    }
    assert!(m.is_empty(), "{m:?}");

    // Wrong account.
    env.set_secrets();
    env.set_config(&edit(
        &root_config(),
        "account: \"123456789012\"",
        "account: \"999999999999\"",
    ));
    let mut run = None;
    let m = env.mutations_during(|| run = Some(env.deploy()));
    let run = run.unwrap();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("999999999999") && run.stderr.contains("123456789012"),
        "{}",
        run.stderr
    );
    assert!(m.is_empty(), "{m:?}");

    // A role with claw's name, created by someone else: never touched.
    env.set_config(&root_config());
    let n = env.names();
    aws.iam
        .create_role()
        .role_name(&n.role)
        .path("/claw/")
        .assume_role_policy_document(serde_json::to_string(&claw_spec::policy::trust(&n)).unwrap())
        .send()
        .await
        .unwrap();
    let mut run = None;
    let m = env.mutations_during(|| run = Some(env.deploy()));
    let run = run.unwrap();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&n.role) && run.stderr.contains("not tagged"),
        "{}",
        run.stderr
    );
    assert!(m.is_empty(), "{m:?}");
    let plan = env.claw(&["plan", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 1, "plan reports the blocker as an error");
}
