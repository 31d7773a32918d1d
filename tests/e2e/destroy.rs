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
    assert!(
        aws.lambda
            .get_function()
            .function_name(&n.function)
            .send()
            .await
            .is_ok()
    );

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
    gone(
        "function",
        aws.lambda
            .get_function()
            .function_name(&n.function)
            .send()
            .await
            .is_ok(),
    );
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
