//! Checksums computed independently of pgsnap, to check the sums its manifests record:
//! CRC-32C from its definition (reflected polynomial 0x82F63B78, as pg_basebackup's
//! manifests use it) and SHA-256 from coreutils' `sha256sum`.

use std::path::Path;
use std::process::Command;

/// Lowercase hex CRC-32C of `bytes`, table-driven.
pub fn crc32c_hex(bytes: &[u8]) -> String {
    let mut table = [0u32; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 { (c >> 1) ^ 0x82F6_3B78 } else { c >> 1 };
        }
        *slot = c;
    }
    let mut crc = !0u32;
    for &b in bytes {
        crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    format!("{:08x}", !crc)
}

/// Lowercase hex CRC-32C of the file at `path`.
pub fn crc32c_of_file(path: &Path) -> String {
    crc32c_hex(&std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display())))
}

/// Lowercase hex SHA-256 of the file at `path`, as `sha256sum` prints it.
pub fn sha256sum(path: &Path) -> String {
    let o = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum (coreutils) runs");
    assert!(o.status.success(), "sha256sum {}: {:?}", path.display(), o);
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}
