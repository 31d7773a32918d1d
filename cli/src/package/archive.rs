//! The Lambda zip: written deterministically, read defensively.
//!
//! Same entries in, same bytes out: entries are sorted by name, every timestamp is
//! the DOS epoch (1980-01-01 00:00:00), the creator system is Unix, permissions are
//! explicit, no extra fields are written and the deflate level is fixed. Nothing
//! from the machine, the clock or the file system leaks into the archive, so the
//! CodeSha256 Lambda reports only changes when the code or the config does.

use std::io::{Cursor, Read, Write};

use anyhow::Context as _;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

/// One file in the package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// Permission bits, such as 0o755.
    pub mode: u32,
    pub data: Vec<u8>,
}

/// Largest unzipped package Lambda accepts (250 MB), also the most claw extracts.
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;

const S_IFREG: u32 = 0o100_000;
const DEFLATE_LEVEL: i64 = 6;

/// Writes `entries` as a zip, deterministically (see the module docs).
pub fn write_zip(entries: &[Entry]) -> anyhow::Result<Vec<u8>> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(w) = sorted.windows(2).find(|w| w[0].name == w[1].name) {
        anyhow::bail!("two package entries are both named {}", w[0].name);
    }
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for e in sorted {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(DEFLATE_LEVEL))
            .last_modified_time(DateTime::default())
            .system(zip::System::Unix)
            .external_attributes((S_IFREG | (e.mode & 0o777)) << 16)
            .large_file(false);
        zip.start_file(e.name.as_str(), options)
            .with_context(|| format!("cannot add {} to the zip", e.name))?;
        zip.write_all(&e.data)
            .with_context(|| format!("cannot compress {}", e.name))?;
    }
    let cursor = zip.finish().context("cannot finish the zip")?;
    Ok(cursor.into_inner())
}

/// Lambda's `CodeSha256`: base64 of the SHA-256 of the zip bytes.
pub fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip))
}

/// Lowercase hex SHA-256, for the manifest's input fingerprints.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads every regular file of a package zip, refusing names that would escape
/// the extraction directory and archives that unzip to more than Lambda allows.
pub fn read_zip(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let mut archive =
        ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("it is not a valid zip ({e})"))?;
    let mut out = Vec::new();
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut file = archive
            .by_index(i)
            .map_err(|e| format!("entry {i} cannot be read ({e})"))?;
        if file.is_dir() {
            continue;
        }
        let raw_name = String::from_utf8_lossy(file.name_raw()).into_owned();
        let Some(path) = file.enclosed_name() else {
            return Err(format!(
                "entry {raw_name:?} has an unsafe path (absolute or with `..`)"
            ));
        };
        let name = path.to_string_lossy().into_owned();
        if file.is_symlink() {
            return Err(format!(
                "entry {name} is a symbolic link; claw packages hold only files"
            ));
        }
        let mode = file.unix_mode().unwrap_or(0o644) & 0o777;
        total = total.saturating_add(file.size());
        if total > MAX_UNZIPPED_BYTES {
            return Err(format!(
                "it unzips to more than {} MB, Lambda's limit",
                MAX_UNZIPPED_BYTES / (1024 * 1024)
            ));
        }
        let mut data = Vec::with_capacity(file.size().min(MAX_UNZIPPED_BYTES) as usize);
        (&mut file)
            .take(MAX_UNZIPPED_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|e| format!("entry {name} cannot be decompressed ({e})"))?;
        out.push(Entry { name, mode, data });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<Entry> {
        vec![
            Entry {
                name: "bootstrap".into(),
                mode: 0o755,
                data: b"\x7fELF not really".repeat(1000),
            },
            Entry {
                name: "agent.json".into(),
                mode: 0o644,
                data: br#"{"app":"a"}"#.to_vec(),
            },
        ]
    }

    #[test]
    fn same_entries_same_bytes_in_any_order() {
        let a = write_zip(&entries()).unwrap();
        let mut reversed = entries();
        reversed.reverse();
        let b = write_zip(&reversed).unwrap();
        assert_eq!(a, b);
        assert_eq!(code_sha256(&a), code_sha256(&b));
    }

    #[test]
    fn different_content_different_hash() {
        let a = write_zip(&entries()).unwrap();
        let mut changed = entries();
        changed[1].data = br#"{"app":"b"}"#.to_vec();
        let b = write_zip(&changed).unwrap();
        assert_ne!(code_sha256(&a), code_sha256(&b));
    }

    #[test]
    fn entries_are_sorted_with_modes_and_the_dos_epoch() {
        let bytes = write_zip(&entries()).unwrap();
        let mut archive = ZipArchive::new(Cursor::new(&bytes)).unwrap();
        let names: Vec<String> = archive
            .file_names()
            .map(|n| n.unwrap().into_owned())
            .collect();
        // file_names() follows the central directory order.
        let mut by_index = Vec::new();
        for i in 0..archive.len() {
            let f = archive.by_index(i).unwrap();
            let name = f.name().unwrap().into_owned();
            by_index.push(name.clone());
            assert_eq!(f.last_modified(), Some(DateTime::default()));
            assert_eq!(f.compression(), CompressionMethod::Deflated);
            let mode = f.unix_mode().unwrap();
            assert_eq!(mode & 0o170000, S_IFREG, "{name} is not a regular file");
            let expected = if name == "bootstrap" { 0o755 } else { 0o644 };
            assert_eq!(mode & 0o777, expected, "{name}");
        }
        assert_eq!(by_index, ["agent.json", "bootstrap"]);
        assert_eq!(names.len(), 2);
        // The local headers are in the same order: agent.json's comes first.
        assert_eq!(&bytes[30..40], b"agent.json");
    }

    #[test]
    fn round_trips() {
        let bytes = write_zip(&entries()).unwrap();
        let mut read = read_zip(&bytes).unwrap();
        read.sort_by(|a, b| a.name.cmp(&b.name));
        let mut want = entries();
        want.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(read, want);
    }

    #[test]
    fn duplicate_names_are_refused() {
        let mut e = entries();
        e[1].name = "bootstrap".into();
        assert!(
            write_zip(&e)
                .unwrap_err()
                .to_string()
                .contains("both named bootstrap")
        );
    }

    #[test]
    fn refuses_garbage_and_path_traversal() {
        assert!(
            read_zip(b"not a zip at all")
                .unwrap_err()
                .contains("not a valid zip")
        );
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("../evil", SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"x").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        assert!(read_zip(&bytes).unwrap_err().contains("unsafe path"));
    }
}
