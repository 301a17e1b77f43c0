//! The schema file of a job (`[jobs.NAME.schema_file]`): a schema-only plain SQL script
//! written by the same run as the archive and read under the same snapshot, so that the two
//! agree object for object.
//!
//! A holding connection opens a REPEATABLE READ transaction and exports its snapshot
//! (`pg_export_snapshot()`); the archive's dump and the schema file's dump both import it,
//! as `pg_dump --snapshot` does, and run side by side; the holder commits when both are
//! done (an exported snapshot lives as long as its transaction).
//!
//! The file is meant for review and diffs: deterministic (no `\restrict` key, which pg_dump
//! draws at random per script; no timestamps), never compressed or encrypted.

use std::path::Path;

use jiff::Timestamp;

use crate::config::{Content, Job, SchemaFile};
use crate::dump::OutputFormat;
use crate::error::{Error, Result};
use crate::pg::{Session, SessionOptions};

/// An exported snapshot held open for the run's dumps.
pub(crate) struct HeldSnapshot {
    session: Session,
    /// What `SET TRANSACTION SNAPSHOT` takes.
    pub id: String,
    /// When it was taken (the exporting statement's start), UTC.
    pub taken: Timestamp,
    /// The database it is of.
    pub database: String,
}

impl HeldSnapshot {
    /// Connects as the job's source does and exports a snapshot.
    pub(crate) async fn take(job: &Job) -> Result<HeldSnapshot> {
        let settings = super::conninfo_settings(&job.source.conninfo, job.source.password.as_ref(), "a job")?;
        let target = crate::pg::Target::from_settings(&settings)?;
        let mut session = target
            .connect()
            .await
            .map_err(|e| e.context("schema file: connecting to export the snapshot"))?;
        // No server timeout may end the idle transaction while the dumps run.
        session.setup(&SessionOptions::default()).await?;
        session.begin_snapshot_transaction().await?;
        let rows = session
            .text_rows(
                "SELECT pg_catalog.pg_export_snapshot(), \
                 pg_catalog.to_char(pg_catalog.statement_timestamp() AT TIME ZONE 'UTC', \
                 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), pg_catalog.current_database()",
            )
            .await
            .map_err(|e| e.context("schema file: exporting the snapshot"))?;
        let row = rows.into_iter().next().unwrap_or_default();
        let field = |i: usize| row.get(i).cloned().flatten();
        let (Some(id), Some(taken), Some(database)) = (field(0), field(1), field(2)) else {
            return Err(Error::internal("pg_export_snapshot() returned no row"));
        };
        let taken = taken
            .parse()
            .map_err(|e| Error::internal(format!("snapshot time \"{taken}\": {e}")))?;
        Ok(HeldSnapshot {
            session,
            id,
            taken,
            database,
        })
    }

    /// Ends the transaction (the snapshot with it).
    pub(crate) async fn release(self) {
        let _ = self.session.execute("COMMIT").await;
        self.session.close().await;
    }
}

/// The job as the dump of its schema file: the same source and selection, schema only,
/// plain, uncompressed and unencrypted, owners and privileges as the schema file asks.
pub(crate) fn schema_job(job: &Job, sf: &SchemaFile) -> Job {
    let mut j = job.clone();
    j.format = OutputFormat::Plain;
    j.content = Content::SchemaOnly;
    j.compression = None;
    j.parallel = 1;
    j.owners = sf.owners;
    j.privileges = sf.privileges;
    j.encryption = Default::default();
    j
}

/// The schema file's name beside an archive stem `J-YYYYMMDDTHHMMSSZ`.
pub(crate) fn file_name(stem: &str) -> String {
    format!("{stem}.schema.sql")
}

/// Size and SHA-256 (hex) of a file.
pub(crate) fn sum(path: &Path) -> Result<(u64, String)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    crate::manifest::sum_file(path, &name, crate::checksum::ChecksumKind::Sha256)
        .map(|f| (f.size, f.sha256.unwrap_or_default()))
        .map_err(|e| Error::io(format!("could not read \"{}\"", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_dump_is_a_plain_schema_only_script_of_the_same_selection() {
        let text = "[jobs.shop]\ndestination = \"/b\"\nformat = \"directory\"\nparallel = 4\ncompression = \"zstd:3\"\n\
                    content = \"data-only\"\nencrypt_to_file = \"/k\"\nsource = { dbname = \"x\" }\n\
                    select = { exclude_tables = [\"*_log\"] }\n\
                    schema_file = { owners = false, privileges = false }\n";
        let c = crate::config::parse(text, Path::new("/etc/pgsnap.toml"), Timestamp::UNIX_EPOCH).unwrap();
        let job = &c.jobs[0];
        let sf = job.schema_file.clone().unwrap();
        let args = schema_job(job, &sf).dump_args(Path::new("/o.sql"));
        let joined = args.join(" ");
        assert!(joined.starts_with("-F plain -w -d dbname=x -f /o.sql"), "{joined}");
        for want in [
            "--schema-only",
            "--no-owner",
            "--no-privileges",
            "--exclude-table=*_log",
        ] {
            assert!(args.iter().any(|a| a == want), "{want}: {joined}");
        }
        for unwanted in ["-j", "-Z", "--data-only"] {
            assert!(!args.iter().any(|a| a == unwanted), "{unwanted}: {joined}");
        }
        assert!(!joined.contains("encrypt"), "{joined}");
        assert_eq!(file_name("shop-20261130T020000Z"), "shop-20261130T020000Z.schema.sql");
    }
}
