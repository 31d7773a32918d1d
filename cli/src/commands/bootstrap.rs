//! `claw bootstrap`: the administrator's step, once per account and stage.

use serde::Serialize;

use crate::args::GithubArgs;
use crate::aws::bootstrap::{self, Arns, CiTarget};
use crate::aws::plan::Plan;
use crate::aws::progress::ApplyProgress;
use crate::aws::target::Target;
use crate::context::Context;
use crate::ops::approve::{self, Ask};
use crate::report::{CliError, Report};

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Who runs it: an administrator, with credentials that may create IAM roles and policies
(not the CI role: the deployer policy cannot create roles or change who may assume them).

When: once per account and stage before the first CI deploy, and again when agent.yaml
changes the permissions boundary (a new tool, secret, VPC or async mode), when the
repository, environment or branch changes, or when the deployer policy grows (a new
claw version or resource kind). A second run with nothing to do changes nothing.

What it creates, tagged claw:app/claw:stage like every claw resource:
  policy/claw/{app}-{stage}-boundary   the execution role's permissions boundary
  role/claw/{app}-{stage}-exec         the function's execution role, trusted by Lambda only
  oidc-provider/token.actions.githubusercontent.com
                                       GitHub's OIDC provider, only if the account has none
                                       (one it finds is used as it is, never changed)
  role/claw/{app}-{stage}-deployer     `claw policy show --kind deployer` as an inline
                                       policy; trusted by --github-repo's workflows only
                                       (`claw policy show --kind ci-trust`)
  role/claw/{app}-{stage}-plan         with --plan-role: `claw policy show --kind plan`,
                                       for pull requests (repo:ORG/REPO:pull_request)

Then, in GitHub Actions (permissions: id-token: write), aws-actions/configure-aws-credentials
with role-to-assume: the deployer role's ARN runs `claw deploy`.

Example:
  claw bootstrap --github-repo acme/agents --github-environment prod --plan-role")]
pub struct Args {
    #[command(flatten)]
    pub github: GithubArgs,
    /// Also make the read-only plan role for pull requests.
    #[arg(long)]
    pub plan_role: bool,
    /// Apply without asking (required without a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// The JSON document of a bootstrap.
#[derive(Serialize)]
struct BootstrapReport {
    plan: Plan,
    changed: bool,
    arns: Arns,
}

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Report> {
    let out = ctx.out;
    let loaded = ctx.load()?;
    let Some(github) = args.github.trust(&loaded.config)? else {
        anyhow::bail!(
            "claw bootstrap needs --github-repo ORG/REPO: the repository whose GitHub Actions workflows may assume the deployer role"
        );
    };
    let ci = CiTarget {
        github,
        plan_role: args.plan_role,
    };
    // Refuses credentials for another account than agent.yaml's.
    let aws = crate::ops::account::connect(&loaded.config).await?;
    let target = Target::new(loaded.config, None);
    let found = bootstrap::read(&aws, &target, &ci).await?;
    let plan = bootstrap::plan(&target, &ci, &found);
    out.text(plan.render());
    if !plan.blockers.is_empty() {
        return Err(CliError::refused(
            format!(
                "bootstrap refused: {} problem{} to fix first:\n  {}",
                plan.blockers.len(),
                if plan.blockers.len() == 1 { "" } else { "s" },
                plan.blockers.join("\n  ")
            ),
            serde_json::json!({ "plan": plan }),
        )
        .into());
    }
    let changed = plan.has_changes();
    let arns = if !changed {
        out.line("No changes: the account is bootstrapped for this stage.");
        bootstrap::arns(&target, &ci, found.provider.found.clone().map(|(a, _)| a))
    } else {
        if !args.yes {
            approve::require(
                &Ask {
                    question: "Create or update these IAM resources?",
                    no_terminal: "bootstrap creates or changes the IAM resources above; nothing was changed. Re-run with --yes to approve, or on a terminal to be asked",
                    declined: "not approved; nothing was changed",
                },
                serde_json::json!({ "plan": plan }),
            )?;
        }
        out.line("\nApplying:");
        let progress = ApplyProgress::new(out.is_json());
        bootstrap::apply(&aws, &target, &ci, &found, &plan, &progress)
            .await
            .map_err(|e| {
                e.context("bootstrap stopped part-way; what was applied is in place: run `claw bootstrap` again to finish")
            })?
    };
    out.line("");
    out.line(format_args!("Deployer role:  {}", arns.deployer_role));
    if let Some(p) = &arns.plan_role {
        out.line(format_args!("Plan role:      {p}"));
    }
    out.line(format_args!("Execution role: {}", arns.execution_role));
    out.line(format_args!("OIDC provider:  {}", arns.oidc_provider));
    Ok(Report::new(BootstrapReport {
        plan,
        changed,
        arns,
    }))
}
