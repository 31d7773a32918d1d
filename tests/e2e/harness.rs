//! The fixtures themselves.

use crate::support::Env;

#[tokio::test(flavor = "multi_thread")]
async fn moto_fixture_records_calls() {
    let env = Env::new();
    let aws = env.aws().await;
    let iam = &aws.iam;
    env.moto.record();
    iam.list_roles().send().await.unwrap();
    iam.create_role()
        .role_name("r")
        .assume_role_policy_document("{}")
        .send()
        .await
        .unwrap();
    env.moto.stop_recording();
    let calls = env.moto.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let mutating = env.moto.mutating_calls();
    assert_eq!(mutating.len(), 1, "{mutating:?}");
    assert_eq!(mutating[0].service, "iam");
    assert_eq!(mutating[0].action, "CreateRole");
}
