//! Bounded fuzzing of every archive reader (issue 9): damaged and hostile inputs derived from
//! real archives — bytes flipped, cut, inserted, length fields set to extremes — and plain
//! random bytes behind a valid magic go through the directory toc.dat decoder, the custom
//! reader (TOC and every entry's data), the tar reader (TOC and every member) and the
//! standard-input readers. Each must answer with `Ok` or an error, never a panic, a hang or
//! an allocation the input does not pay for. A fixed number of cases keeps this to seconds;
//! the seed changes every run (proptest prints it with any failure, to replay it).

use std::io::Cursor;
use std::path::Path;
use std::sync::OnceLock;

use pgsnap::archive::custom::{CustomReader, CustomWriter};
use pgsnap::archive::read::read_stream;
use pgsnap::archive::tar::{TarReader, TarWriter};
use pgsnap::archive::{
    ArchiveFormat, ArchiveVersion, ArchiveWriter, CreateTime, Header, HeaderCompression, TocEntry, WriterOptions,
    decode_toc, encode_toc,
};
use pgsnap::codec::Compression;
use proptest::prelude::*;

/// Most bytes any one reader may hand out for an input of a few KiB: data limits given to
/// the readers, as `pgsnap` passes its own.
const DATA_LIMIT: u64 = 64 << 20;

fn header(c: Compression) -> Header {
    let version = ArchiveVersion::lowest_for(c);
    Header {
        version,
        format: ArchiveFormat::Tar,
        compression: HeaderCompression::for_archive(version, c).unwrap(),
        created: CreateTime {
            sec: 1,
            min: 2,
            hour: 3,
            mday: 4,
            mon: 5,
            year: 125,
            isdst: 0,
        },
        dbname: "fuzz".into(),
        server_version: "18.1".into(),
        dump_version: "pgsnap fuzz".into(),
    }
}

fn entries() -> Vec<TocEntry> {
    let table = |id: i32, name: &str| TocEntry {
        dump_id: id,
        tableoid: "1259".into(),
        oid: format!("{}", 16000 + id),
        tag: name.into(),
        desc: "TABLE".into(),
        section: 2,
        defn: Some(format!("CREATE TABLE public.{name} (id integer, v text);\n")),
        drop_stmt: Some(format!("DROP TABLE public.{name};\n")),
        namespace: Some("public".into()),
        tablespace: Some(String::new()),
        tableam: Some("heap".into()),
        owner: Some("postgres".into()),
        ..TocEntry::default()
    };
    let data = |id: i32, of: i32, name: &str| TocEntry {
        dump_id: id,
        had_dumper: true,
        tableoid: "0".into(),
        oid: format!("{}", 16000 + of),
        tag: name.into(),
        desc: "TABLE DATA".into(),
        section: 3,
        copy_stmt: Some(format!("COPY public.{name} (id, v) FROM stdin;\n")),
        namespace: Some("public".into()),
        owner: Some("postgres".into()),
        deps: vec![of],
        ..TocEntry::default()
    };
    vec![
        TocEntry {
            dump_id: 1,
            tableoid: "0".into(),
            oid: "0".into(),
            tag: "ENCODING".into(),
            desc: "ENCODING".into(),
            section: 1,
            defn: Some("SET client_encoding = 'UTF8';\n".into()),
            ..TocEntry::default()
        },
        table(2, "a"),
        table(3, "b"),
        data(4, 2, "a"),
        data(5, 3, "b"),
    ]
}

fn rows(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        v.extend_from_slice(format!("{i}\tvalue number {i} \\N é\n").as_bytes());
    }
    v.extend_from_slice(b"\\.\n\n\n");
    v
}

/// A complete archive written by pgsnap's own writer into `path`.
fn write_with(mut w: Box<dyn ArchiveWriter>, c: Compression) {
    w.start(header(c), entries()).unwrap();
    let sinks = w.sinks().unwrap();
    for (id, n) in [(4, 200), (5, 3)] {
        let mut d = sinks.open(id).unwrap();
        d.write(rows(n)).unwrap();
        d.finish().unwrap();
    }
    drop(sinks);
    w.finish().unwrap();
}

struct Seeds {
    toc: Vec<u8>,
    custom: Vec<Vec<u8>>,
    tar: Vec<u8>,
}

fn seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let opts = |c| WriterOptions {
            compression: c,
            sync: false,
            ..WriterOptions::default()
        };
        let mut custom = Vec::new();
        for (i, c) in [
            Compression::Gzip { level: 1 },
            Compression::None,
            Compression::Lz4 { level: 1 },
        ]
        .into_iter()
        .enumerate()
        {
            let p = dir.path().join(format!("c{i}.dump"));
            write_with(Box::new(CustomWriter::create(Some(&p), opts(c)).unwrap()), c);
            custom.push(std::fs::read(&p).unwrap());
        }
        let p = dir.path().join("t.tar");
        write_with(
            Box::new(TarWriter::create(Some(&p), opts(Compression::None)).unwrap()),
            Compression::None,
        );
        Seeds {
            toc: encode_toc(&header(Compression::Gzip { level: 6 }), &entries()),
            custom,
            tar: std::fs::read(Path::new(&p)).unwrap(),
        }
    })
}

/// One damage applied to a seed.
#[derive(Debug, Clone)]
enum Damage {
    /// XOR a byte at a relative position.
    Flip(f64, u8),
    /// Cut the input at a relative position.
    Truncate(f64),
    /// Insert bytes at a relative position.
    Insert(f64, Vec<u8>),
    /// Overwrite four bytes (a length or count field, perhaps) with an extreme value.
    Extreme(f64, u32),
    /// Remove a span.
    Remove(f64, usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    let at = 0.0..1.0f64;
    prop_oneof![
        4 => (at.clone(), 1..=255u8).prop_map(|(a, x)| Damage::Flip(a, x)),
        1 => at.clone().prop_map(Damage::Truncate),
        1 => (at.clone(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(a, b)| Damage::Insert(a, b)),
        2 => (at.clone(), prop_oneof![Just(u32::MAX), Just(0x7fff_ffff), Just(0x8000_0000), Just(1 << 30), any::<u32>()])
            .prop_map(|(a, v)| Damage::Extreme(a, v)),
        1 => (at, 1..64usize).prop_map(|(a, n)| Damage::Remove(a, n)),
    ]
}

fn apply(seed: &[u8], damages: &[Damage]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for d in damages {
        let idx = |a: f64, len: usize| ((a * len as f64) as usize).min(len.saturating_sub(1));
        match d {
            Damage::Flip(a, x) if !b.is_empty() => {
                let i = idx(*a, b.len());
                b[i] ^= x;
            }
            Damage::Truncate(a) => b.truncate(idx(*a, b.len())),
            Damage::Insert(a, bytes) => {
                let i = idx(*a, b.len() + 1);
                b.splice(i..i, bytes.iter().copied());
            }
            Damage::Extreme(a, v) if b.len() >= 4 => {
                let i = idx(*a, b.len() - 3);
                b[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            Damage::Remove(a, n) if !b.is_empty() => {
                let i = idx(*a, b.len());
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            _ => {}
        }
    }
    b
}

/// Everything the custom reader offers, on `bytes`.
fn read_custom(bytes: &[u8]) {
    if let Ok(mut r) = CustomReader::new(Cursor::new(bytes.to_vec())) {
        let ids: Vec<i32> = r.toc().entries.iter().map(|e| e.dump_id).collect();
        for id in ids {
            let mut total = 0u64;
            let _ = r.read_data(id, DATA_LIMIT, &mut |ev| {
                if let pgsnap::archive::custom::DataEvent::Bytes(b) = ev {
                    total += b.len() as u64;
                }
                Ok(())
            });
            assert!(total <= DATA_LIMIT);
        }
    }
    let _ = read_stream(&mut &bytes[..]);
}

/// Everything the tar reader offers, on `bytes`.
fn read_tar(bytes: &[u8]) {
    if let Ok(mut r) = TarReader::new(Cursor::new(bytes.to_vec())) {
        let _ = (r.header(), r.entries().len());
        for m in r.members().to_vec() {
            let _ = r.copy_member(&m, DATA_LIMIT, &mut |_| Ok(()));
        }
    }
    let _ = read_stream(&mut &bytes[..]);
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Shrinking a crash is useful; a run without one ends at `cases`.
        max_shrink_iters: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(1500))]

    #[test]
    fn toc_dat_decoder_never_panics(d in prop::collection::vec(damage(), 1..6)) {
        let bytes = apply(&seeds().toc, &d);
        if let Ok((_, entries)) = decode_toc(&bytes) {
            // Whatever decodes can be listed.
            let _ = pgsnap::archive::list(&decode_toc(&bytes).unwrap().0, &entries);
        }
    }

    #[test]
    fn custom_reader_never_panics(which in 0..3usize, d in prop::collection::vec(damage(), 1..6)) {
        read_custom(&apply(&seeds().custom[which], &d));
    }

    #[test]
    fn tar_reader_never_panics(d in prop::collection::vec(damage(), 1..6)) {
        read_tar(&apply(&seeds().tar, &d));
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// Random bytes behind each format's valid opening.
    #[test]
    fn random_bytes_behind_a_valid_start(keep in 5..200usize, tail in prop::collection::vec(any::<u8>(), 0..2048)) {
        let s = seeds();
        let mut toc = s.toc[..keep.min(s.toc.len())].to_vec();
        toc.extend_from_slice(&tail);
        let _ = decode_toc(&toc);
        let mut custom = s.custom[0][..keep.min(s.custom[0].len())].to_vec();
        custom.extend_from_slice(&tail);
        read_custom(&custom);
        // A tar header block, then noise where toc.dat should be.
        let mut tar = s.tar[..512].to_vec();
        tar.extend_from_slice(&tail);
        read_tar(&tar);
    }
}

#[test]
fn the_seeds_themselves_read_back() {
    let s = seeds();
    let (h, e) = decode_toc(&s.toc).unwrap();
    assert_eq!((h.dbname.as_str(), e.len()), ("fuzz", 5));
    for c in &s.custom {
        let mut r = CustomReader::new(Cursor::new(c.clone())).unwrap();
        let mut got = Vec::new();
        r.read_data(4, DATA_LIMIT, &mut |ev| {
            if let pgsnap::archive::custom::DataEvent::Bytes(b) = ev {
                got.extend_from_slice(b);
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(got, rows(200));
    }
    let r = TarReader::new(Cursor::new(s.tar.clone())).unwrap();
    assert_eq!(r.entries().len(), 5);
}
