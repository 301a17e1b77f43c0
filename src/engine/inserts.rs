//! Table data as INSERT statements (`--inserts`, `--column-inserts`, `--rows-per-insert`,
//! `--on-conflict-do-nothing`): the data source beside COPY, as pg_dump.c's
//! `dumpTableData_insert` writes it. Rows come from a cursor read 100 at a time in text
//! form; each value is rendered by its (base) type: numbers bare when they look like
//! numbers, bit strings as `B'...'`, booleans as `true`/`false`, everything else as a string
//! literal; generated columns as `DEFAULT` (or left out with column names); tables with an
//! `ALWAYS` identity column get `OVERRIDING SYSTEM VALUE`; a table without columns gets
//! `DEFAULT VALUES`. The rendering is pure and tested here; [`export_one`] runs it.

use std::sync::atomic::{AtomicBool, Ordering};

use super::{BlockSink, ExportJob, ExportOptions};
use crate::ddl::quote::ident;
use crate::error::{Error, Result};
use crate::model::InsertOptions;
use crate::pg::Session;

/// How a column's text value is written (by the type OID the server reports, which for a
/// domain is its base type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// int2, int4, int8, oid, float4, float8, numeric.
    Number,
    /// bit, varbit.
    Bits,
    Bool,
    Text,
}

impl ValueKind {
    pub fn of_type(oid: u32) -> ValueKind {
        match oid {
            21 | 23 | 20 | 26 | 700 | 701 | 1700 => ValueKind::Number,
            1560 | 1562 => ValueKind::Bits,
            16 => ValueKind::Bool,
            _ => ValueKind::Text,
        }
    }
}

/// One column of the cursor's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub kind: ValueKind,
    /// A generated column, fetched as NULL and written as DEFAULT.
    pub generated: bool,
}

/// A string literal as pg_dump writes it for the archive's `standard_conforming_strings`
/// (`appendStringLiteral`): quotes doubled, and backslashes too when the setting is off.
pub fn string_literal(value: &str, std_strings: bool) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || (c == '\\' && !std_strings) {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// One value (`None` = NULL).
pub fn render_value(out: &mut String, field: &Field, value: Option<&str>, std_strings: bool) {
    if field.generated {
        out.push_str("DEFAULT");
        return;
    }
    let Some(v) = value else {
        out.push_str("NULL");
        return;
    };
    match field.kind {
        // Bare unless the scanner would not read it as a number (NaN, Infinity).
        ValueKind::Number => {
            if v.chars().all(|c| "0123456789 +-eE.".contains(c)) {
                out.push_str(v);
            } else {
                out.push('\'');
                out.push_str(v);
                out.push('\'');
            }
        }
        ValueKind::Bits => {
            out.push_str("B'");
            out.push_str(v);
            out.push('\'');
        }
        ValueKind::Bool => out.push_str(if v == "t" { "true" } else { "false" }),
        ValueKind::Text => out.push_str(&string_literal(v, std_strings)),
    }
}

/// Builds the statements of one table from successive batches of rows, keeping the state
/// of a multi-row statement across batches.
pub struct InsertWriter {
    /// `INSERT INTO t [(cols)] [OVERRIDING SYSTEM VALUE] VALUES`, or the whole
    /// `INSERT INTO t DEFAULT VALUES;` for a table without columns.
    head: String,
    fields: Vec<Field>,
    opts: InsertOptions,
    std_strings: bool,
    in_statement: u32,
}

impl InsertWriter {
    pub fn new(target: &str, fields: Vec<Field>, overriding: bool, opts: InsertOptions, std_strings: bool) -> Self {
        let mut head = format!("INSERT INTO {target} ");
        if fields.is_empty() {
            head.push_str("DEFAULT VALUES;\n");
        } else {
            if opts.column_inserts {
                let names: Vec<String> = fields.iter().map(|f| ident(&f.name)).collect();
                head.push_str(&format!("({}) ", names.join(", ")));
            }
            if overriding {
                head.push_str("OVERRIDING SYSTEM VALUE ");
            }
            head.push_str("VALUES");
        }
        InsertWriter {
            head,
            fields,
            opts,
            std_strings,
            in_statement: 0,
        }
    }

    fn end_statement(&self, out: &mut String) {
        out.push_str(if self.opts.on_conflict_do_nothing {
            " ON CONFLICT DO NOTHING;\n"
        } else {
            ";\n"
        });
    }

    /// Appends one row's text.
    pub fn row(&mut self, out: &mut String, values: &[Option<String>]) {
        if self.in_statement == 0 {
            out.push_str(&self.head);
        }
        // Without columns the head is a whole statement, once per row (pg_dump ignores
        // --rows-per-insert here rather than write non-standard SQL).
        if self.fields.is_empty() {
            return;
        }
        let per = self.opts.rows_per_insert.max(1);
        out.push_str(if per == 1 {
            " ("
        } else if self.in_statement > 0 {
            ",\n\t("
        } else {
            "\n\t("
        });
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let v = values.get(i).and_then(|v| v.as_deref());
            render_value(out, field, v, self.std_strings);
        }
        out.push(')');
        self.in_statement += 1;
        if self.in_statement >= per {
            self.end_statement(out);
            self.in_statement = 0;
        }
    }

    /// Closes a statement left short of `--rows-per-insert` rows, and ends the table's text.
    pub fn finish(&mut self, out: &mut String) {
        if self.in_statement > 0 {
            self.end_statement(out);
            self.in_statement = 0;
        }
        out.push_str("\n\n");
    }
}

/// The columns as pg_dump's cursor reads them, whether the table needs OVERRIDING SYSTEM
/// VALUE, and the SELECT list. A domain's values are rendered by its base type, the OID the
/// server reports for such a column.
async fn columns(session: &Session, table_oid: u32, opts: &InsertOptions) -> Result<(Vec<Field>, bool, String)> {
    let rows = session
        .query(&format!(
            "SELECT a.attname, a.attgenerated <> '', a.attidentity = 'a', \
             (WITH RECURSIVE d(oid, base) AS (SELECT t.oid, t.typbasetype FROM pg_catalog.pg_type t \
              WHERE t.oid = a.atttypid UNION ALL SELECT t.oid, t.typbasetype FROM pg_catalog.pg_type t \
              JOIN d ON t.oid = d.base) SELECT d.oid FROM d WHERE d.base = 0) \
             FROM pg_catalog.pg_attribute a WHERE a.attrelid = {table_oid} AND a.attnum > 0 \
             AND NOT a.attisdropped ORDER BY a.attnum"
        ))
        .await?;
    let mut fields = Vec::new();
    let mut select = Vec::new();
    let mut overriding = false;
    for r in rows {
        let name = r.text(0)?;
        let generated = r.bool(1)?;
        overriding |= r.bool(2)?;
        // Named columns leave generated ones out; otherwise they are fetched as NULL and
        // written as DEFAULT.
        if generated && opts.column_inserts {
            continue;
        }
        select.push(if generated { "NULL".to_string() } else { ident(&name) });
        fields.push(Field {
            name,
            kind: ValueKind::of_type(r.oid(3)?),
            generated,
        });
    }
    let list = if select.is_empty() {
        "NULL".to_string()
    } else {
        select.join(", ")
    };
    Ok((fields, overriding, list))
}

/// Exports one table as INSERT statements into `sink`; returns (rows, bytes of text,
/// bytes written).
pub(super) async fn export_one(
    session: &Session,
    job: &ExportJob,
    mut sink: Box<dyn BlockSink>,
    opts: &ExportOptions,
    inserts: &InsertOptions,
    failed: &AtomicBool,
) -> Result<(u64, u64, u64)> {
    let (fields, overriding, list) = columns(session, job.table.table_oid, inserts).await?;
    let no_columns = fields.is_empty();
    let target = opts
        .insert_into
        .get(&job.table.table_oid)
        .cloned()
        .unwrap_or_else(|| job.table.qualified_name.clone());
    let mut writer = InsertWriter::new(
        &target,
        fields,
        overriding,
        *inserts,
        session.standard_conforming_strings(),
    );
    // An extension configuration table's stored condition narrows the rows, as in
    // pg_dump.c `dumpTableData_insert`.
    let filter = match job.table.filter.as_deref() {
        Some(f) if !f.is_empty() => format!(" {f}"),
        _ => String::new(),
    };
    session
        .execute(&format!(
            "DECLARE _pg_dump_cursor CURSOR FOR SELECT {list} FROM ONLY {}{filter}",
            job.table.qualified_name
        ))
        .await?;
    let (mut rows, mut bytes) = (0u64, 0u64);
    let mut block = String::with_capacity(opts.block_size);
    loop {
        if failed.load(Ordering::Relaxed) {
            return Err(Error::cancelled("stopped because another part of the dump failed"));
        }
        let batch = session.text_rows("FETCH 100 FROM _pg_dump_cursor").await?;
        if batch.is_empty() {
            break;
        }
        for values in &batch {
            // The zero-column table's cursor still returns its dummy NULL column.
            let values: &[Option<String>] = if no_columns { &[] } else { values };
            writer.row(&mut block, values);
            rows += 1;
        }
        if block.len() >= opts.block_size {
            let full = std::mem::replace(&mut block, String::with_capacity(opts.block_size));
            bytes += full.len() as u64;
            sink.push(full.into_bytes())?;
        }
    }
    writer.finish(&mut block);
    session.execute("CLOSE _pg_dump_cursor").await?;
    bytes += block.len() as u64;
    sink.push(block.into_bytes())?;
    sink.rows(rows);
    let written = sink.finish()?;
    Ok((rows, bytes, written))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, kind: ValueKind) -> Field {
        Field {
            name: name.into(),
            kind,
            generated: false,
        }
    }

    fn v(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    fn one(field: &Field, value: Option<&str>, std: bool) -> String {
        let mut out = String::new();
        render_value(&mut out, field, value, std);
        out
    }

    #[test]
    fn values_render_by_type() {
        let num = f("n", ValueKind::Number);
        assert_eq!(one(&num, Some("42"), true), "42");
        assert_eq!(one(&num, Some("-1.5e-300"), true), "-1.5e-300");
        assert_eq!(one(&num, Some("NaN"), true), "'NaN'");
        assert_eq!(one(&num, Some("-Infinity"), true), "'-Infinity'");
        assert_eq!(one(&num, None, true), "NULL");
        assert_eq!(one(&f("b", ValueKind::Bits), Some("0101"), true), "B'0101'");
        assert_eq!(one(&f("b", ValueKind::Bool), Some("t"), true), "true");
        assert_eq!(one(&f("b", ValueKind::Bool), Some("f"), true), "false");
        let text = f("t", ValueKind::Text);
        assert_eq!(one(&text, Some("it's"), true), "'it''s'");
        assert_eq!(one(&text, Some("a\\b"), true), "'a\\b'");
        assert_eq!(one(&text, Some("a\\b"), false), "'a\\\\b'");
        assert_eq!(one(&text, Some("tab\there\nü"), true), "'tab\there\nü'");
        let generated = Field {
            generated: true,
            ..f("g", ValueKind::Number)
        };
        assert_eq!(one(&generated, None, true), "DEFAULT");
        assert_eq!(ValueKind::of_type(1700), ValueKind::Number);
        assert_eq!(ValueKind::of_type(25), ValueKind::Text);
        assert_eq!(ValueKind::of_type(1562), ValueKind::Bits);
    }

    fn run(w: &mut InsertWriter, rows: &[Vec<Option<String>>]) -> String {
        let mut out = String::new();
        for r in rows {
            w.row(&mut out, r);
        }
        w.finish(&mut out);
        out
    }

    #[test]
    fn one_row_per_statement() {
        let fields = vec![f("id", ValueKind::Number), f("Name", ValueKind::Text)];
        let mut w = InsertWriter::new("public.t", fields, false, InsertOptions::default(), true);
        assert_eq!(
            run(&mut w, &[vec![v("1"), v("a")], vec![v("2"), None]]),
            "INSERT INTO public.t VALUES (1, 'a');\nINSERT INTO public.t VALUES (2, NULL);\n\n\n"
        );
    }

    #[test]
    fn column_names_overriding_and_on_conflict() {
        let fields = vec![f("id", ValueKind::Number), f("Name", ValueKind::Text)];
        let opts = InsertOptions {
            column_inserts: true,
            on_conflict_do_nothing: true,
            ..InsertOptions::default()
        };
        let mut w = InsertWriter::new("s.\"T\"", fields, true, opts, true);
        assert_eq!(
            run(&mut w, &[vec![v("1"), v("x")]]),
            "INSERT INTO s.\"T\" (id, \"Name\") OVERRIDING SYSTEM VALUE VALUES (1, 'x') ON CONFLICT DO NOTHING;\n\n\n"
        );
    }

    #[test]
    fn several_rows_per_statement_and_a_short_last_one() {
        let opts = InsertOptions {
            rows_per_insert: 2,
            ..InsertOptions::default()
        };
        let mut w = InsertWriter::new("t", vec![f("a", ValueKind::Number)], false, opts, true);
        assert_eq!(
            run(&mut w, &[vec![v("1")], vec![v("2")], vec![v("3")]]),
            "INSERT INTO t VALUES\n\t(1),\n\t(2);\nINSERT INTO t VALUES\n\t(3);\n\n\n"
        );
        let mut w = InsertWriter::new("t", vec![f("a", ValueKind::Number)], false, opts, true);
        assert_eq!(run(&mut w, &[]), "\n\n", "no rows: only the table's trailer");
    }

    #[test]
    fn tables_without_columns_get_default_values() {
        let opts = InsertOptions {
            rows_per_insert: 5,
            on_conflict_do_nothing: true,
            ..InsertOptions::default()
        };
        let mut w = InsertWriter::new("public.no_columns", vec![], false, opts, true);
        assert_eq!(
            run(&mut w, &[vec![None], vec![None]]),
            "INSERT INTO public.no_columns DEFAULT VALUES;\nINSERT INTO public.no_columns DEFAULT VALUES;\n\n\n"
        );
    }
}
