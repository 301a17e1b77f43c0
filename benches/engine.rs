//! Micro-benchmarks without a server (criterion): the codecs on synthetic COPY text, and the
//! whole data path — engine, ordering of split ranges, parallel compression, archive writer —
//! exporting fake tables (`pgsnap::engine::fake`) into real archives in a temporary
//! directory. See benches/README.md.
//!
//! ```sh
//! cargo bench --bench engine                     # everything
//! cargo bench --bench engine -- codec/zstd       # a filter
//! ```

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pgsnap::archive::writer::{self, Format};
use pgsnap::archive::{ArchiveFormat, ArchiveVersion, CreateTime, Header, HeaderCompression, TocEntry, WriterOptions};
use pgsnap::codec::{Compression, Encoder, compress_member};
use pgsnap::engine::fake::{FakeSource, FakeTable};
use pgsnap::engine::{ArchiveSinks, ExportJob, ExportOptions, export_from};
use pgsnap::model::TableData;

/// 8 KiB pages of about 60 rows of 120 bytes, as a narrow table's heap holds.
const ROWS_PER_PAGE: u64 = 60;
const PAYLOAD: usize = 110;

fn codecs() -> Vec<(&'static str, Compression)> {
    vec![
        ("none", Compression::None),
        ("gzip1", Compression::Gzip { level: 1 }),
        ("gzip6", Compression::Gzip { level: 6 }),
        ("lz4", Compression::Lz4 { level: 1 }),
        ("zstd3", Compression::Zstd { level: 3, long: false }),
    ]
}

/// 4 MiB or so of COPY text.
fn sample() -> Vec<u8> {
    let source = FakeSource::new([(1, FakeTable::new(512, ROWS_PER_PAGE, PAYLOAD))]);
    source.expected(1, 0, None)
}

fn codec(c: &mut Criterion) {
    let input = sample();
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Bytes(input.len() as u64));
    for (name, comp) in codecs() {
        // One member per 1 MiB block, as the parallel writers compress.
        g.bench_with_input(BenchmarkId::new("member", name), &input, |b, input| {
            b.iter(|| {
                input
                    .chunks(1 << 20)
                    .map(|block| compress_member(comp, block).map(|m| m.len()))
                    .sum::<std::io::Result<usize>>()
            })
        });
        // One stream fed 64 KiB writes, as the single-threaded path does.
        g.bench_with_input(BenchmarkId::new("stream", name), &input, |b, input| {
            b.iter(|| {
                let mut e = Encoder::new(comp, Vec::with_capacity(input.len())).map_err(|e| e.to_string())?;
                for w in input.chunks(64 << 10) {
                    std::io::Write::write_all(&mut e, w).map_err(|e| e.to_string())?;
                }
                e.finish().map(|v| v.len()).map_err(|e| e.to_string())
            })
        });
    }
    g.finish();
}

fn header(c: Compression) -> Header {
    let version = ArchiveVersion::lowest_for(c);
    Header {
        version,
        format: ArchiveFormat::Tar,
        // INVARIANT: every codec of `codecs()` has a header compression in its lowest version.
        compression: HeaderCompression::for_archive(version, c).expect("header compression"),
        created: CreateTime {
            sec: 0,
            min: 0,
            hour: 12,
            mday: 30,
            mon: 10,
            year: 126,
            isdst: 0,
        },
        dbname: "bench".into(),
        server_version: "18.1".into(),
        dump_version: "pgsnap bench".into(),
    }
}

/// A TABLE and a TABLE DATA entry per table; the data entries' ids are `2 * i + 2`.
fn entries(tables: usize) -> Vec<TocEntry> {
    let mut out = Vec::new();
    for i in 0..tables {
        let name = format!("t{i}");
        let table_id = 2 * i as i32 + 1;
        out.push(TocEntry {
            dump_id: table_id,
            tableoid: "1259".into(),
            oid: format!("{}", 16384 + i),
            tag: name.clone(),
            desc: "TABLE".into(),
            section: 2,
            defn: Some(format!(
                "CREATE TABLE public.{name} (a integer, b integer, c integer, d text);\n"
            )),
            drop_stmt: Some(format!("DROP TABLE public.{name};\n")),
            namespace: Some("public".into()),
            tablespace: Some(String::new()),
            tableam: Some("heap".into()),
            owner: Some("postgres".into()),
            ..TocEntry::default()
        });
        out.push(TocEntry {
            dump_id: table_id + 1,
            had_dumper: true,
            tableoid: "0".into(),
            oid: format!("{}", 16384 + i),
            tag: name.clone(),
            desc: "TABLE DATA".into(),
            section: 3,
            copy_stmt: Some(format!("COPY public.{name} (a, b, c, d) FROM stdin;\n")),
            namespace: Some("public".into()),
            owner: Some("postgres".into()),
            deps: vec![table_id],
            ..TocEntry::default()
        });
    }
    out
}

/// Tables of `pages` each, as jobs and as a fake source.
fn tables(pages: &[u64]) -> (FakeSource, Vec<ExportJob>, u64) {
    let source = FakeSource::new(
        pages
            .iter()
            .enumerate()
            .map(|(i, p)| (16384 + i as u32, FakeTable::new(*p, ROWS_PER_PAGE, PAYLOAD))),
    );
    let jobs = pages
        .iter()
        .enumerate()
        .map(|(i, p)| ExportJob {
            id: 2 * i as i32 + 2,
            table: TableData {
                qualified_name: format!("public.t{i}"),
                columns: "a, b, c, d".into(),
                estimated_pages: *p as i64,
                table_oid: 16384 + i as u32,
                foreign: false,
                filter: None,
            },
        })
        .collect();
    let bytes = (0..pages.len())
        .map(|i| source.expected(16384 + i as u32, 0, None).len() as u64)
        .sum();
    (source, jobs, bytes)
}

/// One archive of the fake tables, written and finished.
fn export(
    rt: &tokio::runtime::Runtime,
    format: Format,
    comp: Compression,
    source: &FakeSource,
    jobs: &[ExportJob],
    workers: usize,
) -> u64 {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("archive");
    let opts = WriterOptions {
        compression: comp,
        sync: false,
        ..WriterOptions::default()
    };
    let mut w = writer::create(format, Some(&path), opts).expect("writer");
    w.start(header(comp), entries(jobs.len())).expect("start");
    let sinks = Arc::new(ArchiveSinks(w.sinks().expect("sinks")));
    let export_opts = ExportOptions {
        jobs: workers,
        ..ExportOptions::default()
    };
    let reports = rt
        .block_on(export_from(source.clone(), jobs.to_vec(), sinks, &export_opts))
        .expect("export");
    w.finish().expect("finish");
    reports.iter().map(|r| r.written).sum()
}

fn archive(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // One 60 MiB table (8192 pages: split into ranges at -j 2, as a server table would be)
    // and 20 small ones.
    let mut pages = vec![8_192];
    pages.extend([16; 20]);
    let (source, jobs, bytes) = tables(&pages);
    let mut g = c.benchmark_group("archive");
    g.throughput(Throughput::Bytes(bytes));
    for (fname, format) in [("dir", Format::Directory), ("custom", Format::Custom)] {
        for (cname, comp) in codecs() {
            if matches!(comp, Compression::Gzip { level: 6 }) {
                continue;
            }
            for workers in [1, 2] {
                let id = BenchmarkId::new(format!("{fname}-{cname}"), format!("j{workers}"));
                g.bench_function(id, |b| b.iter(|| export(&rt, format, comp, &source, &jobs, workers)));
            }
        }
    }
    g.finish();
    // Per-table overhead: 1000 tables of one page each.
    let (source, jobs, bytes) = tables(&[1; 1000]);
    let mut g = c.benchmark_group("archive-many");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("dir-gzip1-j2", |b| {
        b.iter(|| {
            export(
                &rt,
                Format::Directory,
                Compression::Gzip { level: 1 },
                &source,
                &jobs,
                2,
            )
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // A 2-core machine shared with others: few samples, short windows; compare medians.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = codec, archive
}
criterion_main!(benches);
