use super::*;
use crate::eval::{Caller, Request, trust_allows};
use crate::lint;

fn names(region: &str) -> Names {
    Names::for_stack("crm-leads", "prod", region, "123456789012")
}

fn env(repo: &str, name: &str) -> GithubTrust {
    GithubTrust::new(repo, Subject::Environment(name.into())).unwrap()
}

/// A GitHub token's web-identity request: its audience and subject claims.
fn token(aud: &str, sub: &str) -> Request {
    Request::new(ASSUME_WITH_WEB_IDENTITY, "")
        .with(&claim_key("aud"), aud)
        .with(&claim_key("sub"), sub)
}

fn github(n: &Names) -> Caller {
    Caller::new("Federated", &n.oidc_provider_arn(GITHUB_OIDC_HOST))
}

#[test]
fn the_trust_names_githubs_provider_the_audience_and_the_subject() {
    let n = names("eu-west-1");
    let doc = trust(&n, &env("acme/agents", "prod"));
    let v = serde_json::to_value(&doc).unwrap();
    assert_eq!(
        v["Statement"][0],
        json!({
            "Sid": "GitHubActionsOidc",
            "Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},
            "Action": ["sts:AssumeRoleWithWebIdentity"],
            "Condition": {"StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": "repo:acme/agents:environment:prod"
            }}
        })
    );
    assert!(
        lint::lint(&doc, true).is_empty(),
        "{:?}",
        lint::lint(&doc, true)
    );
}

#[test]
fn the_provider_arn_follows_the_partition() {
    for (region, partition) in [
        ("cn-north-1", "aws-cn"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-east-1", "aws"),
    ] {
        let doc = trust(&names(region), &env("acme/agents", "prod"));
        let p = doc.statement[0].principal.as_ref().unwrap();
        assert_eq!(
            p["Federated"],
            format!(
                "arn:{partition}:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
            )
        );
    }
}

#[test]
fn subjects_are_githubs_sub_claims() {
    let branch = GithubTrust::new("acme/agents", Subject::Branch("main".into())).unwrap();
    assert_eq!(branch.sub(), "repo:acme/agents:ref:refs/heads/main");
    assert_eq!(
        env("acme/agents", "prod").sub(),
        "repo:acme/agents:environment:prod"
    );
    assert_eq!(
        branch.pull_requests().sub(),
        "repo:acme/agents:pull_request"
    );
}

#[test]
fn bad_repositories_and_subjects_are_refused() {
    for repo in [
        "acme",
        "acme/",
        "/agents",
        "acme/agents/x",
        "acme/*",
        "ac me/agents",
        "../x",
    ] {
        let e = GithubTrust::new(repo, Subject::PullRequest).unwrap_err();
        assert!(e.contains("ORG/REPO"), "{repo}: {e}");
    }
    for bad in ["", "*", "prod*", "a:b", "a b"] {
        assert!(GithubTrust::new("acme/agents", Subject::Environment(bad.into())).is_err());
        assert!(GithubTrust::new("acme/agents", Subject::Branch(bad.into())).is_err());
    }
}

#[test]
fn an_environment_trust_admits_only_that_environment_of_that_repository() {
    let n = names("eu-west-1");
    let doc = trust(&n, &env("acme/agents", "prod"));
    let gh = github(&n);
    assert!(trust_allows(
        &doc,
        &gh,
        &token("sts.amazonaws.com", "repo:acme/agents:environment:prod")
    ));
    for sub in [
        "repo:acme/other:environment:prod",
        "repo:evil/agents:environment:prod",
        "repo:acme/agents:environment:dev",
        "repo:acme/agents:ref:refs/heads/main",
        "repo:acme/agents:pull_request",
        "repo:acme/agents:environment:prod-2",
        "repo:acme/agents:environment:*",
    ] {
        assert!(
            !trust_allows(&doc, &gh, &token("sts.amazonaws.com", sub)),
            "{sub}"
        );
    }
    // A token for another audience, a token without `sub`, another provider.
    assert!(!trust_allows(
        &doc,
        &gh,
        &token(
            "https://github.com/acme",
            "repo:acme/agents:environment:prod"
        )
    ));
    let no_sub =
        Request::new(ASSUME_WITH_WEB_IDENTITY, "").with(&claim_key("aud"), "sts.amazonaws.com");
    assert!(!trust_allows(&doc, &gh, &no_sub));
    let other = Caller::new(
        "Federated",
        "arn:aws:iam::123456789012:oidc-provider/gitlab.com",
    );
    assert!(!trust_allows(
        &doc,
        &other,
        &token("sts.amazonaws.com", "repo:acme/agents:environment:prod")
    ));
    // Plain AssumeRole is not what the trust allows.
    let plain = Request::new("sts:AssumeRole", "")
        .with(&claim_key("aud"), "sts.amazonaws.com")
        .with(&claim_key("sub"), "repo:acme/agents:environment:prod");
    assert!(!trust_allows(&doc, &gh, &plain));
}

#[test]
fn a_branch_trust_refuses_other_branches_repositories_and_pull_requests() {
    let n = names("eu-west-1");
    let branch = GithubTrust::new("acme/agents", Subject::Branch("main".into())).unwrap();
    let doc = trust(&n, &branch);
    let gh = github(&n);
    assert!(trust_allows(
        &doc,
        &gh,
        &token("sts.amazonaws.com", "repo:acme/agents:ref:refs/heads/main")
    ));
    for sub in [
        "repo:acme/agents:ref:refs/heads/feature",
        "repo:acme/agents:ref:refs/heads/main-x",
        "repo:acme/other:ref:refs/heads/main",
        "repo:acme/agents:pull_request",
        "repo:acme/agents:ref:refs/tags/main",
    ] {
        assert!(
            !trust_allows(&doc, &gh, &token("sts.amazonaws.com", sub)),
            "{sub}"
        );
    }
}

#[test]
fn the_plan_trust_admits_pull_requests_of_the_repository_only() {
    let n = names("eu-west-1");
    let doc = trust(&n, &env("acme/agents", "prod").pull_requests());
    let gh = github(&n);
    assert!(trust_allows(
        &doc,
        &gh,
        &token("sts.amazonaws.com", "repo:acme/agents:pull_request")
    ));
    assert!(!trust_allows(
        &doc,
        &gh,
        &token("sts.amazonaws.com", "repo:fork/agents:pull_request")
    ));
    assert!(!trust_allows(
        &doc,
        &gh,
        &token("sts.amazonaws.com", "repo:acme/agents:environment:prod")
    ));
}

#[test]
fn read_actions() {
    for a in [
        "iam:GetRole",
        "lambda:ListTags",
        "logs:DescribeLogGroups",
        "apigateway:GET",
        "sts:GetCallerIdentity",
    ] {
        assert!(is_read_action(a), "{a}");
    }
    for a in [
        "iam:PutRolePolicy",
        "iam:PassRole",
        "lambda:InvokeFunction",
        "lambda:UpdateFunctionCode",
        "apigateway:POST",
        "apigateway:PATCH",
        "logs:GetLogEvents",
        "logs:FilterLogEvents",
        "logs:PutLogEvents",
        "getrole",
    ] {
        assert!(!is_read_action(a), "{a}");
    }
}
