//! The function package as the provisioner uploads it: a zip with an executable
//! `bootstrap`, its bytes and Lambda's CodeSha256.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::archive::code_sha256;

/// The function package: a zip with a `bootstrap` entry.
#[derive(Debug, Clone)]
pub struct Code {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// Base64 of the SHA-256 of the zip, as Lambda reports CodeSha256.
    pub sha256: String,
}

/// Largest zip Lambda accepts in a direct upload.
const MAX_DIRECT_UPLOAD: usize = 50 * 1024 * 1024;

impl Code {
    /// Reads a package and checks it is a zip with an executable `bootstrap`.
    pub fn from_zip(path: &Path) -> anyhow::Result<Code> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the package {}", path.display()))?;
        if bytes.len() > MAX_DIRECT_UPLOAD {
            anyhow::bail!(
                "the package {} is {} bytes; Lambda accepts at most {MAX_DIRECT_UPLOAD} in a direct upload",
                path.display(),
                bytes.len()
            );
        }
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes))
            .with_context(|| format!("{} is not a zip file", path.display()))?;
        let entry = archive.by_name("bootstrap").map_err(|_| {
            anyhow::anyhow!(
                "{} has no `bootstrap` entry; Lambda's provided runtimes run ./bootstrap",
                path.display()
            )
        })?;
        // Zips made on Unix carry the mode; a bootstrap without an execute bit
        // fails at the first invocation with a permission error.
        if let Some(mode) = entry.unix_mode()
            && mode & 0o111 == 0
        {
            anyhow::bail!(
                "`bootstrap` in {} is not executable (mode {:o}); package it with mode 0755",
                path.display(),
                mode & 0o777
            );
        }
        drop(entry);
        let sha256 = code_sha256(&bytes);
        Ok(Code {
            path: path.to_path_buf(),
            bytes,
            sha256,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn zip_with(name: &str, mode: u32) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        let mut z = zip::ZipWriter::new(f.reopen().unwrap());
        let opts = zip::write::SimpleFileOptions::default().unix_permissions(mode);
        z.start_file(name, opts).unwrap();
        z.write_all(b"#!/bin/sh\n").unwrap();
        z.finish().unwrap();
        f
    }

    #[test]
    fn packages_must_be_zips_with_an_executable_bootstrap() {
        let ok = zip_with("bootstrap", 0o755);
        let code = Code::from_zip(ok.path()).unwrap();
        assert_eq!(code.sha256.len(), 44, "base64 of 32 bytes");
        let err = Code::from_zip(zip_with("main", 0o755).path()).unwrap_err();
        assert!(err.to_string().contains("no `bootstrap` entry"), "{err}");
        let err = Code::from_zip(zip_with("bootstrap", 0o644).path()).unwrap_err();
        assert!(err.to_string().contains("not executable"), "{err}");
        let junk = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(junk.path(), b"not a zip").unwrap();
        let err = Code::from_zip(junk.path()).unwrap_err();
        assert!(format!("{err:#}").contains("is not a zip file"), "{err:#}");
    }
}
