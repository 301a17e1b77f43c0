//! `CREATE STATISTICS` (pg_dump.c `dumpStatisticsExt`).

/// `(create, drop)`: the server's definition (`pg_get_statisticsobjdef`), then
/// `ALTER STATISTICS ... SET STATISTICS n` when a target is set (`None` = the default).
pub fn statistics_sql(qualified: &str, definition: &str, target: Option<i64>) -> (String, String) {
    let mut s = format!("{definition};\n");
    if let Some(n) = target {
        s.push_str(&format!("ALTER STATISTICS {qualified} SET STATISTICS {n};\n"));
    }
    (s, format!("DROP STATISTICS {qualified};\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_and_without_target() {
        let def = "CREATE STATISTICS st.s1 (ndistinct) ON a, b FROM st.t";
        assert_eq!(
            statistics_sql("st.s1", def, None),
            (format!("{def};\n"), "DROP STATISTICS st.s1;\n".to_string())
        );
        assert_eq!(
            statistics_sql("st.s1", def, Some(0)).0,
            format!("{def};\nALTER STATISTICS st.s1 SET STATISTICS 0;\n")
        );
    }
}
