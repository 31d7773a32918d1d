use std::collections::BTreeMap;

use super::*;

fn facts() -> Facts {
    let names = claw_spec::Names::for_stack("crm-leads", "dev", "ap-southeast-2", "123456789012");
    let tags = BTreeMap::from([
        ("claw:app".to_string(), "crm-leads".to_string()),
        ("claw:stage".to_string(), "dev".to_string()),
    ]);
    Facts::new(&names, tags)
}

fn req(method: &str, service: &str, path: &str, query: &str, op: &str, body: &str) -> Recorded {
    Recorded {
        method: method.into(),
        service: service.into(),
        path: path.into(),
        query: query.into(),
        operation: op.into(),
        body: body.into(),
    }
}

#[test]
fn every_entry_names_an_action_and_a_resource() {
    let map = Authorizer::load();
    assert!(map.operation_names().len() > 50);
    for op in &map.operations {
        for spec in &op.authorize {
            let action = spec["action"].as_str().unwrap();
            assert!(action.contains(':'), "{} {}: {action}", op.service, op.name);
            assert!(spec["resource"].as_str().is_some());
        }
    }
}

#[test]
fn create_role_carries_boundary_and_request_tags() {
    let body = "Action=CreateRole&Version=2010-05-08&RoleName=crm-leads-dev-exec&Path=%2Fclaw%2F\
        &PermissionsBoundary=arn%3Aaws%3Aiam%3A%3A123456789012%3Apolicy%2Fclaw%2Fb\
        &Tags.member.1.Key=claw%3Aapp&Tags.member.1.Value=crm-leads";
    let r = req("POST", "iam", "/", "", "CreateRole", body);
    let a = Authorizer::load().authorizations(&r, &facts()).unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].resource,
        "arn:aws:iam::123456789012:role/claw/crm-leads-dev-exec"
    );
    assert_eq!(
        a[0].context["iam:permissionsboundary"],
        ["arn:aws:iam::123456789012:policy/claw/b"]
    );
    assert_eq!(a[0].context["aws:requesttag/claw:app"], ["crm-leads"]);
    assert_eq!(a[0].context["aws:tagkeys"], ["claw:app"]);
    assert!(a[0].multivalued.contains(&"aws:tagkeys".to_string()));
}

#[test]
fn rest_paths_match_templates_and_imply_pass_role() {
    let body = r#"{"FunctionName":"crm-leads-dev","Role":"arn:aws:iam::123456789012:role/claw/r","Tags":{"claw:app":"crm-leads"}}"#;
    let r = req(
        "POST",
        "lambda",
        "/2015-03-31/functions",
        "",
        "POST /2015-03-31/functions",
        body,
    );
    let a = Authorizer::load().authorizations(&r, &facts()).unwrap();
    let actions: Vec<&str> = a.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["lambda:CreateFunction", "iam:PassRole"]);
    assert_eq!(
        a[1].context["iam:passedtoservice"],
        ["lambda.amazonaws.com"]
    );
    let tag = req(
        "DELETE",
        "lambda",
        "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aap-southeast-2%3A123456789012%3Afunction%3Af",
        "tagKeys=a&tagKeys=b",
        "x",
        "",
    );
    let a = Authorizer::load().authorizations(&tag, &facts()).unwrap();
    assert_eq!(
        a[0].resource,
        "arn:aws:lambda:ap-southeast-2:123456789012:function:f"
    );
    assert_eq!(a[0].context["aws:tagkeys"], ["a", "b"]);
}

#[test]
fn an_unmapped_call_is_named() {
    let r = req(
        "GET",
        "lambda",
        "/2099-01-01/nothing",
        "",
        "GET /2099-01-01/nothing",
        "",
    );
    let e = Authorizer::load().authorizations(&r, &facts()).unwrap_err();
    assert!(
        e.contains("unmapped AWS call: lambda GET /2099-01-01/nothing"),
        "{e}"
    );
}

#[test]
fn an_inference_profile_read_is_authorized_on_the_profile_arn() {
    let r = req(
        "GET",
        "bedrock",
        "/inference-profiles/us.anthropic.claude-haiku-4-5-20251001-v1%3A0",
        "",
        "GET /inference-profiles/us.anthropic.claude-haiku-4-5-20251001-v1%3A0",
        "",
    );
    let a = Authorizer::load().authorizations(&r, &facts()).unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].action, "bedrock:GetInferenceProfile");
    assert_eq!(
        a[0].resource,
        "arn:aws:bedrock:ap-southeast-2:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0"
    );
}
