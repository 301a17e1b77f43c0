//! Table constraints dumped as their own entries (pg_dump.c `dumpConstraint`): PRIMARY KEY,
//! UNIQUE, EXCLUDE, FOREIGN KEY and separate CHECKs.

use super::quote::ident;

/// `ALTER TABLE [ONLY] t\n    ADD CONSTRAINT c <def>;\n`.
pub fn add_constraint_sql(table: &str, only: bool, name: &str, def: &str) -> String {
    add_relation_constraint_sql("TABLE", table, only, name, def)
}

/// `ALTER TABLE [ONLY] t DROP CONSTRAINT c;\n`.
pub fn drop_constraint_sql(table: &str, only: bool, name: &str) -> String {
    drop_relation_constraint_sql("TABLE", table, only, name)
}

/// As `add_constraint_sql` for another ALTER keyword: `FOREIGN TABLE`, `DOMAIN`.
pub fn add_relation_constraint_sql(keyword: &str, table: &str, only: bool, name: &str, def: &str) -> String {
    let only = if only { "ONLY " } else { "" };
    format!(
        "ALTER {keyword} {only}{table}\n    ADD CONSTRAINT {} {def};\n",
        ident(name)
    )
}

/// As `drop_constraint_sql` for another ALTER keyword.
pub fn drop_relation_constraint_sql(keyword: &str, table: &str, only: bool, name: &str) -> String {
    let only = if only { "ONLY " } else { "" };
    format!("ALTER {keyword} {only}{table} DROP CONSTRAINT {};\n", ident(name))
}

/// `ALTER TABLE t CLUSTER ON i;\n` (the index name is unqualified).
pub fn cluster_on_sql(table: &str, index: &str) -> String {
    format!("\nALTER TABLE {table} CLUSTER ON {};\n", ident(index))
}

/// `ALTER TABLE ONLY t REPLICA IDENTITY USING INDEX i;\n`.
pub fn replica_identity_sql(table: &str, index: &str) -> String {
    format!(
        "\nALTER TABLE ONLY {table} REPLICA IDENTITY USING INDEX {};\n",
        ident(index)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_statements_for_other_relation_kinds() {
        assert_eq!(
            add_relation_constraint_sql("FOREIGN TABLE", "k.ft", false, "ok", "CHECK ((a > 0))"),
            "ALTER FOREIGN TABLE k.ft\n    ADD CONSTRAINT ok CHECK ((a > 0));\n"
        );
        assert_eq!(
            drop_relation_constraint_sql("DOMAIN", "k.d", false, "d_check"),
            "ALTER DOMAIN k.d DROP CONSTRAINT d_check;\n"
        );
    }

    #[test]
    fn constraint_statements() {
        assert_eq!(
            add_constraint_sql("shop.orders", true, "orders_pkey", "PRIMARY KEY (id)"),
            "ALTER TABLE ONLY shop.orders\n    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);\n"
        );
        assert_eq!(
            drop_constraint_sql("s.m", false, "fk"),
            "ALTER TABLE s.m DROP CONSTRAINT fk;\n"
        );
        assert_eq!(cluster_on_sql("s.t", "Idx"), "\nALTER TABLE s.t CLUSTER ON \"Idx\";\n");
        assert_eq!(
            replica_identity_sql("s.t", "i"),
            "\nALTER TABLE ONLY s.t REPLICA IDENTITY USING INDEX i;\n"
        );
    }
}
