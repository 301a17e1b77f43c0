//! pgsnap: a native, parallel, snapshot-consistent PostgreSQL logical backup engine that
//! writes archives stock `pg_restore` 14–18 restores.
//!
//! The module map follows `architecture.md`: pure layers (`model`, `plan`, `ddl`, archive
//! encoding, `codec`) do no I/O; only `pg` talks to the server.
//!
//! # Dumping a database
//!
//! [`dump()`] is `pg_dump -Fd`: one snapshot, `jobs` worker connections, a directory
//! archive that appears under its name only when complete.
//!
//! ```no_run
//! # async fn example() -> pgsnap::Result<()> {
//! use pgsnap::conn::{ConnOptions, ConnSettings};
//! use pgsnap::{DumpOptions, dump};
//!
//! // libpq rules: PG* variables, ~/.pgpass, service files, URIs and key=value strings, TLS.
//! let settings = ConnSettings::from_process_env(&ConnOptions {
//!     dbname: Some("postgresql://backup@db.internal/shop?sslmode=verify-full".into()),
//!     ..ConnOptions::default()
//! })?;
//! let target = pgsnap::pg::Target::from_settings(&settings)?;
//! let mut opts = DumpOptions::new(target, "/backups/shop.dir");
//! opts.jobs = 4;
//! opts.compression = pgsnap::codec::Compression::parse("zstd:3")?; // archive 1.15, pg_restore 16+
//! let report = dump(opts).await?;
//! println!("{} rows, {} bytes, readable by {}", report.rows, report.bytes_out, report.readers);
//! # Ok(()) }
//! ```
//!
//! # Parallel, snapshot-consistent table export
//!
//! For programs that want the rows rather than an archive: export tables under a snapshot
//! you hold open, each into a sink of your own. Blocks arrive in order, in COPY text format.
//!
//! ```no_run
//! # async fn example(target: pgsnap::pg::Target) -> pgsnap::Result<()> {
//! use std::sync::Arc;
//! use pgsnap::engine::{BlockSink, ExportJob, ExportOptions, SinkFactory, export_tables};
//! use pgsnap::model::TableData;
//!
//! struct Count(u64);
//! impl BlockSink for Count {
//!     fn push(&mut self, block: Vec<u8>) -> pgsnap::Result<()> {
//!         self.0 += block.len() as u64;
//!         Ok(())
//!     }
//!     fn finish(self: Box<Self>) -> pgsnap::Result<u64> {
//!         Ok(self.0)
//!     }
//! }
//! struct Counters;
//! impl SinkFactory for Counters {
//!     fn open(&self, _job: &ExportJob) -> pgsnap::Result<Box<dyn BlockSink>> {
//!         Ok(Box::new(Count(0)))
//!     }
//! }
//!
//! // The snapshot comes from a transaction that stays open until the export returns.
//! let leader = target.connect().await?;
//! leader.begin_snapshot_transaction().await?;
//! let snapshot = leader.export_snapshot().await?;
//! let jobs = vec![ExportJob {
//!     id: 1,
//!     table: TableData {
//!         qualified_name: "public.orders".into(),
//!         columns: "id, total".into(),
//!         estimated_pages: 0,
//!         table_oid: 0,
//!         foreign: false,
//!         filter: None,
//!     },
//! }];
//! let opts = ExportOptions { jobs: 4, copy_trailer: false, ..ExportOptions::default() };
//! for t in export_tables(&target, &snapshot, jobs, Arc::new(Counters), &opts).await? {
//!     println!("{}: {} rows, {} bytes", t.table, t.rows, t.bytes);
//! }
//! # Ok(()) }
//! ```

pub mod error;
pub mod model;

pub use dump::{DumpOptions, Report, dump};
pub use engine::export_tables;
pub use error::{Error, ErrorKind, Result};
pub mod archive;
pub mod catalog;
pub mod checksum;
pub mod cli;
pub mod codec;
pub mod config;
pub mod conn;
pub mod crypt;
pub mod ddl;
pub mod decrypt;
pub mod dump;
pub mod engine;
pub mod jobs;
pub mod manifest;
pub mod notify;
pub mod pg;
pub mod plan;
pub mod progress;
pub mod retention;
pub mod select;
pub mod source;
pub mod storage;
pub mod verify;
