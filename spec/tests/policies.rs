//! Snapshots of every generated document for the root agent.yaml and each variant,
//! plus the invariants every generated document must keep.

use std::path::PathBuf;

use claw_spec::iam::star_allowed;
use claw_spec::policy::{PolicyKind, generate};
use claw_spec::{Config, Overrides, lint};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(rel: &str) -> Config {
    let path = repo().join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    match claw_spec::load(rel, &text, &Overrides::default(), &|_| None) {
        Ok(l) => l.config,
        Err(p) => panic!("{rel} does not validate: {p:#?}"),
    }
}

const CONFIGS: &[(&str, &str)] = &[
    ("root", "agent.yaml"),
    ("no_vpc", "tests/fixtures/variants/no-vpc.yaml"),
    ("async", "tests/fixtures/variants/async.yaml"),
    ("all_tools", "tests/fixtures/variants/all-tools.yaml"),
    ("jwt", "tests/fixtures/variants/jwt.yaml"),
    ("bedrock", "tests/fixtures/variants/bedrock.yaml"),
    ("stream", "tests/fixtures/variants/stream.yaml"),
    ("rollout", "tests/fixtures/variants/rollout.yaml"),
];

#[test]
fn generated_policies_match_snapshots() {
    for (name, rel) in CONFIGS {
        let config = load(rel);
        for kind in PolicyKind::ALL {
            insta::assert_json_snapshot!(
                format!("{name}__{}", kind.name()),
                generate(kind, &config, None).unwrap()
            );
        }
    }
}

#[test]
fn generated_policies_pass_claws_own_lint() {
    for (_, rel) in CONFIGS {
        let config = load(rel);
        for kind in PolicyKind::ALL {
            let resource_policy = kind.is_resource_policy();
            let findings = lint::lint(&generate(kind, &config, None).unwrap(), resource_policy);
            assert!(findings.is_empty(), "{rel} {}: {findings:#?}", kind.name());
        }
    }
}

#[test]
fn star_resources_are_only_allowlisted_actions() {
    let mut used = std::collections::BTreeSet::new();
    for (_, rel) in CONFIGS {
        let config = load(rel);
        for kind in PolicyKind::ALL {
            for st in generate(kind, &config, None).unwrap().statement {
                assert!(st.not_action.is_none() && st.not_resource.is_none());
                for a in &st.action {
                    assert!(!a.contains('*'), "wildcard action {a} in {rel}");
                }
                if st.resource.iter().any(|r| r == "*") {
                    assert_eq!(st.resource.len(), 1, "`*` mixed with ARNs in {:?}", st.sid);
                    for a in &st.action {
                        assert!(star_allowed(a).is_some(), "{a} on * is not allowlisted");
                        used.insert(a.to_ascii_lowercase());
                    }
                }
            }
        }
    }
    // The allowlist holds nothing the generator never uses.
    for (action, _) in claw_spec::iam::STAR_RESOURCE_ALLOWLIST {
        assert!(
            used.contains(&action.to_ascii_lowercase()),
            "{action} is allowlisted but never generated; remove it"
        );
    }
}

#[test]
fn invoke_permissions_are_one_per_route_and_scoped_to_the_api() {
    let config = load("tests/fixtures/variants/jwt.yaml");
    let doc = generate(PolicyKind::Invoke, &config, None).unwrap();
    assert_eq!(doc.statement.len(), 2);
    let sids: std::collections::BTreeSet<_> = doc.statement.iter().map(|s| s.sid.clone()).collect();
    assert_eq!(sids.len(), 2, "duplicate statement ids");
    for st in &doc.statement {
        let arn = &st.condition.as_ref().unwrap()["ArnLike"]["AWS:SourceArn"];
        assert!(
            arn.as_str()
                .unwrap()
                .starts_with("arn:aws:execute-api:us-west-2:123456789012:${ApiId}/*/POST/"),
            "{arn}"
        );
        assert_eq!(
            st.principal.as_ref().unwrap()["Service"],
            "apigateway.amazonaws.com"
        );
    }
}

#[test]
fn trust_policy_is_lambda_only_and_pinned_to_the_account() {
    let doc = generate(PolicyKind::Trust, &load("agent.yaml"), None).unwrap();
    assert_eq!(doc.statement.len(), 1);
    let st = &doc.statement[0];
    assert_eq!(
        st.principal.as_ref().unwrap(),
        &serde_json::json!({"Service": "lambda.amazonaws.com"})
    );
    assert_eq!(st.action, vec!["sts:AssumeRole"]);
    assert_eq!(
        st.condition.as_ref().unwrap()["StringEquals"]["aws:SourceAccount"],
        "123456789012"
    );
}

#[test]
fn deployer_puts_the_role_policy_only_under_the_boundary_and_never_creates_roles() {
    let config = load("agent.yaml");
    let doc = generate(PolicyKind::Deployer, &config, None).unwrap();
    let boundary = claw_spec::Names::new(&config).boundary_arn();
    for st in &doc.statement {
        let grants = |a: &str| st.action.iter().any(|x| x == a);
        if grants("iam:PutRolePolicy") {
            assert_eq!(
                st.condition.as_ref().unwrap()["ArnEquals"]["iam:PermissionsBoundary"],
                boundary.as_str()
            );
        }
        // The deployer may never change the boundary itself, nor remove it from a role.
        for forbidden in [
            "iam:CreatePolicyVersion",
            "iam:DeleteRolePermissionsBoundary",
            "iam:AttachRolePolicy",
            "iam:CreatePolicy",
            "iam:SetDefaultPolicyVersion",
            "iam:CreateRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:DeleteRole",
            "iam:PutRolePermissionsBoundary",
        ] {
            assert!(!grants(forbidden), "deployer grants {forbidden}");
        }
    }
}

#[test]
fn every_tool_kind_has_its_statement() {
    let config = load("tests/fixtures/variants/all-tools.yaml");
    let doc = generate(PolicyKind::Role, &config, None).unwrap();
    let actions: Vec<&str> = doc
        .statement
        .iter()
        .flat_map(|s| s.action.iter().map(|a| a.as_str()))
        .collect();
    for a in [
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "s3:GetObject",
        "s3:PutObject",
        "sqs:SendMessage",
        "lambda:InvokeFunction",
        "events:PutEvents",
        "xray:PutTraceSegments",
        "secretsmanager:GetSecretValue",
    ] {
        assert!(actions.contains(&a), "{a} missing");
    }
    let query = doc
        .statement
        .iter()
        .find(|s| s.sid.as_deref() == Some("ToolListOrders"))
        .unwrap();
    assert_eq!(
        query.resource,
        vec!["arn:aws:dynamodb:ap-southeast-2:123456789012:table/Orders/index/by-customer"]
    );
    let s3 = doc
        .statement
        .iter()
        .find(|s| s.sid.as_deref() == Some("ToolReadDoc"))
        .unwrap();
    assert_eq!(s3.resource, vec!["arn:aws:s3:::acme-docs/policies/*"]);
}

/// The committed lockfile (`policies/<app>-<stage>/`) must match what the root
/// agent.yaml generates; regenerate with `claw policy write`.
#[test]
fn committed_lockfile_is_current() {
    let config = load("agent.yaml");
    let dir = repo()
        .join("policies")
        .join(claw_spec::Names::new(&config).function);
    for kind in PolicyKind::ALL {
        let path = dir.join(kind.file_name());
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run `claw policy write`", path.display()));
        let mut generated =
            serde_json::to_string_pretty(&generate(kind, &config, None).unwrap()).unwrap();
        generated.push('\n');
        assert!(
            committed == generated,
            "{} is stale; run `claw policy write` and commit the result",
            path.display()
        );
    }
}

#[test]
fn every_arn_follows_the_partition_of_the_region() {
    for (region, partition) in [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")] {
        for (_, rel) in CONFIGS {
            let mut config = load(rel);
            config.region = region.to_string();
            for kind in PolicyKind::ALL {
                let text = serde_json::to_string(&generate(kind, &config, None).unwrap()).unwrap();
                assert!(
                    !text.contains("arn:aws:"),
                    "{rel} {} in {region}: {text}",
                    kind.name()
                );
                let arns = text.matches("arn:").count();
                let ours = text.matches(&format!("arn:{partition}:")).count();
                assert_eq!(arns, ours, "{rel} {} in {region}: {text}", kind.name());
                if kind != PolicyKind::Trust {
                    assert!(ours > 0, "{rel} {}: no ARN at all", kind.name());
                }
            }
        }
    }
}

#[test]
fn agent_json_round_trips_every_tool_kind() {
    // The function reads the validated config back from agent.json.
    for (_, rel) in CONFIGS {
        let config = load(rel);
        let json = serde_json::to_string(&config).unwrap();
        let back: Config = serde_json::from_str(&json).unwrap();
        assert_eq!(back, config, "{rel}");
    }
    let all = serde_json::to_value(load("tests/fixtures/variants/all-tools.yaml")).unwrap();
    for tool in all["tools"].as_object().unwrap().values() {
        assert!(
            tool["kind"].is_string() && tool["description"].is_string(),
            "{tool}"
        );
    }
}

/// The plan role reads: no action of its policy changes anything, and it keeps
/// every read the deployer has (so `claw plan` sees what a deploy would see).
#[test]
fn the_plan_policy_holds_only_the_deployers_reads() {
    for (_, rel) in CONFIGS {
        let config = load(rel);
        let plan = generate(PolicyKind::Plan, &config, None).unwrap();
        let deployer = generate(PolicyKind::Deployer, &config, None).unwrap();
        let actions = |d: &claw_spec::iam::PolicyDocument| -> std::collections::BTreeSet<String> {
            d.statement
                .iter()
                .flat_map(|s| s.action.iter().cloned())
                .collect()
        };
        for a in actions(&plan) {
            assert!(
                claw_spec::ci::is_read_action(&a),
                "{rel}: {a} is not a read"
            );
            let verb = a.split(':').nth(1).unwrap();
            for write in [
                "Put", "Create", "Delete", "Update", "Tag", "Untag", "Pass", "Invoke", "Add",
                "Remove", "Set",
            ] {
                assert!(!verb.starts_with(write), "{rel}: {a}");
            }
        }
        let reads: std::collections::BTreeSet<String> = actions(&deployer)
            .into_iter()
            .filter(|a| claw_spec::ci::is_read_action(a))
            .collect();
        assert_eq!(actions(&plan), reads, "{rel}");
        assert!(reads.contains("iam:GetRole") && reads.contains("apigateway:GET"));
    }
}
