//! `claw bootstrap`, the administrator's step: it makes the boundary, the
//! execution role, GitHub's OIDC provider and the CI roles; a second run changes
//! nothing; a deploy afterwards adopts the role and boundary; a provider the
//! account already has is used as it is.

use claw_spec::ci::{self, GITHUB_OIDC_HOST, GITHUB_OIDC_URL, GithubTrust, STS_AUDIENCE, Subject};
use claw_spec::policy::{self, PolicyKind};
use claw_testkit::snapshot::stack_tags;

use crate::support::{Env, parse_doc, same_doc};

fn bootstrap(env: &Env, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "bootstrap",
        "--github-repo",
        "acme/agents",
        "--yes",
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    env.claw(&args).ok().json()
}

/// A role's trust, inline policy (by name), boundary and tags, read with the SDK.
async fn role(
    aws: &crate::support::Aws,
    name: &str,
    policy: &str,
) -> (
    aws_sdk_iam::types::Role,
    claw_spec::iam::PolicyDocument,
    claw_spec::iam::PolicyDocument,
) {
    let r = aws
        .iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetRole {name}: {e:?}"))
        .role
        .unwrap();
    let trust = parse_doc(r.assume_role_policy_document.as_deref().unwrap());
    let inline = aws
        .iam
        .get_role_policy()
        .role_name(name)
        .policy_name(policy)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetRolePolicy {name} {policy}: {e:?}"));
    (r, trust, parse_doc(&inline.policy_document))
}

fn tags(r: &aws_sdk_iam::types::Role) -> std::collections::BTreeMap<String, String> {
    r.tags()
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_creates_the_ci_roles_then_changes_nothing_and_deploy_adopts() {
    let env = Env::with_secrets();
    let config = env.config();
    let n = env.names();
    let out = bootstrap(&env, &["--plan-role"]);
    assert_eq!(out["ok"], true, "{out:#}");
    assert_eq!(out["changed"], true);
    let provider_arn = n.oidc_provider_arn(GITHUB_OIDC_HOST);
    assert_eq!(out["arns"]["oidc_provider"], provider_arn.as_str());
    assert_eq!(
        out["arns"]["deployer_role"],
        n.iam_role_arn(&n.deployer_role).as_str()
    );
    assert_eq!(
        out["arns"]["plan_role"],
        n.iam_role_arn(&n.plan_role).as_str()
    );
    assert_eq!(out["arns"]["execution_role"], n.role_arn().as_str());

    let aws = env.aws().await;
    // The provider: GitHub's issuer, for STS.
    let p = aws
        .iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&provider_arn)
        .send()
        .await
        .expect("the OIDC provider exists");
    assert_eq!(p.client_id_list(), [STS_AUDIENCE]);
    assert!(GITHUB_OIDC_URL.ends_with(p.url().unwrap_or_default().trim_start_matches("https://")));

    // The deployer: the deployer policy, inline; trusted by the repository's
    // `dev` environment (the stage) only.
    let stack = stack_tags(&config);
    let (r, trust, inline) = role(&aws, &n.deployer_role, "claw-deployer").await;
    assert_eq!(r.path, "/claw/");
    assert_eq!(tags(&r), stack);
    let env_trust = GithubTrust::new("acme/agents", Subject::Environment("dev".into())).unwrap();
    same_doc(&trust, &ci::trust(&n, &env_trust), "deployer trust");
    same_doc(
        &inline,
        &policy::generate(PolicyKind::Deployer, &config, None).unwrap(),
        "deployer policy",
    );
    let ci_trust_text = env
        .claw(&[
            "policy",
            "show",
            "--kind",
            "ci-trust",
            "--github-repo",
            "acme/agents",
        ])
        .ok()
        .stdout;
    same_doc(
        &trust,
        &serde_json::from_str(&ci_trust_text).unwrap(),
        "`claw policy show --kind ci-trust`",
    );
    // The plan role: reads only, for pull requests.
    let (r, trust, inline) = role(&aws, &n.plan_role, "claw-plan").await;
    assert_eq!(tags(&r), stack);
    same_doc(
        &trust,
        &ci::trust(&n, &env_trust.pull_requests()),
        "plan trust",
    );
    same_doc(
        &inline,
        &policy::generate(PolicyKind::Plan, &config, None).unwrap(),
        "plan policy",
    );
    // The execution role and its boundary, as deploy makes them.
    let (r, trust, inline) = role(&aws, &n.role, &n.role_policy).await;
    assert_eq!(
        r.permissions_boundary
            .clone()
            .and_then(|b| b.permissions_boundary_arn)
            .as_deref(),
        Some(n.boundary_arn().as_str())
    );
    assert_eq!(tags(&r), stack);
    same_doc(&trust, &policy::trust(&n), "execution role trust");
    same_doc(&inline, &policy::role(&config, &n), "execution role policy");
    aws.iam
        .get_policy()
        .policy_arn(n.boundary_arn())
        .send()
        .await
        .expect("the boundary exists");

    // Again: nothing to do, no mutating call.
    let mut again = None;
    let mutations = env.mutations_during(|| again = Some(bootstrap(&env, &["--plan-role"])));
    let again = again.unwrap();
    assert_eq!(again["changed"], false, "{again:#}");
    let listed: Vec<String> = mutations.iter().map(|c| c.to_string()).collect();
    assert!(listed.is_empty(), "a second bootstrap changed: {listed:?}");

    // A deploy adopts the role and boundary: it creates the rest and does not
    // touch them.
    let deploy = env.claw(&[
        "deploy",
        "--yes",
        "--output",
        "json",
        "--zip",
        &env.zip_arg(),
    ]);
    let plan = deploy.ok().json();
    for c in plan["plan"]["changes"].as_array().unwrap() {
        if c["kind"] == "role" || c["kind"] == "boundary" {
            assert_eq!(c["action"], "no_change", "{c:#}");
        }
    }
    assert!(aws.function_exists(&n.function).await);
    let second = env.deploy().ok();
    assert!(second.stdout.contains("No changes."), "{}", second.stdout);
}

/// A provider the account already has (made by someone else, with its own
/// audiences) is used as it is: never changed, never tagged.
#[tokio::test(flavor = "multi_thread")]
async fn an_existing_oidc_provider_is_reused_untouched() {
    let env = Env::with_secrets();
    let n = env.names();
    let aws = env.aws().await;
    let made = aws
        .iam
        .create_open_id_connect_provider()
        .url(GITHUB_OIDC_URL)
        .client_id_list(STS_AUDIENCE)
        .client_id_list("https://github.com/acme")
        .thumbprint_list("1111111111111111111111111111111111111111")
        .send()
        .await
        .expect("CreateOpenIDConnectProvider");
    let arn = made.open_id_connect_provider_arn.unwrap();
    let out = bootstrap(&env, &["--github-branch", "main"]);
    assert_eq!(out["arns"]["oidc_provider"], arn.as_str(), "{out:#}");
    let p = aws
        .iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(p.client_id_list().len(), 2);
    assert_eq!(
        p.thumbprint_list(),
        ["1111111111111111111111111111111111111111"]
    );
    assert!(p.tags().is_empty(), "{:?}", p.tags());
    let (_, trust, _) = role(&aws, &n.deployer_role, "claw-deployer").await;
    let branch = GithubTrust::new("acme/agents", Subject::Branch("main".into())).unwrap();
    same_doc(&trust, &ci::trust(&n, &branch), "deployer trust");
    assert!(
        aws.iam
            .get_role()
            .role_name(&n.plan_role)
            .send()
            .await
            .is_err(),
        "no plan role without --plan-role"
    );
}

/// Without a terminal and without --yes, nothing is created; without
/// --github-repo, a clear error.
#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_refuses_without_approval_or_repository() {
    let env = Env::with_secrets();
    let out = env.claw(&["bootstrap", "--github-repo", "acme/agents"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    let aws = env.aws().await;
    assert!(
        aws.iam
            .get_role()
            .role_name(&env.names().deployer_role)
            .send()
            .await
            .is_err()
    );
    let out = env.claw(&["bootstrap", "--yes"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("--github-repo ORG/REPO"),
        "{}",
        out.stderr
    );
}
