//! `claw destroy`: removes everything tagged for the app and stage, keeps data and
//! secrets unless asked, and is safe to re-run.

use claw_testkit::fixtures::ROOT_SECRETS;

use crate::support::{Env, async_config};

/// Destroy removes everything tagged for the app and stage, keeps secrets
/// and the sessions table unless asked, and is safe to re-run.
#[tokio::test(flavor = "multi_thread")]
async fn destroy_removes_the_stack_and_keeps_data_unless_asked() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    env.set_config(&async_config());
    env.deploy().ok();
    let n = env.names();

    // Without a terminal and without --yes, nothing is deleted.
    let refused = env.claw(&["destroy"]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(aws.function_exists(&n.function).await);

    env.claw(&["destroy", "--yes"]).ok();
    let gone = |what: &str, ok: bool| assert!(!ok, "{what} still exists after destroy");
    gone(
        "role",
        aws.iam.get_role().role_name(&n.role).send().await.is_ok(),
    );
    gone(
        "boundary",
        aws.iam
            .get_policy()
            .policy_arn(n.boundary_arn())
            .send()
            .await
            .is_ok(),
    );
    gone("function", aws.function_exists(&n.function).await);
    gone("api", aws.api_id(&n.api).await.is_some());
    let alarms = aws.alarms(&n.alarm_prefix).await;
    assert!(alarms.is_empty(), "{alarms:?}");
    for g in [&n.log_group, &n.api_log_group] {
        let found = aws.log_groups(g).await;
        assert!(found.is_empty(), "{g}: {found:?}");
    }
    for q in [&n.queue, &n.dlq] {
        gone(
            q,
            aws.sqs
                .get_queue_url()
                .queue_name(q.as_str())
                .send()
                .await
                .is_ok(),
        );
    }
    gone(
        "jobs table",
        aws.dynamodb
            .describe_table()
            .table_name(&n.jobs_table)
            .send()
            .await
            .is_ok(),
    );
    let mappings = aws.event_source_mappings(None).await;
    assert!(mappings.is_empty(), "{mappings:?}");
    // Kept: the sessions table and the secrets.
    assert!(
        aws.dynamodb
            .describe_table()
            .table_name("AgentSessions")
            .send()
            .await
            .is_ok()
    );
    for s in ROOT_SECRETS {
        let d = aws
            .secrets
            .describe_secret()
            .secret_id(*s)
            .send()
            .await
            .unwrap();
        assert!(d.deleted_date.is_none(), "{s} was deleted");
    }

    // Safe to re-run.
    let again = env.claw(&["destroy", "--yes"]).ok();
    assert!(
        again.stdout.contains("Nothing to destroy."),
        "{}",
        again.stdout
    );

    // With both flags: the sessions table and the secrets go too.
    env.claw(&["destroy", "--yes", "--include-data", "--include-secrets"])
        .ok();
    assert!(
        aws.dynamodb
            .describe_table()
            .table_name("AgentSessions")
            .send()
            .await
            .is_err()
    );
    for s in ROOT_SECRETS {
        let d = aws.secrets.describe_secret().secret_id(*s).send().await;
        assert!(
            d.map(|d| d.deleted_date.is_some()).unwrap_or(true),
            "{s} was kept"
        );
    }
}

/// A VPC function is detached from its VPC (an UpdateFunctionConfiguration with
/// empty SubnetIds and SecurityGroupIds) before DeleteFunction, so Lambda's
/// Hyperplane ENIs do not outlive the stack and block deleting the subnets or
/// security groups (terraform-provider-aws `replace_security_groups_on_destroy`,
/// PR 37624). moto keeps no ENIs; the recording shows the order and the body.
#[tokio::test(flavor = "multi_thread")]
async fn a_vpc_function_is_detached_from_its_vpc_before_it_is_deleted() {
    let env = Env::with_secrets();
    assert!(env.config().vpc.is_some(), "the root config has a VPC");
    env.deploy().ok();
    let n = env.names();

    let plan = env.claw(&["destroy", "--output", "json"]);
    let doc = plan.json();
    let function = doc["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "function")
        .unwrap_or_else(|| panic!("{doc:#}"));
    assert!(
        function["note"]
            .as_str()
            .is_some_and(|s| s.contains("detached from its VPC first")),
        "{function}"
    );

    env.moto.record();
    env.claw(&["destroy", "--yes"]).ok();
    env.moto.stop_recording();
    let calls = env.moto.recorded();
    let function_url = format!("/2015-03-31/functions/{}", n.function);
    let position = |method: &str, suffix: &str| {
        calls.iter().position(|c| {
            c["method"] == method
                && c["url"]
                    .as_str()
                    .is_some_and(|u| u.split('?').next().unwrap().ends_with(suffix))
        })
    };
    let detach = position("PUT", &format!("{function_url}/configuration"))
        .expect("no UpdateFunctionConfiguration during destroy");
    let delete = position("DELETE", &function_url).expect("no DeleteFunction");
    assert!(
        detach < delete,
        "detached at call {detach}, deleted at {delete}"
    );
    let raw = calls[detach]["body"].as_str().unwrap();
    let raw = if calls[detach]["body_encoded"] == true {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap();
        String::from_utf8(bytes).unwrap()
    } else {
        raw.to_string()
    };
    let body: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        body["VpcConfig"],
        serde_json::json!({"SubnetIds": [], "SecurityGroupIds": []}),
        "{body}"
    );
}
