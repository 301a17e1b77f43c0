//! Test support shared by `proto-tests/`, `compat/` and `benches/`: throwaway PostgreSQL
//! clusters of any provisioned major version, fresh databases, stock client tools, and
//! database fingerprints.
//!
//! Clusters live under `/tmp/pgsnap-test-<uid>/<run>/<label>/`. A *shared* cluster is one per
//! (test binary, major version, test run): nextest runs every test in its own process, so the
//! processes coordinate through file locks — the first one creates and starts the server,
//! each holds a shared lock while it uses it, and the last one out stops it. A *private*
//! cluster belongs to one value and is stopped and deleted when dropped. Every process also
//! holds a shared lock on its run's `alive.lock` until it exits; because a killed process
//! releases its locks but cannot stop its servers, every process reaps, once, the runs whose
//! lock nobody holds: a killed run leaves no server behind once the next run starts.
//!
//! As root the servers run as the OS user `pgsnaptest`, from a mirror of the provisioned
//! installation that this user can reach wherever the checkout is (see `server_install`).
//!
//! Every cluster can create the test extensions of `fixtures/extensions/` (see `extensions`).
//!
//! Scratch directories are removed when the test passes and kept when it fails (see `scratch`).
#![allow(dead_code)]

pub mod checksums;
pub mod cluster;
pub mod compare;
pub mod entries;
pub mod extensions;
pub mod fingerprint;
pub mod s3;
pub mod scratch;
pub mod server_install;

#[allow(unused_imports)]
pub use cluster::{Cluster, ClusterOptions, PASSWORD_GROUP, TestDb, pg_bin, project_root};
#[allow(unused_imports)]
pub use fingerprint::Fingerprint;
#[allow(unused_imports)]
pub use scratch::{Scratch, ScratchPath};
