//! The built function on this machine, as `claw invoke --local` and `claw test`
//! run it: the package for the current agent.yaml (or a given zip), Lambda's
//! settings for it, and the started process.

use std::path::{Path, PathBuf};

use claw_spec::Config;
use claw_spec::model::Architecture;

use crate::local::{Launcher, LocalFunction, LocalOptions, LogSink, Package};
use crate::package::{self, BuildParams};

/// Which package runs.
#[derive(Debug, Clone, Default)]
pub struct Which {
    /// This zip, instead of packaging the current agent.yaml.
    pub zip: Option<PathBuf>,
    /// The architecture to package (or expect in `zip`); default `function.architecture`.
    pub arch: Option<Architecture>,
    /// Cross-build agent-fn from a claw checkout instead of the prebuilt function.
    pub from_source: bool,
}

impl From<&crate::args::PackageArgs> for Which {
    fn from(a: &crate::args::PackageArgs) -> Which {
        Which {
            zip: a.zip.clone(),
            arch: a.arch.map(Into::into),
            from_source: a.from_source,
        }
    }
}

/// The package: `which.zip`, else the current agent.yaml packaged now (packaging
/// is incremental: cargo's no-op check from source, nothing with the prebuilt
/// function). Warns when a given zip holds another agent.yaml.
pub fn package(config: &Config, config_path: &Path, which: &Which) -> anyhow::Result<Package> {
    let (zip, expected) = match &which.zip {
        Some(z) => (z.clone(), which.arch),
        None => {
            let params = BuildParams::new(config, config_path, which.arch, which.from_source)?;
            let built = package::ensure_built(&params)?;
            (built.zip_path, Some(built.arch))
        }
    };
    let pkg = Package::open(&zip, expected)?;
    if let Some(packaged) = &pkg.agent_json
        && *packaged != serde_json::to_vec(config)?
    {
        eprintln!(
            "warning: {} holds a different agent.yaml than the current one (or \
             --stage/--region); running it as built. Without --zip, claw packages the \
             current one.",
            zip.display()
        );
    }
    Ok(pkg)
}

/// Lambda's settings for the config, the function's output on stderr; says so
/// when the function will have no AWS credentials and needs them.
pub fn options(config: &Config, needs_aws: bool) -> LocalOptions {
    let mut opts = LocalOptions::from_config(config);
    opts.logs = LogSink::Stderr;
    if needs_aws
        && !opts
            .passthrough
            .iter()
            .any(|(k, _)| k == "AWS_ACCESS_KEY_ID")
    {
        eprintln!(
            "note: no AWS credentials in the environment, so the function cannot call AWS \
             (Secrets Manager, tools). Export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY \
             (e.g. `eval \"$(aws configure export-credentials --format env)\"`)."
        );
    }
    opts
}

/// Sets (or replaces) one variable the function starts with.
pub fn set_env(opts: &mut LocalOptions, name: &str, value: &str) {
    opts.passthrough.retain(|(k, _)| k != name);
    opts.passthrough.push((name.to_string(), value.into()));
}

/// Starts the function and waits for its init, saying when it runs under an
/// emulator. A failed init is reported by the first invocation.
pub fn start(pkg: &Package, opts: &LocalOptions) -> anyhow::Result<LocalFunction> {
    let mut f = LocalFunction::start(pkg, opts)?;
    if let Launcher::Qemu { qemu, .. } = f.launcher() {
        eprintln!(
            "note: running the {} package under {}: durations and memory below are the \
             emulator's, not Lambda's",
            pkg.arch.lambda_name(),
            qemu.display()
        );
    }
    // Init output comes before START, as in Lambda's logs.
    let _ = f.wait_ready();
    Ok(f)
}
