//! The deployer policy's guard rails, evaluated: a CI role holding it can put the
//! execution role's policy only under claw's permissions boundary, pass the role
//! only to Lambda, never loosen the boundary, and never change who may assume
//! the role. (moto does not enforce IAM, so the
//! condition logic is evaluated here with claw_spec::eval.)

use claw_spec::eval::{Request, allows};
use claw_spec::policy::{PolicyKind, generate};
use claw_spec::{Config, Names, Overrides};

fn config(rel: &str) -> Config {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel);
    let text = std::fs::read_to_string(path).unwrap();
    claw_spec::load(rel, &text, &Overrides::default(), &|_| None)
        .unwrap()
        .config
}

const CONFIGS: &[&str] = &[
    "agent.yaml",
    "tests/fixtures/variants/async.yaml",
    "tests/fixtures/variants/all-tools.yaml",
    "tests/fixtures/variants/jwt.yaml",
    "tests/fixtures/variants/no-vpc.yaml",
];

#[test]
fn roles_only_under_the_boundary() {
    for rel in CONFIGS {
        let c = config(rel);
        let n = Names::new(&c);
        let deployer = generate(PolicyKind::Deployer, &c, None).unwrap();
        let role = n.role_arn();
        let boundary = n.boundary_arn();
        let other_boundary = format!("arn:aws:iam::{}:policy/AdministratorAccess", n.account);
        {
            let action = "iam:PutRolePolicy";
            assert!(
                allows(
                    &deployer,
                    &Request::new(action, &role).with("iam:PermissionsBoundary", &boundary)
                ),
                "{rel}: {action} with the boundary must be allowed"
            );
            assert!(
                !allows(&deployer, &Request::new(action, &role)),
                "{rel}: {action} without a boundary must be refused"
            );
            assert!(
                !allows(
                    &deployer,
                    &Request::new(action, &role).with("iam:PermissionsBoundary", &other_boundary)
                ),
                "{rel}: {action} with another boundary must be refused"
            );
        }
        // Never another role's policy, whatever the boundary.
        let other_role = format!("arn:aws:iam::{}:role/claw/admin", n.account);
        assert!(!allows(
            &deployer,
            &Request::new("iam:PutRolePolicy", &other_role)
                .with("iam:PermissionsBoundary", &boundary)
        ));
        // The role may be passed to Lambda only.
        assert!(allows(
            &deployer,
            &Request::new("iam:PassRole", &role)
                .with("iam:PassedToService", "lambda.amazonaws.com")
        ));
        assert!(!allows(
            &deployer,
            &Request::new("iam:PassRole", &role).with("iam:PassedToService", "ec2.amazonaws.com")
        ));
        assert!(!allows(&deployer, &Request::new("iam:PassRole", &role)));
        // The boundary can be read, never loosened or detached.
        assert!(allows(&deployer, &Request::new("iam:GetPolicy", &boundary)));
        for action in [
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
            "iam:DeletePolicy",
            "iam:DeleteRolePermissionsBoundary",
            "iam:AttachRolePolicy",
        ] {
            assert!(
                !allows(&deployer, &Request::new(action, &boundary)),
                "{rel}: {action} on the boundary"
            );
            assert!(
                !allows(&deployer, &Request::new(action, &role)),
                "{rel}: {action} on the role"
            );
        }
    }
}

/// A stolen CI credential must not be able to change who may assume the
/// execution role: no IAM condition key constrains a trust document, so
/// creating the role, rewriting its trust, deleting it (to create it again) or
/// replacing its boundary are the administrator's, whatever the request says.
#[test]
fn the_deployer_cannot_change_who_may_assume_the_role() {
    for rel in CONFIGS {
        let c = config(rel);
        let n = Names::new(&c);
        let deployer = generate(PolicyKind::Deployer, &c, None).unwrap();
        let (role, boundary) = (n.role_arn(), n.boundary_arn());
        for action in [
            "iam:CreateRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:DeleteRole",
            "iam:PutRolePermissionsBoundary",
        ] {
            let req = Request::new(action, &role).with("iam:PermissionsBoundary", &boundary);
            assert!(!allows(&deployer, &req), "{rel}: {action} is allowed");
        }
        // What it may do to the role: update its policy under the boundary, tag
        // it, pass it to Lambda.
        assert!(allows(
            &deployer,
            &Request::new("iam:PutRolePolicy", &role).with("iam:PermissionsBoundary", &boundary)
        ));
    }
}

#[test]
fn the_execution_role_cannot_exceed_the_boundary() {
    for rel in CONFIGS {
        let c = config(rel);
        let role = generate(PolicyKind::Role, &c, None).unwrap();
        let boundary = generate(PolicyKind::Boundary, &c, None).unwrap();
        // Every permission the role grants, the boundary grants too.
        for st in &role.statement {
            for action in &st.action {
                for resource in &st.resource {
                    let mut req = Request::new(action, resource);
                    // A request that meets the statement's own conditions.
                    if let Some(cond) = &st.condition {
                        for (op, keys) in cond {
                            for (k, v) in keys {
                                let vals: Vec<&str> = match v {
                                    serde_json::Value::Array(a) => {
                                        a.iter().filter_map(|x| x.as_str()).collect()
                                    }
                                    other => vec![other.as_str().unwrap_or_default()],
                                };
                                if op.starts_with("ForAllValues:") || op.starts_with("ForAnyValue:")
                                {
                                    req = req.with_values(k, &vals);
                                } else if op != "Null" {
                                    req = req.with(k, vals[0]);
                                }
                            }
                        }
                    }
                    assert!(allows(&boundary, &req), "{rel}: {action} on {resource}");
                }
            }
        }
        // And nothing broader: a neighbour's secret, another table.
        let n = Names::new(&c);
        let foreign_secret = n
            .secret_arn("someone-else/key")
            .replace("-??????", "-AbC123");
        assert!(!allows(
            &boundary,
            &Request::new("secretsmanager:GetSecretValue", &foreign_secret)
        ));
        assert!(!allows(
            &boundary,
            &Request::new("dynamodb:GetItem", &n.table_arn("Payroll"))
        ));
    }
}

/// AddPermission is allowed only for the principals claw grants (API Gateway):
/// the deployer cannot make the function invokable by another account or by
/// everyone. RemovePermission stays open on this function (it only narrows).
#[test]
fn the_deployer_grants_invoke_permissions_only_to_api_gateway() {
    for rel in CONFIGS {
        let c = config(rel);
        let deployer = generate(PolicyKind::Deployer, &c, None).unwrap();
        let function = Names::new(&c).function_arn();
        let add = |principal: Option<&str>| {
            let req = Request::new("lambda:AddPermission", &function);
            let req = match principal {
                Some(p) => req.with("lambda:Principal", p),
                None => req,
            };
            allows(&deployer, &req)
        };
        assert!(add(Some("apigateway.amazonaws.com")), "{rel}");
        for other in [
            "*",
            "111122223333",
            "arn:aws:iam::111122223333:root",
            "s3.amazonaws.com",
        ] {
            assert!(!add(Some(other)), "{rel}: AddPermission for {other}");
        }
        assert!(!add(None), "{rel}: AddPermission without a principal");
        assert!(allows(
            &deployer,
            &Request::new("lambda:RemovePermission", &function)
        ));
    }
}

/// App `crm` with stage `leads` names its alarms `crm-leads-…`, as app `crm-leads`
/// with stage `dev` names its `crm-leads-dev-…`. With exact alarm ARNs (and no
/// hyphen in a stage), neither deployer can touch the other's alarms.
#[test]
fn a_deployer_cannot_touch_the_alarms_of_a_stack_whose_name_extends_its_own() {
    let root = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent.yaml"),
    )
    .unwrap();
    assert!(
        root.contains("app: crm-leads\nstage: dev\n"),
        "update this test"
    );
    // The stage is renamed under `stages:` too, when the file has them.
    let text = root
        .replace("app: crm-leads\nstage: dev\n", "app: crm\nstage: leads\n")
        .replace("\n  dev: {}\n", "\n  leads: {}\n");
    let short = claw_spec::load("agent.yaml", &text, &Overrides::default(), &|_| None)
        .unwrap()
        .config;
    let long = config("agent.yaml");
    let deployer = generate(PolicyKind::Deployer, &short, None).unwrap();
    let own = Names::new(&short).alarm_arns();
    let other = Names::new(&long).alarm_arns();
    for arn in &own {
        assert!(
            allows(&deployer, &Request::new("cloudwatch:PutMetricAlarm", arn)),
            "{arn}"
        );
    }
    for arn in &other {
        assert!(
            !allows(&deployer, &Request::new("cloudwatch:PutMetricAlarm", arn)),
            "crm/leads may change {arn}"
        );
        assert!(!allows(
            &deployer,
            &Request::new("cloudwatch:DeleteAlarms", arn)
        ));
    }
}

/// API Gateway tagging is authorized on `/tags/…`, which names no API: the deployer
/// may tag only with this stack's claw tags in the request, and may remove any tag
/// but claw's own.
#[test]
fn api_gateway_tagging_carries_the_stack_tags_and_never_removes_them() {
    let c = config("agent.yaml");
    let n = Names::new(&c);
    let deployer = generate(PolicyKind::Deployer, &c, None).unwrap();
    let tags = n.apigateway_arn("/tags/arn%3Aaws%3Aapigateway%3Aap-southeast-2%3A%3A%2Fapis%2Fa1");
    let tag = |app: &str, keys: &[&str]| {
        Request::new("apigateway:POST", &tags)
            .with("aws:RequestTag/claw:app", app)
            .with("aws:RequestTag/claw:stage", &n.stage)
            .with_values("aws:TagKeys", keys)
    };
    let keys = ["claw:app", "claw:stage", "team"];
    assert!(allows(&deployer, &tag(&n.app, &keys)));
    assert!(!allows(&deployer, &tag("another-app", &keys)));
    let only_team = Request::new("apigateway:POST", &tags).with_values("aws:TagKeys", &["team"]);
    assert!(!allows(&deployer, &only_team));
    let untag =
        |keys: &[&str]| Request::new("apigateway:DELETE", &tags).with_values("aws:TagKeys", keys);
    assert!(allows(&deployer, &untag(&["team"])));
    assert!(!allows(&deployer, &untag(&["team", "claw:app"])));
    assert!(!allows(
        &deployer,
        &Request::new("apigateway:DELETE", &tags)
    ));
}
