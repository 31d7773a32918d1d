//! `claw build`: cross-build agent-fn and write the deterministic Lambda zip.

use claw_spec::model::Architecture;

use crate::args::ArchArg;
use crate::context::Context;
use crate::package::{self, BuildParams, BuildProgress, Profile};
use crate::report::Report;

/// Options of `claw build`; the command's help text is on `cli::Command::Build`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Architecture to build for; defaults to `function.architecture`.
    #[arg(long, value_enum)]
    pub arch: Option<ArchArg>,
    /// Optimised build (the default; accepted for cargo-lambda habits).
    #[arg(long, conflicts_with = "debug")]
    pub release: bool,
    /// Unoptimised build with the dev profile: faster to compile, much larger zip.
    /// Needs --from-source.
    #[arg(long)]
    pub debug: bool,
    /// Cross-build agent-fn from a claw checkout instead of using the prebuilt
    /// function this claw carries. The default inside a claw checkout (or with
    /// CLAW_WORKSPACE set); elsewhere an error when no checkout is found.
    #[arg(long)]
    pub from_source: bool,
}

/// The JSON document of a build.
#[derive(serde::Serialize)]
struct BuildReport<'a> {
    function: &'a str,
    arch: &'a str,
    /// `prebuilt` (the function claw carries) or `source` (cross-built here).
    source: &'a str,
    profile: &'a crate::package::Profile,
    zip: &'a std::path::Path,
    manifest: &'a std::path::Path,
    size: u64,
    code_sha256: &'a str,
    glibc: Option<&'a str>,
    changed: bool,
    cargo_seconds: f64,
    package_seconds: f64,
}

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Report> {
    let loaded = ctx.load()?;
    let mut params = BuildParams::new(
        &loaded.config,
        &ctx.global.config,
        args.arch.map(Architecture::from),
        args.from_source,
    )?;
    params.profile = if args.debug {
        Profile::Debug
    } else {
        Profile::Release
    };
    params.progress = BuildProgress::Auto;
    params.verbose = ctx.verbose() > 0;
    let out = tokio::task::spawn_blocking(move || package::build(&params)).await??;

    let report = Report::new(BuildReport {
        function: &out.manifest.function,
        arch: out.arch.lambda_name(),
        source: out.source,
        profile: &out.manifest.profile,
        zip: &out.zip_path,
        manifest: &out.manifest_path,
        size: out.size,
        code_sha256: &out.code_sha256,
        glibc: out.manifest.glibc.as_deref(),
        changed: out.changed,
        cargo_seconds: round2(out.cargo_time.as_secs_f64()),
        package_seconds: round2(out.package_time.as_secs_f64()),
    });
    let p = ctx.out;
    let how = if out.source == "prebuilt" {
        format!(
            "prebuilt function, zip {:.1} s",
            out.package_time.as_secs_f64()
        )
    } else {
        format!(
            "cargo {:.1} s, zip {:.1} s",
            out.cargo_time.as_secs_f64(),
            out.package_time.as_secs_f64()
        )
    };
    p.line(format_args!(
        "built {} for {} in {:.1} s ({how}){}",
        out.manifest.function,
        out.arch.lambda_name(),
        (out.cargo_time + out.package_time).as_secs_f64(),
        if out.changed {
            ""
        } else {
            "; package unchanged"
        }
    ));
    p.line(format_args!("  zip         {}", out.zip_path.display()));
    p.line(format_args!(
        "  size        {} ({} bytes)",
        human_size(out.size),
        out.size
    ));
    p.line(format_args!("  CodeSha256  {}", out.code_sha256));
    if let Some(g) = &out.manifest.glibc {
        p.line(format_args!("  glibc       needs at most {g}"));
    }
    if out.size > 50 * 1024 * 1024 {
        p.note("warning: the zip is over 50 MB, the most Lambda accepts in a direct upload");
    }
    Ok(report)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `3.9 MiB`, `812 KiB`.
pub fn human_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else if b >= KIB {
        format!("{:.0} KiB", b / KIB)
    } else {
        format!("{bytes} B")
    }
}
