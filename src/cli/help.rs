//! `--help` of `pgsnap dump` / `pg_dump`: every option, grouped as pg_dump groups them.

/// The help text; `prog` is how the command was invoked (`pgsnap dump` or `pg_dump`).
pub fn dump_help(prog: &str) -> String {
    format!(
        "{prog} dumps a PostgreSQL database as an SQL script or an archive that stock pg_restore reads,
in parallel and from one consistent snapshot.

Usage:
  {prog} [OPTION]... [DBNAME]

General options:
  -f, --file=FILENAME          output file or directory name
  -F, --format=c|d|t|p         output file format (custom, directory, tar,
                               plain text (default))
  -j, --jobs=NUM               use this many parallel jobs to dump
  -v, --verbose                verbose mode
  -V, --version                output version information, then exit
  -Z, --compress=METHOD[:DETAIL]
                               compress as specified (gzip, lz4, zstd, none;
                               a bare level means gzip)
  --archive-version=VERSION    archive format to write (1.14, 1.15, 1.16);
                               default: the oldest the options allow
  --progress=auto|bar|json|none
                               show progress on stderr: a live display when it
                               is a terminal (auto, the default), always (bar),
                               as JSON lines (json), or not at all (none)
  --encrypt-to=RECIPIENT       encrypt every archive file with age to RECIPIENT
                               (age1..., ssh-ed25519 or ssh-rsa public key; repeatable)
  --encrypt-to-file=FILE       encrypt to the recipients listed in FILE
  --passphrase-file=FILE       encrypt with the passphrase on FILE's first line
  --encrypt-with-passphrase    encrypt with the passphrase in PGSNAP_PASSPHRASE
  --to=URL                     stream the archive (named by -f) to URL instead of
                               a local file: file:///dir or s3://bucket/prefix
                               (repeatable; -Fc, -Ft, -Fp; credentials from AWS_*)
  --lock-wait-timeout=TIMEOUT  fail after waiting TIMEOUT for a table lock
  --no-manifest                write no manifest (pgsnap.manifest in a directory
                               archive, FILE.manifest beside a file); `pgsnap verify`
                               then cannot check the archive
  --manifest-checksums=ALGORITHM
                               checksum the manifest records for each file:
                               CRC32C (default), SHA256 or NONE (sizes only)
  --split-tables-larger-than=SIZE
                               read tables of at least SIZE (default 64MB) with
                               several jobs, as ctid ranges; 0 never splits (a
                               split table larger than shared_buffers/4 evicts
                               the server's cache, which pg_dump's scan avoids)
  --no-sync                    do not wait for changes to be written safely to disk
  --sync-method=METHOD         set method for syncing files to disk (fsync, syncfs)
  -?, --help                   show this help, then exit

Options controlling the output content:
  -a, --data-only              dump only the data, not the schema or statistics
  -b, --large-objects          include large objects in dump
  --blobs                      (same as --large-objects, deprecated)
  -B, --no-large-objects       exclude large objects in dump
  --no-blobs                   (same as --no-large-objects, deprecated)
  -c, --clean                  clean (drop) database objects before recreating
  -C, --create                 include commands to create database in dump
  -e, --extension=PATTERN      dump the specified extension(s) only
  -E, --encoding=ENCODING      dump the data in encoding ENCODING (UTF8 only)
  -n, --schema=PATTERN         dump the specified schema(s) only
  -N, --exclude-schema=PATTERN do NOT dump the specified schema(s)
  -O, --no-owner               skip restoration of object ownership in
                               plain-text format
  -s, --schema-only            dump only the schema, no data or statistics
  -S, --superuser=NAME         superuser user name to use in plain-text format
  -t, --table=PATTERN          dump only the specified table(s)
  -T, --exclude-table=PATTERN  do NOT dump the specified table(s)
  -x, --no-privileges          do not dump privileges (grant/revoke)
  --no-acl                     (same as --no-privileges)
  --binary-upgrade             for pg_upgrade only (not supported by pgsnap)
  --attribute-inserts          (same as --column-inserts)
  --column-inserts             dump data as INSERT commands with column names
  --disable-dollar-quoting     disable dollar quoting, use SQL standard quoting
  --disable-triggers           disable triggers during data-only restore
  --enable-row-security        enable row security (dump only content user has
                               access to)
  --exclude-extension=PATTERN  do NOT dump the specified extension(s)
  --exclude-table-and-children=PATTERN
                               do NOT dump the specified table(s), including
                               child and partition tables
  --exclude-table-data=PATTERN do NOT dump data for the specified table(s)
  --exclude-table-data-and-children=PATTERN
                               do NOT dump data for the specified table(s),
                               including child and partition tables
  --extra-float-digits=NUM     override default setting for extra_float_digits
  --filter=FILENAME            include or exclude objects and data from dump
                               based on expressions in FILENAME
  --if-exists                  use IF EXISTS when dropping objects
  --include-foreign-data=PATTERN
                               include data of foreign tables on foreign
                               servers matching PATTERN
  --inserts                    dump data as INSERT commands, rather than COPY
  --load-via-partition-root    load partitions via the root table
  --no-comments                do not dump comment commands
  --no-data                    do not dump data
  --no-policies                do not dump row security policies
  --no-publications            do not dump publications
  --no-schema                  do not dump schema
  --no-security-labels         do not dump security label assignments
  --no-statistics              do not dump statistics
  --no-subscriptions           do not dump subscriptions
  --no-table-access-method     do not dump table access methods
  --no-tablespaces             do not dump tablespace assignments
  --no-toast-compression       do not dump TOAST compression methods
  --no-unlogged-table-data     do not dump unlogged table data
  --on-conflict-do-nothing     add ON CONFLICT DO NOTHING to INSERT commands
  --quote-all-identifiers      quote all identifiers, even if not key words
  --restrict-key=RESTRICT_KEY  use provided string as psql \\restrict key
  --rows-per-insert=NROWS      number of rows per INSERT; implies --inserts
  --section=SECTION            dump named section (pre-data, data, or post-data)
  --sequence-data              include sequence data in dump
  --serializable-deferrable    wait until the dump can run without anomalies
  --snapshot=SNAPSHOT          use given snapshot for the dump
  --statistics                 dump the statistics
  --statistics-only            dump only the statistics, not schema or data
  --strict-names               require table and/or schema include patterns to
                               match at least one entity each
  --table-and-children=PATTERN dump only the specified table(s), including
                               child and partition tables
  --use-set-session-authorization
                               use SET SESSION AUTHORIZATION commands instead of
                               ALTER OWNER commands to set ownership

Connection options:
  -d, --dbname=DBNAME      database to dump (a name or a connection string)
  -h, --host=HOSTNAME      database server host or socket directory
  -p, --port=PORT          database server port number
  -U, --username=NAME      connect as specified database user
  -w, --no-password        never prompt for password
  -W, --password           force password prompt (should happen automatically)
  --role=ROLENAME          do SET ROLE before dump

If no database name is supplied, then the PGDATABASE environment
variable value is used.
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_listed_once() {
        let text = dump_help("pg_dump");
        for name in super::super::dump::long_option_names() {
            // --no-reconnect is a silent no-op, as in pg_dump's help.
            if name == "no-reconnect" {
                continue;
            }
            let flag = format!("--{name}");
            // Option definitions: the start of a line, up to the description.
            let hits = text
                .lines()
                .map(str::trim_start)
                .filter(|l| l.starts_with('-'))
                .map(|l| l.split("  ").next().unwrap_or_default())
                .flat_map(|spec| spec.split(", "))
                .filter(|o| o.split(['=', '[']).next() == Some(flag.as_str()))
                .count();
            assert_eq!(hits, 1, "{flag} listed {hits} times");
        }
        for group in [
            "General options:",
            "Options controlling the output content:",
            "Connection options:",
        ] {
            assert!(text.contains(group), "{group}");
        }
        assert!(text.contains("  pg_dump [OPTION]... [DBNAME]"));
    }
}
