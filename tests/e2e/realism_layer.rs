//! The realism layer itself: what it refuses, checked through the AWS SDK the
//! way claw calls it, so a change to the layer that stops answering as AWS does
//! fails here and not silently in claw's tests.

use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::types::Tag as IamTag;

use crate::support::Aws;
use claw_testkit::moto::Moto;

fn policy(statements: usize) -> String {
    let one = r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::a-bucket-with-a-long-name/objects/under/a/long/prefix/*"}"#;
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        vec![one; statements].join(",")
    )
}

fn code<E, R>(e: &aws_sdk_iam::error::SdkError<E, R>) -> String
where
    E: aws_sdk_iam::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .unwrap_or_default()
        .to_string()
}

/// IAM quotas (reference_iam-quotas): a managed policy holds 6,144 characters,
/// a role's inline policies 10,240, whitespace not counted; tag values only
/// letters, digits, spaces and `_ . : / = + - @`.
#[tokio::test(flavor = "multi_thread")]
async fn iam_sizes_and_tag_characters_are_refused_as_aws_refuses_them() {
    let moto = Moto::realistic();
    let aws = Aws::new(&moto.endpoint()).await;
    let big = policy(60);
    assert!(big.len() > 6_144);
    let err = aws
        .iam
        .create_policy()
        .policy_name("big")
        .policy_document(&big)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "LimitExceeded");
    aws.iam
        .create_role()
        .role_name("r")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    aws.iam
        .put_role_policy()
        .role_name("r")
        .policy_name("a")
        .policy_document(policy(50))
        .send()
        .await
        .unwrap();
    let err = aws
        .iam
        .put_role_policy()
        .role_name("r")
        .policy_name("b")
        .policy_document(policy(50))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&err),
        "LimitExceeded",
        "two inline policies over 10,240"
    );
    let err = aws
        .iam
        .tag_role()
        .role_name("r")
        .tags(IamTag::builder().key("team").value("a,b").build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "ValidationError");
    // Right after DeleteRolePolicy, DeleteRole is a DeleteConflict.
    aws.iam
        .delete_role_policy()
        .role_name("r")
        .policy_name("a")
        .send()
        .await
        .unwrap();
    let err = aws
        .iam
        .delete_role()
        .role_name("r")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "DeleteConflict");
}

/// SQS refuses a queue name deleted moments ago (AWS: for 60 s).
#[tokio::test(flavor = "multi_thread")]
async fn sqs_refuses_a_recently_deleted_queue_name() {
    let moto = Moto::realistic();
    let aws = Aws::new(&moto.endpoint()).await;
    let url = aws
        .sqs
        .create_queue()
        .queue_name("jobs")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    aws.sqs.delete_queue().queue_url(&url).send().await.unwrap();
    let err = aws
        .sqs
        .create_queue()
        .queue_name("jobs")
        .send()
        .await
        .unwrap_err();
    let service = err.as_service_error().unwrap();
    assert!(
        service
            .code()
            .unwrap_or_default()
            .contains("QueueDeletedRecently"),
        "{service:?}"
    );
    // A different name is fine.
    aws.sqs
        .create_queue()
        .queue_name("other")
        .send()
        .await
        .unwrap();
}
