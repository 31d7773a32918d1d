//! `claw build`: cross-build agent-fn and write the deterministic Lambda zip.

use claw_spec::model::Architecture;

use crate::context::Context;
use crate::exit::Exit;
use crate::package::{self, BuildParams, BuildProgress, Profile};

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
    #[arg(long)]
    pub debug: bool,
}

/// An architecture on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchArg {
    Arm64,
    #[value(name = "x86_64", alias = "x86-64", alias = "amd64")]
    X86_64,
}

impl From<ArchArg> for Architecture {
    fn from(a: ArchArg) -> Architecture {
        match a {
            ArchArg::Arm64 => Architecture::Arm64,
            ArchArg::X86_64 => Architecture::X86_64,
        }
    }
}

pub async fn run(ctx: &Context, args: &Args) -> anyhow::Result<Exit> {
    let loaded = ctx.load()?;
    let mut params = BuildParams::new(
        &loaded.config,
        &ctx.global.config,
        args.arch.map(Architecture::from),
    )?;
    params.profile = if args.debug {
        Profile::Debug
    } else {
        Profile::Release
    };
    params.progress = BuildProgress::Auto;
    params.verbose = ctx.verbose() > 0;
    let out = tokio::task::spawn_blocking(move || package::build(&params)).await??;

    if ctx.json() {
        let v = serde_json::json!({
            "ok": true,
            "function": out.manifest.function,
            "arch": out.arch.lambda_name(),
            "profile": out.manifest.profile,
            "zip": out.zip_path,
            "manifest": out.manifest_path,
            "size": out.size,
            "code_sha256": out.code_sha256,
            "glibc": out.manifest.glibc,
            "changed": out.changed,
            "cargo_seconds": round2(out.cargo_time.as_secs_f64()),
            "package_seconds": round2(out.package_time.as_secs_f64()),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "built {} for {} in {:.1} s (cargo {:.1} s, zip {:.1} s){}",
            out.manifest.function,
            out.arch.lambda_name(),
            (out.cargo_time + out.package_time).as_secs_f64(),
            out.cargo_time.as_secs_f64(),
            out.package_time.as_secs_f64(),
            if out.changed {
                ""
            } else {
                "; package unchanged"
            }
        );
        println!("  zip         {}", out.zip_path.display());
        println!(
            "  size        {} ({} bytes)",
            human_size(out.size),
            out.size
        );
        println!("  CodeSha256  {}", out.code_sha256);
        if let Some(g) = &out.manifest.glibc {
            println!("  glibc       needs at most {g}");
        }
        if out.size > 50 * 1024 * 1024 {
            eprintln!("warning: the zip is over 50 MB, the most Lambda accepts in a direct upload");
        }
    }
    Ok(Exit::Ok)
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
