//! Fingerprints of a database: per table a row count and a checksum of its sorted row hashes,
//! per sequence its state, per large object its owner, ACL, comment, security labels and a
//! checksum of its contents, and the schema as stock `pg_dump -s` prints it (normalised).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::Stdio;

use super::Cluster;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// `schema.table` → (row count, md5 of the sorted md5s of its rows).
    pub tables: BTreeMap<String, (i64, String)>,
    /// `schema.sequence` → `last_value,is_called`.
    pub sequences: BTreeMap<String, String>,
    /// Large object OID → `owner,acl,comment,md5 of the contents,provider=label;...`.
    pub large_objects: BTreeMap<u32, String>,
    /// Tables and sequences whose query failed (only `data_of_tolerant` fills this).
    pub unreadable: Vec<String>,
    /// `pg_dump -s` of the database, normalised (see `normalise_dump`).
    pub schema: String,
}

/// Field and record separators the fingerprint queries put into their one output column
/// (`chr(31)`, `chr(30)`): names may hold `|` or newlines.
const FS: char = '\u{1f}';
const RS: char = '\u{1e}';

impl Fingerprint {
    /// Reads the fingerprint of `db`; `pg_dump -s` runs with the server's own major version.
    pub fn of(cluster: &Cluster, db: &str) -> Fingerprint {
        Fingerprint {
            schema: schema_of(cluster, db),
            ..Self::data_of(cluster, db)
        }
    }

    /// Tables, sequences and large objects only (no schema dump); any failing query panics.
    pub fn data_of(cluster: &Cluster, db: &str) -> Fingerprint {
        let fp = Self::read_data(cluster, db, true);
        assert!(fp.unreadable.is_empty(), "unreadable in {db}: {:?}", fp.unreadable);
        fp
    }

    /// As `data_of`, but a table or sequence whose query fails (a type whose output function
    /// errors, say) is listed in `unreadable` instead of failing the whole fingerprint.
    pub fn data_of_tolerant(cluster: &Cluster, db: &str) -> Fingerprint {
        Self::read_data(cluster, db, false)
    }

    fn read_data(cluster: &Cluster, db: &str, stop_on_error: bool) -> Fingerprint {
        // Leaves of a partition tree with a hash level keyed on an enum are compared as the
        // whole tree: which partition a row lands in depends on the enum's OIDs, which every
        // restore assigns anew (pg_dump loads such rows through the root for that reason).
        let rels = cluster.psql(
            db,
            "SET search_path = '';
             SELECT concat(c.relkind, chr(31), quote_ident(n.nspname) || '.' || quote_ident(c.relname), chr(31),
                    CASE WHEN c.relispartition AND EXISTS (
                      SELECT 1 FROM pg_catalog.pg_partition_ancestors(c.oid) an
                        JOIN pg_catalog.pg_partitioned_table pt ON pt.partrelid = an.relid
                       WHERE pt.partstrat = 'h' AND EXISTS (
                         SELECT 1 FROM unnest(pt.partattrs::int2[]) k
                           JOIN pg_catalog.pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = k
                           JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid WHERE ty.typtype = 'e'))
                    THEN pg_catalog.pg_partition_root(c.oid)::pg_catalog.regclass::text END, chr(30))
               FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'm', 'S')
                AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                AND n.nspname NOT LIKE 'pg_temp%'
                AND (c.relkind <> 'm' OR c.relispopulated)
              ORDER BY 1",
        );
        let mut sql = String::from("SET extra_float_digits = 3;\nSET search_path = '';\n");
        let mut expected = Vec::new();
        let mut trees = std::collections::BTreeSet::new();
        for rec in rels
            .split(RS)
            .map(|r| r.trim_start_matches('\n'))
            .filter(|r| !r.is_empty())
        {
            let mut f = rec.splitn(3, FS);
            let (Some(kind), Some(name), Some(tree)) = (f.next(), f.next(), f.next()) else {
                panic!("fingerprint of {db}: unexpected relation row {rec:?}");
            };
            if !tree.is_empty() {
                trees.insert(tree.to_string());
                continue;
            }
            let lit = name.replace('\'', "''");
            expected.push(name.to_string());
            if kind == "S" {
                let _ = writeln!(
                    sql,
                    "SELECT concat('S', chr(31), '{lit}', chr(31), last_value, ',', is_called::text, chr(30)) FROM {name};"
                );
            } else {
                let _ = writeln!(
                    sql,
                    "SELECT concat('T', chr(31), '{lit}', chr(31), count(*), ',', md5(string_agg(h, ',' ORDER BY h)), chr(30)) \
                     FROM (SELECT md5(t::text) AS h FROM ONLY {name} AS t) AS x;"
                );
            }
        }
        for tree in trees {
            let key = format!("{tree} (partition tree)");
            let lit = key.replace('\'', "''");
            expected.push(key);
            let _ = writeln!(
                sql,
                "SELECT concat('T', chr(31), '{lit}', chr(31), count(*), ',', md5(string_agg(h, ',' ORDER BY h)), chr(30)) \
                 FROM (SELECT md5(t::text) AS h FROM {tree} AS t) AS x;"
            );
        }
        sql.push_str(
            "SELECT concat('L', chr(31), l.oid, chr(31), pg_get_userbyid(l.lomowner), ',', l.lomacl, ',', \
             obj_description(l.oid, 'pg_largeobject'), ',', md5(lo_get(l.oid)), ',', \
             (SELECT string_agg(s.provider || '=' || s.label, ';' ORDER BY s.provider) FROM pg_seclabel s \
              WHERE s.classoid = 'pg_largeobject'::regclass AND s.objoid = l.oid), chr(30)) \
             FROM pg_largeobject_metadata l ORDER BY l.oid;\n",
        );
        let mut c = cluster.tool("psql");
        c.args(["-X", "-q", "-A", "-t"]);
        c.args([
            "-v",
            if stop_on_error {
                "ON_ERROR_STOP=1"
            } else {
                "ON_ERROR_STOP=0"
            },
        ]);
        c.args(["-d", db, "-f", "-"]);
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn psql");
        let mut stdin = child.stdin.take().expect("psql stdin");
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(sql.as_bytes());
        });
        let out = child.wait_with_output().expect("wait psql");
        let _ = writer.join();
        assert!(
            !stop_on_error || out.status.success(),
            "fingerprint of {db} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut fp = Fingerprint {
            tables: BTreeMap::new(),
            sequences: BTreeMap::new(),
            large_objects: BTreeMap::new(),
            unreadable: Vec::new(),
            schema: String::new(),
        };
        let text = String::from_utf8_lossy(&out.stdout);
        for record in text
            .split(RS)
            .map(|r| r.trim_start_matches('\n'))
            .filter(|r| !r.is_empty())
        {
            let mut parts = record.splitn(3, FS);
            let (Some(kind), Some(name), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
                panic!("fingerprint of {db}: unexpected output {record:?}");
            };
            match kind {
                "S" => {
                    fp.sequences.insert(name.to_string(), value.to_string());
                }
                "L" => {
                    fp.large_objects
                        .insert(name.parse().expect("large object oid"), value.to_string());
                }
                _ => {
                    let (count, hash) = value.split_once(',').expect("count,hash");
                    fp.tables
                        .insert(name.to_string(), (count.parse().expect("row count"), hash.to_string()));
                }
            }
        }
        fp.unreadable = expected
            .into_iter()
            .filter(|n| !fp.tables.contains_key(n) && !fp.sequences.contains_key(n))
            .collect();
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
