//! The prebuilt agent function a release claw carries (see `cli/build.rs`).
//!
//! `scripts/dist` cross-builds agent-fn for both architectures (glibc 2.17, paths
//! remapped, so the bytes do not depend on the machine) and embeds them; `claw
//! build` outside a claw checkout then packages one with agent.yaml in about a
//! second. A claw built with plain `cargo build` has none and says how to get them.

use claw_spec::model::Architecture;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/functions.rs"));
}

/// One embedded `bootstrap`.
#[derive(Debug, Clone, Copy)]
pub struct Prebuilt {
    /// The agent-fn version it was built from.
    pub version: &'static str,
    pub arch: Architecture,
    pub bytes: &'static [u8],
    /// Hex SHA-256 of `bytes`, computed when claw was built.
    pub sha256: &'static str,
}

/// The embedded function for `arch`, if this claw carries one.
pub fn get(arch: Architecture) -> Option<Prebuilt> {
    let version = generated::VERSION?;
    let (bytes, sha256) = match arch {
        Architecture::Arm64 => generated::ARM64?,
        Architecture::X86_64 => generated::X86_64?,
    };
    Some(Prebuilt {
        version,
        arch,
        bytes,
        sha256,
    })
}

/// What `claw build` says when this claw carries no function and the directory
/// is not inside a claw checkout.
pub const MISSING: &str = "this claw was built from source without the prebuilt agent function, and \
     there is no claw checkout here to build it from. Either install a release build of claw \
     (a release archive, or `bash scripts/dist` in a claw checkout, which leaves it at \
     dist/claw-<version>-<target>/claw), or build the function from source: run claw inside a \
     claw checkout, or set CLAW_WORKSPACE=/path/to/claw (needs cargo-zigbuild, zig and the \
     Rust target; `bash scripts/setup` there installs them)";

/// The `claw --version` text: claw's version, then the embedded function's.
pub fn long_version() -> String {
    let claw = env!("CARGO_PKG_VERSION");
    let mut text = claw.to_string();
    match generated::VERSION {
        None => text.push_str(
            "\nagent function: not embedded (built from source; see `claw build --help`)",
        ),
        Some(v) => {
            text.push_str(&format!(
                "\nagent function {v}, prebuilt for Lambda (glibc 2.17):"
            ));
            for arch in [Architecture::Arm64, Architecture::X86_64] {
                if let Some(p) = get(arch) {
                    text.push_str(&format!(
                        "\n  {:<7} sha256 {}  ({} bytes)",
                        arch.lambda_name(),
                        p.sha256,
                        p.bytes.len()
                    ));
                }
            }
        }
    }
    text
}
