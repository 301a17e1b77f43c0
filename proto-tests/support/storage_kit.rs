//! The storage conformance suite every backend passes (put/get/list/stat/delete, a
//! multipart-sized object, unicode and spaces in names, concurrent writers, an interrupted or
//! dropped upload never visible, only committed archives listed as backups), and its helpers.
//! Included by the storage test binaries with `#[path]`.
#![allow(dead_code)]

use bytes::Bytes;
use pgsnap::storage::{PART_SIZE, Storage};

use crate::support::Scratch;

/// The runtime the storage tests drive `Storage` with.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A new directory under the system's temporary directory, removed when the test passes
/// (see `Scratch`).
pub fn scratch(prefix: &str) -> Scratch {
    Scratch::new(prefix)
}

/// Deterministic, incompressible-looking bytes.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub async fn put_in_pieces(s: &Storage, name: &str, data: &[u8], piece: usize) {
    let mut up = s.put(name).await.unwrap();
    for c in data.chunks(piece) {
        up.write(Bytes::copy_from_slice(c)).await.unwrap();
    }
    assert_eq!(up.finish().await.unwrap(), data.len() as u64);
}

/// The conformance suite every backend passes.
pub async fn conformance(s: &Storage) {
    let shown = s.location().to_string();
    // put / get / stat / list / delete of a small object.
    s.put_bytes("small.bin", b"hello".to_vec()).await.unwrap();
    assert_eq!(s.get_bytes("small.bin").await.unwrap(), b"hello", "{shown}");
    assert_eq!(s.stat("small.bin").await.unwrap().map(|o| o.size), Some(5), "{shown}");
    assert_eq!(s.stat("missing.bin").await.unwrap(), None, "{shown}");
    let e = s.get_bytes("missing.bin").await.unwrap_err();
    assert!(e.to_string().contains(&shown), "error names the destination: {e}");
    // Overwrite replaces.
    s.put_bytes("small.bin", b"hello again".to_vec()).await.unwrap();
    assert_eq!(s.get_bytes("small.bin").await.unwrap(), b"hello again", "{shown}");

    // A multipart-sized object (more than two parts), written in 1 MiB pieces.
    let big = payload(2 * PART_SIZE + 123_457, 7);
    put_in_pieces(s, "big/archive.dump", &big, 1 << 20).await;
    assert_eq!(
        s.stat("big/archive.dump").await.unwrap().map(|o| o.size),
        Some(big.len() as u64)
    );
    let mut d = s.get("big/archive.dump").await.unwrap();
    let mut back = Vec::with_capacity(big.len());
    while let Some(b) = d.next().await.unwrap() {
        back.extend_from_slice(&b);
    }
    assert!(
        back == big,
        "{shown}: multipart object read back differs ({} bytes)",
        back.len()
    );

    // Unicode and spaces in names.
    let odd = "nightly dumps/ünïcødé 名前 2026-11-29.dump";
    s.put_bytes(odd, b"odd".to_vec()).await.unwrap();
    assert_eq!(s.get_bytes(odd).await.unwrap(), b"odd", "{shown}");

    // Concurrent writers to different names.
    let (a, b) = (payload(PART_SIZE + 1, 1), payload(PART_SIZE + 2, 2));
    tokio::join!(
        put_in_pieces(s, "conc/a", &a, 300_000),
        put_in_pieces(s, "conc/b", &b, 700_000)
    );
    assert!(s.get_bytes("conc/a").await.unwrap() == a && s.get_bytes("conc/b").await.unwrap() == b);

    // An interrupted upload (more than a part sent, then abandoned) is never visible.
    let mut up = s.put("interrupted.dump").await.unwrap();
    up.write(Bytes::from(payload(PART_SIZE + 5, 3))).await.unwrap();
    up.abort().await.unwrap();
    assert_eq!(s.stat("interrupted.dump").await.unwrap(), None, "{shown}");
    // Dropped mid-way without abort: not visible either.
    {
        let mut up = s.put("dropped.dump").await.unwrap();
        up.write(Bytes::from(payload(1000, 4))).await.unwrap();
    }
    assert_eq!(s.stat("dropped.dump").await.unwrap(), None, "{shown}");

    let names: Vec<String> = s.list("").await.unwrap().into_iter().map(|o| o.name).collect();
    assert_eq!(
        names,
        vec!["big/archive.dump", "conc/a", "conc/b", odd, "small.bin"],
        "{shown}: listing"
    );
    let under: Vec<String> = s.list("conc/").await.unwrap().into_iter().map(|o| o.name).collect();
    assert_eq!(under, vec!["conc/a", "conc/b"]);
    let listed = s.list("big/").await.unwrap();
    assert_eq!(listed[0].size, big.len() as u64);

    // Only archives with their manifest are backups.
    assert!(s.backups().await.unwrap().is_empty(), "{shown}");
    s.put_bytes("big/archive.dump.manifest", b"{}".to_vec()).await.unwrap();
    let backups: Vec<String> = s.backups().await.unwrap().into_iter().map(|o| o.name).collect();
    assert_eq!(backups, vec!["big/archive.dump"]);

    for n in [
        "small.bin",
        "big/archive.dump",
        "big/archive.dump.manifest",
        odd,
        "conc/a",
        "conc/b",
    ] {
        s.delete(n).await.unwrap();
    }
    s.delete("never-there").await.unwrap();
    assert!(s.list("").await.unwrap().is_empty(), "{shown}: left after deletes");
}
