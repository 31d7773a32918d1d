//! Arguments shared by several commands, apart from the commands themselves (so
//! commands, the context and the printer can use them without depending on the
//! command list).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use claw_spec::ci::{GithubTrust, Subject};

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Path to agent.yaml.
    #[arg(long, global = true, default_value = "agent.yaml", env = "CLAW_CONFIG")]
    pub config: PathBuf,
    /// Stage to act on; overrides `stage:` in agent.yaml. When agent.yaml has
    /// `stages:`, it must be one of them, and its overrides apply. Without it,
    /// `validate`, `policy write` and `policy diff --against` cover every stage.
    #[arg(long, global = true, env = "CLAW_STAGE")]
    pub stage: Option<String>,
    /// AWS region; overrides `region:` in agent.yaml.
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Output format: `text` for people, `json` for CI (one JSON document on stdout).
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// More detail on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Which package a local run uses (`claw dev`, `claw test`).
#[derive(Debug, Args, Clone)]
pub struct PackageArgs {
    /// Which built package to run; default `function.architecture` (arm64 runs
    /// under qemu-user on x86_64 hosts).
    #[arg(long, value_enum)]
    pub arch: Option<ArchArg>,
    /// Run this zip instead of packaging the current agent.yaml.
    #[arg(long, value_name = "PATH")]
    pub zip: Option<PathBuf>,
    /// Cross-build agent-fn from a claw checkout instead of the prebuilt function
    /// (the default inside a claw checkout).
    #[arg(long, conflicts_with = "zip")]
    pub from_source: bool,
}

/// An architecture on the command line (`build --arch`, `invoke --local --arch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArchArg {
    Arm64,
    #[value(name = "x86_64", alias = "x86-64", alias = "amd64")]
    X86_64,
}

impl From<ArchArg> for claw_spec::model::Architecture {
    fn from(a: ArchArg) -> claw_spec::model::Architecture {
        match a {
            ArchArg::Arm64 => claw_spec::model::Architecture::Arm64,
            ArchArg::X86_64 => claw_spec::model::Architecture::X86_64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// The GitHub repository whose workflows may assume the CI roles.
#[derive(Debug, Clone, clap::Args)]
pub struct GithubArgs {
    /// The repository whose GitHub Actions workflows may deploy (ORG/REPO).
    #[arg(long, value_name = "ORG/REPO")]
    pub github_repo: Option<String>,
    /// Deploys run in this GitHub Environment (default: the stage): the token's
    /// `sub` must be `repo:ORG/REPO:environment:NAME`.
    #[arg(long, value_name = "NAME", conflicts_with = "github_branch")]
    pub github_environment: Option<String>,
    /// Deploys run on this branch, in jobs without an environment, instead: the
    /// token's `sub` must be `repo:ORG/REPO:ref:refs/heads/BRANCH`.
    #[arg(long, value_name = "BRANCH")]
    pub github_branch: Option<String>,
}

impl GithubArgs {
    /// The deployer's trust, when a repository was given.
    pub fn trust(&self, config: &claw_spec::Config) -> anyhow::Result<Option<GithubTrust>> {
        let Some(repo) = &self.github_repo else {
            if self.github_environment.is_some() || self.github_branch.is_some() {
                anyhow::bail!(
                    "--github-environment and --github-branch narrow --github-repo ORG/REPO; pass the repository too"
                );
            }
            return Ok(None);
        };
        let subject = match (&self.github_branch, &self.github_environment) {
            (Some(b), _) => Subject::Branch(b.clone()),
            (None, Some(e)) => Subject::Environment(e.clone()),
            (None, None) => Subject::Environment(config.stage.clone()),
        };
        GithubTrust::new(repo, subject)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("--github-repo/--github-environment/--github-branch: {e}"))
    }
}
