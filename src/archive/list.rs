//! `pg_restore -l`-style listings of a TOC (`PrintTOCSummary`, pg_backup_archiver.c): a `;`
//! comment block describing the archive, then one line per entry that a restore would run.

use std::fmt::Write as _;

use super::toc::{ArchiveFormat, CreateTime, Header, TocEntry};

/// Choices that change what `pg_restore -l` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// As `pg_restore -l -C`: also list the DATABASE entries and the database's own
    /// comment, ACL and security label.
    pub create_db: bool,
    /// Overrides the "Format:" line. By default format byte 1 reads `CUSTOM` and 3 reads
    /// `DIRECTORY` (a tar toc.dat carries 3 too; pass `Some("TAR")` for one).
    pub format_label: Option<&'static str>,
    /// The creation time as the reader's local zone shows it, with the zone's abbreviation
    /// (see `zone::Zone::stamp`); by default the header's fields are printed without a zone.
    pub created: Option<(CreateTime, String)>,
}

/// Renders the listing `pg_restore -l` prints for this archive.
pub fn list(header: &Header, entries: &[TocEntry]) -> String {
    list_with(header, entries, ListOptions::default())
}

/// [`list`] with options.
pub fn list_with(header: &Header, entries: &[TocEntry], opts: ListOptions) -> String {
    let mut out = String::with_capacity(512 + entries.len() * 64);
    let (t, zone) = match &opts.created {
        Some((t, z)) => (t, format!(" {z}")),
        None => (&header.created, String::new()),
    };
    let format = opts.format_label.unwrap_or(match header.format {
        ArchiveFormat::Custom => "CUSTOM",
        ArchiveFormat::Tar => "DIRECTORY",
    });
    let _ = write!(
        out,
        ";\n; Archive created at {:04}-{:02}-{:02} {:02}:{:02}:{:02}{zone}\n",
        i64::from(t.year) + 1900,
        i64::from(t.mon) + 1,
        t.mday,
        t.hour,
        t.min,
        t.sec
    );
    let _ = writeln!(out, ";     dbname: {}", sanitize(&header.dbname));
    let _ = writeln!(out, ";     TOC Entries: {}", entries.len());
    let _ = writeln!(out, ";     Compression: {}", header.compression.name());
    let _ = writeln!(out, ";     Dump Version: 1.{}-0", header.version.minor());
    let _ = writeln!(out, ";     Format: {format}");
    out.push_str(";     Integer: 4 bytes\n;     Offset: 8 bytes\n");
    let _ = writeln!(
        out,
        ";     Dumped from database version: {}",
        sanitize(&header.server_version)
    );
    let _ = writeln!(
        out,
        ";     Dumped by pg_dump version: {}",
        sanitize(&header.dump_version)
    );
    out.push_str(";\n;\n; Selected TOC Entries:\n;\n");
    for e in entries.iter().filter(|e| is_listed(e, &opts)) {
        let _ = writeln!(
            out,
            "{}; {} {} {} {} {} {}",
            e.dump_id,
            oid_text(&e.tableoid),
            oid_text(&e.oid),
            e.desc,
            e.namespace.as_deref().map_or_else(|| "-".to_string(), sanitize),
            sanitize(&e.tag),
            e.owner.as_deref().map(sanitize).unwrap_or_default()
        );
    }
    out
}

/// Whether a plain `pg_restore` would process the entry (`_tocEntryRequired`): the three
/// settings entries are consumed while reading the TOC, and database-level entries belong to
/// `-C` only.
fn is_listed(e: &TocEntry, opts: &ListOptions) -> bool {
    match e.desc.as_str() {
        "ENCODING" | "STDSTRINGS" | "SEARCHPATH" => false,
        "DATABASE" | "DATABASE PROPERTIES" => opts.create_db,
        "COMMENT" | "ACL" | "SECURITY LABEL" if e.tag.starts_with("DATABASE ") => opts.create_db,
        _ => true,
    }
}

/// pg_restore prints OIDs as parsed unsigned numbers; keep odd text as is.
fn oid_text(s: &str) -> String {
    s.parse::<u32>().map_or_else(|_| s.to_string(), |v| v.to_string())
}

/// Line breaks would split a listing line (`sanitize_line`); they become spaces.
fn sanitize(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::super::toc::{ArchiveVersion, CreateTime, HeaderCompression};
    use super::*;

    fn header(version: ArchiveVersion, compression: HeaderCompression) -> Header {
        Header {
            version,
            format: ArchiveFormat::Tar,
            compression,
            created: CreateTime {
                sec: 26,
                min: 32,
                hour: 1,
                mday: 24,
                mon: 10,
                year: 126,
                isdst: 0,
            },
            dbname: "tiny".into(),
            server_version: "18.6".into(),
            dump_version: "18.6".into(),
        }
    }

    fn entry(dump_id: i32, tableoid: &str, oid: &str, desc: &str, ns: Option<&str>, tag: &str) -> TocEntry {
        TocEntry {
            dump_id,
            tableoid: tableoid.into(),
            oid: oid.into(),
            desc: desc.into(),
            namespace: ns.map(Into::into),
            tag: tag.into(),
            owner: Some("postgres".into()),
            ..TocEntry::default()
        }
    }

    /// The TOC of archive-format.md §9.1 in its order.
    fn example() -> Vec<TocEntry> {
        let mut v = vec![
            entry(2569, "0", "0", "ENCODING", None, "ENCODING"),
            entry(2570, "0", "0", "STDSTRINGS", None, "STDSTRINGS"),
            entry(2571, "0", "0", "SEARCHPATH", None, "SEARCHPATH"),
            entry(2572, "1262", "16395", "DATABASE", None, "tiny"),
            entry(220, "1259", "16403", "SEQUENCE", Some("public"), "s"),
            entry(219, "1259", "16397", "TABLE", Some("public"), "t"),
            entry(2565, "0", "16397", "TABLE DATA", Some("public"), "t"),
            entry(2573, "0", "0", "SEQUENCE SET", Some("public"), "s"),
            entry(2417, "1259", "16402", "INDEX", Some("public"), "t_name_idx"),
        ];
        for e in &mut v[..3] {
            e.owner = None;
        }
        v
    }

    #[test]
    fn matches_pg_restore_18_listing_of_the_example() {
        let text = list(
            &header(ArchiveVersion::V1_16, HeaderCompression::Algorithm(1)),
            &example(),
        );
        let expected_head = ";\n; Archive created at 2026-11-24 01:32:26\n;     dbname: tiny\n;     TOC Entries: 9\n\
            ;     Compression: gzip\n;     Dump Version: 1.16-0\n;     Format: DIRECTORY\n;     Integer: 4 bytes\n\
            ;     Offset: 8 bytes\n;     Dumped from database version: 18.6\n;     Dumped by pg_dump version: 18.6\n\
            ;\n;\n; Selected TOC Entries:\n;\n";
        // Entry lines exactly as archive-format.md §9 shows pg_restore -l printing them.
        let expected_lines = "220; 1259 16403 SEQUENCE public s postgres\n\
            219; 1259 16397 TABLE public t postgres\n\
            2565; 0 16397 TABLE DATA public t postgres\n\
            2573; 0 0 SEQUENCE SET public s postgres\n\
            2417; 1259 16402 INDEX public t_name_idx postgres\n";
        assert_eq!(text, format!("{expected_head}{expected_lines}"));
    }

    #[test]
    fn create_db_lists_database_entries() {
        let mut entries = example();
        let mut comment = entry(3000, "0", "0", "COMMENT", None, "DATABASE tiny");
        comment.owner = Some("postgres".into());
        entries.push(comment);
        entries.push(entry(3001, "0", "0", "DATABASE PROPERTIES", None, "tiny"));
        entries.push(entry(3002, "0", "0", "ACL", None, "SCHEMA public"));
        let h = header(ArchiveVersion::V1_14, HeaderCompression::ZlibLevel(-1));
        let plain = list(&h, &entries);
        assert!(!plain.contains("DATABASE"), "{plain}");
        assert!(plain.contains("3002; 0 0 ACL - SCHEMA public postgres\n"));
        assert!(plain.contains("Compression: gzip") && plain.contains("Dump Version: 1.14-0"));
        let with_c = list_with(
            &h,
            &entries,
            ListOptions {
                create_db: true,
                ..ListOptions::default()
            },
        );
        assert!(
            with_c.contains("2572; 1262 16395 DATABASE - tiny postgres\n"),
            "{with_c}"
        );
        assert!(with_c.contains("3000; 0 0 COMMENT - DATABASE tiny postgres\n"));
        assert!(with_c.contains("3001; 0 0 DATABASE PROPERTIES - tiny postgres\n"));
        assert!(!with_c.contains("ENCODING"));
    }

    #[test]
    fn null_owner_empty_schema_and_line_breaks() {
        // Checked against pg_restore 18: NULL owner leaves a trailing space, an empty schema
        // prints nothing (only NULL prints "-"), line breaks in names become spaces.
        let mut a = entry(7, "1259", "16007", "COMMENT", Some("public"), "TABLE people");
        a.owner = None;
        let mut b = entry(8, "1259", "16008", "COMMENT", Some(""), "weird\ntag\rx");
        b.owner = Some(String::new());
        let text = list(&header(ArchiveVersion::V1_15, HeaderCompression::Algorithm(3)), &[a, b]);
        assert!(
            text.ends_with("7; 1259 16007 COMMENT public TABLE people \n8; 1259 16008 COMMENT  weird tag x \n"),
            "{text}"
        );
        assert!(text.contains("Compression: zstd"));
    }

    #[test]
    fn format_label() {
        let mut h = header(ArchiveVersion::V1_16, HeaderCompression::Algorithm(0));
        assert!(list(&h, &[]).contains("Format: DIRECTORY\n"));
        assert!(list(&h, &[]).contains("Compression: none\n"));
        assert!(
            list_with(
                &h,
                &[],
                ListOptions {
                    format_label: Some("TAR"),
                    ..ListOptions::default()
                }
            )
            .contains("Format: TAR\n")
        );
        h.format = ArchiveFormat::Custom;
        assert!(list(&h, &[]).contains("Format: CUSTOM\n"));
    }
}
