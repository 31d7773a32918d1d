//! Just enough ELF reading to check a `bootstrap` before packaging or running it:
//! which machine it is for, and the newest glibc symbol version it needs.
//!
//! Lambda's `provided.al2` runtime has glibc 2.26 and `provided.al2023` 2.34; claw
//! pins 2.17 at build time so one package runs on both, and checks the result here
//! rather than trusting the toolchain.

use claw_spec::model::Architecture;

const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;

/// What the ELF header says about a binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfInfo {
    /// The `e_machine` field.
    pub machine: u16,
    /// The architecture claw knows it as, if any.
    pub arch: Option<Architecture>,
}

impl ElfInfo {
    /// A readable machine name for messages.
    pub fn machine_name(&self) -> String {
        match self.machine {
            EM_X86_64 => "x86_64".into(),
            EM_AARCH64 => "arm64 (aarch64)".into(),
            3 => "i386".into(),
            40 => "32-bit ARM".into(),
            243 => "RISC-V".into(),
            m => format!("ELF machine {m}"),
        }
    }
}

/// Reads the ELF header of a 64-bit little-endian executable.
pub fn inspect(bytes: &[u8]) -> Result<ElfInfo, String> {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        return Err("it is not an ELF executable (Lambda runs Linux binaries)".into());
    }
    if bytes[4] != 2 {
        return Err(
            "it is a 32-bit ELF binary; Lambda runs 64-bit x86_64 or arm64 binaries".into(),
        );
    }
    if bytes[5] != 1 {
        return Err(
            "it is a big-endian ELF binary; Lambda runs little-endian x86_64 or arm64".into(),
        );
    }
    let machine = u16::from_le_bytes([bytes[18], bytes[19]]);
    let arch = match machine {
        EM_X86_64 => Some(Architecture::X86_64),
        EM_AARCH64 => Some(Architecture::Arm64),
        _ => None,
    };
    Ok(ElfInfo { machine, arch })
}

/// The symbol versions the binary needs from each shared library, as
/// `(library, version)` pairs such as `("libc.so.6", "GLIBC_2.17")`, read from the
/// `.gnu.version_r` section. A static binary needs none.
pub fn version_needs(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    inspect(bytes)?;
    let rd = Reader(bytes);
    let shoff = rd.u64(0x28)? as usize;
    let shentsize = rd.u16(0x3a)? as usize;
    let shnum = rd.u16(0x3c)? as usize;
    if shoff == 0 || shnum == 0 {
        return Err("it has no section headers".into());
    }
    if shentsize < 64 {
        return Err(format!("its section header size {shentsize} is too small"));
    }
    let section = |i: usize| -> Result<(u32, usize, usize, u32, u32), String> {
        let base = shoff.saturating_add(i.saturating_mul(shentsize));
        let at = |off: usize| base.saturating_add(off);
        Ok((
            rd.u32(at(4))?,             // sh_type
            rd.u64(at(0x18))? as usize, // sh_offset
            rd.u64(at(0x20))? as usize, // sh_size
            rd.u32(at(0x28))?,          // sh_link
            rd.u32(at(0x2c))?,          // sh_info: number of entries
        ))
    };
    let mut out = Vec::new();
    for i in 0..shnum {
        let (ty, offset, _size, link, count) = section(i)?;
        if ty != SHT_GNU_VERNEED {
            continue;
        }
        let (_, str_off, str_size, _, _) = section(link as usize)?;
        let strtab = bytes
            .get(str_off..str_off.saturating_add(str_size))
            .ok_or("its version string table lies outside the file")?;
        let name = |at: u32| -> Result<String, String> {
            let s = strtab
                .get(at as usize..)
                .ok_or("a version name lies outside the string table")?;
            let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
            Ok(String::from_utf8_lossy(&s[..end]).into_owned())
        };
        let mut need = offset;
        for _ in 0..count {
            let cnt = rd.u16(need.saturating_add(2))?;
            let file = name(rd.u32(need.saturating_add(4))?)?;
            let mut aux = need.saturating_add(rd.u32(need.saturating_add(8))? as usize);
            for _ in 0..cnt {
                out.push((file.clone(), name(rd.u32(aux.saturating_add(8))?)?));
                let next = rd.u32(aux.saturating_add(12))? as usize;
                if next == 0 {
                    break;
                }
                aux = aux.saturating_add(next);
            }
            let next = rd.u32(need.saturating_add(12))? as usize;
            if next == 0 {
                break;
            }
            need = need.saturating_add(next);
        }
    }
    Ok(out)
}

/// The newest `GLIBC_x.y[.z]` version among `needs`, as `(x, y, z)`.
pub fn max_glibc(needs: &[(String, String)]) -> Option<(u32, u32, u32)> {
    needs.iter().filter_map(|(_, v)| parse_glibc(v)).max()
}

/// `GLIBC_2.17` → `(2, 17, 0)`; other names (`GLIBC_PRIVATE`, `GCC_3.0`) → None.
pub fn parse_glibc(v: &str) -> Option<(u32, u32, u32)> {
    let rest = v.strip_prefix("GLIBC_")?;
    let mut parts = rest.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = match parts.next() {
        Some(p) => p?,
        None => 0,
    };
    Some((major, minor, patch))
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn get<const N: usize>(&self, at: usize) -> Result<[u8; N], String> {
        self.0
            .get(at..at.saturating_add(N))
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| format!("it is truncated (reading {N} bytes at offset {at})"))
    }
    fn u16(&self, at: usize) -> Result<u16, String> {
        self.get::<2>(at).map(u16::from_le_bytes)
    }
    fn u32(&self, at: usize) -> Result<u32, String> {
        self.get::<4>(at).map(u32::from_le_bytes)
    }
    fn u64(&self, at: usize) -> Result<u64, String> {
        self.get::<8>(at).map(u64::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(machine: u16) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b
    }

    #[test]
    fn reads_the_machine() {
        assert_eq!(
            inspect(&header(62)).unwrap().arch,
            Some(Architecture::X86_64)
        );
        assert_eq!(
            inspect(&header(183)).unwrap().arch,
            Some(Architecture::Arm64)
        );
        let riscv = inspect(&header(243)).unwrap();
        assert_eq!(riscv.arch, None);
        assert_eq!(riscv.machine_name(), "RISC-V");
    }

    #[test]
    fn refuses_what_is_not_a_64_bit_little_endian_elf() {
        assert!(
            inspect(b"#!/bin/sh\necho hi\n")
                .unwrap_err()
                .contains("not an ELF")
        );
        let mut b = header(62);
        b[4] = 1;
        assert!(inspect(&b).unwrap_err().contains("32-bit"));
        assert!(inspect(&b[..10]).is_err());
    }

    #[test]
    fn parses_glibc_versions() {
        assert_eq!(parse_glibc("GLIBC_2.17"), Some((2, 17, 0)));
        assert_eq!(parse_glibc("GLIBC_2.2.5"), Some((2, 2, 5)));
        assert_eq!(parse_glibc("GLIBC_PRIVATE"), None);
        assert_eq!(parse_glibc("GCC_3.0"), None);
        let needs = vec![
            ("libc.so.6".to_string(), "GLIBC_2.2.5".to_string()),
            ("libc.so.6".to_string(), "GLIBC_2.14".to_string()),
            ("libgcc_s.so.1".to_string(), "GCC_4.2.0".to_string()),
        ];
        assert_eq!(max_glibc(&needs), Some((2, 14, 0)));
    }

    #[test]
    fn reads_version_needs_of_the_running_test_binary() {
        // This test binary is a dynamically linked glibc executable on Linux: it
        // must need at least one GLIBC_ version from libc.so.6.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let info = inspect(&exe).unwrap();
        if cfg!(target_arch = "x86_64") {
            assert_eq!(info.arch, Some(Architecture::X86_64));
        }
        let needs = version_needs(&exe).unwrap();
        assert!(
            needs
                .iter()
                .any(|(lib, v)| lib.starts_with("libc.so") && v.starts_with("GLIBC_")),
            "{needs:?}"
        );
        assert!(max_glibc(&needs).is_some());
    }

    #[test]
    fn garbage_after_a_valid_header_is_an_error_not_a_panic() {
        let mut b = header(62);
        b[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
        b[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        b[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        assert!(version_needs(&b).is_err());
    }
}
