//! End-to-end tests of `claw plan`, `claw deploy` and `claw destroy` against a
//! moto server per test.

mod support;

use support::moto::Moto;

#[tokio::test(flavor = "multi_thread")]
async fn moto_fixture_records_calls() {
    let moto = Moto::start();
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("ap-southeast-2"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    let iam = aws_sdk_iam::Client::new(&conf);
    moto.record();
    iam.list_roles().send().await.unwrap();
    iam.create_role()
        .role_name("r")
        .assume_role_policy_document("{}")
        .send()
        .await
        .unwrap();
    moto.stop_recording();
    let calls = moto.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let mutating = moto.mutating_calls();
    assert_eq!(mutating.len(), 1, "{mutating:?}");
    assert_eq!(mutating[0].service, "iam");
    assert_eq!(mutating[0].action, "CreateRole");
}
