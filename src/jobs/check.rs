//! After a successful dump: `verify` of the new archive (the same checks as `pgsnap
//! verify`) and the optional test restore into a scratch database on the job's restore
//! server, by stock pg_restore, with each table's rows compared to the manifest's count.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::record::{RestoreEvidence, VerifyEvidence};
use crate::config::{Job, TestRestore};
use crate::conn::{ConnSettings, quote_value};
use crate::crypt::Identities;
use crate::error::{Error, Result};
use crate::manifest::{Manifest, manifest_path};

/// The keys that decrypt the job's archives: its identity files, or the passphrase file
/// it encrypts with; `None` when it has neither (or is not encrypted).
pub(crate) fn identities(job: &Job) -> Result<Option<Identities>> {
    if !job.verify.identity_files.is_empty() {
        return Identities::from_files(&job.verify.identity_files).map(Some);
    }
    match &job.encryption.passphrase_file {
        Some(p) => Identities::resolve(&[], Some(p), None),
        None => Ok(None),
    }
}

/// Verifies `archive`. Runs on a blocking thread (it reads the whole archive).
pub(crate) async fn verify(job: &Job, archive: &Path) -> VerifyEvidence {
    let started = Instant::now();
    let job = job.clone();
    let archive = archive.to_path_buf();
    let run = tokio::task::spawn_blocking(move || -> Result<crate::verify::VerifyReport> {
        let ids = identities(&job)?;
        crate::verify::check(&archive, ids.as_ref())
    })
    .await
    .map_err(|e| Error::internal(format!("the verify task failed: {e}")))
    .and_then(|r| r);
    let seconds = started.elapsed().as_secs_f64();
    match run {
        Ok(r) => VerifyEvidence {
            ok: r.ok(),
            contents_checked: !r.sealed,
            files_checked: r.files_checked,
            entries_read: r.entries_read,
            rows: r.rows,
            problems: r.problems.iter().map(|p| format!("{}: {}", p.file, p.what)).collect(),
            note: r.sealed.then(|| {
                "encrypted and no identity configured (verify.identity_file): the manifest and every file's size \
                 and checksum were checked, the contents were not decrypted"
                    .to_string()
            }),
            seconds,
        },
        Err(e) => VerifyEvidence {
            ok: false,
            contents_checked: false,
            files_checked: 0,
            entries_read: 0,
            rows: 0,
            problems: vec![e.to_string()],
            note: None,
            seconds,
        },
    }
}

/// A test restore of `archive` (named `name` in the destination) per `cfg`. Every failure
/// is in the evidence; the scratch database is dropped whatever happened.
pub(crate) async fn test_restore(job: &Job, cfg: &TestRestore, archive: &Path, name: &str) -> RestoreEvidence {
    let started = Instant::now();
    let database = scratch_name(&job.name, name);
    let mut ev = RestoreEvidence {
        ok: false,
        database: database.clone(),
        server_version: None,
        pg_restore: None,
        tables_compared: 0,
        rows: 0,
        mismatches: Vec::new(),
        error: None,
        dropped: false,
        seconds: 0.0,
    };
    if let Err(e) = restore_and_count(job, cfg, archive, &database, &mut ev).await {
        ev.error = Some(e.to_string());
    }
    ev.ok = ev.error.is_none() && ev.mismatches.is_empty() && ev.dropped;
    ev.seconds = started.elapsed().as_secs_f64();
    ev
}

/// `pgsnap_verify_<job>_<archive stamp>`, at most 63 bytes (NAMEDATALEN - 1).
fn scratch_name(job: &str, archive: &str) -> String {
    let stamp: String = archive
        .trim_start_matches(job)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let mut n = format!("{}{stamp}", scratch_prefix(job));
    n.truncate(63);
    n
}

/// `pgsnap_verify_<job>_`: what the job's scratch databases start with.
fn scratch_prefix(job: &str) -> String {
    format!("pgsnap_verify_{}_", job.to_ascii_lowercase().replace('-', "_"))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

async fn restore_and_count(
    job: &Job,
    cfg: &TestRestore,
    archive: &Path,
    database: &str,
    ev: &mut RestoreEvidence,
) -> Result<()> {
    let settings = super::conninfo_settings(&cfg.server.conninfo, cfg.server.password.as_ref(), "a test restore")?;
    // The configured password alone (not one from the conninfo or the environment) is
    // handed to pg_restore.
    let password = cfg.server.password.as_ref().and(settings.password.clone());
    let target = crate::pg::Target::from_settings(&settings)?;
    let admin = target
        .connect()
        .await
        .map_err(|e| e.context("test restore: connecting to the restore server"))?;
    let version = admin.version();
    ev.server_version = Some(format!("{}.{}", version.major(), version.0 % 10000));
    let pg_restore = find_pg_restore(cfg, version.major())?;
    ev.pg_restore = Some(format!(
        "{} ({})",
        pg_restore.display(),
        tool_version(&pg_restore).await?
    ));

    // Leftovers of interrupted earlier checks of this job go first (an abandoned scheduled
    // restore's, of another archive, too). Runs and test restores of one job hold its run
    // lock, so none of these is in use.
    let pattern = format!("^{}[0-9]{{8}}t[0-9]{{6}}z", scratch_prefix(&job.name));
    let leftovers = admin
        .text_rows(&format!(
            "SELECT datname FROM pg_catalog.pg_database WHERE datname ~ {}",
            crate::ddl::quote::literal(&pattern)
        ))
        .await
        .map_err(|e| e.context("test restore: looking for leftover scratch databases"))?;
    for name in leftovers.into_iter().filter_map(|r| r.into_iter().next().flatten()) {
        if name != database {
            drop_database(&admin, &name, version.major()).await?;
        }
    }
    drop_database(&admin, database, version.major()).await?;
    admin
        .execute(&format!("CREATE DATABASE {} TEMPLATE template0", quote_ident(database)))
        .await
        .map_err(|e| e.context(format!("test restore: creating the scratch database \"{database}\"")))?;
    let result = restore_in(
        job,
        &pg_restore,
        cfg,
        password.as_deref(),
        archive,
        database,
        &settings,
        ev,
    )
    .await;
    match drop_database(&admin, database, version.major()).await {
        Ok(()) => ev.dropped = true,
        Err(e) if result.is_ok() => return Err(e),
        Err(_) => {}
    }
    result
}

async fn drop_database(admin: &crate::pg::Session, database: &str, major: u32) -> Result<()> {
    // FORCE (13+) ends sessions a failed pg_restore may have left.
    let force = if major >= 13 { " WITH (FORCE)" } else { "" };
    admin
        .execute(&format!("DROP DATABASE IF EXISTS {}{force}", quote_ident(database)))
        .await
        .map_err(|e| e.context(format!("test restore: dropping the scratch database \"{database}\"")))
}

#[allow(clippy::too_many_arguments)]
async fn restore_in(
    job: &Job,
    pg_restore: &Path,
    cfg: &TestRestore,
    password: Option<&str>,
    archive: &Path,
    database: &str,
    settings: &ConnSettings,
    ev: &mut RestoreEvidence,
) -> Result<()> {
    // pg_restore reads no age files: an encrypted archive is decrypted beside it first,
    // under a hidden name, and removed after.
    let mut plain_copy: Option<PathBuf> = None;
    let encrypted = read_manifest(archive)?.encrypted;
    if encrypted {
        let Some(parent) = archive.parent() else {
            return Err(Error::internal("the archive has no directory"));
        };
        let file = archive
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let out = parent.join(format!(".{file}.restore-check"));
        let _ = super::remove_path(&out);
        let (job2, archive2, out2) = (job.clone(), archive.to_path_buf(), out.clone());
        plain_copy = Some(out.clone());
        let done = tokio::task::spawn_blocking(move || -> Result<()> {
            let ids = identities(&job2)?
                .ok_or_else(|| Error::config("the archive is encrypted and the job has no identity to decrypt it"))?;
            crate::decrypt::decrypt(&archive2, &ids, Some(&out2), false).map(|_| ())
        })
        .await
        .map_err(|e| Error::internal(format!("the decrypt task failed: {e}")))
        .and_then(|r| r);
        if let Err(e) = done {
            let _ = super::remove_path(&out);
            return Err(e.context("test restore: decrypting the archive"));
        }
    }
    let source = plain_copy.as_deref().unwrap_or(archive);
    let result = restore_from(pg_restore, cfg, password, archive, source, database, settings, ev).await;
    if let Some(p) = &plain_copy {
        let _ = super::remove_path(p);
    }
    result
}

fn read_manifest(archive: &Path) -> Result<Manifest> {
    let mp = manifest_path(archive);
    let bytes = std::fs::read(&mp).map_err(|e| Error::io(format!("could not read \"{}\"", mp.display()), e))?;
    Manifest::parse(&bytes).map_err(|e| Error::archive(format!("manifest \"{}\": {e}", mp.display())))
}

#[allow(clippy::too_many_arguments)]
async fn restore_from(
    pg_restore: &Path,
    cfg: &TestRestore,
    password: Option<&str>,
    archive: &Path,
    source: &Path,
    database: &str,
    settings: &ConnSettings,
    ev: &mut RestoreEvidence,
) -> Result<()> {
    let conninfo = format!("{} dbname={}", cfg.server.conninfo, quote_value(database));
    let mut cmd = std::process::Command::new(pg_restore);
    cmd.args(["--no-owner", "--no-privileges", "--exit-on-error", "-w", "-d"])
        .arg(&conninfo)
        .arg(source)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = run_tool(cmd, pg_restore).await?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let first: String = text.lines().take(3).collect::<Vec<_>>().join(" / ");
        return Err(Error::archive(format!("pg_restore failed ({}): {first}", out.status)));
    }

    // Rows per table: the manifest counts by dump id; the archive's TOC names the table.
    let manifest = read_manifest(archive)?;
    let src = source.to_path_buf();
    let toc = tokio::task::spawn_blocking(move || crate::archive::read::read_archive_toc(&src))
        .await
        .map_err(|e| Error::internal(format!("the TOC task failed: {e}")))??;
    let names: BTreeMap<i32, (String, String)> = toc
        .entries
        .iter()
        .filter(|e| e.desc == "TABLE DATA")
        .map(|e| (e.dump_id, (e.namespace.clone().unwrap_or_default(), e.tag.clone())))
        .collect();
    let mut scratch = settings.clone();
    scratch.dbname = database.to_string();
    let target = crate::pg::Target::from_settings(&scratch)?;
    let session = target
        .connect()
        .await
        .map_err(|e| e.context("test restore: connecting to the scratch database"))?;
    for t in &manifest.tables {
        let Some((schema, table)) = names.get(&t.dump_id) else {
            ev.mismatches.push(format!(
                "dump id {}: in the manifest but not a table's data in the archive",
                t.dump_id
            ));
            continue;
        };
        let sql = format!(
            "SELECT count(*) FROM ONLY {}.{}",
            quote_ident(schema),
            quote_ident(table)
        );
        let rows = session
            .text_rows(&sql)
            .await
            .map_err(|e| e.context(format!("test restore: counting {schema}.{table}")))?;
        let got: u64 = rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::internal(format!("test restore: count(*) of {schema}.{table} gave no number")))?;
        ev.tables_compared += 1;
        ev.rows += got;
        if got != t.rows {
            ev.mismatches.push(format!(
                "{schema}.{table}: restored {got} rows, the manifest says {}",
                t.rows
            ));
        }
    }
    drop(session);
    Ok(())
}

/// The configured pg_restore; else the one of the server's major version where Debian and
/// the PGDG packages put it; else `pg_restore` on PATH.
fn find_pg_restore(cfg: &TestRestore, major: u32) -> Result<PathBuf> {
    if let Some(p) = &cfg.pg_restore {
        return Ok(p.clone());
    }
    for candidate in [
        format!("/usr/lib/postgresql/{major}/bin/pg_restore"),
        format!("/usr/pgsql-{major}/bin/pg_restore"),
    ] {
        let p = PathBuf::from(candidate);
        if p.is_file() {
            return Ok(p);
        }
    }
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("pg_restore"))
                .find(|p| p.is_file())
        })
        .ok_or_else(|| {
            Error::config(format!(
                "no pg_restore found for the test restore (set verify.restore.pg_restore, or install PostgreSQL \
                 {major}'s client tools)"
            ))
        })
}

/// Runs a tool to its end on a blocking thread.
async fn run_tool(mut cmd: std::process::Command, tool: &Path) -> Result<std::process::Output> {
    let shown = tool.display().to_string();
    tokio::task::spawn_blocking(move || cmd.output())
        .await
        .map_err(|e| Error::internal(format!("the task running {shown} failed: {e}")))?
        .map_err(|e| Error::io(format!("could not run \"{}\"", tool.display()), e))
}

async fn tool_version(tool: &Path) -> Result<String> {
    let mut cmd = std::process::Command::new(tool);
    cmd.arg("--version");
    let out = run_tool(cmd, tool).await?;
    if !out.status.success() {
        return Err(Error::config(format!("\"{} --version\" failed", tool.display())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_names_fit_and_are_distinct_per_archive() {
        assert_eq!(
            scratch_name("shop-eu", "shop-eu-20261130T120000Z.dump"),
            "pgsnap_verify_shop_eu_20261130t120000zdump"
        );
        assert!(scratch_name(&"j".repeat(64), "x").len() <= 63);
    }
}
