//! Proves the test harness: clusters of two majors side by side, connections over the
//! socket and over TCP, database creation, and fingerprints that notice a changed row.

mod support;

use support::{Cluster, Fingerprint, TestDb};

async fn server_version(conninfo: &str) -> (String, i32) {
    let (client, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let task = tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int",
            &[],
        )
        .await
        .expect("query");
    drop(client);
    let _ = task.await;
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn clusters_of_14_and_18_run_side_by_side() {
    let c14 = Cluster::private(14);
    let c18 = Cluster::private(18);
    assert_ne!(c14.port, c18.port);

    let (v14, n14) = server_version(&c14.conninfo("postgres")).await;
    let (v18, n18) = server_version(&c18.conninfo("postgres")).await;
    assert!(v14.starts_with("14."), "{v14}");
    assert!(v18.starts_with("18."), "{v18}");
    assert_eq!(n14 / 10000, 14);
    assert_eq!(n18 / 10000, 18);

    // TCP on loopback with trust auth works too.
    let (v, _) = server_version(&format!(
        "host=127.0.0.1 port={} user=postgres dbname=postgres",
        c18.port
    ))
    .await;
    assert!(v.starts_with("18."));

    let dir = c14.dir.clone();
    drop(c14);
    assert!(!dir.exists(), "a private cluster's directory is removed when dropped");
}

#[test]
fn fingerprint_notices_a_changed_row() {
    let db = TestDb::new(
        15,
        "fp",
        "CREATE TABLE t (id int PRIMARY KEY, v text, f float8);
         INSERT INTO t SELECT g, 'row ' || g, g / 3.0 FROM generate_series(1, 1000) g;
         CREATE SEQUENCE s START 5; SELECT nextval('s');",
    );
    let before = Fingerprint::of(&db.cluster, &db.name);
    assert_eq!(before.tables["public.t"].0, 1000);
    assert_eq!(before.sequences["public.s"], "5,true");
    assert!(before.schema.contains("CREATE TABLE public.t"), "{}", before.schema);
    assert_eq!(
        before,
        Fingerprint::of(&db.cluster, &db.name),
        "fingerprints are stable"
    );

    db.psql("UPDATE t SET v = 'changed' WHERE id = 500");
    let after = Fingerprint::of(&db.cluster, &db.name);
    assert_eq!(after.tables["public.t"].0, 1000);
    assert_ne!(before.tables["public.t"].1, after.tables["public.t"].1);
    assert!(before.diff(&after).contains("public.t"));

    db.psql("ALTER TABLE t ADD COLUMN extra int");
    assert_ne!(after.schema, Fingerprint::of(&db.cluster, &db.name).schema);
}

#[test]
fn shared_cluster_serves_several_databases() {
    let a = TestDb::new(15, "shared_a", "CREATE TABLE a (x int)");
    let b = TestDb::new(15, "shared_b", "CREATE TABLE b (x int)");
    assert_eq!(
        a.cluster.port, b.cluster.port,
        "one shared cluster per test binary and version"
    );
    assert_eq!(a.psql("SELECT count(*) FROM pg_class WHERE relname = 'b'").trim(), "0");
    assert_eq!(b.cluster.version_num() / 10000, 15);
}

#[test]
fn every_provisioned_version_runs() {
    for major in [14, 15, 16, 17, 18] {
        for tool in ["pg_dump", "pg_restore", "psql", "pgbench"] {
            let out = std::process::Command::new(support::pg_bin(major, tool))
                .arg("--version")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains(&format!(" {major}.")), "{tool} {major}: {text}");
        }
    }
}

/// A killed test process cannot stop its server; the next run must. This test runs itself
/// as a child (same binary, another run id) that starts a cluster and is then SIGKILLed.
#[test]
fn a_killed_runs_cluster_is_reaped_by_the_next_run() {
    if let Ok(path_file) = std::env::var("PGSNAP_REAP_CHILD") {
        // Child: hold a cluster and wait to be killed.
        let c = Cluster::private(15);
        let pid = std::fs::read_to_string(c.dir.join("data/postmaster.pid")).unwrap();
        std::fs::write(
            &path_file,
            format!("{}\n{}", c.dir.display(), pid.lines().next().unwrap()),
        )
        .unwrap();
        std::thread::sleep(std::time::Duration::from_secs(120));
        return;
    }
    let info = tempfile::NamedTempFile::new().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_killed_runs_cluster_is_reaped_by_the_next_run",
            "--nocapture",
        ])
        .env("PGSNAP_REAP_CHILD", info.path())
        .env("NEXTEST_RUN_ID", "killed00-0000-0000-0000-000000000000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let text = loop {
        let t = std::fs::read_to_string(info.path()).unwrap_or_default();
        if t.lines().count() == 2 {
            break t;
        }
        assert!(std::time::Instant::now() < deadline, "child never started its cluster");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL: no Drop runs
    child.wait().unwrap();
    let mut lines = text.lines();
    let dir = std::path::PathBuf::from(lines.next().unwrap());
    let pid = lines.next().unwrap().trim().to_string();
    let alive = || std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(alive() && dir.exists(), "the killed child's server is still running");

    support::cluster::reap_stale_runs();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while alive() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!alive(), "the next run stops a killed run's server");
    assert!(!dir.exists(), "and removes its directory");
}
