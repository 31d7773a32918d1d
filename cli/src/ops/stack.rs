//! Reading and planning the stack of one app and stage, for plan, deploy,
//! destroy and policy diff: from an already loaded config, never from the file.

use anyhow::Context as _;
use claw_spec::Config;

use crate::aws::Aws;
use crate::aws::plan::Plan;
use crate::aws::stack::{self, Live};
use crate::aws::target::Target;
use crate::package::Code;

/// A stack read from AWS and planned against the config.
pub struct Planned {
    pub aws: Aws,
    pub target: Target,
    pub live: Live,
    pub plan: Plan,
}

/// Reads the live stack and checks the credentials' account.
pub async fn read(config: Config, code: Option<Code>) -> anyhow::Result<(Aws, Target, Live)> {
    let target = Target::new(config, code);
    let aws = Aws::new(&target.config.region).await;
    let live = stack::read(&aws, &target).await?;
    stack::check_account(&target, &live)?;
    Ok((aws, target, live))
}

/// Reads the live stack, checks the credentials' account, and plans it.
pub async fn read_and_plan(config: Config, code: Option<Code>) -> anyhow::Result<Planned> {
    let (aws, target, live) = read(config, code).await?;
    let plan = stack::plan(&target, &live);
    Ok(Planned {
        aws,
        target,
        live,
        plan,
    })
}

impl Planned {
    /// The same live state planned with the package to deploy (read once, before
    /// the build; the deploy reads again under its lock before applying).
    pub fn with_code(self, code: Code) -> Planned {
        let target = Target::new(self.target.config, Some(code));
        let plan = stack::plan(&target, &self.live);
        Planned {
            target,
            plan,
            ..self
        }
    }
}

/// The package `claw plan` compares with the function's code. With the prebuilt
/// function that is the current agent.yaml packaged now (a second, and a changed
/// prompt shows in the plan); in a claw checkout it is the package `claw build`
/// (or an earlier deploy) last wrote, since a cross-build would cost minutes. No
/// package is not an error: the plan then says the code was not compared.
pub async fn package_to_compare(
    config: &Config,
    config_path: &std::path::Path,
) -> anyhow::Result<Option<Code>> {
    use crate::package::Source;
    match Source::choose(config_path, false) {
        Ok(Source::Prebuilt { .. }) => package(PackageRequest {
            config,
            config_path,
            from_source: false,
            verbose: false,
        })
        .await
        .map(Some),
        _ => match crate::package::existing(config, config_path, config.function.architecture) {
            Ok((zip, _manifest)) => Code::from_zip(&zip).map(Some),
            Err(_) => Ok(None),
        },
    }
}

/// What a deploy builds its package from.
pub struct PackageRequest<'a> {
    pub config: &'a Config,
    pub config_path: &'a std::path::Path,
    /// `--from-source`: cross-build even where the prebuilt function would do.
    pub from_source: bool,
    pub verbose: bool,
}

/// Builds the package to deploy (incremental: an unchanged function costs cargo's
/// no-op check, or nothing with the prebuilt function, and the zip is rewritten
/// only when its inputs change).
pub async fn package(req: PackageRequest<'_>) -> anyhow::Result<Code> {
    let mut params =
        crate::package::BuildParams::new(req.config, req.config_path, None, req.from_source)?;
    params.progress = crate::package::BuildProgress::Auto;
    params.verbose = req.verbose;
    let out = tokio::task::spawn_blocking(move || crate::package::ensure_built(&params))
        .await
        .context("the build task panicked")??;
    let code = Code::from_zip(&out.zip_path)?;
    if code.sha256 != out.code_sha256 {
        anyhow::bail!(
            "{} changed while deploying (CodeSha256 {} after the build, {} now); run claw deploy again",
            out.zip_path.display(),
            out.code_sha256,
            code.sha256
        );
    }
    Ok(code)
}
