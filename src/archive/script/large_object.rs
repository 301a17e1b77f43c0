//! Large objects in a script: their data as `lo_open`/`lowrite`/`lo_close` calls
//! (`StartRestoreLO`, `EndRestoreLO`, `dump_lo_buf`, `ahwrite`, pg_backup_archiver.c), and
//! statements repeated for every OID of a BLOB METADATA group (`IssueCommandPerBlob`,
//! `IssueACLPerBlob`, pg_backup_db.c).

use std::io::{self, Write};

/// pg_restore collects large-object bytes in a buffer of this size and writes one
/// `lowrite` call per full buffer, plus one for the rest (`LOBBUFSIZE`).
pub const LO_CHUNK: usize = 16384;

/// `INV_WRITE` from libpq-fs.h: the mode `lo_open` is called with.
const INV_WRITE: u32 = 0x20000;

/// Where a BLOBS entry's script output stands between two pieces of its data: the open
/// object, its bytes not yet written (less than one `lowrite`), objects started.
#[derive(Debug, Default)]
pub(crate) struct LargeObjectState {
    open: Option<u32>,
    buf: Vec<u8>,
    count: u64,
}

/// The payload of one data entry on its way into the script, handed to the data callback.
///
/// For TABLE DATA, write the COPY text exactly as stored (rows, then the `\.` line and its
/// trailing newlines) — or the INSERT statements of an `--inserts` archive. For BLOBS,
/// call [`DataSink::start_large_object`], write the object's bytes, and call
/// [`DataSink::end_large_object`], once per large object in the entry.
pub struct DataSink<'a> {
    out: &'a mut dyn Write,
    std_strings: bool,
    large_objects: bool,
    open: Option<u32>,
    buf: Vec<u8>,
    count: u64,
}

impl<'a> DataSink<'a> {
    pub(crate) fn new(out: &'a mut dyn Write, std_strings: bool, large_objects: bool) -> Self {
        DataSink {
            out,
            std_strings,
            large_objects,
            open: None,
            buf: Vec::new(),
            count: 0,
        }
    }

    /// Whether this entry carries large objects (a BLOBS entry) rather than table data.
    pub fn is_large_objects(&self) -> bool {
        self.large_objects
    }

    /// Begins large object `oid`: the following writes are its bytes.
    pub fn start_large_object(&mut self, oid: u32) -> io::Result<()> {
        if !self.large_objects {
            return Err(misuse("a large object was started inside a table's data"));
        }
        if let Some(open) = self.open {
            return Err(misuse(&format!(
                "large object {oid} was started before large object {open} ended"
            )));
        }
        if oid == 0 {
            return Err(misuse("invalid OID 0 for a large object"));
        }
        writeln!(self.out, "SELECT pg_catalog.lo_open('{oid}', {INV_WRITE});")?;
        self.open = Some(oid);
        self.buf.clear();
        self.count += 1;
        Ok(())
    }

    /// Ends the open large object, writing what is left of its bytes.
    pub fn end_large_object(&mut self) -> io::Result<()> {
        if self.open.is_none() {
            return Err(misuse("no large object is open"));
        }
        if !self.buf.is_empty() {
            self.write_chunk()?;
        }
        self.open = None;
        self.out.write_all(b"SELECT pg_catalog.lo_close(0);\n\n")
    }

    /// Large objects started so far.
    pub fn large_objects_written(&self) -> u64 {
        self.count
    }

    /// Continues where a sink over the same entry stopped ([`DataSink::suspend`]), for a
    /// writer that holds the output only while each piece of the data passes.
    pub(crate) fn resume(&mut self, state: LargeObjectState) {
        self.open = state.open;
        self.buf = state.buf;
        self.count = state.count;
    }

    /// The large-object progress so far, for [`DataSink::resume`]; the sink is left with none.
    pub(crate) fn suspend(&mut self) -> LargeObjectState {
        LargeObjectState {
            open: self.open.take(),
            buf: std::mem::take(&mut self.buf),
            count: std::mem::take(&mut self.count),
        }
    }

    pub(crate) fn open_large_object(&self) -> Option<u32> {
        self.open
    }

    /// The writer the sink wrote to, for what follows the payload.
    pub(crate) fn into_inner(self) -> &'a mut dyn Write {
        self.out
    }

    fn write_chunk(&mut self) -> io::Result<()> {
        let stmt = format!(
            "SELECT pg_catalog.lowrite(0, {});\n",
            bytea_literal(&self.buf, self.std_strings)
        );
        self.buf.clear();
        self.out.write_all(stmt.as_bytes())
    }
}

impl Write for DataSink<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_all(data)?;
        Ok(data.len())
    }

    /// Inside a large object the bytes are cut into `LO_CHUNK` pieces whatever sizes they
    /// arrive in: a piece is written only once more bytes follow it or the object ends,
    /// which is what makes the script independent of how the caller reads its input.
    fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        if self.open.is_none() {
            if self.large_objects && !data.is_empty() {
                return Err(misuse("large-object bytes were written outside a large object"));
            }
            return self.out.write_all(data);
        }
        while self.buf.len() + data.len() > LO_CHUNK {
            let room = LO_CHUNK - self.buf.len();
            self.buf.extend_from_slice(&data[..room]);
            data = &data[room..];
            self.write_chunk()?;
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn misuse(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_string())
}

/// A bytea literal in hex format (`appendByteaLiteral`): `'\x…'`, with the backslash
/// doubled when `standard_conforming_strings` is off.
pub fn bytea_literal(bytes: &[u8], std_strings: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2 + 5);
    s.push('\'');
    if !std_strings {
        s.push('\\');
    }
    s.push_str("\\x");
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s.push('\'');
    s
}

/// One statement per OID of a BLOB METADATA entry (whose defn lists the OIDs, each line
/// ending in a newline): `<begin><oid><end>;` each on its own line, then a blank line.
pub fn per_blob(oids_defn: &str, begin: &str, end: &str) -> String {
    let mut out = String::new();
    let mut rest = oids_defn;
    while let Some(nl) = rest.find('\n') {
        out.push_str(begin);
        out.push_str(&rest[..nl]);
        out.push_str(end);
        out.push_str(";\n");
        rest = &rest[nl + 1..];
    }
    out.push('\n');
    out
}

/// A `LARGE OBJECTS a..b` ACL entry holds the GRANT/REVOKE commands for one object of the
/// group; each command is repeated for every OID of the group's BLOB METADATA entry, the
/// OID after `LARGE OBJECT ` replaced. Double-quoted role names are skipped while looking
/// for that phrase and for the `;` that ends a command. A command without `LARGE OBJECT`
/// is printed once, unchanged.
pub fn acl_per_blob(acl_defn: &str, oids_defn: &str) -> String {
    const PHRASE: &str = "LARGE OBJECT ";
    let bytes = acl_defn.as_bytes();
    let mut out = String::new();
    let mut in_quotes = false;
    let mut start = 0;
    let mut split: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            in_quotes = !in_quotes;
        }
        if in_quotes {
            i += 1;
            continue;
        }
        if acl_defn[i..].starts_with(PHRASE) {
            let head_end = i + PHRASE.len();
            let mut j = head_end;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            split = Some((head_end, j));
            i = j;
        } else if bytes[i] == b';' {
            match split {
                Some((head_end, tail_start)) => {
                    out.push_str(&per_blob(
                        oids_defn,
                        &acl_defn[start..head_end],
                        &acl_defn[tail_start..i],
                    ));
                }
                None => {
                    out.push_str(&acl_defn[start..=i]);
                    out.push('\n');
                }
            }
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            start = i;
            split = None;
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink_output(std_strings: bool, f: impl FnOnce(&mut DataSink<'_>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        {
            let mut sink = DataSink::new(&mut out, std_strings, true);
            f(&mut sink).unwrap();
            assert_eq!(sink.open_large_object(), None);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn bytea_literals() {
        assert_eq!(bytea_literal(b"\x00\xde\xad", true), "'\\x00dead'");
        assert_eq!(bytea_literal(b"\x5c", false), "'\\\\x5c'");
        assert_eq!(bytea_literal(b"", true), "'\\x'");
    }

    #[test]
    fn large_object_bytes_go_out_in_fixed_chunks() {
        let data: Vec<u8> = (0..LO_CHUNK * 2 + 10).map(|i| (i % 251) as u8).collect();
        // The same bytes written in odd pieces and in one piece print the same script.
        let pieces = sink_output(true, |s| {
            s.start_large_object(16400)?;
            for piece in data.chunks(777) {
                s.write_all(piece)?;
            }
            s.end_large_object()
        });
        let whole = sink_output(true, |s| {
            s.start_large_object(16400)?;
            s.write_all(&data)?;
            s.end_large_object()
        });
        assert_eq!(pieces, whole);
        let writes: Vec<&str> = whole.lines().filter(|l| l.contains("lowrite")).collect();
        assert_eq!(writes.len(), 3);
        assert_eq!(
            writes[0].len(),
            "SELECT pg_catalog.lowrite(0, '\\x');".len() + 2 * LO_CHUNK
        );
        assert_eq!(writes[2].len(), "SELECT pg_catalog.lowrite(0, '\\x');".len() + 20);
        assert!(whole.starts_with("SELECT pg_catalog.lo_open('16400', 131072);\n"));
        assert!(whole.ends_with("SELECT pg_catalog.lo_close(0);\n\n"));
    }

    #[test]
    fn exact_chunk_and_empty_objects() {
        let exact = sink_output(true, |s| {
            s.start_large_object(1)?;
            s.write_all(&vec![0xab; LO_CHUNK])?;
            s.end_large_object()
        });
        assert_eq!(
            exact.matches("lowrite").count(),
            1,
            "a full buffer is written once, at the end"
        );
        let empty = sink_output(false, |s| {
            s.start_large_object(2)?;
            s.end_large_object()
        });
        assert_eq!(
            empty,
            "SELECT pg_catalog.lo_open('2', 131072);\nSELECT pg_catalog.lo_close(0);\n\n"
        );
        let escaped = sink_output(false, |s| {
            s.start_large_object(3)?;
            s.write_all(b"A")?;
            s.end_large_object()
        });
        assert!(escaped.contains("SELECT pg_catalog.lowrite(0, '\\\\x41');\n"));
    }

    #[test]
    fn misuse_is_an_error() {
        let mut out = Vec::new();
        let mut table = DataSink::new(&mut out, true, false);
        assert!(table.start_large_object(5).is_err());
        table.write_all(b"1\tx\n\\.\n\n\n").unwrap();
        let mut out = Vec::new();
        let mut blobs = DataSink::new(&mut out, true, true);
        assert!(blobs.write_all(b"stray").is_err());
        assert!(blobs.end_large_object().is_err());
        blobs.start_large_object(5).unwrap();
        assert!(blobs.start_large_object(6).is_err());
        assert!(blobs.start_large_object(0).is_err());
    }

    #[test]
    fn commands_per_blob() {
        assert_eq!(
            per_blob("16400\n16401\n", "SELECT pg_catalog.lo_create('", "')"),
            "SELECT pg_catalog.lo_create('16400');\nSELECT pg_catalog.lo_create('16401');\n\n"
        );
        assert_eq!(per_blob("", "x", "y"), "\n");
    }

    #[test]
    fn acls_are_repeated_for_every_object_of_the_group() {
        let acl = "REVOKE ALL ON LARGE OBJECT 16400 FROM \"LARGE OBJECT 9; x\";\nGRANT SELECT ON LARGE OBJECT 16400 TO reader;\n";
        assert_eq!(
            acl_per_blob(acl, "16400\n16401\n"),
            "REVOKE ALL ON LARGE OBJECT 16400 FROM \"LARGE OBJECT 9; x\";\n\
             REVOKE ALL ON LARGE OBJECT 16401 FROM \"LARGE OBJECT 9; x\";\n\n\
             GRANT SELECT ON LARGE OBJECT 16400 TO reader;\n\
             GRANT SELECT ON LARGE OBJECT 16401 TO reader;\n\n"
        );
        assert_eq!(
            acl_per_blob(
                "SET SESSION AUTHORIZATION bob;\nGRANT SELECT ON LARGE OBJECT 1 TO r;\nRESET SESSION AUTHORIZATION;\n",
                "1\n2\n"
            ),
            "SET SESSION AUTHORIZATION bob;\nGRANT SELECT ON LARGE OBJECT 1 TO r;\nGRANT SELECT ON LARGE OBJECT 2 TO r;\n\nRESET SESSION AUTHORIZATION;\n"
        );
    }
}
