//! Stacks deployed by earlier versions of claw move to today's layout on the
//! next deploy, and destroy removes what either layout left.

use std::collections::HashMap;

use aws_sdk_apigatewayv2::types::AccessLogSettings;

use crate::support::{Aws, Env};

/// The API's access logs used to go to `/aws/apigateway/{app}-{stage}`. Vended
/// log delivery adds each destination group to the account's CloudWatch Logs
/// resource policy, capped at 5,120 characters; near the cap only
/// `/aws/vendedlogs/*` stays deliverable (CloudWatch Logs User Guide, "Log group
/// resource policy size limit considerations"). A deploy moves the stage to
/// `/aws/vendedlogs/apigateway/{app}-{stage}` and deletes the old group; destroy
/// removes it too. moto enforces no such cap, so the test checks the move itself.
#[tokio::test(flavor = "multi_thread")]
async fn access_logs_move_to_the_vendedlogs_group_and_the_old_group_goes() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    env.deploy().ok();
    let n = env.names();
    let api_id = aws.api_id(&n.api).await.expect("the HTTP API");

    // The stack as an earlier claw left it: the stage logs to the old group,
    // which carries claw's tags, and the new group does not exist.
    let old_tags = aws
        .logs
        .list_tags_for_resource()
        .resource_arn(n.log_group_arn(&n.api_log_group))
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default();
    create_group(&aws, &n.old_api_log_group, &old_tags).await;
    // moto 5.2.5 implements no UpdateStage (it answers 500), so the stage is
    // recreated with the destination an earlier claw gave it.
    let old_arn = n.log_group_arn(&n.old_api_log_group);
    recreate_stage_logging_to(&aws, &api_id, &old_arn).await;
    aws.logs
        .delete_log_group()
        .log_group_name(&n.api_log_group)
        .send()
        .await
        .unwrap();

    // The plan shows the move: new group created, stage destination changed,
    // old group deleted.
    let plan = env.plan_json();
    let changes = plan["plan"]["changes"].as_array().unwrap();
    let find = |kind: &str, name: &str| {
        changes
            .iter()
            .find(|c| c["kind"] == kind && c["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in {changes:#?}"))
    };
    assert_eq!(find("log_group", &n.api_log_group)["action"], "create");
    assert_eq!(find("log_group", &n.old_api_log_group)["action"], "delete");
    let stage = find("stage", "$default");
    assert_eq!(stage["action"], "update", "{stage}");
    let access_log = stage["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "access_log")
        .unwrap_or_else(|| panic!("{stage}"));
    assert_eq!(access_log["from"], n.log_group_arn(&n.old_api_log_group));
    assert_eq!(access_log["to"], n.log_group_arn(&n.api_log_group));

    // What deploy's UpdateStage does on AWS, done by hand for moto; deploy then
    // creates the new group and deletes the old one.
    recreate_stage_logging_to(&aws, &api_id, &n.log_group_arn(&n.api_log_group)).await;
    env.deploy().ok();
    let live = aws
        .apigw
        .get_stage()
        .api_id(&api_id)
        .stage_name("$default")
        .send()
        .await
        .unwrap();
    assert_eq!(
        live.access_log_settings.unwrap().destination_arn.as_deref(),
        Some(n.log_group_arn(&n.api_log_group).as_str())
    );
    let names = |groups: Vec<aws_sdk_cloudwatchlogs::types::LogGroup>| -> Vec<String> {
        groups
            .into_iter()
            .filter_map(|g| g.log_group_name)
            .collect()
    };
    assert_eq!(
        names(aws.log_groups(&n.api_log_group).await),
        vec![n.api_log_group.clone()]
    );
    assert!(names(aws.log_groups(&n.old_api_log_group).await).is_empty());
    let again = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(again.code, 0, "{}", again.stdout);

    // Destroy removes an old group left beside the new one.
    create_group(&aws, &n.old_api_log_group, &old_tags).await;
    env.claw(&["destroy", "--yes"]).ok();
    for g in [&n.api_log_group, &n.old_api_log_group] {
        assert!(
            names(aws.log_groups(g).await).is_empty(),
            "{g} survived destroy"
        );
    }
}

async fn create_group(aws: &Aws, name: &str, tags: &HashMap<String, String>) {
    aws.logs
        .create_log_group()
        .log_group_name(name)
        .set_tags(Some(tags.clone()))
        .send()
        .await
        .unwrap();
}

/// The `$default` stage deleted and created again as it was, logging to
/// `destination`.
async fn recreate_stage_logging_to(aws: &Aws, api_id: &str, destination: &str) {
    let s = aws
        .apigw
        .get_stage()
        .api_id(api_id)
        .stage_name("$default")
        .send()
        .await
        .unwrap();
    aws.apigw
        .delete_stage()
        .api_id(api_id)
        .stage_name("$default")
        .send()
        .await
        .unwrap();
    let format = s.access_log_settings.and_then(|l| l.format);
    aws.apigw
        .create_stage()
        .api_id(api_id)
        .stage_name("$default")
        .set_auto_deploy(s.auto_deploy)
        .set_default_route_settings(s.default_route_settings)
        .access_log_settings(
            AccessLogSettings::builder()
                .destination_arn(destination)
                .set_format(format)
                .build(),
        )
        .set_tags(s.tags)
        .send()
        .await
        .unwrap();
}
