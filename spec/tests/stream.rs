//! `api.stream`: who may call the function URL, what validation refuses, and
//! the statements and deployer grants it adds.

use claw_spec::Diagnostic;
use claw_spec::policy::{PolicyKind, generate};

mod support;

const BASE: &str = "app: demo
stage: dev
region: us-east-1
account: \"123456789012\"
model:
  id: claude-sonnet-5
  api_key_secret: demo/key
agents:
  a:
    system: hi
";

fn load(extra: &str) -> Result<claw_spec::Config, Vec<Diagnostic>> {
    support::load(&format!("{BASE}{extra}"))
}

fn errors(extra: &str) -> Vec<String> {
    support::errors(&format!("{BASE}{extra}"))
        .into_iter()
        .map(|d| format!("{}: {}", d.path, d.message))
        .collect()
}

fn invoke(extra: &str) -> serde_json::Value {
    let c = load(extra).unwrap();
    serde_json::to_value(generate(PolicyKind::Invoke, &c, None).unwrap()).unwrap()
}

#[test]
fn a_role_and_an_account_each_get_the_url_grant_and_the_invoke_via_url_grant() {
    let v = invoke(
        "api:\n  stream:\n    allow: [\"210987654321\", \"arn:aws:iam::123456789012:role/web/chat-frontend\"]\n",
    );
    let st = v["Statement"].as_array().unwrap();
    let sids: Vec<&str> = st.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
    assert_eq!(
        sids,
        [
            "claw-apigw-POST-agents-agent",
            "claw-url-210987654321",
            "claw-url-210987654321-invoke",
            "claw-url-123456789012-chat-frontend",
            "claw-url-123456789012-chat-frontend-invoke",
        ]
    );
    assert_eq!(st[1]["Principal"]["AWS"], "arn:aws:iam::210987654321:root");
    assert_eq!(
        st[3]["Principal"]["AWS"],
        "arn:aws:iam::123456789012:role/web/chat-frontend"
    );
    assert_eq!(st[3]["Action"][0], "lambda:InvokeFunctionUrl");
    assert_eq!(
        st[3]["Condition"]["StringEquals"]["lambda:FunctionUrlAuthType"],
        "AWS_IAM"
    );
    assert_eq!(st[4]["Action"][0], "lambda:InvokeFunction");
    assert_eq!(
        st[4]["Condition"]["Bool"]["lambda:InvokedViaFunctionUrl"],
        "true"
    );
}

#[test]
fn public_is_said_explicitly_warned_about_and_granted_to_everyone() {
    let c = load("api:\n  stream:\n    public: true\n").unwrap();
    let warnings = support::warnings(&format!("{BASE}api:\n  stream:\n    public: true\n"));
    assert!(
        warnings.iter().any(|w| w.contains("open to anyone")),
        "{warnings:?}"
    );
    let v = serde_json::to_value(generate(PolicyKind::Invoke, &c, None).unwrap()).unwrap();
    let url = &v["Statement"][1];
    assert_eq!(url["Sid"], "claw-url-public");
    assert_eq!(url["Principal"], "*");
    assert_eq!(
        url["Condition"]["StringEquals"]["lambda:FunctionUrlAuthType"],
        "NONE"
    );
    // The deployer may configure exactly that auth type, and grant only `*`.
    let d = serde_json::to_value(generate(PolicyKind::Deployer, &c, None).unwrap()).unwrap();
    let find = |sid: &str| {
        d["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == sid)
            .cloned()
            .unwrap_or_else(|| panic!("no {sid}"))
    };
    assert_eq!(
        find("ConfigureFunctionUrl")["Condition"]["StringEquals"]["lambda:FunctionUrlAuthType"],
        "NONE"
    );
    assert_eq!(
        find("GrantInvokeToUrlCallersOnly")["Condition"]["StringEquals"]["lambda:Principal"],
        serde_json::json!(["*"])
    );
}

#[test]
fn validation_says_what_is_wrong_and_where() {
    let cases = [
        (
            "api:\n  stream: {}\n",
            "api.stream.allow: list who may call",
        ),
        (
            "api:\n  stream:\n    public: true\n    allow: [\"210987654321\"]\n",
            "api.stream.allow: `public: true` lets anyone",
        ),
        (
            "api:\n  stream:\n    allow: [\"2109\"]\n",
            "api.stream.allow[0]: `2109` is neither",
        ),
        (
            "api:\n  stream:\n    allow: [\"arn:aws:iam::210987654321:user/bob\"]\n",
            "api.stream.allow[0]: `arn:aws:iam::210987654321:user/bob` is neither",
        ),
        (
            "api:\n  stream:\n    allow: [\"arn:aws:iam::1:role/a\", \"210987654321\", \"210987654321\"]\n",
            "api.stream.allow[2]: `210987654321` is listed twice",
        ),
        (
            "api:\n  auth: jwt\n  jwt:\n    issuer: https://auth.example.com/\n    audience: [api]\n  stream:\n    allow: [\"210987654321\"]\n",
            "api.stream: a function URL has no JWT authorizer",
        ),
    ];
    for (extra, want) in cases {
        let errs = errors(extra);
        assert!(
            errs.iter().any(|e| e.starts_with(want)),
            "{extra}\n{errs:#?}"
        );
    }
    // Roles in another partition than the Region's are refused.
    let errs = support::errors(&format!(
        "{}api:\n  stream:\n    allow: [\"arn:aws:iam::210987654321:role/x\"]\n",
        BASE.replace("us-east-1", "cn-north-1")
    ));
    assert!(!errs.is_empty());
}

/// A streamed answer on Bedrock calls InvokeModelWithResponseStream, a separate
/// action from InvokeModel: granted on the same models with `api.stream` only.
#[test]
fn bedrock_streaming_is_granted_only_with_api_stream() {
    let bedrock = "app: demo
stage: dev
region: us-east-1
account: \"123456789012\"
model:
  provider: bedrock
  id: anthropic.claude-haiku-4-5-20251001-v1:0
agents:
  a:
    system: hi
";
    let actions = |extra: &str| -> Vec<String> {
        let c = support::load(&format!("{bedrock}{extra}")).unwrap();
        let v = serde_json::to_value(generate(PolicyKind::Role, &c, None).unwrap()).unwrap();
        let st = v["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Sid"] == "InvokeBedrockModel")
            .cloned()
            .unwrap();
        assert_eq!(
            st["Resource"],
            serde_json::json!([
                "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0"
            ])
        );
        match &st["Action"] {
            serde_json::Value::String(a) => vec![a.clone()],
            a => serde_json::from_value(a.clone()).unwrap(),
        }
    };
    assert_eq!(actions(""), ["bedrock:InvokeModel"]);
    assert_eq!(
        actions("api:\n  stream:\n    allow: [\"210987654321\"]\n"),
        [
            "bedrock:InvokeModel",
            "bedrock:InvokeModelWithResponseStream"
        ]
    );
}
