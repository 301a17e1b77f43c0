//! `CREATE ACCESS METHOD` (pg_dump.c `dumpAccessMethod`).

use super::quote;

/// `(create, drop)`, or `None` for an access method type pg_dump does not know (it warns and
/// skips it). `amtype` is `i` (index) or `t` (table); `handler` is `regproc` text.
pub fn access_method_sql(name: &str, amtype: char, handler: &str) -> Option<(String, String)> {
    let kind = match amtype {
        'i' => "INDEX",
        't' => "TABLE",
        _ => return None,
    };
    let q = quote::ident(name);
    Some((
        format!("CREATE ACCESS METHOD {q} TYPE {kind} HANDLER {handler};\n"),
        format!("DROP ACCESS METHOD {q};\n"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_table_methods() {
        assert_eq!(
            access_method_sql("gist2", 'i', "gisthandler"),
            Some((
                "CREATE ACCESS METHOD gist2 TYPE INDEX HANDLER gisthandler;\n".to_string(),
                "DROP ACCESS METHOD gist2;\n".to_string()
            ))
        );
        assert_eq!(
            access_method_sql("Heap Two", 't', "heap_tableam_handler").unwrap().0,
            "CREATE ACCESS METHOD \"Heap Two\" TYPE TABLE HANDLER heap_tableam_handler;\n"
        );
        assert_eq!(access_method_sql("x", 'z', "h"), None);
    }
}
