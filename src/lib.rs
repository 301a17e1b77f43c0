//! pgsnap: a native, parallel, snapshot-consistent PostgreSQL logical backup engine that
//! writes archives stock `pg_restore` 14–18 restores.
//!
//! The module map follows `architecture.md`: pure layers (`model`, `plan`, `ddl`, archive
//! encoding, `codec`) do no I/O; only `pg` talks to the server.

pub mod error;
pub mod model;

pub use error::{Error, ErrorKind, Result};
pub mod archive;
pub mod codec;
pub mod conn;
pub mod catalog;
pub mod ddl;
pub mod pg;
