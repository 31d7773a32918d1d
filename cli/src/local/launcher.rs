//! How the function is launched: Lambda's settings for it ([`LocalOptions`]), the
//! few variables passed through from claw's environment, and whether the host runs
//! the bootstrap itself or through qemu-user ([`Launcher`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use claw_spec::model::Architecture;
use claw_spec::{Config, Names};

/// Environment variables passed from claw's own environment to the function, as
/// Lambda passes the execution role's credentials. Nothing else is inherited.
pub const PASSTHROUGH_ENV: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "ANTHROPIC_BASE_URL",
];

/// Service-specific endpoint overrides (`AWS_ENDPOINT_URL_DYNAMODB`, …) pass too.
const PASSTHROUGH_PREFIX: &str = "AWS_ENDPOINT_URL_";

/// Where the function's own stdout and stderr go.
#[derive(Debug, Clone, Default)]
pub enum LogSink {
    /// To claw's stderr, line by line, as written.
    #[default]
    Stderr,
    /// Kept in memory; read them with [`LocalFunction::logs`](super::LocalFunction::logs).
    Capture,
    /// Dropped.
    Discard,
    /// Sent, line by line as written, to a receiver that reads them while the
    /// function runs (`claw dev` follows the audit line of each request).
    Channel(std::sync::mpsc::Sender<String>),
}

/// How to run the function: Lambda's settings for it.
#[derive(Debug, Clone)]
pub struct LocalOptions {
    pub function_name: String,
    pub region: String,
    pub account: String,
    pub memory_mb: u32,
    pub timeout: Duration,
    pub log_group: String,
    /// `function.environment`.
    pub environment: BTreeMap<String, String>,
    /// Variables taken from claw's environment ([`PASSTHROUGH_ENV`]).
    pub passthrough: Vec<(String, OsString)>,
    pub logs: LogSink,
    /// `function.tracing: active`: invocations are sampled (`Sampled=1`), as
    /// Lambda samples a direct invocation of a function with active tracing.
    pub tracing: bool,
}

impl LocalOptions {
    /// Lambda's settings from the config, credentials and endpoints from claw's
    /// environment.
    pub fn from_config(config: &Config) -> LocalOptions {
        let names = Names::new(config);
        LocalOptions {
            function_name: names.function,
            region: config.region.clone(),
            account: config.account.clone(),
            memory_mb: config.function.memory_mb,
            timeout: Duration::from_secs(u64::from(config.function.timeout_s)),
            log_group: names.log_group,
            environment: config.function.environment.clone(),
            passthrough: passthrough_from(std::env::vars_os()),
            logs: LogSink::Stderr,
            tracing: config.function.tracing == claw_spec::model::Tracing::Active,
        }
    }

    pub(super) fn function_arn(&self) -> String {
        format!(
            "arn:{}:lambda:{}:{}:function:{}",
            claw_spec::names::partition(&self.region),
            self.region,
            self.account,
            self.function_name
        )
    }
}

/// Picks the pass-through variables out of an environment.
pub fn passthrough_from(
    vars: impl Iterator<Item = (OsString, OsString)>,
) -> Vec<(String, OsString)> {
    let mut out: Vec<(String, OsString)> = vars
        .filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            let pass = PASSTHROUGH_ENV.contains(&k.as_str())
                || (k.starts_with(PASSTHROUGH_PREFIX) && k.len() > PASSTHROUGH_PREFIX.len());
            (pass && !v.is_empty()).then_some((k, v))
        })
        .collect();
    out.sort();
    out
}

/// How a process for `arch` is started on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launcher {
    /// The host runs the binary itself.
    Native,
    /// Through qemu user-mode emulation, with the guest's glibc under `ld_prefix`.
    Qemu { qemu: PathBuf, ld_prefix: PathBuf },
}

/// The host's architecture, if Lambda has it.
pub fn host_arch() -> Option<Architecture> {
    match std::env::consts::ARCH {
        "x86_64" => Some(Architecture::X86_64),
        "aarch64" => Some(Architecture::Arm64),
        _ => None,
    }
}

impl Launcher {
    /// Native on the same CPU; otherwise qemu-user (`qemu-aarch64-static` for arm64
    /// packages on x86_64 hosts). The error says what to install.
    pub fn for_arch(arch: Architecture) -> anyhow::Result<Launcher> {
        if host_arch() == Some(arch) {
            return Ok(Launcher::Native);
        }
        let (qemu_names, ld_prefix, cross_libc) = match arch {
            Architecture::Arm64 => (
                ["qemu-aarch64-static", "qemu-aarch64"],
                "/usr/aarch64-linux-gnu",
                "libc6-arm64-cross",
            ),
            Architecture::X86_64 => (
                ["qemu-x86_64-static", "qemu-x86_64"],
                "/usr/x86_64-linux-gnu",
                "libc6-amd64-cross",
            ),
        };
        let path = std::env::var_os("PATH").unwrap_or_default();
        let qemu = qemu_names.iter().find_map(|name| {
            std::env::split_paths(&path)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        });
        let Some(qemu) = qemu else {
            anyhow::bail!(
                "this package is for {} and this machine is {}; running it needs {} \
                 (`apt-get install qemu-user-static {cross_libc}`, or `bash scripts/setup`), \
                 which is not on PATH. Or build for this machine: `claw build --arch {}`.",
                arch.lambda_name(),
                std::env::consts::ARCH,
                qemu_names[0],
                host_arch().map(|a| a.lambda_name()).unwrap_or("x86_64")
            );
        };
        let ld_prefix = PathBuf::from(ld_prefix);
        if !ld_prefix.join("lib").is_dir() {
            anyhow::bail!(
                "qemu needs the {} C library at {} to run this package's bootstrap: \
                 `apt-get install {cross_libc}` (or `bash scripts/setup`)",
                arch.lambda_name(),
                ld_prefix.display()
            );
        }
        Ok(Launcher::Qemu { qemu, ld_prefix })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passthrough_takes_only_the_allowed_variables() {
        let vars = vec![
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:5001"),
            ("AWS_ENDPOINT_URL_", "x"),
            ("AWS_PROFILE", "prod"),
            ("HOME", "/root"),
            ("ANTHROPIC_API_KEY", "sk-ant-secret"),
            ("ANTHROPIC_BASE_URL", ""),
        ];
        let got = passthrough_from(
            vars.into_iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v))),
        );
        let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "AWS_ACCESS_KEY_ID",
                "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_DYNAMODB",
                "AWS_SECRET_ACCESS_KEY"
            ]
        );
    }
}
