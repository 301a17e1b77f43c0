//! Backup jobs with further destinations (`[[jobs.NAME.destinations]]`), end to end with the
//! built binary, a real cluster, moto's S3 server and a fault-injecting proxy between pgsnap
//! and it (support::s3): transient faults (connection resets, 503 answers, slow responses)
//! are retried and every destination commits; each destination rotates by its own
//! retention; a destination that keeps failing — cut off in the middle of an upload — is
//! recorded as failed while the others commit, fails the run under `destination_policy =
//! "all"` (exit 1) and not under `"best-effort"`, and never lists a half-uploaded backup; the
//! janitor removes what the cut-off upload left, and nothing else, and never while the job
//! is running.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use support::s3::{Fault, FaultProxy, KEY, Moto, SECRET};
use support::{Scratch, TestDb};

const MAJOR: u32 = 17;

fn pgsnap(args: &[&str], config: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgsnap"));
    for v in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ] {
        cmd.env_remove(v);
    }
    // `config check` takes the file itself; the other commands `-c FILE`.
    let file = config.to_str().unwrap();
    let tail = if args.first() == Some(&"config") {
        vec![file]
    } else {
        vec!["-c", file]
    };
    cmd.args(args)
        .args(tail)
        .env("XDG_STATE_HOME", config.parent().unwrap())
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env_remove("PG_COLOR")
        .env_remove("PGSNAP_CONFIG")
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The job `shop` of `db` into `dir/local`, with `rest` (its further keys and tables).
fn write_config(dir: &Path, db: &TestDb, format: &str, rest: &str) -> PathBuf {
    let path = dir.join("pgsnap.toml");
    std::fs::write(
        &path,
        format!(
            "[jobs.shop]\ndestination = \"local\"\nformat = \"{format}\"\n\
             source = {{ host = \"{}\", port = {}, user = \"postgres\", dbname = \"{}\" }}\n\
             retention = {{ keep_last = 3 }}\n{rest}",
            db.cluster.socket_dir().display(),
            db.cluster.port,
            db.name
        ),
    )
    .unwrap();
    path
}

/// The newest run record in the job's directory.
fn newest_record(local: &Path) -> serde_json::Value {
    let mut v: Vec<PathBuf> = std::fs::read_dir(local)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    serde_json::from_str(&std::fs::read_to_string(v.last().unwrap()).unwrap()).unwrap()
}

fn names(objects: Vec<pgsnap::storage::ObjectInfo>) -> Vec<String> {
    objects.into_iter().map(|o| o.name).collect()
}

#[test]
fn transient_faults_are_retried_and_each_destination_rotates_by_its_own_retention() {
    let db = TestDb::new(
        MAJOR,
        "dest_retry",
        "CREATE TABLE orders (id int PRIMARY KEY, note text);
         INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 2000) g;",
    );
    let moto = Moto::start();
    moto.create_bucket("bkt");
    let proxy = FaultProxy::start(moto.port);
    let dir = Scratch::new("pgsnap-destinations");
    let nas = dir.path().join("nas");
    std::fs::create_dir(&nas).unwrap();
    let config = write_config(
        dir.path(),
        &db,
        "custom",
        &format!(
            "[[jobs.shop.destinations]]\nurl = \"{}\"\n\
             [[jobs.shop.destinations]]\nurl = \"file://{}\"\nretention = {{ keep_last = 1 }}\n",
            proxy.url("bkt", "shop"),
            nas.display()
        ),
    );
    let o = pgsnap(&["config", "check"], &config);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains("  and s3://bkt/shop with retention keep-last 3\n"),
        "{}",
        out(&o)
    );
    assert!(out(&o).contains("destination policy all;"), "{}", out(&o));

    let local = dir.path().join("local");
    let mut last = String::new();
    for (fault, n) in [
        (Fault::Reset, Some(3)),
        (Fault::Status(503), Some(3)),
        (Fault::Slow(Duration::from_millis(20)), None),
    ] {
        proxy.set(fault, n);
        let before = proxy.faulted();
        let o = pgsnap(&["run", "shop"], &config);
        assert_eq!(o.status.code(), Some(0), "{fault:?}: {}\n{}", err(&o), out(&o));
        assert!(proxy.faulted() > before, "{fault:?}: no fault was injected");
        last = out(&o);
        assert!(out(&o).contains("committed on s3://bkt/shop ("), "{}", out(&o));
        assert!(
            out(&o).contains(&format!("committed on file://{} (", nas.display())),
            "{}",
            out(&o)
        );
        let r = newest_record(&local);
        assert_eq!(r["outcome"], "succeeded", "{r}");
        let d = r["destinations"].as_array().unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0]["url"], "s3://bkt/shop");
        assert_eq!(d[0]["outcome"], "committed", "{fault:?}: {r}");
        assert_eq!(d[1]["outcome"], "committed", "{fault:?}: {r}");
        // One second apart at least: run names carry the second.
        std::thread::sleep(Duration::from_millis(1100));
    }
    proxy.set(Fault::Pass, None);

    // Three backups locally and in S3 (keep-last 3, the job's), one on the NAS (its own).
    let s3 = moto.storage("bkt", "shop");
    let fs = pgsnap::storage::Storage::open_url(&format!("file://{}", nas.display())).unwrap();
    let (s3_backups, nas_backups) = rt().block_on(async { (s3.backups().await.unwrap(), fs.backups().await.unwrap()) });
    assert_eq!(s3_backups.len(), 3, "{s3_backups:?}");
    assert_eq!(nas_backups.len(), 1, "{nas_backups:?}\n{last}");
    let newest = &s3_backups[2].name;
    assert_eq!(&nas_backups[0].name, newest);
    // The bytes in S3 are the archive the job's directory holds (checked by verify there),
    // and the record went along.
    let (bytes, record) = rt().block_on(async {
        let stem = newest.trim_end_matches(".dump");
        (
            s3.get_bytes(newest).await.unwrap(),
            s3.get_bytes(&format!("{stem}.json")).await.unwrap(),
        )
    });
    assert_eq!(bytes, std::fs::read(local.join(newest)).unwrap());
    let record: serde_json::Value = serde_json::from_slice(&record).unwrap();
    assert_eq!(record["archive"], newest.as_str());
    assert_eq!(record["destinations"][0]["outcome"], "committed");

    let o = pgsnap(&["backups", "list", "shop"], &config);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    assert_eq!(text.matches(" at s3://bkt/shop\n").count(), 3, "{text}");
    assert_eq!(
        text.matches(&format!(" at file://{}\n", nas.display())).count(),
        1,
        "{text}"
    );
    assert!(
        text.contains(&format!("committed {newest} ")) && text.contains(" keep last at s3://bkt/shop\n"),
        "{text}"
    );
}

#[test]
fn a_failing_destination_is_recorded_and_the_policy_decides_the_run() {
    let db = TestDb::new(
        MAJOR,
        "dest_fail",
        "CREATE TABLE orders (id int PRIMARY KEY, note text);
         INSERT INTO orders SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 30000) g;",
    );
    let moto = Moto::start();
    moto.create_bucket("bkt");
    let proxy = FaultProxy::start(moto.port);
    let dir = Scratch::new("pgsnap-destinations");
    let nas = dir.path().join("nas");
    std::fs::create_dir(&nas).unwrap();
    let local = dir.path().join("local");
    let dests = format!(
        "[[jobs.shop.destinations]]\nurl = \"{}\"\n[[jobs.shop.destinations]]\nurl = \"file://{}\"\n",
        proxy.url("bkt", "shop"),
        nas.display()
    );
    let s3 = moto.storage("bkt", "shop");
    let fs = pgsnap::storage::Storage::open_url(&format!("file://{}", nas.display())).unwrap();

    // `all`: S3 is cut off in the middle of the directory archive's upload.
    let config = write_config(dir.path(), &db, "directory", &dests);
    proxy.set(Fault::CutAfter(60_000), None);
    let o = pgsnap(&["run", "shop"], &config);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", err(&o), out(&o));
    assert!(
        err(&o).contains("the backup failed on 1 of 2 destination(s): s3://bkt/shop ("),
        "{}",
        err(&o)
    );
    assert!(proxy.faulted() > 0);
    let r = newest_record(&local);
    assert_eq!(r["outcome"], "failed", "{r}");
    assert_eq!(r["destinations"][0]["outcome"], "failed", "{r}");
    assert_eq!(r["destinations"][1]["outcome"], "committed", "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("destination_policy = \"all\""),
        "{r}"
    );
    let failed_run = r["archive"].as_str().unwrap().to_string();
    let (s3_objects, s3_backups, nas_backups) = rt().block_on(async {
        (
            names(s3.list("").await.unwrap()),
            s3.backups().await.unwrap(),
            names(fs.backups().await.unwrap()),
        )
    });
    // Part of it reached S3, but without its manifest it is not a backup there.
    assert!(
        s3_objects.iter().any(|n| n.starts_with(&format!("{failed_run}/"))),
        "the cut came too late to leave a partial upload: {s3_objects:?}"
    );
    assert!(
        !s3_objects.iter().any(|n| n.ends_with("pgsnap.manifest")),
        "{s3_objects:?}"
    );
    assert!(s3_backups.is_empty(), "{s3_backups:?}");
    assert_eq!(nas_backups, vec![failed_run.clone()]);
    let o = pgsnap(&["backups", "list", "shop"], &config);
    assert!(!out(&o).contains(" at s3://"), "{}", out(&o));

    // `best-effort`: S3 refuses every connection; the run succeeds and says which failed.
    std::thread::sleep(Duration::from_millis(1100));
    let config = write_config(
        dir.path(),
        &db,
        "directory",
        &format!("destination_policy = \"best-effort\"\nabandoned_after = \"2s\"\n{dests}"),
    );
    proxy.set(Fault::Reset, None);
    let o = pgsnap(&["run", "shop"], &config);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", err(&o), out(&o));
    assert!(
        err(&o).contains("warning: destination s3://bkt/shop failed (destination_policy = \"best-effort\")"),
        "{}",
        err(&o)
    );
    let r = newest_record(&local);
    assert_eq!(r["outcome"], "succeeded", "{r}");
    assert_eq!(r["destinations"][0]["outcome"], "failed", "{r}");
    assert!(
        r["destinations"][0]["error"]
            .as_str()
            .unwrap()
            .contains("s3://bkt/shop"),
        "{r}"
    );
    assert_eq!(r["destinations"][1]["outcome"], "committed", "{r}");
    let ok_run = r["archive"].as_str().unwrap().to_string();
    // The state database holds the outcome per destination too, for both runs.
    let c = rusqlite::Connection::open(dir.path().join("pgsnap/state.db")).unwrap();
    let rows: Vec<(String, String)> = c
        .prepare("SELECT outcome, destinations FROM runs WHERE job = 'shop' ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (outcome, (state, dests)) in ["failed", "succeeded"].iter().zip(&rows) {
        assert_eq!(state, outcome);
        let d: serde_json::Value = serde_json::from_str(dests).unwrap();
        assert_eq!(d[0]["outcome"], "failed", "{d}");
        assert_eq!(d[1]["outcome"], "committed", "{d}");
    }

    // The janitor: S3 reachable again, the cut-off upload older than abandoned_after. A
    // temporary of an interrupted run of this job in its directory goes too; another job's
    // does not; nothing while the job's run lock is held.
    proxy.set(Fault::Pass, None);
    let stale = local.join(".shop-20200101T000000Z.dump.partial");
    let other = local.join(".shopping-20200101T000000Z.dump.partial");
    for p in [&stale, &other] {
        let f = std::fs::File::create(p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(3600)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(2100));
    let lock = std::fs::File::open(local.join(".pgsnap-shop.lock")).unwrap();
    lock.lock().unwrap();
    let o = pgsnap(&["backups", "prune", "shop"], &config);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains("janitor: job shop is running; nothing removed"),
        "{}",
        out(&o)
    );
    assert!(stale.exists());
    drop(lock);
    let o = pgsnap(&["backups", "prune", "shop"], &config);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    assert!(
        text.contains(&format!("janitor: removed abandoned s3://bkt/shop: {failed_run}/")),
        "{text}"
    );
    assert!(
        text.contains(&format!("janitor: removed abandoned {}", stale.display())),
        "{text}"
    );
    assert!(!stale.exists());
    assert!(other.exists());
    let (s3_objects, nas_backups) =
        rt().block_on(async { (names(s3.list("").await.unwrap()), names(fs.backups().await.unwrap())) });
    assert!(s3_objects.is_empty(), "{s3_objects:?}");
    assert_eq!(nas_backups, vec![failed_run, ok_run]);
    assert!(text.contains("job shop: deleted 0 backup(s)"), "{text}");
}
