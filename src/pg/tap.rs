//! The connection stream of a session, shared between tokio-postgres and our own COPY reader.
//!
//! tokio-postgres reads a `COPY ... TO STDOUT` through its connection task: every read of
//! about 8 KiB is decoded into messages, handed to the querying task over a channel, and
//! each row becomes a `Bytes` of its own; before that, it prepares a named statement, a round
//! trip per table that libpq does not make. A worker's sessions therefore run their COPY
//! themselves ([`super::copy`]): they *hold* the stream while tokio-postgres is idle between
//! requests (nothing arrives from the server then but asynchronous notices), speak the
//! protocol directly, and hand the stream back after `ReadyForQuery`.
//!
//! While the stream is held, tokio-postgres's connection task waits (its reads and writes are
//! pending); a holder that goes away mid-protocol leaves the stream *broken*, so that the
//! session's next request fails at once instead of reading the rest of a COPY as replies.
//!
//! A holder may send requests *ahead* (the COPYs of the next small tables, in one write):
//! their replies belong to later holders, so between them the stream stays reserved
//! ([`Mode::Queued`]) and tokio-postgres keeps waiting until the last one is read.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A byte stream to the server: a socket, or TLS over one.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A boxed stream to the server.
pub(crate) type Socket = Box<dyn Io + 'static>;

/// A socket we opened ourselves (see `pg::open_socket`).
pub(crate) enum OwnSocket {
    Tcp(tokio::net::TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

macro_rules! each_socket {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            OwnSocket::Tcp($s) => $e,
            #[cfg(unix)]
            OwnSocket::Unix($s) => $e,
        }
    };
}

impl AsyncRead for OwnSocket {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        each_socket!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for OwnSocket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        each_socket!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_socket!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_socket!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// tokio-postgres reads and writes.
    Shared,
    /// Our COPY reader does; tokio-postgres waits.
    Held,
    /// Nobody holds it, but replies to requests sent ahead are still to be read by the next
    /// holders; tokio-postgres waits.
    Queued,
    /// Left mid-protocol: nothing more can be read as replies.
    Broken(String),
}

pub(crate) struct State {
    io: Socket,
    mode: Mode,
    /// tokio-postgres's connection task, waiting while the stream is held.
    parked: Option<Waker>,
    /// Bytes the holder read past its last message, served to the next holder or
    /// tokio-postgres first.
    leftover: Vec<u8>,
    /// Requests sent ahead whose replies no holder has started to read.
    ahead: usize,
}

/// One connection's stream; cloned between tokio-postgres's side and the session.
#[derive(Clone)]
pub(crate) struct Tap(Arc<Mutex<State>>);

impl Tap {
    pub fn new(io: Socket) -> Tap {
        Tap(Arc::new(Mutex::new(State {
            io,
            mode: Mode::Shared,
            parked: None,
            leftover: Vec::new(),
            ahead: 0,
        })))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn downgrade(&self) -> Weak<Mutex<State>> {
        Arc::downgrade(&self.0)
    }

    pub fn upgrade(weak: &Weak<Mutex<State>>) -> Option<Tap> {
        weak.upgrade().map(Tap)
    }

    /// Takes the stream from tokio-postgres, which must be idle (no request in flight), with
    /// what an earlier holder read too far and tokio-postgres has not read yet (only
    /// asynchronous messages can follow a ReadyForQuery; they are the new holder's).
    pub fn hold(&self) -> io::Result<(Held, Vec<u8>)> {
        let mut st = self.state();
        match &st.mode {
            Mode::Queued => Err(io::Error::other(
                "the connection has replies to requests sent ahead still to read",
            )),
            Mode::Shared => {
                st.mode = Mode::Held;
                let held = Held {
                    tap: self.clone(),
                    done: false,
                };
                Ok((held, std::mem::take(&mut st.leftover)))
            }
            Mode::Held => Err(io::Error::other("the connection is already in use")),
            Mode::Broken(why) => Err(io::Error::other(why.clone())),
        }
    }

    /// Takes the stream to read the reply to the oldest request sent ahead (see
    /// [`Held::sent_ahead`]), with what the previous holder read past its own reply.
    pub fn hold_ahead(&self) -> io::Result<(Held, Vec<u8>)> {
        let mut st = self.state();
        match &st.mode {
            Mode::Queued if st.ahead > 0 => {
                st.ahead -= 1;
                st.mode = Mode::Held;
                let held = Held {
                    tap: self.clone(),
                    done: false,
                };
                Ok((held, std::mem::take(&mut st.leftover)))
            }
            Mode::Broken(why) => Err(io::Error::other(why.clone())),
            _ => Err(io::Error::other("no request was sent ahead on this connection")),
        }
    }

    /// Requests sent ahead whose replies are still to be read.
    pub fn ahead(&self) -> usize {
        self.state().ahead
    }

    /// Gives up on the replies still to come: the stream is broken, for tokio-postgres too.
    pub fn abandon(&self, why: &str) {
        let mut st = self.state();
        if !matches!(st.mode, Mode::Broken(_)) {
            st.mode = Mode::Broken(why.to_string());
        }
        if let Some(w) = st.parked.take() {
            w.wake();
        }
    }

    /// tokio-postgres's side of the stream.
    fn poll_side<T>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut State, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let mut st = self.state();
        match &st.mode {
            Mode::Shared => f(&mut st, cx),
            Mode::Held | Mode::Queued => {
                st.parked = Some(cx.waker().clone());
                Poll::Pending
            }
            Mode::Broken(why) => Poll::Ready(Err(io::Error::other(why.clone()))),
        }
    }
}

impl AsyncRead for Tap {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.poll_side(cx, |st, cx| {
            if !st.leftover.is_empty() {
                let n = st.leftover.len().min(buf.remaining());
                buf.put_slice(&st.leftover[..n]);
                st.leftover.drain(..n);
                return Poll::Ready(Ok(()));
            }
            Pin::new(&mut st.io).poll_read(cx, buf)
        })
    }
}

impl AsyncWrite for Tap {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_side(cx, |st, cx| Pin::new(&mut st.io).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_side(cx, |st, cx| Pin::new(&mut st.io).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut st = self.state();
        if matches!(st.mode, Mode::Broken(_)) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut st.io).poll_shutdown(cx)
    }
}

/// The stream, held by our COPY reader. Handed back by [`Held::release`]; dropped without
/// that, it leaves the stream broken.
pub(crate) struct Held {
    tap: Tap,
    done: bool,
}

impl Held {
    pub async fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let n = std::future::poll_fn(|cx| Pin::new(&mut self.tap.state().io).poll_write(cx, bytes)).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            bytes = &bytes[n..];
        }
        std::future::poll_fn(|cx| Pin::new(&mut self.tap.state().io).poll_flush(cx)).await
    }

    /// Reads what is there (at least one byte; 0 at the end of the stream).
    pub async fn read(&mut self, into: &mut [u8]) -> io::Result<usize> {
        std::future::poll_fn(|cx| {
            let mut buf = ReadBuf::new(into);
            match Pin::new(&mut self.tap.state().io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// Counts `n` requests this holder wrote whose replies later holders read (through
    /// [`Tap::hold_ahead`]), after the reply it reads itself, if any.
    pub fn sent_ahead(&mut self, n: usize) {
        self.tap.state().ahead += n;
    }

    /// Hands the stream back after an exchange that failed: as [`Held::release`], but
    /// replies still to come for requests sent ahead are given up (they would fail in the
    /// aborted transaction anyway), which leaves the stream broken.
    pub fn release_after_error(self, leftover: &[u8]) {
        let ahead = self.tap.state().ahead;
        if ahead == 0 {
            self.release(leftover);
        } else {
            self.tap.abandon(&format!(
                "{ahead} COPY requests sent ahead were given up after an error"
            ));
        }
    }

    /// Hands the stream back after a complete exchange; `leftover` is what was read past its
    /// end. It goes to tokio-postgres, or, while replies to requests sent ahead are still to
    /// come, stays reserved for their readers.
    pub fn release(mut self, leftover: &[u8]) {
        self.done = true;
        let mut st = self.tap.state();
        st.leftover.extend_from_slice(leftover);
        if st.ahead > 0 {
            st.mode = Mode::Queued;
            return;
        }
        st.mode = Mode::Shared;
        if let Some(w) = st.parked.take() {
            w.wake();
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut st = self.tap.state();
        if !matches!(st.mode, Mode::Broken(_)) {
            st.mode = Mode::Broken("the connection was left in the middle of a COPY".into());
        }
        if let Some(w) = st.parked.take() {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_held_stream_keeps_the_other_side_waiting_and_hands_back_leftovers() {
        let (ours, mut server) = tokio::io::duplex(64);
        let tap = Tap::new(Box::new(ours));
        let mut side = tap.clone();
        let (mut held, _) = tap.hold().unwrap();
        assert!(tap.hold().is_err(), "held twice");
        server.write_all(b"abcdef").await.unwrap();
        // tokio-postgres's side waits while the stream is held.
        let mut one = [0u8; 1];
        let pending = tokio::time::timeout(std::time::Duration::from_millis(50), side.read(&mut one)).await;
        assert!(pending.is_err(), "read while held");
        let mut buf = [0u8; 16];
        let n = held.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"abcdef");
        held.write_all(b"xyz").await.unwrap();
        let mut got = [0u8; 3];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"xyz");
        held.release(b"def");
        let mut back = [0u8; 8];
        let n = side.read(&mut back).await.unwrap();
        assert_eq!(&back[..n], b"def");
        server.write_all(b"g").await.unwrap();
        let n = side.read(&mut back).await.unwrap();
        assert_eq!(&back[..n], b"g");
    }

    #[tokio::test]
    async fn a_stream_left_mid_exchange_is_broken_for_the_other_side() {
        let (ours, _server) = tokio::io::duplex(64);
        let tap = Tap::new(Box::new(ours));
        let mut side = tap.clone();
        let waiting = tokio::spawn(async move {
            let mut b = [0u8; 1];
            side.read(&mut b).await
        });
        let (held, _) = tap.hold().unwrap();
        tokio::task::yield_now().await;
        drop(held);
        let err = waiting.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("middle of a COPY"), "{err}");
        assert!(tap.hold().is_err());
    }
}
