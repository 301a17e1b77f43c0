//! The library API against real servers, on tokio's current-thread runtime (the default for
//! `#[tokio::test]` and a common choice in applications).

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pgsnap::engine::{BlockSink, ExportJob, ExportOptions, SinkFactory};
use pgsnap::model::TableData;
use pgsnap::pg::Target;
use support::{Fingerprint, Scratch, TestDb};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(support::project_root().join("fixtures").join(name)).unwrap()
}

fn target(db: &TestDb) -> Target {
    Target::new(db.conninfo().parse().unwrap(), format!("test database {}", db.name))
}

#[tokio::test]
async fn dump_through_the_library() {
    let db = TestDb::new(15, "lib", &fixture("awkward.sql"));
    let source = Fingerprint::data_of(&db.cluster, &db.name);
    let dir = Scratch::new("pgsnap-library");
    let mut opts = pgsnap::DumpOptions::new(target(&db), dir.path().join("archive"));
    opts.jobs = 3;
    let report = pgsnap::dump(opts).await.unwrap();
    assert_eq!(report.archive, dir.path().join("archive"));
    assert_eq!(report.rows as i64, source.total_rows());
    assert_eq!(report.tables.len(), source.tables.len());
    assert_eq!(report.readers, "pg_restore 14–18");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    let restored = db.cluster.create_database("lib_restored", "");
    let out = db
        .cluster
        .tool("pg_restore")
        .args(["-d", &restored])
        .arg(&report.archive)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(Fingerprint::data_of(&db.cluster, &restored).tables, source.tables);
    db.cluster.drop_database(&restored);
}

/// Collects each table's COPY text in memory.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<HashMap<i32, Vec<u8>>>>);

struct One {
    id: i32,
    buf: Vec<u8>,
    all: Collect,
}

impl BlockSink for One {
    fn push(&mut self, block: Vec<u8>) -> pgsnap::Result<()> {
        self.buf.extend_from_slice(&block);
        Ok(())
    }
    fn finish(self: Box<Self>) -> pgsnap::Result<u64> {
        let n = self.buf.len() as u64;
        self.all.0.lock().unwrap().insert(self.id, self.buf);
        Ok(n)
    }
}

impl SinkFactory for Collect {
    fn open(&self, job: &ExportJob) -> pgsnap::Result<Box<dyn BlockSink>> {
        Ok(Box::new(One {
            id: job.id,
            buf: Vec::new(),
            all: self.clone(),
        }))
    }
}

#[tokio::test]
async fn export_tables_reads_every_row_of_the_snapshot_and_nothing_later() {
    let db = TestDb::new(
        15,
        "export",
        "CREATE TABLE a AS SELECT g AS id FROM generate_series(1, 50000) g;
         CREATE TABLE b AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g;
         CREATE TABLE c (id int);",
    );
    let target = target(&db);
    let leader = target.connect().await.unwrap();
    leader.begin_snapshot_transaction().await.unwrap();
    let snapshot = leader.export_snapshot().await.unwrap();
    // Written after the snapshot: must not be exported.
    db.psql("INSERT INTO a SELECT g FROM generate_series(1, 1000) g; INSERT INTO c VALUES (1);");

    let job = |id: i32, name: &str, columns: &str| ExportJob {
        id,
        table: TableData {
            qualified_name: format!("public.{name}"),
            columns: columns.to_string(),
            estimated_pages: id as i64,
            table_oid: id as u32,
            foreign: false,
            filter: None,
        },
    };
    let jobs = vec![job(1, "a", "id"), job(2, "b", "id, v"), job(3, "c", "id")];
    let sinks = Collect::default();
    // Small blocks, so every table crosses several of them.
    let opts = ExportOptions {
        jobs: 2,
        block_size: 4096,
        copy_trailer: false,
        ..ExportOptions::default()
    };
    let reports = pgsnap::export_tables(&target, &snapshot, jobs, Arc::new(sinks.clone()), &opts)
        .await
        .unwrap();
    leader.execute("COMMIT").await.unwrap();

    let rows: HashMap<i32, u64> = reports.iter().map(|r| (r.id, r.rows)).collect();
    assert_eq!(rows, HashMap::from([(1, 50000), (2, 20000), (3, 0)]));
    let data = sinks.0.lock().unwrap();
    let lines = |id: i32| {
        String::from_utf8(data[&id].clone())
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(lines(1).len(), 50000);
    assert_eq!(lines(1)[49999], "50000");
    assert_eq!(lines(2)[0], db.psql("SELECT '1' || chr(9) || md5('1')").trim());
    assert!(data[&3].is_empty());
    assert_eq!(
        reports.iter().find(|r| r.id == 2).unwrap().written,
        data[&2].len() as u64
    );
}
