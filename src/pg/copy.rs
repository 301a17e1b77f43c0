//! `COPY ... TO STDOUT` spoken directly on a held [`Tap`], for the workers.
//!
//! One batch per table, as libpq's `PQsendQueryParams` pipeline would send it: the worker's
//! re-lock and the COPY as unnamed statements (Parse, Bind, Execute each) and one Sync. The
//! server stops at the first error and skips to the Sync, so a failed lock never lets the
//! COPY run, and the table costs one round trip instead of tokio-postgres's three (simple
//! query for the lock, Parse/Describe of a named statement, then Bind/Execute).
//!
//! Rows (one CopyData message each) are copied straight from the read buffer into chunks of
//! the caller's block size, which become the archive's blocks without another copy.

use std::ops::Range;

use super::tap::{Held, Tap};
use crate::error::{Error, ErrorKind, Result, Retry};

/// COPY text of consecutive rows.
#[derive(Debug, Default)]
pub struct CopyChunk {
    pub data: Vec<u8>,
    /// Rows in `data` (whole rows only).
    pub rows: u64,
}

/// The read buffer a streaming COPY grows to (and beyond, for a row longer than this).
const READ_BUFFER: usize = 256 * 1024;

/// A COPY starts with this much buffer, and its first chunk with this much room: most
/// tables of a many-table database are a few rows, and zeroing a full read buffer per table
/// was 3 % of the client's CPU samples dumping 10 000 of them. A table that keeps the buffer
/// full grows it, and its later chunks are full-sized.
const FIRST_READ: usize = 16 * 1024;
const FIRST_CHUNK: usize = 64 * 1024;

/// A COPY in progress on a held stream.
pub(crate) struct RawCopy {
    held: Option<Held>,
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    chunk_bytes: usize,
    /// No chunk handed on yet: the next one starts small.
    first_chunk: bool,
    /// Names the statement and session in errors.
    what: String,
    finished: bool,
}

/// Appends a frontend message: its tag, then its length (including itself) and `body`.
fn message(out: &mut Vec<u8>, tag: u8, body: &[&[u8]]) {
    let len: usize = 4 + body.iter().map(|b| b.len()).sum::<usize>();
    out.push(tag);
    out.extend_from_slice(&(len as u32).to_be_bytes());
    for b in body {
        out.extend_from_slice(b);
    }
}

/// Parse, Bind and Execute of `sql` as the unnamed statement and portal, without parameters
/// and with text results.
fn unnamed_statement(out: &mut Vec<u8>, sql: &str) {
    message(out, b'P', &[b"\0", sql.as_bytes(), b"\0", &0u16.to_be_bytes()]);
    message(
        out,
        b'B',
        &[b"\0\0", &0u16.to_be_bytes(), &0u16.to_be_bytes(), &0u16.to_be_bytes()],
    );
    message(out, b'E', &[b"\0", &0u32.to_be_bytes()]);
}

/// The request for one table: `before` (the lock), then the COPY, then Sync.
pub(crate) fn request(before: Option<&str>, copy_sql: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + copy_sql.len() + before.map_or(0, str::len));
    if let Some(sql) = before {
        unnamed_statement(&mut out, sql);
    }
    unnamed_statement(&mut out, copy_sql);
    message(&mut out, b'S', &[]);
    out
}

/// An ErrorResponse's fields as our error (the fields pg::convert keeps from tokio-postgres).
pub(crate) fn error_response(body: &[u8]) -> Error {
    let (mut code, mut message, mut detail, mut hint) = (None, None, None, None);
    let mut rest = body;
    while let Some((&kind, after)) = rest.split_first() {
        if kind == 0 {
            break;
        }
        let end = after.iter().position(|&b| b == 0).unwrap_or(after.len());
        let value = String::from_utf8_lossy(&after[..end]).into_owned();
        match kind {
            b'C' => code = Some(value),
            b'M' => message = Some(value),
            b'D' => detail = Some(value),
            b'H' => hint = Some(value),
            _ => {}
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    super::server_error(
        code.as_deref().unwrap_or("XX000"),
        message.as_deref().unwrap_or("unknown server error"),
        detail.as_deref(),
        hint.as_deref(),
    )
}

fn send_failed(e: std::io::Error, what: &str) -> Error {
    Error::new(ErrorKind::Connect, format!("could not send data to server: {e}")).context(what.to_string())
}

fn closed() -> Error {
    Error::new(ErrorKind::Connect, "server closed the connection unexpectedly").with_retry(Retry::Maybe)
}

fn io_error(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Connect, format!("could not receive data from server: {e}")).with_retry(Retry::Maybe)
}

fn protocol(tag: u8) -> Error {
    Error::new(
        ErrorKind::Connect,
        format!(
            "unexpected message type \"{}\" during COPY from the server",
            char::from(tag).escape_default()
        ),
    )
}

impl RawCopy {
    /// Sends the request for one table and reads up to the start of the COPY data. An error
    /// of the `before` statement goes through `before_failed` (a lock's own message).
    pub async fn start(
        tap: &Tap,
        before: Option<&str>,
        copy_sql: &str,
        chunk_bytes: usize,
        what: String,
        before_failed: impl FnOnce(Error) -> Error,
    ) -> Result<RawCopy> {
        let (mut held, early) = tap.hold().map_err(|e| Error::new(ErrorKind::Connect, e.to_string()))?;
        held.write_all(&request(before, copy_sql))
            .await
            .map_err(|e| send_failed(e, &what))?;
        Self::read_to_data(held, early, before.is_some(), chunk_bytes, what, before_failed).await
    }

    /// Sends the requests of several tables in one write, for [`RawCopy::resume`] to read
    /// the replies of, one table after another in this order: the server runs them back to
    /// back, without waiting a round trip (and a wake-up on each side) per table.
    pub async fn send_ahead(tap: &Tap, requests: &[(Option<&str>, &str)], what: &str) -> Result<()> {
        let (mut held, early) = tap.hold().map_err(|e| Error::new(ErrorKind::Connect, e.to_string()))?;
        let mut out = Vec::with_capacity(requests.iter().map(|(b, c)| 64 + c.len() + b.map_or(0, str::len)).sum());
        for (before, copy_sql) in requests {
            out.extend_from_slice(&request(*before, copy_sql));
        }
        held.write_all(&out).await.map_err(|e| send_failed(e, what))?;
        held.sent_ahead(requests.len());
        held.release(&early);
        Ok(())
    }

    /// Reads up to the start of the COPY data of the oldest request [`RawCopy::send_ahead`]
    /// sent; `before` says whether it had a statement before the COPY.
    pub async fn resume(
        tap: &Tap,
        before: bool,
        chunk_bytes: usize,
        what: String,
        before_failed: impl FnOnce(Error) -> Error,
    ) -> Result<RawCopy> {
        let (held, early) = tap
            .hold_ahead()
            .map_err(|e| Error::new(ErrorKind::Connect, e.to_string()).context(what.clone()))?;
        Self::read_to_data(held, early, before, chunk_bytes, what, before_failed).await
    }

    async fn read_to_data(
        held: Held,
        early: Vec<u8>,
        before: bool,
        chunk_bytes: usize,
        what: String,
        before_failed: impl FnOnce(Error) -> Error,
    ) -> Result<RawCopy> {
        let mut buf = vec![0; FIRST_READ.max(early.len())];
        buf[..early.len()].copy_from_slice(&early);
        let mut copy = RawCopy {
            held: Some(held),
            buf,
            start: 0,
            end: early.len(),
            chunk_bytes: chunk_bytes.max(1),
            first_chunk: true,
            what,
            finished: false,
        };
        // Statements completed so far: the first CommandComplete is the `before` one's.
        let mut completed = 0;
        loop {
            let (tag, body) = copy.next_message().await?;
            match tag {
                b'1' | b'2' | b'N' | b'S' | b'A' => {}
                b'C' => completed += 1,
                // CopyOutResponse: overall format 0 is text.
                b'H' => {
                    if copy.buf[body].first() != Some(&0) {
                        return Err(copy.fail(Error::internal("the server sent binary COPY data")));
                    }
                    return Ok(copy);
                }
                b'E' => {
                    let err = error_response(&copy.buf[body]);
                    let err = copy.after_error(err).await;
                    return Err(if before && completed == 0 {
                        before_failed(err)
                    } else {
                        err.context(copy.what.clone())
                    });
                }
                other => return Err(copy.fail(protocol(other))),
            }
        }
    }

    /// The next chunk of rows; `None` once the COPY has ended and the stream is back with
    /// tokio-postgres.
    pub async fn next_chunk(&mut self) -> Result<Option<CopyChunk>> {
        if self.finished {
            return Ok(None);
        }
        let room = if std::mem::take(&mut self.first_chunk) {
            FIRST_CHUNK.min(self.chunk_bytes)
        } else {
            self.chunk_bytes
        };
        let mut chunk = CopyChunk {
            data: Vec::with_capacity(room),
            rows: 0,
        };
        loop {
            if self.take_rows(&mut chunk) {
                return Ok(Some(chunk));
            }
            // Not a whole row at the front of the buffer: read on, or another message.
            let (tag, len) = self.peek().await?;
            match tag {
                // Whole now: the next turn takes it.
                b'd' => {}
                // CopyDone, CommandComplete, and asynchronous messages.
                b'c' | b'C' | b'N' | b'S' | b'A' => {
                    self.consume(len);
                }
                b'Z' => {
                    self.consume(len);
                    self.finished = true;
                    if let Some(held) = self.held.take() {
                        held.release(&self.buf[self.start..self.end]);
                    }
                    return Ok((!chunk.data.is_empty()).then_some(chunk));
                }
                b'E' => {
                    let body = self.consume(len);
                    let err = error_response(&self.buf[body]);
                    let err = self.after_error(err).await;
                    return Err(err.context(self.what.clone()));
                }
                other => return Err(self.fail(protocol(other))),
            }
        }
    }

    /// As a stream of chunks.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Result<CopyChunk>> + Send + 'static {
        futures_util::stream::try_unfold(self, |mut copy| async move {
            Ok(copy.next_chunk().await?.map(|chunk| (chunk, copy)))
        })
    }

    /// After an ErrorResponse: reads on to ReadyForQuery and hands the stream back, so the
    /// session stays usable; a server that closes instead (a FATAL error) leaves it broken.
    async fn after_error(&mut self, err: Error) -> Error {
        loop {
            match self.peek().await {
                Ok((b'Z', len)) => {
                    self.consume(len);
                    self.finished = true;
                    if let Some(held) = self.held.take() {
                        held.release_after_error(&self.buf[self.start..self.end]);
                    }
                    return err;
                }
                Ok((_, len)) => {
                    self.consume(len);
                }
                Err(_) => {
                    self.held = None;
                    return err;
                }
            }
        }
    }

    /// Gives up on the exchange: the stream is left broken.
    fn fail(&mut self, err: Error) -> Error {
        self.held = None;
        self.finished = true;
        err.context(self.what.clone())
    }

    async fn next_message(&mut self) -> Result<(u8, Range<usize>)> {
        let (tag, len) = self.peek().await?;
        Ok((tag, self.consume(len)))
    }

    /// The tag and body length of the next message, once all of it has been read.
    async fn peek(&mut self) -> Result<(u8, usize)> {
        loop {
            let have = self.end - self.start;
            if have >= 5 {
                let len = self.length_at(self.start);
                if len < 4 {
                    return Err(self.fail(Error::new(ErrorKind::Connect, "invalid message length from the server")));
                }
                if have > len {
                    return Ok((self.buf[self.start], len - 4));
                }
                self.make_room(1 + len);
            } else {
                self.make_room(5);
            }
            let Some(held) = self.held.as_mut() else {
                return Err(closed());
            };
            match held.read(&mut self.buf[self.end..]).await {
                Ok(0) => {
                    self.held = None;
                    return Err(closed().context(self.what.clone()));
                }
                Ok(n) => {
                    self.end += n;
                    // A read that filled the buffer: the stream is ahead of us, read more at once.
                    if self.end == self.buf.len() && self.buf.len() < READ_BUFFER {
                        self.buf.resize((self.buf.len() * 4).min(READ_BUFFER), 0);
                    }
                }
                Err(e) => {
                    self.held = None;
                    return Err(io_error(e).context(self.what.clone()));
                }
            }
        }
    }

    /// Copies the whole CopyData messages at the front of the buffer into `chunk`, without a
    /// trip through `peek` per row (most reads bring hundreds of rows); true when the chunk
    /// is full. A row that would overflow the chunk starts the next one; a row longer than a
    /// chunk gets one of its own. Anything else, or a partial message, is left to `peek`.
    fn take_rows(&mut self, chunk: &mut CopyChunk) -> bool {
        let (mut at, end) = (self.start, self.end);
        let mut full = false;
        while end - at >= 5 && self.buf[at] == b'd' {
            let len = self.length_at(at);
            if len < 4 || end - at <= len {
                break;
            }
            let body = at + 5..at + 1 + len;
            if !chunk.data.is_empty() && chunk.data.len() + body.len() > self.chunk_bytes {
                full = true;
                break;
            }
            chunk.data.extend_from_slice(&self.buf[body]);
            chunk.rows += 1;
            at += 1 + len;
        }
        if at == end {
            (self.start, self.end) = (0, 0);
        } else {
            self.start = at;
        }
        full
    }

    /// The length field of the message whose tag is at `at` (its 4 bytes are in the buffer).
    fn length_at(&self, at: usize) -> usize {
        let b = &self.buf[at + 1..at + 5];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
    }

    /// Makes `buf[start..]` able to hold a message of `total` bytes, with room to read.
    fn make_room(&mut self, total: usize) {
        if self.start + total <= self.buf.len() && self.end < self.buf.len() {
            return;
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if total > self.buf.len() {
            self.buf.resize(total, 0);
        }
    }

    /// Consumes the peeked message of body length `len`; its body's place in `buf`.
    fn consume(&mut self, len: usize) -> Range<usize> {
        let body = self.start + 5..self.start + 5 + len;
        self.start = body.end;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    use super::*;

    fn backend(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        message(&mut out, tag, &[body]);
        out
    }

    fn error(code: &str, text: &str) -> Vec<u8> {
        let body = format!("SERROR\0VERROR\0C{code}\0M{text}\0\0");
        backend(b'E', body.as_bytes())
    }

    fn ready() -> Vec<u8> {
        backend(b'Z', b"T")
    }

    fn rows(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("{i}\trow number {i}\n").into_bytes()).collect()
    }

    fn copy_reply(rows: &[Vec<u8>]) -> Vec<u8> {
        let mut out = [backend(b'1', b""), backend(b'2', b""), backend(b'C', b"LOCK TABLE\0")].concat();
        out.extend(backend(b'1', b""));
        out.extend(backend(b'2', b""));
        out.extend(backend(b'H', &[0, 0, 2, 0, 0, 0, 0]));
        for r in rows {
            out.extend(backend(b'd', r));
        }
        out.extend(backend(b'c', b""));
        out.extend(backend(b'C', format!("COPY {}\0", rows.len()).as_bytes()));
        out.extend(ready());
        out
    }

    /// Writes `reply` in pieces of `piece` bytes, as a slow server would.
    async fn serve(mut server: DuplexStream, reply: Vec<u8>, piece: usize) -> DuplexStream {
        for part in reply.chunks(piece) {
            server.write_all(part).await.unwrap();
        }
        server
    }

    #[tokio::test]
    async fn rows_arrive_in_chunks_whatever_the_reads_and_the_stream_goes_back() {
        for piece in [1, 3, 7, 4096] {
            let (ours, server) = tokio::io::duplex(1 << 20);
            let tap = Tap::new(Box::new(ours));
            let all = rows(500);
            let mut reply = copy_reply(&all);
            reply.extend(backend(b'C', b"SELECT 1\0")); // the next request's, read ahead
            let server = tokio::spawn(serve(server, reply, piece));
            let copy = RawCopy::start(&tap, Some("LOCK t"), "COPY t TO STDOUT", 100, "test".into(), |e| e)
                .await
                .unwrap();
            let chunks: Vec<CopyChunk> = copy.into_stream().map(|c| c.unwrap()).collect().await;
            assert!(chunks.iter().all(|c| c.data.len() <= 100 && c.rows > 0));
            assert_eq!(chunks.iter().map(|c| c.rows).sum::<u64>(), 500);
            assert_eq!(
                chunks.iter().flat_map(|c| c.data.clone()).collect::<Vec<u8>>(),
                all.concat()
            );
            let mut server = server.await.unwrap();
            // The request: Parse/Bind/Execute twice and Sync.
            let sent = request(Some("LOCK t"), "COPY t TO STDOUT");
            let mut got = vec![0; sent.len()];
            server.read_exact(&mut got).await.unwrap();
            assert_eq!(got, sent);
            // What was read past ReadyForQuery goes back to tokio-postgres's side.
            let mut side = tap.clone();
            let mut back = vec![0; 64];
            let n = side.read(&mut back).await.unwrap();
            assert_eq!(&back[..n], &backend(b'C', b"SELECT 1\0")[..]);
        }
    }

    #[tokio::test]
    async fn a_row_longer_than_a_chunk_or_the_read_buffer_has_one_of_its_own() {
        let (ours, server) = tokio::io::duplex(1 << 16);
        let tap = Tap::new(Box::new(ours));
        let long = vec![b'x'; READ_BUFFER * 2 + 3];
        let all = vec![b"a\n".to_vec(), long.clone(), b"b\n".to_vec()];
        tokio::spawn(serve(server, copy_reply(&all), 10_000));
        let copy = RawCopy::start(&tap, Some("LOCK t"), "COPY t TO STDOUT", 64, "test".into(), |e| e)
            .await
            .unwrap();
        let chunks: Vec<CopyChunk> = copy.into_stream().map(|c| c.unwrap()).collect().await;
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[1].data, long);
        assert!(tap.hold().is_ok(), "handed back");
    }

    #[tokio::test]
    async fn a_failed_lock_is_the_lock_s_error_and_the_session_stays_usable() {
        let (ours, server) = tokio::io::duplex(4096);
        let tap = Tap::new(Box::new(ours));
        let reply = [
            backend(b'1', b""),
            backend(b'2', b""),
            error("55P03", "could not obtain lock"),
            ready(),
        ]
        .concat();
        tokio::spawn(serve(server, reply, 5));
        let err = RawCopy::start(&tap, Some("LOCK t"), "COPY t TO STDOUT", 64, "test".into(), |e| {
            e.context("the lock")
        })
        .await
        .err()
        .unwrap();
        assert_eq!(err.sqlstate(), Some("55P03"));
        assert!(err.to_string().contains("the lock"), "{err}");
        assert!(tap.hold().is_ok(), "handed back after ReadyForQuery");
    }

    #[tokio::test]
    async fn an_error_mid_copy_is_returned_and_a_closed_connection_breaks_the_stream() {
        let (ours, server) = tokio::io::duplex(4096);
        let tap = Tap::new(Box::new(ours));
        let mut reply = copy_reply(&rows(3));
        let cut = reply.len() - ready().len() - backend(b'C', b"COPY 3\0").len() - backend(b'c', b"").len();
        reply.truncate(cut);
        reply.extend(error("57P01", "terminating connection due to administrator command"));
        tokio::spawn(async move { drop(serve(server, reply, 64).await) });
        let copy = RawCopy::start(&tap, None, "COPY t TO STDOUT", 1 << 20, "test".into(), |e| e)
            .await
            .unwrap();
        let got: Vec<Result<CopyChunk>> = copy.into_stream().collect().await;
        let err = got.last().unwrap().as_ref().err().unwrap();
        assert_eq!(err.sqlstate(), Some("57P01"));
        assert!(tap.hold().is_err(), "a closed connection is not handed back");
    }

    #[tokio::test]
    async fn a_notice_read_past_one_copy_is_skipped_by_the_next() {
        let (ours, server) = tokio::io::duplex(1 << 16);
        let tap = Tap::new(Box::new(ours));
        let notice = backend(b'N', b"SNOTICE\0Mhello\0\0");
        let reply = [copy_reply(&rows(2)), notice, copy_reply(&rows(3))].concat();
        // One write: the first COPY's reader reads the notice and the second reply too.
        let server = serve(server, reply, 1 << 16).await;
        for want in [2, 3] {
            let copy = RawCopy::start(&tap, Some("LOCK t"), "COPY t TO STDOUT", 1 << 16, "test".into(), |e| e)
                .await
                .unwrap();
            let chunks: Vec<CopyChunk> = copy.into_stream().map(|c| c.unwrap()).collect().await;
            assert_eq!(chunks.iter().map(|c| c.rows).sum::<u64>(), want);
        }
        drop(server);
    }

    #[tokio::test]
    async fn copies_sent_ahead_go_out_in_one_write_and_are_read_in_turn_while_tokio_postgres_waits() {
        for piece in [1, 7, 1 << 16] {
            let (ours, server) = tokio::io::duplex(1 << 20);
            let tap = Tap::new(Box::new(ours));
            let batch = [
                (Some("LOCK a"), "COPY a TO STDOUT"),
                (Some("LOCK b"), "COPY b TO STDOUT"),
            ];
            RawCopy::send_ahead(&tap, &batch, "test").await.unwrap();
            let mut side = tap.clone();
            let waiting = tokio::spawn(async move {
                let mut b = vec![0; 64];
                let n = side.read(&mut b).await.unwrap();
                b.truncate(n);
                b
            });
            let (a, b) = (rows(4), rows(7));
            let mut reply = [copy_reply(&a), copy_reply(&b)].concat();
            reply.extend(backend(b'C', b"SELECT 1\0")); // tokio-postgres's, after both
            let server = tokio::spawn(serve(server, reply, piece));
            for want in [&a, &b] {
                let copy = RawCopy::resume(&tap, true, 64, "test".into(), |e| e).await.unwrap();
                let got: Vec<u8> = copy
                    .into_stream()
                    .map(|c| c.unwrap().data)
                    .collect::<Vec<_>>()
                    .await
                    .concat();
                assert_eq!(got, want.concat());
                if std::ptr::eq(want, &a) {
                    assert!(tap.hold().is_err(), "reserved between the replies sent ahead");
                    assert!(
                        !waiting.is_finished(),
                        "tokio-postgres read between the replies sent ahead"
                    );
                }
            }
            // Both requests went out in one write, Parse/Bind/Execute twice and a Sync each.
            let mut server = server.await.unwrap();
            let sent = [
                request(Some("LOCK a"), "COPY a TO STDOUT"),
                request(Some("LOCK b"), "COPY b TO STDOUT"),
            ]
            .concat();
            let mut got = vec![0; sent.len()];
            server.read_exact(&mut got).await.unwrap();
            assert_eq!(got, sent);
            // After the last reply, the rest is tokio-postgres's again.
            assert_eq!(waiting.await.unwrap(), backend(b'C', b"SELECT 1\0"));
            assert!(RawCopy::resume(&tap, true, 64, "test".into(), |e| e).await.is_err());
        }
    }

    #[tokio::test]
    async fn a_failed_lock_sent_ahead_is_its_table_s_error_and_gives_up_the_rest() {
        let (ours, server) = tokio::io::duplex(1 << 16);
        let tap = Tap::new(Box::new(ours));
        let batch = [
            (Some("LOCK a"), "COPY a TO STDOUT"),
            (Some("LOCK b"), "COPY b TO STDOUT"),
            (Some("LOCK c"), "COPY c TO STDOUT"),
        ];
        RawCopy::send_ahead(&tap, &batch, "test").await.unwrap();
        let aborted = error("25P02", "current transaction is aborted");
        let reply = [
            copy_reply(&rows(2)),
            backend(b'1', b""),
            backend(b'2', b""),
            error("55P03", "could not obtain lock"),
            ready(),
            aborted,
            ready(),
        ]
        .concat();
        let _server = serve(server, reply, 1 << 16).await;
        let copy = RawCopy::resume(&tap, true, 64, "a".into(), |e| e).await.unwrap();
        let first: Vec<Result<CopyChunk>> = copy.into_stream().collect().await;
        assert!(first.iter().all(|c| c.is_ok()));
        let err = RawCopy::resume(&tap, true, 64, "b".into(), |e| e.context("the lock of b"))
            .await
            .err()
            .unwrap();
        assert_eq!(err.sqlstate(), Some("55P03"));
        assert!(err.to_string().contains("the lock of b"), "{err}");
        // The third reply is never read as anything: the stream is broken for everyone.
        let third = RawCopy::resume(&tap, true, 64, "c".into(), |e| e).await.err().unwrap();
        assert!(third.to_string().contains("given up"), "{third}");
        assert!(tap.hold().is_err());
    }

    #[test]
    fn error_fields_are_read_by_their_codes() {
        let body = b"SERROR\0VERROR\0C42501\0Mpermission denied for table t\0Dsome detail\0Hsome hint\0\0";
        let err = error_response(body);
        assert_eq!(err.sqlstate(), Some("42501"));
        let text = err.to_string();
        assert!(
            text.contains("permission denied for table t; DETAIL: some detail; HINT: some hint"),
            "{text}"
        );
    }
}
