//! Drift: what was added by hand to claw's resources shows in the plan and in
//! `policy diff`, and goes only with approval.

use crate::support::{Env, parse_doc, same_doc};

/// Statements added by hand (an invoke permission and a role policy
/// statement) show as drift; deploy removes them only with approval.
#[tokio::test(flavor = "multi_thread")]
async fn hand_added_statements_are_drift_removed_after_approval() {
    let env = Env::with_secrets();
    let aws = env.aws().await;
    env.deploy().ok();
    let n = env.names();

    aws.lambda
        .add_permission()
        .function_name(&n.function)
        .statement_id("hand-added-s3")
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .source_arn("arn:aws:s3:::some-bucket")
        .send()
        .await
        .unwrap();
    let iam = &aws.iam;
    let current = iam
        .get_role_policy()
        .role_name(&n.role)
        .policy_name(&n.role_policy)
        .send()
        .await
        .unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_str(&claw_testkit::iam::decode(&current.policy_document)).unwrap();
    doc["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "Sid": "HandAdded",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::some-bucket/*"
        }));
    iam.put_role_policy()
        .role_name(&n.role)
        .policy_name(&n.role_policy)
        .policy_document(doc.to_string())
        .send()
        .await
        .unwrap();

    // The plan names both, as removals; the foreign statement as drift.
    let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    let security: Vec<&str> = plan
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("- "))
        .collect();
    assert!(
        security
            .iter()
            .any(|l| l.contains("s3:GetObject on arn:aws:s3:::some-bucket/*")),
        "{}",
        plan.stdout
    );
    assert!(
        security.iter().any(|l| l.contains("hand-added-s3")
            && l.contains("s3.amazonaws.com")
            && l.contains("(added outside claw)")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("- delete     invoke permission     hand-added-s3"),
        "{}",
        plan.stdout
    );

    // `claw policy diff` against the deployed stack names both and exits 2.
    let diff = env.claw(&["policy", "diff"]);
    assert_eq!(diff.code, 2, "{}\n{}", diff.stdout, diff.stderr);
    assert!(
        diff.stdout
            .contains("s3:GetObject on arn:aws:s3:::some-bucket/*"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout.contains("s3.amazonaws.com"),
        "the hand-added invoke permission is named: {}",
        diff.stdout
    );

    // Without a terminal and without --yes, deploy stops and changes nothing.
    let mut refused = None;
    let mutations = env.mutations_during(|| {
        refused = Some(env.claw(&["deploy", "--zip", &env.zip_arg()]));
    });
    let refused = refused.unwrap();
    assert_eq!(refused.code, 1, "{}\n{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(mutations.is_empty(), "{mutations:?}");

    // Approved: both are gone, claw's own statement stays.
    env.deploy().ok();
    let st = aws.permission_statements(&n.function).await;
    let sids: Vec<&str> = st.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
    assert_eq!(sids, ["claw-apigw-POST-agents-agent"]);
    let after = iam
        .get_role_policy()
        .role_name(&n.role)
        .policy_name(&n.role_policy)
        .send()
        .await
        .unwrap();
    same_doc(
        &parse_doc(&after.policy_document),
        &claw_spec::policy::role(&env.config(), &n),
        "role policy after deploy",
    );
    let plan = env.claw(&["plan", "--detailed-exitcode", "--zip", &env.zip_arg()]);
    assert_eq!(plan.code, 0, "{}", plan.stdout);
    let diff = env.claw(&["policy", "diff"]);
    assert_eq!(diff.code, 0, "{}\n{}", diff.stdout, diff.stderr);
}
