//! The package as the local runner sees it: a `function.zip`, read with the same
//! reader `claw build` checks its output with ([`archive::read_zip`]), checked to
//! hold a `bootstrap` Lambda can run, and extracted to a private directory that
//! plays `LAMBDA_TASK_ROOT`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use claw_spec::model::Architecture;

use crate::package::{archive, elf};

/// An extracted, checked package.
#[derive(Debug)]
pub struct Package {
    pub(super) dir: tempfile::TempDir,
    /// The architecture the bootstrap is built for (from its ELF header).
    pub arch: Architecture,
    /// The `agent.json` inside the package, if any.
    pub agent_json: Option<Vec<u8>>,
}

impl Package {
    /// Reads `zip`, checks that it holds an ELF `bootstrap` for a CPU Lambda runs
    /// (and for `expected`, when given), and extracts it to a private temporary
    /// directory that lives as long as the returned value.
    pub fn open(zip: &Path, expected: Option<Architecture>) -> anyhow::Result<Package> {
        let bytes = std::fs::read(zip).with_context(|| format!("cannot read {}", zip.display()))?;
        let entries = archive::read_zip(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "{} cannot be run: {e}. Rebuild it with `claw build`.",
                zip.display()
            )
        })?;
        let Some(bootstrap) = entries.iter().find(|e| e.name == "bootstrap") else {
            let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
            anyhow::bail!(
                "{} has no `bootstrap` at its root (it holds: {}). A custom-runtime Lambda \
                 package starts the executable named bootstrap; rebuild it with `claw build`.",
                zip.display(),
                if names.is_empty() {
                    "nothing".to_string()
                } else {
                    names.join(", ")
                }
            );
        };
        let info = elf::inspect(&bootstrap.data).map_err(|e| {
            anyhow::anyhow!(
                "the bootstrap in {} cannot run on Lambda: {e}. Rebuild it with `claw build`.",
                zip.display()
            )
        })?;
        let Some(arch) = info.arch else {
            anyhow::bail!(
                "the bootstrap in {} is built for {}, which Lambda does not run (it runs x86_64 \
                 and arm64). Rebuild it with `claw build`.",
                zip.display(),
                info.machine_name()
            );
        };
        if let Some(want) = expected
            && want != arch
        {
            anyhow::bail!(
                "the bootstrap in {} is built for {}, but this package should be {}: the zip \
                 is in the wrong place or was built wrongly. Rebuild it with \
                 `claw build --arch {}`.",
                zip.display(),
                arch.lambda_name(),
                want.lambda_name(),
                want.lambda_name()
            );
        }

        let dir = tempfile::Builder::new()
            .prefix("claw-local-")
            .tempdir()
            .context("cannot create a temporary directory for the package")?;
        for e in &entries {
            let path = dir.path().join(&e.name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(&path, &e.data)
                .with_context(|| format!("cannot extract {}", path.display()))?;
            let mode = if e.name == "bootstrap" { 0o755 } else { e.mode };
            set_mode(&path, mode)?;
        }
        let agent_json = entries
            .iter()
            .find(|e| e.name == "agent.json")
            .map(|e| e.data.clone());
        Ok(Package {
            dir,
            arch,
            agent_json,
        })
    }

    /// The extracted package: `LAMBDA_TASK_ROOT`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn bootstrap(&self) -> PathBuf {
        self.dir.path().join("bootstrap")
    }
}

pub(super) fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_open_checks_the_bootstrap() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, entries: Vec<archive::Entry>| {
            let p = dir.path().join(name);
            std::fs::write(&p, archive::write_zip(&entries).unwrap()).unwrap();
            p
        };
        let elf = |machine: u16| {
            let mut b = vec![0u8; 128];
            b[..4].copy_from_slice(b"\x7fELF");
            b[4] = 2;
            b[5] = 1;
            b[18..20].copy_from_slice(&machine.to_le_bytes());
            b
        };
        let entry = |name: &str, data: Vec<u8>| archive::Entry {
            name: name.into(),
            mode: 0o644,
            data,
        };

        let garbage = dir.path().join("garbage.zip");
        std::fs::write(&garbage, b"PK not really").unwrap();
        let e = Package::open(&garbage, None).unwrap_err().to_string();
        assert!(
            e.contains("not a valid zip") && e.contains("garbage.zip"),
            "{e}"
        );

        let no_bootstrap = write("a.zip", vec![entry("agent.json", b"{}".to_vec())]);
        let e = Package::open(&no_bootstrap, None).unwrap_err().to_string();
        assert!(
            e.contains("no `bootstrap`") && e.contains("agent.json"),
            "{e}"
        );

        let script = write("b.zip", vec![entry("bootstrap", b"#!/bin/sh\n".to_vec())]);
        let e = Package::open(&script, None).unwrap_err().to_string();
        assert!(e.contains("not an ELF"), "{e}");

        let arm = write("c.zip", vec![entry("bootstrap", elf(183))]);
        let e = Package::open(&arm, Some(Architecture::X86_64))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("built for arm64") && e.contains("should be x86_64"),
            "{e}"
        );

        let riscv = write("d.zip", vec![entry("bootstrap", elf(243))]);
        let e = Package::open(&riscv, None).unwrap_err().to_string();
        assert!(e.contains("RISC-V"), "{e}");

        // A good one: extracted with bootstrap executable whatever the zip said.
        let ok = write(
            "e.zip",
            vec![
                entry("bootstrap", elf(62)),
                entry("agent.json", b"{\"a\":1}".to_vec()),
            ],
        );
        let pkg = Package::open(&ok, Some(Architecture::X86_64)).unwrap();
        assert_eq!(pkg.arch, Architecture::X86_64);
        assert_eq!(pkg.agent_json.as_deref(), Some(&b"{\"a\":1}"[..]));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(pkg.bootstrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}
