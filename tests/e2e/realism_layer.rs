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

/// Lambda: a new function is Pending and refuses an update until created; an
/// update then is InProgress and refuses the next; statement ids are unique and
/// at most 100 characters; a reservation leaving fewer than 100 unreserved
/// concurrent executions is refused; GetAccountSettings answers.
#[tokio::test(flavor = "multi_thread")]
async fn lambda_states_statement_ids_and_the_concurrency_quota() {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::FunctionCode;

    let moto = Moto::realistic();
    let via = Aws::new(&moto.endpoint()).await;
    let direct = Aws::new(&moto.direct_endpoint()).await;
    // A role the layer has not seen created: it is not "new" to Lambda.
    let role = direct
        .iam
        .create_role()
        .role_name("fn")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("f.zip");
    claw_testkit::fixtures::write_zip(&zip, "v1");
    let code = std::fs::read(&zip).unwrap();
    let created = via
        .lambda
        .create_function()
        .function_name("f")
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(&role)
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(code.clone()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.state.map(|s| s.as_str().to_string()).as_deref(),
        Some("Pending")
    );
    let update = || {
        via.lambda
            .update_function_code()
            .function_name("f")
            .zip_file(Blob::new(code.clone()))
            .send()
    };
    let err = update().await.unwrap_err();
    assert_eq!(
        err.as_service_error().unwrap().code(),
        Some("ResourceConflictException")
    );
    // Once created, one update goes through, and the next meets InProgress.
    let mut tries = 0;
    while update().await.is_err() {
        tries += 1;
        assert!(tries < 60, "the function never left Pending");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let err = update().await.unwrap_err();
    let service = err.as_service_error().unwrap();
    assert_eq!(service.code(), Some("ResourceConflictException"));
    assert!(
        service
            .message()
            .unwrap_or_default()
            .contains("in progress")
    );

    let add = |sid: String| {
        via.lambda
            .add_permission()
            .function_name("f")
            .statement_id(sid)
            .action("lambda:InvokeFunction")
            .principal("apigateway.amazonaws.com")
            .send()
    };
    add("claw-apigw-a".into()).await.unwrap();
    let dup = add("claw-apigw-a".into()).await.unwrap_err();
    assert_eq!(
        dup.as_service_error().unwrap().code(),
        Some("ResourceConflictException")
    );
    let long = add("x".repeat(101)).await.unwrap_err();
    assert_eq!(
        long.as_service_error().unwrap().code(),
        Some("ValidationException")
    );

    moto.realism().unwrap().set_account_concurrency(1000, 100);
    let settings = via.lambda.get_account_settings().send().await.unwrap();
    let limit = settings.account_limit.unwrap();
    assert_eq!(limit.unreserved_concurrent_executions, Some(1000));
    let reserve = |n: i32| {
        via.lambda
            .put_function_concurrency()
            .function_name("f")
            .reserved_concurrent_executions(n)
            .send()
    };
    let refused = reserve(901).await.unwrap_err();
    let message = refused
        .as_service_error()
        .unwrap()
        .message()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("below its minimum value of [100]"),
        "{message}"
    );
    reserve(900).await.unwrap();
    let settings = via.lambda.get_account_settings().send().await.unwrap();
    assert_eq!(
        settings
            .account_limit
            .unwrap()
            .unreserved_concurrent_executions,
        Some(100)
    );
}
