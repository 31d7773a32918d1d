//! Embeds the prebuilt agent function in claw, when there is one to embed.
//!
//! `scripts/dist` cross-builds agent-fn for both Lambda architectures and sets
//! `CLAW_FUNCTIONS_DIR` to a directory holding `bootstrap-arm64`,
//! `bootstrap-x86_64` and `version` (the agent-fn version they were built from).
//! This script then writes `$OUT_DIR/functions.rs`, which `include_bytes!`s both
//! binaries with their SHA-256, so a release claw packages the function in any
//! directory without cargo, zig or a cross target. Without the variable, claw is
//! built without them and says how to get them when it needs one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const ENV: &str = "CLAW_FUNCTIONS_DIR";
const ARCHES: [(&str, &str); 2] = [("ARM64", "arm64"), ("X86_64", "x86_64")];

fn main() {
    println!("cargo:rerun-if-env-changed={ENV}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = std::env::var_os(ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let code = match dir {
        Some(dir) => embedded(&dir),
        None => absent(),
    };
    std::fs::write(out.join("functions.rs"), code).expect("write functions.rs");
}

fn absent() -> String {
    let mut code = String::from("pub const VERSION: Option<&str> = None;\n");
    for (name, _) in ARCHES {
        writeln!(code, "pub const {name}: Option<(&[u8], &str)> = None;").unwrap();
    }
    code
}

fn embedded(dir: &Path) -> String {
    let fail = |what: String| -> ! {
        panic!(
            "{ENV}={}: {what}. Run `bash scripts/dist --functions` in the claw checkout to \
             build them, or unset {ENV} to build claw without the prebuilt function",
            dir.display()
        )
    };
    let version_file = dir.join("version");
    println!("cargo:rerun-if-changed={}", version_file.display());
    let version = std::fs::read_to_string(&version_file)
        .unwrap_or_else(|e| fail(format!("cannot read {}: {e}", version_file.display())));
    let version = version.trim();
    if version.is_empty() || !version.chars().all(|c| c.is_ascii_graphic()) {
        fail(format!("{} holds no version", version_file.display()));
    }
    let mut code = format!("pub const VERSION: Option<&str> = Some({version:?});\n");
    for (name, arch) in ARCHES {
        let path = dir.join(format!("bootstrap-{arch}"));
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| fail(format!("cannot read {}: {e}", path.display())));
        let sha: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let abs = path.canonicalize().unwrap_or(path);
        writeln!(
            code,
            "pub const {name}: Option<(&[u8], &str)> = Some((include_bytes!({:?}), {sha:?}));",
            abs.display().to_string()
        )
        .unwrap();
    }
    code
}
