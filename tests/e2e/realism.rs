//! claw against AWS's own behaviour where moto is lenient: the realism proxy
//! (`claw_testkit::realism`, on for every end-to-end test) makes Lambda apply
//! changes asynchronously, IAM propagate slowly, SQS refuse a recent queue name,
//! API Gateway list every authorizer, Lambda enforce the account's concurrency,
//! and every list come one item per page. Each test shows the behaviour really
//! happened (the proxy counts it) and that claw converges anyway.

use claw_testkit::fixtures::{edit, root_config};
use claw_testkit::realism::FunctionCondition;

use crate::support::{Aws, Env, async_config};

async fn function_state(aws: &Aws, name: &str) -> (String, String) {
    let c = aws
        .lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .unwrap();
    (
        c.memory_size.unwrap_or_default().to_string(),
        c.state.map(|s| s.as_str().to_string()).unwrap_or_default(),
    )
}

/// A first deploy meets IAM's propagation delays (a new boundary is
/// NoSuchEntity to CreateRole, a new role cannot be assumed by Lambda), Lambda's
/// Pending state, and paged lists; destroy meets DeleteConflict right after
/// DeleteRolePolicy. claw retries each and converges; a re-run changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn deploy_and_destroy_converge_through_iam_propagation_and_lambda_states() {
    let env = Env::with_secrets();
    env.deploy().ok();
    let real = env.realism();
    for behaviour in [
        "iam: new boundary policy not yet attachable",
        "iam: role not yet assumable by Lambda",
        "lambda: Pending or InProgress while a change is applied",
    ] {
        assert!(
            real.count(behaviour) >= 1,
            "expected {behaviour:?}; emulated: {:?}",
            real.emulated()
        );
    }
    let mutations = env.mutations_during(|| {
        env.deploy().ok();
    });
    assert!(mutations.is_empty(), "a re-run changed {mutations:?}");
    // The re-run read the stack's lists of more than one item (its alarms, its
    // table's tags) one item per page, and still saw all of them.
    for paged in [
        "pages: DescribeAlarms paged",
        "pages: ListTagsOfResource paged",
    ] {
        assert!(real.count(paged) >= 1, "{paged}: {:?}", real.emulated());
    }
    env.claw(&["destroy", "--yes"]).ok();
    assert!(
        real.count("iam: DeleteConflict right after DeleteRolePolicy") >= 1,
        "{:?}",
        real.emulated()
    );
    let aws = env.aws().await;
    let n = env.names();
    assert!(aws.iam.get_role().role_name(&n.role).send().await.is_err());
}

/// Lambda: an Inactive function leaves that state only when invoked or updated
/// (functions-states), so waiting for Active first would never end; and a
/// failed last update leaves the old configuration, so the deploy carrying the
/// fix must be sent. An update right after another meets InProgress.
#[tokio::test(flavor = "multi_thread")]
async fn inactive_and_update_failed_functions_take_the_next_deploy() {
    let env = Env::with_secrets();
    env.deploy().ok();
    let n = env.names();
    let aws = env.aws().await;
    env.realism()
        .set_function_condition(&n.function, FunctionCondition::Inactive);
    env.set_config(&edit(&root_config(), "memory_mb: 256", "memory_mb: 512"));
    env.deploy().ok();
    assert_eq!(function_state(&aws, &n.function).await.0, "512");

    env.realism().set_function_condition(
        &n.function,
        FunctionCondition::UpdateFailed("Subnet subnet-1 has no available IP addresses".into()),
    );
    env.set_config(&edit(&root_config(), "memory_mb: 256", "memory_mb: 1024"));
    env.deploy().ok();
    assert_eq!(function_state(&aws, &n.function).await.0, "1024");
}

/// Lambda: "When function creation fails … you must delete and recreate the
/// function" (functions-states). The plan says so; the deploy does it.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_function_is_deleted_and_created_again() {
    let env = Env::with_secrets();
    env.deploy().ok();
    let n = env.names();
    env.realism().set_function_condition(
        &n.function,
        FunctionCondition::Failed("Subnet subnet-1 has no available IP addresses".into()),
    );
    let plan = env.plan_json();
    let change = plan["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "function")
        .cloned()
        .unwrap_or_else(|| panic!("no function change in {plan:#}"));
    assert_eq!(change["action"], "create", "{change:#}");
    assert!(
        change["note"]
            .as_str()
            .unwrap_or_default()
            .contains("state Failed"),
        "{change:#}"
    );
    env.deploy().ok();
    let aws = env.aws().await;
    assert_eq!(function_state(&aws, &n.function).await.1, "Active");
    // Its invoke permissions went with it and were granted again.
    assert!(!aws.permission_statements(&n.function).await.is_empty());
    let mutations = env.mutations_during(|| {
        env.deploy().ok();
    });
    assert!(mutations.is_empty(), "a re-run changed {mutations:?}");
}

/// Lambda keeps 100 of the account's concurrency unreserved ("You can reserve up
/// to the Unreserved account concurrency value minus 100"), and new accounts
/// often have a quota of 10. The plan reads GetAccountSettings and blocks with
/// the numbers before anything is created.
#[tokio::test(flavor = "multi_thread")]
async fn a_reservation_the_account_cannot_hold_is_blocked_before_anything_is_created() {
    let env = Env::with_secrets();
    env.realism().set_account_concurrency(10, 10);
    let out = env.deploy().code(1);
    out.refused(&["reserved_concurrency", "quota of 10", "L-B99A9384"]);
    let aws = env.aws().await;
    let n = env.names();
    assert!(aws.iam.get_role().role_name(&n.role).send().await.is_err());
    assert!(!aws.function_exists(&n.function).await);
    env.realism().set_account_concurrency(1000, 100);
    env.deploy().ok();
}

/// API Gateway refuses a second authorizer of the same name. A `claw-jwt` that
/// no route references (a deploy killed after CreateAuthorizer) is found with
/// GetAuthorizers and adopted, not created again; with JWT off, it is removed.
#[tokio::test(flavor = "multi_thread")]
async fn a_stray_claw_jwt_authorizer_is_adopted_or_removed() {
    let env = Env::with_secrets();
    env.deploy().ok();
    let n = env.names();
    let direct = env.aws().await;
    let id = direct.api_id(&n.api).await.unwrap();
    // Through the proxy, as claw's own CreateAuthorizer would have gone.
    let via_proxy = Aws::new(&env.moto.endpoint()).await;
    let stray = |audience: &'static str| {
        let (apigw, id) = (via_proxy.apigw.clone(), id.clone());
        async move {
            apigw
                .create_authorizer()
                .api_id(&id)
                .name("claw-jwt")
                .authorizer_type(aws_sdk_apigatewayv2::types::AuthorizerType::Jwt)
                .identity_source("$request.header.Authorization")
                .jwt_configuration(
                    aws_sdk_apigatewayv2::types::JwtConfiguration::builder()
                        .issuer("https://old.example.com/")
                        .audience(audience)
                        .build(),
                )
                .send()
                .await
                .unwrap()
        }
    };
    let list = || {
        let (apigw, id) = (via_proxy.apigw.clone(), id.clone());
        async move { apigw.get_authorizers().api_id(&id).send().await.unwrap() }
    };
    stray("old").await;
    let jwt = edit(
        &root_config(),
        "  auth: iam\n",
        "  auth: jwt\n  jwt:\n    issuer: https://issuer.example.com/\n    audience: [crm-api]\n",
    );
    env.set_config(&jwt);
    env.deploy().ok();
    let listed = list().await;
    assert_eq!(listed.items().len(), 1, "{listed:?}");
    let a = &listed.items()[0];
    let cfg = a.jwt_configuration.clone().unwrap();
    assert_eq!(cfg.issuer.as_deref(), Some("https://issuer.example.com/"));
    let routes = direct.apigw.get_routes().api_id(&id).send().await.unwrap();
    assert!(
        routes
            .items()
            .iter()
            .all(|r| r.authorizer_id == a.authorizer_id),
        "{routes:?}"
    );

    // Back to IAM, then a stray again: the plan deletes it.
    env.set_config(&root_config());
    env.deploy().ok();
    stray("old").await;
    env.deploy().ok();
    let listed = list().await;
    assert!(listed.items().is_empty(), "{listed:?}");
}

/// SQS: "You must wait 60 seconds after deleting a queue before you can create
/// another queue with the same name." A deploy right after a destroy of an
/// async stack waits it out (the proxy's delay is shorter; claw's wait is not
/// tied to it).
#[tokio::test(flavor = "multi_thread")]
async fn an_async_stack_redeployed_right_after_destroy_waits_for_the_queue_name() {
    let env = Env::with_secrets();
    env.set_config(&async_config());
    env.deploy().ok();
    env.claw(&["destroy", "--yes"]).ok();
    let out = env.deploy().ok();
    assert!(
        env.realism().count("sqs: QueueDeletedRecently") >= 1,
        "{:?}",
        env.realism().emulated()
    );
    assert!(out.all().contains("QueueDeletedRecently"), "{}", out.all());
}
