//! The CI side of a stack: who may deploy it from GitHub Actions, and with what.
//!
//! `claw bootstrap` makes two roles for one repository: the deployer
//! (`{app}-{stage}-deployer`, the deployer policy) and, optionally, a read-only
//! plan role (`{app}-{stage}-plan`) for pull requests. Both trust only GitHub's
//! OIDC tokens for that repository, narrowed by the token's `sub` claim: without a
//! `sub` condition any repository on GitHub could assume the role
//! (configure-aws-credentials README, "Sample IAM OIDC CloudFormation Template";
//! GitHub Docs, "OpenID Connect reference"). Both conditions use `StringEquals`:
//! a `StringLike` pattern is the usual way such a trust admits too much.

use serde_json::json;

use crate::iam::{PolicyDocument, Statement};
use crate::names::Names;

/// The issuer host of GitHub Actions' OIDC tokens; IAM names the provider by it.
pub const GITHUB_OIDC_HOST: &str = "token.actions.githubusercontent.com";

/// The issuer URL, as `CreateOpenIDConnectProvider` takes it.
pub const GITHUB_OIDC_URL: &str = "https://token.actions.githubusercontent.com";

/// The audience (`aud`, the provider's client id) configure-aws-credentials asks
/// GitHub for by default.
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";

/// The action a web-identity trust allows.
pub const ASSUME_WITH_WEB_IDENTITY: &str = "sts:AssumeRoleWithWebIdentity";

/// The CI trust was asked for without the GitHub repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsRepository;

impl std::fmt::Display for NeedsRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the ci-trust policy names the GitHub repository whose workflows may deploy; pass --github-repo ORG/REPO")
    }
}

impl std::error::Error for NeedsRepository {}

/// Which workflow runs of the repository may assume a role: the token's `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// Jobs that run in a GitHub Environment (`repo:ORG/REPO:environment:NAME`):
    /// the environment's protection rules (reviewers, branches) then gate deploys.
    Environment(String),
    /// Jobs on one branch without an environment
    /// (`repo:ORG/REPO:ref:refs/heads/BRANCH`); a job that names an environment
    /// carries the environment subject instead.
    Branch(String),
    /// Pull-request workflows (`repo:ORG/REPO:pull_request`): the plan role.
    PullRequest,
}

/// One repository's workflows, narrowed to a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubTrust {
    /// `ORG/REPO`.
    pub repo: String,
    pub subject: Subject,
}

impl GithubTrust {
    /// Checks `ORG/REPO` (GitHub's owner and repository name characters: letters,
    /// digits, `-`, `_`, `.`) and builds the trust.
    pub fn new(repo: &str, subject: Subject) -> Result<GithubTrust, String> {
        check_repo(repo)?;
        let value = match &subject {
            Subject::Environment(v) => Some(("environment", v)),
            Subject::Branch(v) => Some(("branch", v)),
            Subject::PullRequest => None,
        };
        if let Some((what, v)) = value
            && (v.is_empty() || v.chars().any(|c| c.is_whitespace() || "*?:".contains(c)))
        {
            return Err(format!(
                "the GitHub {what} `{v}` is empty or holds a space, `*`, `?` or `:`; name one {what} exactly"
            ));
        }
        Ok(GithubTrust {
            repo: repo.to_string(),
            subject,
        })
    }

    /// The same repository, for pull requests (the plan role).
    pub fn pull_requests(&self) -> GithubTrust {
        GithubTrust {
            repo: self.repo.clone(),
            subject: Subject::PullRequest,
        }
    }

    /// The `sub` claim GitHub puts in this subject's tokens.
    pub fn sub(&self) -> String {
        let repo = &self.repo;
        match &self.subject {
            Subject::Environment(env) => format!("repo:{repo}:environment:{env}"),
            Subject::Branch(branch) => format!("repo:{repo}:ref:refs/heads/{branch}"),
            Subject::PullRequest => format!("repo:{repo}:pull_request"),
        }
    }
}

fn check_repo(repo: &str) -> Result<(), String> {
    let ok_part = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    match repo.split_once('/') {
        Some((org, name)) if ok_part(org) && ok_part(name) => Ok(()),
        _ => Err(format!(
            "`{repo}` is not a GitHub repository; give it as ORG/REPO (such as acme/agents)"
        )),
    }
}

/// The condition key of a claim in GitHub's tokens (`token.actions.githubusercontent.com:sub`).
pub fn claim_key(claim: &str) -> String {
    format!("{GITHUB_OIDC_HOST}:{claim}")
}

/// The trust policy of a CI role: GitHub's OIDC provider in this account, for
/// tokens meant for STS whose `sub` is exactly the given subject.
pub fn trust(names: &Names, github: &GithubTrust) -> PolicyDocument {
    let mut st = Statement::allow("GitHubActionsOidc", &[ASSUME_WITH_WEB_IDENTITY], Vec::new())
        .principal(json!({"Federated": names.oidc_provider_arn(GITHUB_OIDC_HOST)}))
        .when("StringEquals", &claim_key("aud"), json!(STS_AUDIENCE))
        .when("StringEquals", &claim_key("sub"), json!(github.sub()));
    st.resource.clear();
    PolicyDocument::new(vec![st])
}

/// Whether an action only reads: `Get*`, `List*`, `Describe*`, and API Gateway's
/// `GET` (its management API is authorized by HTTP method). The reads of log
/// *contents* (`logs:GetLogEvents`) are not the plan's: they hold the agent's
/// conversations, and `claw plan` never reads them.
pub fn is_read_action(action: &str) -> bool {
    let Some((service, verb)) = action.split_once(':') else {
        return false;
    };
    if service.eq_ignore_ascii_case("apigateway") {
        return verb == "GET";
    }
    if action.eq_ignore_ascii_case("logs:GetLogEvents") {
        return false;
    }
    ["Get", "List", "Describe"]
        .iter()
        .any(|p| verb.starts_with(p))
}

/// What the plan role needs: the deployer's statements with only their read
/// actions, on the same resources and conditions (a statement left with no
/// action is dropped). `claw plan`, `claw validate` and `claw policy diff` read
/// exactly what a deploy reads before it changes anything.
pub fn plan_policy(deployer: &PolicyDocument) -> PolicyDocument {
    let statements = deployer
        .statement
        .iter()
        .filter_map(|st| {
            let reads: Vec<String> = st
                .action
                .iter()
                .filter(|a| is_read_action(a))
                .cloned()
                .collect();
            (!reads.is_empty()).then(|| Statement {
                action: reads,
                ..st.clone()
            })
        })
        .collect();
    PolicyDocument::new(statements)
}

#[cfg(test)]
mod tests;
