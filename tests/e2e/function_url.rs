//! `api.stream`: the function URL in `RESPONSE_STREAM` mode and its callers'
//! grants, stable on re-run, put back when changed outside claw, and removed
//! with the key.

use claw_testkit::fixtures::{edit, root_config};

use crate::support::Env;

const STREAM: &str = "  throttle: { rate: 10, burst: 20 }\n  stream:\n    allow: [\"210987654321\", \"arn:aws:iam::123456789012:role/web/chat-frontend\"]\n";

fn with_stream() -> String {
    edit(
        &root_config(),
        "  throttle: { rate: 10, burst: 20 }\n",
        STREAM,
    )
}

/// The function's URL configuration, if it has one.
async fn url_config(
    aws: &crate::support::Aws,
    function: &str,
) -> Option<aws_sdk_lambda::operation::get_function_url_config::GetFunctionUrlConfigOutput> {
    aws.lambda
        .get_function_url_config()
        .function_name(function)
        .send()
        .await
        .ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_url_is_created_granted_to_its_callers_kept_and_removed() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    let n = env.names();
    env.set_config(&with_stream());
    let plan = env.claw(&["plan", "--zip", &env.zip_arg()]).ok();
    assert!(plan.stdout.contains("function url"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("a function URL (AuthType AWS_IAM)"),
        "{}",
        plan.stdout
    );
    let out = env
        .claw(&[
            "deploy",
            "--yes",
            "--zip",
            &env.zip_arg(),
            "--output",
            "json",
        ])
        .ok();
    let doc = out.json();
    let url = doc["function_url"].as_str().unwrap_or_default().to_string();
    assert!(url.contains(".lambda-url."), "{doc}");

    let cfg = url_config(&aws, &n.function).await.unwrap();
    assert_eq!(cfg.auth_type.as_str(), "AWS_IAM");
    assert_eq!(
        cfg.invoke_mode.as_ref().map(|m| m.as_str()),
        Some("RESPONSE_STREAM")
    );
    assert_eq!(cfg.function_url, url);

    // Two grants per caller, as AddPermission sent them (moto keeps the URL
    // parameters as they came; the realism layer shows them as Lambda does).
    let statements = aws.permission_statements(&n.function).await;
    let url_grants: Vec<&serde_json::Value> = statements
        .iter()
        .filter(|s| {
            s["Sid"]
                .as_str()
                .unwrap_or_default()
                .starts_with("claw-url-")
        })
        .collect();
    assert_eq!(url_grants.len(), 4, "{statements:#?}");
    let by_sid = |sid: &str| {
        url_grants
            .iter()
            .find(|s| s["Sid"] == sid)
            .unwrap_or_else(|| panic!("no {sid} in {url_grants:#?}"))
    };
    let s = by_sid("claw-url-210987654321");
    assert_eq!(s["Action"], "lambda:InvokeFunctionUrl");
    assert_eq!(s["Principal"], "210987654321");
    assert_eq!(s["FunctionUrlAuthType"], "AWS_IAM");
    let s = by_sid("claw-url-123456789012-chat-frontend-invoke");
    assert_eq!(s["Action"], "lambda:InvokeFunction");
    assert_eq!(
        s["Principal"],
        "arn:aws:iam::123456789012:role/web/chat-frontend"
    );
    assert_eq!(s["InvokedViaFunctionUrl"], true);

    // Re-run: nothing to do, and no call that changes anything; its read saw
    // the grants as Lambda shows them.
    let mutations = env.mutations_during(|| {
        env.deploy().ok();
    });
    assert!(mutations.is_empty(), "{mutations:?}");
    assert!(
        env.realism()
            .count("lambda: a function URL grant read back with its conditions")
            > 0
    );

    // Made public outside claw: the plan shows it and deploy puts it back.
    aws.lambda
        .update_function_url_config()
        .function_name(&n.function)
        .auth_type(aws_sdk_lambda::types::FunctionUrlAuthType::None)
        .send()
        .await
        .unwrap();
    let plan = env.claw(&["plan", "--zip", &env.zip_arg()]).ok();
    assert!(
        plan.stdout.contains("auth_type NONE → AWS_IAM"),
        "{}",
        plan.stdout
    );
    env.deploy().ok();
    let cfg = url_config(&aws, &n.function).await.unwrap();
    assert_eq!(cfg.auth_type.as_str(), "AWS_IAM");

    // Without `api.stream`: the URL and its grants go, the routes' stay.
    env.set_config(&root_config());
    env.deploy().ok();
    let gone = url_config(&aws, &n.function).await;
    assert!(gone.is_none(), "the URL is still there");
    let statements = aws.permission_statements(&n.function).await;
    assert!(
        statements.iter().all(|s| s["Sid"]
            .as_str()
            .unwrap_or_default()
            .starts_with("claw-apigw-")),
        "{statements:#?}"
    );
    assert!(!statements.is_empty());
}
