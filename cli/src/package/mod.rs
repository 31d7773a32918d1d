//! Getting the agent function and packaging it as a deterministic Lambda zip.
//!
//! [`build`] takes `bootstrap` from its [`Source`]: the prebuilt function this
//! claw carries, or `cargo zigbuild` in a claw checkout for the function's
//! architecture with glibc pinned to 2.17. It checks the binary (machine, newest
//! glibc symbol), and writes `function.zip` (`bootstrap` 0755 + `agent.json` 0644)
//! and its manifest `function.json` under [`Source::package_dir`]. The zip depends
//! only on the binary and the resolved config, so the same inputs give the same
//! `CodeSha256` on every machine.
//!
//! These functions block (cargo runs for seconds to minutes); async callers use
//! `tokio::task::spawn_blocking`.

pub mod archive;
mod code;
pub mod elf;
pub mod prebuilt;
mod profile;
pub mod progress;
pub mod source;
pub mod toolchain;
pub mod workspace;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use claw_spec::model::Architecture;
use claw_spec::{Config, Names};
use serde::{Deserialize, Serialize};

pub use code::Code;
pub use profile::Profile;
pub use progress::BuildProgress;
pub use source::Source;
pub use workspace::Workspace;

use archive::Entry;
use progress::Reporter;

/// Newest glibc the function may need: what cargo-zigbuild is asked to link against.
pub const MAX_GLIBC: (u32, u32, u32) = (2, 17, 0);

/// File names inside the package directory.
pub const ZIP_NAME: &str = "function.zip";
pub const MANIFEST_NAME: &str = "function.json";

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildParams {
    /// The resolved config (overrides applied); becomes `agent.json`.
    pub config: Config,
    pub arch: Architecture,
    pub profile: Profile,
    /// Where `bootstrap` comes from and where output goes; see [`Source::choose`].
    pub source: Source,
    pub progress: BuildProgress,
    /// Show cargo's output.
    pub verbose: bool,
}

impl BuildParams {
    /// Build parameters for `config` read from `config_path`: the source is
    /// chosen from there ([`Source::choose`]), the architecture defaults to
    /// `function.architecture`.
    pub fn new(
        config: &Config,
        config_path: &Path,
        arch: Option<Architecture>,
        from_source: bool,
    ) -> anyhow::Result<BuildParams> {
        Ok(BuildParams {
            config: config.clone(),
            arch: arch.unwrap_or(config.function.architecture),
            profile: Profile::Release,
            source: Source::choose(config_path, from_source)?,
            progress: BuildProgress::Auto,
            verbose: false,
        })
    }

    /// The package directory these parameters write to.
    pub fn package_dir(&self) -> PathBuf {
        self.source
            .package_dir(&Names::new(&self.config).function, self.arch)
    }
}

/// `function.json`: what a package was built from, so deploy can tell whether the
/// zip is current without opening it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// `{app}-{stage}`.
    pub function: String,
    /// Lambda's architecture name: `arm64` or `x86_64`.
    pub arch: String,
    pub profile: Profile,
    /// Lambda's CodeSha256 of the zip (base64 SHA-256).
    pub code_sha256: String,
    /// Size of the zip in bytes.
    pub size: u64,
    /// Hex SHA-256 of `agent.json` as packaged.
    pub config_sha256: String,
    /// Hex SHA-256 of the `bootstrap` binary.
    pub bootstrap_sha256: String,
    /// Newest glibc symbol version the binary needs, such as `2.17`.
    pub glibc: Option<String>,
    /// The claw version that wrote the package.
    pub claw_version: String,
}

/// A built package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutput {
    pub zip_path: PathBuf,
    pub manifest_path: PathBuf,
    /// Lambda's CodeSha256 of the zip (base64 SHA-256).
    pub code_sha256: String,
    /// Size of the zip in bytes.
    pub size: u64,
    pub arch: Architecture,
    pub manifest: Manifest,
    /// False when the zip on disk already had exactly these inputs and was kept.
    pub changed: bool,
    /// `source` (cross-built here) or `prebuilt` (carried by claw).
    pub source: &'static str,
    /// Time spent in cargo (zero for the prebuilt function) and in packaging.
    pub cargo_time: Duration,
    pub package_time: Duration,
}

/// Builds and packages, always rewriting the zip.
pub fn build(p: &BuildParams) -> anyhow::Result<BuildOutput> {
    build_inner(p, true)
}

/// Builds (cargo is incremental, so an unchanged function costs a second or two)
/// and rewrites the zip only if the binary, the config or the architecture differ
/// from the manifest on disk. Deploy calls this; `changed` says whether the code
/// Lambda would receive is new.
pub fn ensure_built(p: &BuildParams) -> anyhow::Result<BuildOutput> {
    build_inner(p, false)
}

/// The package most recently built for this config and architecture, without
/// building: the zip path and its manifest, or an error saying to run `claw build`.
pub fn existing(
    config: &Config,
    config_path: &Path,
    arch: Architecture,
) -> anyhow::Result<(PathBuf, Manifest)> {
    let dir = source::existing_dir(config_path, &Names::new(config).function, arch)
        .context("cannot read the current directory")?;
    let zip = dir.join(ZIP_NAME);
    if !zip.is_file() {
        anyhow::bail!(
            "no package at {}: run `claw build --arch {}` first",
            zip.display(),
            arch.lambda_name()
        );
    }
    let manifest = read_manifest(&dir.join(MANIFEST_NAME))?;
    Ok((zip, manifest))
}

fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| {
        format!(
            "{} is not a manifest claw wrote; run `claw build` again",
            path.display()
        )
    })
}

fn build_inner(p: &BuildParams, always_write: bool) -> anyhow::Result<BuildOutput> {
    let names = Names::new(&p.config);
    let reporter = Reporter::new(p.progress, p.verbose);
    let started = Instant::now();
    let bootstrap = Bootstrap::get(p, &reporter)?;
    let cargo_time = started.elapsed();

    let started = Instant::now();
    reporter.step("packaging function.zip");
    let glibc = check_binary(&bootstrap.bytes, p.arch, &bootstrap.path)?;
    let agent_json = serde_json::to_vec(&p.config).context("cannot serialise the config")?;

    let dir = p.package_dir();
    let zip_path = dir.join(ZIP_NAME);
    let manifest_path = dir.join(MANIFEST_NAME);
    let config_sha256 = archive::sha256_hex(&agent_json);
    let bootstrap_sha256 = bootstrap.sha256.clone();
    let bootstrap = bootstrap.bytes.into_owned();

    if !always_write
        && let Some(out) = reuse(
            &zip_path,
            &manifest_path,
            p,
            &config_sha256,
            &bootstrap_sha256,
        )
    {
        reporter.finish();
        return Ok(BuildOutput {
            cargo_time,
            package_time: started.elapsed(),
            ..out
        });
    }

    let zip = archive::write_zip(&[
        Entry {
            name: "bootstrap".into(),
            mode: 0o755,
            data: bootstrap,
        },
        Entry {
            name: "agent.json".into(),
            mode: 0o644,
            data: agent_json,
        },
    ])?;
    let code_sha256 = archive::code_sha256(&zip);
    let previous = read_manifest(&manifest_path).ok();
    let manifest = Manifest {
        function: names.function.clone(),
        arch: p.arch.lambda_name().into(),
        profile: p.profile,
        code_sha256: code_sha256.clone(),
        size: zip.len() as u64,
        config_sha256,
        bootstrap_sha256,
        glibc,
        claw_version: env!("CARGO_PKG_VERSION").into(),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_atomic(&zip_path, &zip)?;
    let mut manifest_json = serde_json::to_vec_pretty(&manifest)?;
    manifest_json.push(b'\n');
    write_atomic(&manifest_path, &manifest_json)?;
    reporter.finish();

    let changed = previous.is_none_or(|m| m.code_sha256 != code_sha256);
    Ok(BuildOutput {
        zip_path,
        manifest_path,
        code_sha256,
        size: zip.len() as u64,
        arch: p.arch,
        manifest,
        changed,
        source: p.source.kind(),
        cargo_time,
        package_time: started.elapsed(),
    })
}

/// The `bootstrap` binary a package is made of.
struct Bootstrap {
    bytes: std::borrow::Cow<'static, [u8]>,
    /// Hex SHA-256 of `bytes`.
    sha256: String,
    /// Where it came from, for messages.
    path: PathBuf,
}

impl Bootstrap {
    /// Cross-builds it in the workspace, or takes the one this claw carries.
    fn get(p: &BuildParams, reporter: &Reporter) -> anyhow::Result<Bootstrap> {
        match &p.source {
            Source::Workspace(ws) => {
                let tools = toolchain::Toolchain::detect(ws, p.arch)?;
                reporter.step(&format!(
                    "building agent-fn for {} ({})",
                    p.arch.lambda_name(),
                    p.arch.zig_target()
                ));
                let path = tools.cargo_build(ws, p.arch, p.profile, reporter)?;
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                Ok(Bootstrap {
                    sha256: archive::sha256_hex(&bytes),
                    bytes: bytes.into(),
                    path,
                })
            }
            Source::Prebuilt { .. } => {
                if p.profile != Profile::Release {
                    anyhow::bail!(
                        "the prebuilt function is a release build; --debug needs the sources: \
                         run inside a claw checkout with --from-source"
                    );
                }
                let f = prebuilt::get(p.arch).ok_or_else(|| anyhow::anyhow!(prebuilt::MISSING))?;
                reporter.step(&format!(
                    "using the prebuilt agent function {} for {}",
                    f.version,
                    p.arch.lambda_name()
                ));
                Ok(Bootstrap {
                    bytes: f.bytes.into(),
                    sha256: f.sha256.to_string(),
                    path: PathBuf::from(format!("the prebuilt {} function", f.arch.lambda_name())),
                })
            }
        }
    }
}

/// The existing package, if its manifest records exactly these inputs and the zip
/// on disk still hashes to what the manifest says.
fn reuse(
    zip_path: &Path,
    manifest_path: &Path,
    p: &BuildParams,
    config_sha256: &str,
    bootstrap_sha256: &str,
) -> Option<BuildOutput> {
    let manifest = read_manifest(manifest_path).ok()?;
    if manifest.arch != p.arch.lambda_name()
        || manifest.profile != p.profile
        || manifest.config_sha256 != config_sha256
        || manifest.bootstrap_sha256 != bootstrap_sha256
    {
        return None;
    }
    let zip = std::fs::read(zip_path).ok()?;
    if archive::code_sha256(&zip) != manifest.code_sha256 {
        return None;
    }
    Some(BuildOutput {
        zip_path: zip_path.to_path_buf(),
        manifest_path: manifest_path.to_path_buf(),
        code_sha256: manifest.code_sha256.clone(),
        size: zip.len() as u64,
        arch: p.arch,
        manifest,
        changed: false,
        source: p.source.kind(),
        cargo_time: Duration::ZERO,
        package_time: Duration::ZERO,
    })
}

/// Checks the machine and the newest glibc version; returns that version.
fn check_binary(bytes: &[u8], arch: Architecture, path: &Path) -> anyhow::Result<Option<String>> {
    let info = elf::inspect(bytes)
        .map_err(|e| anyhow::anyhow!("{} cannot be packaged: {e}", path.display()))?;
    if info.arch != Some(arch) {
        anyhow::bail!(
            "{} is built for {}, not {}; the cross-build went wrong",
            path.display(),
            info.machine_name(),
            arch.lambda_name()
        );
    }
    let needs = elf::version_needs(bytes).map_err(|e| {
        anyhow::anyhow!("cannot read the symbol versions of {}: {e}", path.display())
    })?;
    let Some(max) = elf::max_glibc(&needs) else {
        return Ok(None);
    };
    if max > MAX_GLIBC {
        let offending: Vec<&str> = needs
            .iter()
            .filter(|(_, v)| elf::parse_glibc(v).is_some_and(|g| g > MAX_GLIBC))
            .map(|(_, v)| v.as_str())
            .collect();
        anyhow::bail!(
            "{} needs glibc {} ({}), newer than the {}.{} claw pins for Lambda; was it built \
             without the `.2.17` target suffix?",
            path.display(),
            glibc_string(max),
            offending.join(", "),
            MAX_GLIBC.0,
            MAX_GLIBC.1
        );
    }
    Ok(Some(glibc_string(max)))
}

fn glibc_string((a, b, c): (u32, u32, u32)) -> String {
    if c == 0 {
        format!("{a}.{b}")
    } else {
        format!("{a}.{b}.{c}")
    }
}

/// Writes through a temporary file in the same directory, so a reader never sees
/// half a zip and an interrupted build leaves the previous package intact.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
