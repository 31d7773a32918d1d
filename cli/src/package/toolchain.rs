//! Finding the cross-build tools and running `cargo zigbuild`.
//!
//! Lambda runs Amazon Linux, so the function must not need a newer glibc than the
//! runtime has. cargo-zigbuild links against a chosen glibc (2.17 here) with zig as
//! the linker, for x86_64 and arm64 alike, without a cross toolchain or Docker.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context as _;
use claw_spec::model::Architecture;

use super::profile::Profile;
use super::progress::Reporter;
use super::workspace::Workspace;

/// What to install, said once for every missing tool.
const SETUP_HINT: &str = "run `bash scripts/setup` in the claw checkout (then `source scripts/env.sh`), \
     or install the tools by hand";

/// The tools a cross-build needs, found on this machine.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// Directory holding `cargo-zigbuild` (PATH entry or the workspace venv).
    pub zigbuild_dir: PathBuf,
    /// Extra environment for cargo: PATH with the venv first, and the venv's
    /// Python for `python -m ziglang` when zig is not on PATH.
    pub env: Vec<(String, OsString)>,
}

impl Toolchain {
    /// Checks that cargo-zigbuild, zig and the Rust target are installed; the error
    /// says exactly what to install.
    pub fn detect(ws: &Workspace, arch: Architecture) -> anyhow::Result<Toolchain> {
        let tools = Toolchain::find(ws, &|name| std::env::var_os(name))?;
        check_rust_target(&ws.root, arch)?;
        Ok(tools)
    }

    /// cargo-zigbuild and zig, looked up with `getenv` (PATH and cargo-zigbuild's
    /// own variables) and in the workspace venv.
    fn find(
        ws: &Workspace,
        getenv: &dyn Fn(&str) -> Option<OsString>,
    ) -> anyhow::Result<Toolchain> {
        let venv_bin = ws.venv_bin();
        let path = getenv("PATH").unwrap_or_default();
        let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        if venv_bin.is_dir() && !dirs.contains(&venv_bin) {
            dirs.insert(0, venv_bin.clone());
        }
        let child_path = std::env::join_paths(&dirs).context("PATH has an entry with `:` in it")?;

        let zigbuild_dir = dirs
            .iter()
            .find(|d| is_executable(&d.join("cargo-zigbuild")))
            .cloned()
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "cargo-zigbuild is not installed (looked on PATH and in {}): {SETUP_HINT}: \
                     `pip install cargo-zigbuild ziglang` and put its bin directory on PATH",
                    venv_bin.display()
                )
            })?;

        let mut env = vec![("PATH".to_string(), child_path.clone())];
        if !has_zig(&dirs, getenv, &mut env) {
            anyhow::bail!(
                "zig is not installed (cargo-zigbuild needs it as the linker; looked for `zig` on \
                 PATH and for the ziglang Python package in {}): {SETUP_HINT}: \
                 `pip install ziglang` into the same environment as cargo-zigbuild",
                venv_bin.display()
            );
        }
        Ok(Toolchain { zigbuild_dir, env })
    }

    /// Runs `cargo zigbuild` for agent-fn and returns the path of the built
    /// `bootstrap`. Cargo's output goes to the reporter; on failure the error
    /// carries its last lines.
    pub fn cargo_build(
        &self,
        ws: &Workspace,
        arch: Architecture,
        profile: Profile,
        reporter: &Reporter,
    ) -> anyhow::Result<PathBuf> {
        let target_dir = ws.cargo_target_dir();
        let mut cmd = Command::new("cargo");
        cmd.arg("zigbuild");
        if profile == Profile::Release {
            cmd.arg("--release");
        }
        cmd.args([
            "-p",
            "agent-fn",
            "--bin",
            "bootstrap",
            "--target",
            arch.zig_target(),
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .arg("--manifest-path")
        .arg(ws.root.join("Cargo.toml"))
        .args(["--color", "never"])
        .current_dir(&ws.root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.env(
            "CARGO_ENCODED_RUSTFLAGS",
            rustflags(&|n| std::env::var_os(n)),
        );
        let shown = format!(
            "cargo zigbuild{} -p agent-fn --target {} --target-dir {}",
            if profile == Profile::Release {
                " --release"
            } else {
                ""
            },
            arch.zig_target(),
            target_dir.display()
        );
        reporter.detail(&shown);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot run `{shown}` (is cargo on PATH?)"))?;

        const KEEP: usize = 40;
        let mut last: VecDeque<String> = VecDeque::with_capacity(KEEP);
        if let Some(stderr) = child.stderr.take() {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                reporter.tool_line(&line);
                if last.len() == KEEP {
                    last.pop_front();
                }
                last.push_back(line);
            }
        }
        let status = child
            .wait()
            .with_context(|| format!("waiting for `{shown}`"))?;
        if !status.success() {
            let text: Vec<String> = last.into_iter().collect();
            let text = text.join("\n");
            let hint = failure_hint(&text, arch);
            anyhow::bail!(
                "`{shown}` failed ({status}) in {}; its last lines:\n{text}{hint}",
                ws.root.display()
            );
        }
        let dir = if profile == Profile::Release {
            "release"
        } else {
            "debug"
        };
        let bootstrap = target_dir
            .join(arch.rust_target())
            .join(dir)
            .join("bootstrap");
        if !bootstrap.is_file() {
            anyhow::bail!(
                "cargo zigbuild succeeded but {} does not exist; does agent-fn still build a \
                 binary named `bootstrap`?",
                bootstrap.display()
            );
        }
        Ok(bootstrap)
    }
}

/// The caller's rustflags, then cargo's home remapped to `/cargo`: the registry
/// sources' paths appear in the binary's panic locations, and this keeps them
/// from depending on the machine. The workspace's own sources need nothing:
/// cargo hands rustc their paths relative to the workspace (`agent-fn/src/…`).
/// The flag is the same for every checkout on a machine, so checkouts share one
/// cross-build cache (`scripts/dist` builds the prebuilt function this way too).
fn rustflags(getenv: &dyn Fn(&str) -> Option<OsString>) -> OsString {
    let mut flags: Vec<OsString> = match getenv("CARGO_ENCODED_RUSTFLAGS") {
        Some(v) if !v.is_empty() => v
            .to_string_lossy()
            .split('\x1f')
            .map(OsString::from)
            .collect(),
        _ => getenv("RUSTFLAGS")
            .map(|v| {
                v.to_string_lossy()
                    .split_whitespace()
                    .map(OsString::from)
                    .collect()
            })
            .unwrap_or_default(),
    };
    let cargo_home = getenv("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| getenv("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        let mut f = OsString::from("--remap-path-prefix=");
        f.push(home.as_os_str());
        f.push("=/cargo");
        flags.push(f);
    }
    let mut out = OsString::new();
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            out.push("\x1f");
        }
        out.push(f);
    }
    out
}

fn failure_hint(text: &str, arch: Architecture) -> String {
    if text.contains("target may not be installed") || text.contains("can't find crate for `core`")
    {
        format!(
            "\nhint: the Rust target is missing: `rustup target add {}`",
            arch.rust_target()
        )
    } else if text.contains("Failed to find zig") {
        "\nhint: zig is missing: `pip install ziglang` (or `bash scripts/setup`)".to_string()
    } else {
        String::new()
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// True when cargo-zigbuild will find zig the way it looks for it: the command in
/// `CARGO_ZIGBUILD_ZIG_PATH`, `zig` on PATH, or `python3 -m ziglang` (with the
/// interpreter in `CARGO_ZIGBUILD_PYTHON_PATH`). When only the venv's Python has
/// ziglang, points cargo-zigbuild at it through `env`.
fn has_zig(
    dirs: &[PathBuf],
    getenv: &dyn Fn(&str) -> Option<OsString>,
    env: &mut Vec<(String, OsString)>,
) -> bool {
    if let Some(p) = getenv("CARGO_ZIGBUILD_ZIG_PATH").filter(|p| !p.is_empty()) {
        return runs(Command::new(p).arg("version"));
    }
    if dirs.iter().any(|d| is_executable(&d.join("zig"))) {
        return true;
    }
    let mut pythons: Vec<PathBuf> = Vec::new();
    if let Some(p) = getenv("CARGO_ZIGBUILD_PYTHON_PATH").filter(|p| !p.is_empty()) {
        pythons.push(p.into());
    }
    pythons.extend(
        dirs.iter()
            .map(|d| d.join("python3"))
            .filter(|p| is_executable(p)),
    );
    for python in pythons {
        if runs(Command::new(&python).args(["-m", "ziglang", "version"])) {
            env.push(("CARGO_ZIGBUILD_PYTHON_PATH".into(), python.into()));
            return true;
        }
    }
    false
}

fn runs(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The Rust standard library for the target must be installed for the toolchain
/// the workspace uses (rustup or not: the sysroot says).
fn check_rust_target(ws_root: &Path, arch: Architecture) -> anyhow::Result<()> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(ws_root)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .context("cannot run `rustc --print sysroot`: is Rust installed (https://rustup.rs)?")?;
    if !out.status.success() {
        anyhow::bail!("`rustc --print sysroot` failed in {}", ws_root.display());
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    check_target_in(&sysroot, arch)
}

/// The target's standard library must be under the sysroot.
fn check_target_in(sysroot: &Path, arch: Architecture) -> anyhow::Result<()> {
    let lib = sysroot
        .join("lib")
        .join("rustlib")
        .join(arch.rust_target())
        .join("lib");
    if !lib.is_dir() {
        anyhow::bail!(
            "the Rust target {} is not installed for the toolchain in {}: \
             `rustup target add {}` (or `bash scripts/setup`)",
            arch.rust_target(),
            sysroot.display(),
            arch.rust_target()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn fake_workspace() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace {
            root: dir.path().to_path_buf(),
            target_root: dir.path().join("target"),
        };
        (dir, ws)
    }

    fn executable(path: &Path, script: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, script).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn lookup(vars: HashMap<&'static str, OsString>) -> impl Fn(&str) -> Option<OsString> {
        move |k| vars.get(k).cloned()
    }

    #[test]
    fn missing_cargo_zigbuild_says_what_to_install() {
        let (_dir, ws) = fake_workspace();
        let env = lookup(HashMap::from([("PATH", OsString::from("/nonexistent"))]));
        let e = Toolchain::find(&ws, &env).unwrap_err().to_string();
        assert!(e.contains("cargo-zigbuild is not installed"), "{e}");
        assert!(e.contains("pip install cargo-zigbuild ziglang"), "{e}");
        assert!(e.contains("scripts/setup"), "{e}");
    }

    #[test]
    fn missing_zig_says_what_to_install() {
        let (dir, ws) = fake_workspace();
        let bin = dir.path().join("bin");
        executable(&bin.join("cargo-zigbuild"), "#!/bin/sh\n");
        let env = lookup(HashMap::from([("PATH", bin.clone().into_os_string())]));
        let e = Toolchain::find(&ws, &env).unwrap_err().to_string();
        assert!(e.contains("zig is not installed"), "{e}");
        assert!(e.contains("pip install ziglang"), "{e}");
    }

    #[test]
    fn the_workspace_venv_is_searched_and_put_first_on_path() {
        let (dir, ws) = fake_workspace();
        let venv = ws.venv_bin();
        executable(&venv.join("cargo-zigbuild"), "#!/bin/sh\n");
        // A python whose `-m ziglang version` succeeds stands for the ziglang package.
        executable(
            &venv.join("python3"),
            "#!/bin/sh\n[ \"$1 $2 $3\" = \"-m ziglang version\" ]\n",
        );
        let env = lookup(HashMap::from([("PATH", OsString::from("/usr/bin:/bin"))]));
        let tools = Toolchain::find(&ws, &env).unwrap();
        assert_eq!(tools.zigbuild_dir, venv);
        let path = &tools.env.iter().find(|(k, _)| k == "PATH").unwrap().1;
        assert!(
            path.to_string_lossy().starts_with(&*venv.to_string_lossy()),
            "{path:?}"
        );
        let python = &tools
            .env
            .iter()
            .find(|(k, _)| k == "CARGO_ZIGBUILD_PYTHON_PATH")
            .unwrap()
            .1;
        assert_eq!(Path::new(python), venv.join("python3"));
        drop(dir);
    }

    #[test]
    fn a_missing_rust_target_names_the_rustup_command() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_target_in(dir.path(), Architecture::Arm64)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("rustup target add aarch64-unknown-linux-gnu"),
            "{e}"
        );
        std::fs::create_dir_all(dir.path().join("lib/rustlib/aarch64-unknown-linux-gnu/lib"))
            .unwrap();
        check_target_in(dir.path(), Architecture::Arm64).unwrap();
    }

    #[test]
    fn failure_hints() {
        assert!(
            failure_hint(
                "error[E0463]: can't find crate for `core`",
                Architecture::Arm64
            )
            .contains("rustup target add aarch64-unknown-linux-gnu")
        );
        assert!(failure_hint("Failed to find zig", Architecture::X86_64).contains("ziglang"));
        assert_eq!(
            failure_hint("error: expected `;`", Architecture::X86_64),
            ""
        );
    }

    #[test]
    fn cargo_home_is_remapped_after_the_callers_own_flags() {
        let env = |n: &str| match n {
            "RUSTFLAGS" => Some(OsString::from("-C  target-cpu=neoverse-n1")),
            "HOME" => Some(OsString::from("/home/me")),
            _ => None,
        };
        let flags = rustflags(&env);
        let flags: Vec<&str> = flags.to_str().unwrap().split('\x1f').collect();
        assert_eq!(
            flags,
            [
                "-C",
                "target-cpu=neoverse-n1",
                "--remap-path-prefix=/home/me/.cargo=/cargo",
            ]
        );
    }

    #[test]
    fn encoded_flags_win_over_rustflags_and_cargo_home_over_home() {
        let env = |n: &str| match n {
            "CARGO_ENCODED_RUSTFLAGS" => Some(OsString::from("-Cdebuginfo=1\x1f-Dwarnings")),
            "RUSTFLAGS" => Some(OsString::from("-Cignored")),
            "CARGO_HOME" => Some(OsString::from("/opt/cargo")),
            "HOME" => Some(OsString::from("/home/me")),
            _ => None,
        };
        let flags = rustflags(&env);
        assert_eq!(
            flags.to_str().unwrap(),
            "-Cdebuginfo=1\x1f-Dwarnings\x1f--remap-path-prefix=/opt/cargo=/cargo"
        );
    }
}
