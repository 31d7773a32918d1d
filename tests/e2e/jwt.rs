//! `api.auth: jwt`: the authorizer and JWT routes, stable on re-run, and back.

use claw_testkit::fixtures::{edit, root_config};

use crate::support::Env;

/// A JWT API: the authorizer (issuer, audience) and JWT routes; stable on re-run.
#[tokio::test(flavor = "multi_thread")]
async fn jwt_auth_creates_an_authorizer_and_is_stable() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    let text = edit(
        &root_config(),
        "  auth: iam\n",
        "  auth: jwt\n  jwt:\n    issuer: https://issuer.example.com/\n    audience: [crm-api]\n",
    );
    env.set_config(&text);
    env.deploy().ok();
    let n = env.names();
    let id = aws.api_id(&n.api).await.unwrap();
    let routes = aws.apigw.get_routes().api_id(&id).send().await.unwrap();
    let r = &routes.items()[0];
    assert_eq!(
        r.authorization_type.as_ref().map(|a| a.as_str()),
        Some("JWT")
    );
    let a = aws
        .apigw
        .get_authorizer()
        .api_id(&id)
        .authorizer_id(r.authorizer_id.clone().unwrap())
        .send()
        .await
        .unwrap();
    let jwt = a.jwt_configuration.unwrap();
    assert_eq!(jwt.issuer.as_deref(), Some("https://issuer.example.com/"));
    assert_eq!(jwt.audience.unwrap(), ["crm-api"]);
    assert_eq!(
        a.identity_source.unwrap(),
        ["$request.header.Authorization"]
    );
    let mutations = env.mutations_during(|| {
        env.deploy().ok();
    });
    assert!(mutations.is_empty(), "{mutations:?}");

    // Back to IAM: the route changes, the authorizer goes.
    env.set_config(&root_config());
    let plan = env.claw(&["plan", "--zip", &env.zip_arg()]).ok();
    assert!(
        plan.stdout.contains("(authorization JWT → AWS_IAM)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("- delete     jwt authorizer"),
        "{}",
        plan.stdout
    );
    env.deploy().ok();
    let routes = aws.apigw.get_routes().api_id(&id).send().await.unwrap();
    assert_eq!(
        routes.items()[0]
            .authorization_type
            .as_ref()
            .map(|a| a.as_str()),
        Some("AWS_IAM")
    );
}
