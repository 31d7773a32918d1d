//! The function's resource policy: API Gateway's grant per route, and the
//! function URL's (`api.stream`) per caller; and what the deployer may do to
//! the URL.

use serde_json::json;

use crate::iam::{PolicyDocument, Statement};
use crate::model::{Config, Stream};
use crate::names::Names;

/// The principals claw grants invoke permissions to (the deployer may add
/// permissions for these only).
pub const INVOKE_PRINCIPALS: &[&str] = &[API_GATEWAY_PRINCIPAL];

/// API Gateway's service principal, which calls the function for every route.
pub const API_GATEWAY_PRINCIPAL: &str = "apigateway.amazonaws.com";

/// The function's resource-based policy, one statement per route, for a known API id
/// (or `names::API_ID_PLACEHOLDER`), and the function URL's grants.
pub fn invoke(config: &Config, names: &Names, api_id: &str) -> PolicyDocument {
    let mut all: Vec<Statement> = config
        .all_routes()
        .iter()
        .map(|route| {
            Statement::allow(
                &Names::permission_sid(route),
                &["lambda:InvokeFunction"],
                vec![names.invoked_arn()],
            )
            .principal(json!({"Service": API_GATEWAY_PRINCIPAL}))
            .when(
                "ArnLike",
                "AWS:SourceArn",
                json!(names.execute_api_arn(api_id, route)),
            )
        })
        .collect();
    all.extend(
        config
            .api
            .stream
            .iter()
            .flat_map(|st| statements(st, names)),
    );
    PolicyDocument::new(all)
}

/// The Sid prefix of the function URL's statements.
pub const URL_SID_PREFIX: &str = "claw-url-";

/// The function URL's statements: for each caller, `lambda:InvokeFunctionUrl`
/// limited to the URL's auth type, and `lambda:InvokeFunction` limited to calls
/// through a function URL. Since October 2025 a new function URL needs both
/// (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html).
/// `lambda:InvokedViaFunctionUrl` is a Bool key.
pub fn statements(st: &Stream, names: &Names) -> Vec<Statement> {
    let callers: Vec<(String, serde_json::Value)> = if st.public {
        vec![(format!("{URL_SID_PREFIX}public"), json!("*"))]
    } else {
        st.allow
            .iter()
            .map(|who| {
                let arn = if who.len() == 12 && who.bytes().all(|b| b.is_ascii_digit()) {
                    format!("arn:{}:iam::{who}:root", names.partition())
                } else {
                    who.clone()
                };
                (url_sid(who), json!({"AWS": arn}))
            })
            .collect()
    };
    callers
        .into_iter()
        .flat_map(|(sid, principal)| {
            [
                Statement::allow(
                    &sid,
                    &["lambda:InvokeFunctionUrl"],
                    vec![names.invoked_arn()],
                )
                .principal(principal.clone())
                .when(
                    "StringEquals",
                    "lambda:FunctionUrlAuthType",
                    json!(st.auth_type()),
                ),
                Statement::allow(
                    &format!("{sid}-invoke"),
                    &["lambda:InvokeFunction"],
                    vec![names.invoked_arn()],
                )
                .principal(principal)
                .when("Bool", "lambda:InvokedViaFunctionUrl", json!("true")),
            ]
        })
        .collect()
}

/// `claw-url-ACCOUNT` or `claw-url-ACCOUNT-ROLENAME` (Lambda's statement ids:
/// letters, digits, `-` and `_`, at most 100 characters with `-invoke`).
pub fn url_sid(who: &str) -> String {
    let iam = who.split_once(":iam::").map(|(_, rest)| rest);
    let tail = match iam {
        Some(rest) => {
            let (account, role) = rest.split_once(":role/").unwrap_or((rest, ""));
            let name = role.rsplit('/').next().unwrap_or(role);
            format!("{account}-{name}")
        }
        None => who.to_string(),
    };
    let clean: String = tail
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut sid = format!("{URL_SID_PREFIX}{clean}");
    sid.truncate(100 - "-invoke".len());
    sid
}

/// Read and removed always, so a plan sees a URL and a deploy can remove one
/// the config no longer has.
pub fn read_and_remove(fn_arns: &[String]) -> Statement {
    Statement::allow(
        "ReadAndRemoveFunctionUrl",
        &[
            "lambda:GetFunctionUrlConfig",
            "lambda:DeleteFunctionUrlConfig",
        ],
        fn_arns.to_vec(),
    )
}

/// The URL only with the auth type agent.yaml says, and invoke grants only to
/// its callers: a stolen CI credential cannot open it to the internet
/// (`lambda:FunctionUrlAuthType` and `lambda:Principal` are the condition keys
/// these actions support, Service Authorization Reference, AWS Lambda).
pub fn deployer_statements(st: &Stream, fn_arns: &[String]) -> Vec<Statement> {
    let callers: Vec<&str> = if st.public {
        vec!["*"]
    } else {
        st.allow.iter().map(String::as_str).collect()
    };
    vec![
        Statement::allow(
            "ConfigureFunctionUrl",
            &[
                "lambda:CreateFunctionUrlConfig",
                "lambda:UpdateFunctionUrlConfig",
            ],
            fn_arns.to_vec(),
        )
        .when(
            "StringEquals",
            "lambda:FunctionUrlAuthType",
            json!(st.auth_type()),
        ),
        Statement::allow(
            "GrantInvokeToUrlCallersOnly",
            &["lambda:AddPermission"],
            fn_arns.to_vec(),
        )
        .when("StringEquals", "lambda:Principal", json!(callers)),
    ]
}
