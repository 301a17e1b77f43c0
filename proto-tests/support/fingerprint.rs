//! Fingerprints of a database: per table a row count and a checksum of its sorted row hashes,
//! per sequence its state, per large object its owner, ACL, comment, size and checksum, and the schema as stock `pg_dump -s` prints it (normalised).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Cluster;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// `schema.table` → (row count, md5 of the sorted md5s of its rows).
    pub tables: BTreeMap<String, (i64, String)>,
    /// `schema.sequence` → `last_value,is_called`.
    pub sequences: BTreeMap<String, String>,
    /// Large object OID → `owner|acl|comment|length|md5` (`pg_dump -s` leaves them out).
    pub large_objects: BTreeMap<u32, String>,
    /// `pg_dump -s` of the database, normalised (see `normalise_dump`).
    pub schema: String,
}

impl Fingerprint {
    /// Reads the fingerprint of `db`; `pg_dump -s` runs with the server's own major version.
    pub fn of(cluster: &Cluster, db: &str) -> Fingerprint {
        Fingerprint {
            schema: schema_of(cluster, db),
            ..Self::data_of(cluster, db)
        }
    }

    /// Tables and sequences only (no schema dump).
    pub fn data_of(cluster: &Cluster, db: &str) -> Fingerprint {
        let rels = cluster.psql(
            db,
            "SELECT c.relkind, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'm', 'S')
                AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                AND n.nspname NOT LIKE 'pg_temp%'
                AND (c.relkind <> 'm' OR c.relispopulated)
              ORDER BY 2",
        );
        let mut sql = String::from("SET extra_float_digits = 3;\n");
        for line in rels.lines().filter(|l| !l.is_empty()) {
            let (kind, name) = line.split_once('|').expect("relkind|name");
            let lit = name.replace('\'', "''");
            if kind == "S" {
                let _ = writeln!(
                    sql,
                    "SELECT 'S', '{lit}', last_value::text || ',' || is_called::text FROM {name};"
                );
            } else {
                let _ = writeln!(
                    sql,
                    "SELECT 'T', '{lit}', count(*)::text || ',' || coalesce(md5(string_agg(h, ',' ORDER BY h)), '') \
                     FROM (SELECT md5(t::text) AS h FROM ONLY {name} AS t) AS x;"
                );
            }
        }
        let out = cluster.psql(db, &sql);
        let mut fp = Fingerprint {
            tables: BTreeMap::new(),
            sequences: BTreeMap::new(),
            large_objects: BTreeMap::new(),
            schema: String::new(),
        };
        let los = cluster.psql(
            db,
            "SELECT m.oid, concat_ws('|', pg_get_userbyid(m.lomowner), coalesce(m.lomacl::text, '-'), \
                    coalesce(obj_description(m.oid, 'pg_largeobject'), '-'), length(lo_get(m.oid)), md5(lo_get(m.oid))) \
               FROM pg_largeobject_metadata m ORDER BY 1",
        );
        for line in los.lines().filter(|l| !l.is_empty()) {
            let (oid, rest) = line.split_once('|').expect("oid|rest");
            fp.large_objects.insert(oid.parse().expect("oid"), rest.to_string());
        }
        for line in out.lines().filter(|l| !l.is_empty()) {
            // Names may contain the separator; the kind and the value never do.
            let (kind, rest) = line.split_once('|').unwrap();
            let (name, value) = rest.rsplit_once('|').unwrap();
            if kind == "S" {
                fp.sequences.insert(name.to_string(), value.to_string());
            } else {
                let (count, hash) = value.split_once(',').unwrap();
                fp.tables
                    .insert(name.to_string(), (count.parse().unwrap(), hash.to_string()));
            }
        }
        fp
    }

    /// Total rows over all tables.
    pub fn total_rows(&self) -> i64 {
        self.tables.values().map(|(n, _)| n).sum()
    }

    /// A readable list of differences, empty when equal.
    pub fn diff(&self, other: &Fingerprint) -> String {
        let mut out = String::new();
        for (name, v) in &self.tables {
            match other.tables.get(name) {
                None => {
                    let _ = writeln!(out, "table {name}: missing on the right");
                }
                Some(w) if w != v => {
                    let _ = writeln!(out, "table {name}: {} rows {} vs {} rows {}", v.0, v.1, w.0, w.1);
                }
                _ => {}
            }
        }
        for name in other.tables.keys().filter(|k| !self.tables.contains_key(*k)) {
            let _ = writeln!(out, "table {name}: missing on the left");
        }
        if self.sequences != other.sequences {
            let _ = writeln!(out, "sequences differ: {:?} vs {:?}", self.sequences, other.sequences);
        }
        if self.large_objects != other.large_objects {
            let _ = writeln!(
                out,
                "large objects differ: {:?} vs {:?}",
                self.large_objects, other.large_objects
            );
        }
        if self.schema != other.schema {
            let _ = writeln!(out, "schema differs:\n{}", line_diff(&self.schema, &other.schema));
        }
        out
    }
}

/// `pg_dump -s` of `db` by the server's own major version, normalised.
pub fn schema_of(cluster: &Cluster, db: &str) -> String {
    let out = cluster
        .tool("pg_dump")
        .args(["-s", "--no-sync", "-d", db])
        .output()
        .expect("run pg_dump -s");
    assert!(
        out.status.success(),
        "pg_dump -s {db} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    normalise_dump(&String::from_utf8_lossy(&out.stdout))
}

/// Drops what differs between two dumps of equal databases: the random `\restrict` key and
/// the version banner lines.
pub fn normalise_dump(sql: &str) -> String {
    sql.lines()
        .filter(|l| {
            !(l.starts_with("\\restrict ")
                || l.starts_with("\\unrestrict ")
                || l.starts_with("-- Dumped from database version")
                || l.starts_with("-- Dumped by pg_dump version")
                || l.starts_with("SET transaction_timeout"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Lines present on only one side, in order, prefixed `-`/`+` (a simple LCS-free report).
pub fn line_diff(a: &str, b: &str) -> String {
    let al: Vec<&str> = a.lines().collect();
    let bl: Vec<&str> = b.lines().collect();
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    let mut shown = 0;
    while (i < al.len() || j < bl.len()) && shown < 80 {
        if i < al.len() && j < bl.len() && al[i] == bl[j] {
            i += 1;
            j += 1;
            continue;
        }
        // Resynchronise: find the next line of `a` somewhere ahead in `b`.
        let ahead = (i < al.len())
            .then(|| bl[j..].iter().position(|l| *l == al[i]))
            .flatten();
        match ahead {
            Some(k) if k < 50 => {
                for l in &bl[j..j + k] {
                    let _ = writeln!(out, "+{l}");
                    shown += 1;
                }
                j += k;
            }
            _ if i < al.len() => {
                let _ = writeln!(out, "-{}", al[i]);
                shown += 1;
                i += 1;
            }
            _ => {
                let _ = writeln!(out, "+{}", bl[j]);
                shown += 1;
                j += 1;
            }
        }
    }
    out
}
