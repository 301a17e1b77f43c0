//! The generated database the benchmarks dump (benches/README.md): a wide table of text,
//! jsonb, numeric, bytea, timestamps and NULLs holding most of the bytes, a medium table, a
//! view, an index and 300 small tables. Shared by `dump_vs_stock` and `fanout`.

/// SQL for the main database, about `size` bytes of table data: `wide` holds ~80 %, `orders`
/// ~15 %, 300 small tables the rest. Rows are inserted in batches so a 2 GB load shows
/// progress and never holds one huge transaction.
pub fn main_db_sql(size: u64) -> Vec<String> {
    // Measured on-disk row sizes (heap + TOAST, pg_table_size / rows on PostgreSQL 18) of the
    // rows below, about.
    let wide_rows = ((size as f64 * 0.80) / 390.0) as i64;
    let order_rows = ((size as f64 * 0.15) / 66.0) as i64;
    let mut sql = vec![
        "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, country char(2));
INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com', (ARRAY['DE','FR','US','JP','BR'])[1 + g % 5]
  FROM generate_series(1, 20000) g;
CREATE TABLE wide (
  id bigint PRIMARY KEY, customer_id int, label text, doc jsonb, amount numeric(14,2),
  happened timestamptz, payload bytea, note text, flags boolean, ratio double precision);"
            .to_string(),
    ];
    let batch = 500_000i64;
    let mut from = 1i64;
    while from <= wide_rows {
        let to = (from + batch - 1).min(wide_rows);
        sql.push(format!(
            "INSERT INTO wide SELECT g, 1 + g % 20000, 'event ' || g || ' ' || substr(md5(g::text), 1, 8),
  jsonb_build_object('k', g, 'user', g % 100000, 'tags', jsonb_build_array('a' || g % 7, 'b' || g % 13),
    'ok', g % 2 = 0, 'score', (g * 7919) % 1000 / 10.0, 'ref', md5((g * 3)::text)),
  CASE WHEN g % 11 = 0 THEN NULL ELSE round(((g * 31337) % 100000000) / 100.0, 2) END,
  timestamptz '2020-01-01 00:00:00+00' + g * interval '17 seconds',
  CASE WHEN g % 7 = 0 THEN NULL ELSE decode(md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text), 'hex') END,
  CASE WHEN g % 5 = 0 THEN NULL ELSE repeat(md5(g::text), 2) || E'\\tline two\\n' || md5((g * 17)::text) END,
  g % 3 = 0, g / 7.0
  FROM generate_series({from}::bigint, {to}) g"
        ));
        from = to + 1;
    }
    sql.push(format!(
        "CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id),
  total numeric(12,2), status text, created date, memo text);
INSERT INTO orders SELECT g, 1 + g % 20000, (g % 1000) * 1.5, (ARRAY['new','paid','shipped'])[1 + g % 3],
  date '2021-01-01' + g % 1000, CASE WHEN g % 4 = 0 THEN NULL ELSE 'memo ' || g END
  FROM generate_series(1, {order_rows}) g;
CREATE INDEX wide_happened_idx ON wide (happened);
CREATE VIEW customer_totals AS
  SELECT c.id, c.name, sum(o.total) AS total FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name;"
    ));
    sql.push(
        "DO $$ BEGIN FOR i IN 1..300 LOOP
  EXECUTE format('CREATE TABLE small_%s (id int PRIMARY KEY, v text, n int, t timestamptz)', i);
  EXECUTE format('INSERT INTO small_%s SELECT g, md5(g::text), g * %s, now() FROM generate_series(1, 200) g', i, i);
END LOOP; END $$;
VACUUM ANALYZE;"
            .to_string(),
    );
    sql
}

/// A `--size` value: bytes, or a number with `MB` or `GB` (decimal units); positive.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_uppercase();
    let (num, mult) = if let Some(n) = s.strip_suffix("GB") {
        (n, 1e9)
    } else if let Some(n) = s.strip_suffix("MB") {
        (n, 1e6)
    } else {
        (s.as_str(), 1.0)
    };
    let v: f64 = num.trim().parse().ok()?;
    (v > 0.0).then_some((v * mult) as u64)
}
