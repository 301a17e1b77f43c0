//! Indexes (pg_dump.c `dumpIndex`, `dumpIndexAttach`).

use super::constraint::{cluster_on_sql, replica_identity_sql};

pub struct IndexDef<'a> {
    /// `pg_get_indexdef(oid)`.
    pub indexdef: &'a str,
    /// Quoted qualified table and index names.
    pub table: &'a str,
    pub qualified: &'a str,
    /// Bare index name (for CLUSTER ON / REPLICA IDENTITY).
    pub name: &'a str,
    pub clustered: bool,
    pub replident: bool,
    /// (index column number, statistics target) for columns with a target set.
    pub stats: &'a [(i64, i64)],
}

pub fn create_index_sql(i: &IndexDef<'_>) -> String {
    let mut s = format!("{};\n", i.indexdef);
    if i.clustered {
        s.push_str(&cluster_on_sql(i.table, i.name));
    }
    for (col, target) in i.stats {
        s.push_str(&format!(
            "ALTER INDEX {} ALTER COLUMN {col} SET STATISTICS {target};\n",
            i.qualified
        ));
    }
    if i.replident {
        s.push_str(&replica_identity_sql(i.table, i.name));
    }
    s
}

pub fn drop_index_sql(qualified: &str) -> String {
    format!("DROP INDEX {qualified};\n")
}

pub fn attach_index_sql(parent: &str, child: &str) -> String {
    format!("ALTER INDEX {parent} ATTACH PARTITION {child};\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_statements() {
        let i = IndexDef {
            indexdef: "CREATE INDEX i ON s.t USING btree (((a + 1)))",
            table: "s.t",
            qualified: "s.i",
            name: "i",
            clustered: true,
            replident: false,
            stats: &[(1, 500)],
        };
        assert_eq!(
            create_index_sql(&i),
            "CREATE INDEX i ON s.t USING btree (((a + 1)));\n\nALTER TABLE s.t CLUSTER ON i;\n\
             ALTER INDEX s.i ALTER COLUMN 1 SET STATISTICS 500;\n"
        );
        assert_eq!(
            attach_index_sql("s.p", "s.c"),
            "ALTER INDEX s.p ATTACH PARTITION s.c;\n"
        );
        assert_eq!(drop_index_sql("s.i"), "DROP INDEX s.i;\n");
    }
}
