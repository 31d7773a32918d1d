//! `claw bootstrap`'s provisioning: what an administrator makes once per account
//! and stage so that CI never decides who may assume the execution role. In
//! order: the permissions boundary and the execution role (through their
//! resource modules, exactly as a deploy makes them, so a deploy adopts them),
//! GitHub's OIDC provider when the account has none, the deployer role and,
//! optionally, the read-only plan role.

pub mod ci_role;
pub mod oidc;

use claw_spec::ci::GithubTrust;
use claw_spec::policy;

use super::Aws;
use super::plan::Plan;
use super::progress::ApplyProgress;
use super::resources::{Ctx, boundary, role};
use super::target::Target;

/// What bootstrap wants besides the stack's own IAM: the repository whose
/// workflows deploy, and whether pull requests get a plan role.
#[derive(Debug, Clone)]
pub struct CiTarget {
    pub github: GithubTrust,
    pub plan_role: bool,
}

impl CiTarget {
    /// The CI roles: the deployer, then the plan role when asked for.
    pub fn roles(&self, t: &Target) -> Vec<ci_role::Desired> {
        let n = &t.names;
        let deployer = policy::deployer(&t.config, n);
        let mut out = vec![ci_role::Desired {
            name: n.deployer_role.clone(),
            arn: n.iam_role_arn(&n.deployer_role),
            policy_name: "claw-deployer".into(),
            kind: "deployer",
            description: format!(
                "claw: deploys {} from GitHub Actions ({})",
                n.function,
                self.github.sub()
            ),
            trust: claw_spec::ci::trust(n, &self.github),
            policy: deployer.clone(),
        }];
        if self.plan_role {
            let prs = self.github.pull_requests();
            out.push(ci_role::Desired {
                name: n.plan_role.clone(),
                arn: n.iam_role_arn(&n.plan_role),
                policy_name: "claw-plan".into(),
                kind: "plan",
                description: format!(
                    "claw: plans {} for pull requests ({})",
                    n.function,
                    prs.sub()
                ),
                trust: claw_spec::ci::trust(n, &prs),
                policy: claw_spec::ci::plan_policy(&deployer),
            });
        }
        out
    }
}

/// Everything bootstrap reads.
#[derive(Debug, Clone)]
pub struct Found {
    pub boundary: Option<boundary::Live>,
    pub role: Option<role::Live>,
    pub provider: oidc::Live,
    /// One per [`CiTarget::roles`], in that order.
    pub ci_roles: Vec<Option<ci_role::Live>>,
}

pub async fn read(aws: &Aws, t: &Target, ci: &CiTarget) -> anyhow::Result<Found> {
    let roles = ci.roles(t);
    let (boundary, role, provider, ci_roles) = futures::try_join!(
        boundary::read(aws, t),
        role::read(aws, t),
        oidc::read(aws, t),
        futures::future::try_join_all(roles.iter().map(|r| ci_role::read(aws, r))),
    )?;
    Ok(Found {
        boundary,
        role,
        provider,
        ci_roles,
    })
}

/// The pure plan, in the order apply follows.
pub fn plan(t: &Target, ci: &CiTarget, found: &Found) -> Plan {
    let mut p = Plan::for_target(t);
    boundary::plan(t, &found.boundary, &mut p);
    role::plan(t, &found.role, &mut p);
    oidc::plan(&found.provider, &mut p);
    for (want, live) in ci.roles(t).iter().zip(&found.ci_roles) {
        ci_role::plan(t, want, live, &mut p);
    }
    p
}

/// The ARNs a CI workflow needs (`role-to-assume`) and the provider's.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Arns {
    pub deployer_role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_role: Option<String>,
    pub execution_role: String,
    pub oidc_provider: String,
}

/// The ARNs, from the names (what apply made or found under them).
pub fn arns(t: &Target, ci: &CiTarget, provider: Option<String>) -> Arns {
    let roles = ci.roles(t);
    Arns {
        deployer_role: roles[0].arn.clone(),
        plan_role: roles.get(1).map(|r| r.arn.clone()),
        execution_role: t.names.role_arn(),
        oidc_provider: provider.unwrap_or_else(|| oidc::arn(t)),
    }
}

/// Applies the plan: the boundary before the role it bounds, the provider before
/// the roles that trust it.
pub async fn apply(
    aws: &Aws,
    t: &Target,
    ci: &CiTarget,
    found: &Found,
    plan: &Plan,
    progress: &ApplyProgress,
) -> anyhow::Result<Arns> {
    let cx = Ctx {
        aws,
        target: t,
        progress,
    };
    boundary::apply(&cx, &found.boundary, plan).await?;
    role::apply(&cx, &found.role, plan).await?;
    let provider = oidc::apply(aws, t, progress, plan).await?;
    for (want, live) in ci.roles(t).iter().zip(&found.ci_roles) {
        ci_role::apply(aws, t, progress, want, live, plan).await?;
    }
    Ok(arns(t, ci, Some(provider)))
}

#[cfg(test)]
mod tests;
