//! Compression of one data stream in parallel pieces, delivered in order.
//!
//! [`ParallelEncoder`] takes a stream as blocks (the engine's 1 MiB COPY blocks), compresses
//! each block on the rayon pool as an independent piece, and hands the finished pieces, in
//! input order, to a [`PieceSink`] running on a writer thread of its own. Memory stays bounded
//! by the blocks in flight, whatever the stream's size. A stream may also carry several
//! objects (the large objects of one BLOBS entry): markers for an object's start and end are
//! delivered in order between the pieces.
//!
//! What a piece is depends on what the archive format accepts (archive-format.md §7.3/§7.4):
//! a complete gzip member / lz4 frame / zstd frame (directory files; custom-format lz4 and
//! zstd), or a raw deflate piece for a stitched zlib stream (custom-format gzip).

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use super::stitch::{DeflatePiece, deflate_piece};
use super::{Compression, compress_member};
use crate::error::{Error, ErrorKind, Result};

/// How each block is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceCodec {
    /// An independently decodable member/frame per block (bytes unchanged for none).
    Member(Compression),
    /// A raw deflate piece ending in a sync flush, at this zlib level, for [`super::ZlibStream`].
    Deflate { level: u32 },
}

impl PieceCodec {
    fn encode(self, block: Vec<u8>) -> std::io::Result<Piece> {
        let input_len = block.len() as u64;
        match self {
            PieceCodec::Member(Compression::None) => Ok(Piece {
                data: block,
                input_len,
                adler: 0,
            }),
            PieceCodec::Member(c) => Ok(Piece {
                data: compress_member(c, &block)?,
                input_len,
                adler: 0,
            }),
            PieceCodec::Deflate { level } => {
                let DeflatePiece { data, adler, input_len } = deflate_piece(level, &block)?;
                Ok(Piece { data, input_len, adler })
            }
        }
    }
}

/// One compressed block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub data: Vec<u8>,
    /// Bytes of input it encodes.
    pub input_len: u64,
    /// Adler-32 of its input (deflate pieces only; 0 otherwise).
    pub adler: u32,
}

/// Receives a stream's pieces in input order, on the encoder's writer thread.
pub trait PieceSink: Send + 'static {
    fn piece(&mut self, piece: Piece) -> Result<()>;
    /// A new object (a large object of a BLOBS entry) starts; its pieces follow.
    fn start_object(&mut self, oid: u32) -> Result<()> {
        Err(Error::internal(format!(
            "large object {oid} sent to a data sink that holds no large objects"
        )))
    }
    /// The current object is complete.
    fn end_object(&mut self) -> Result<()> {
        Err(Error::internal(
            "end of a large object sent to a data sink that holds none",
        ))
    }
    /// The stream is complete; returns the bytes written to the archive. Not called when the
    /// stream was abandoned: the sink is then dropped unfinished.
    fn finish(&mut self) -> Result<u64>;
}

/// Blocks being compressed per stream before `push` waits.
const BLOCKS_IN_FLIGHT: usize = 4;

/// Blocks handed on and not yet written, over every stream of the process: a dump at `-j 8`
/// has eight streams, and four blocks in flight each would hold 32 MiB of input (plus their
/// pieces) for a pool of two threads that can compress two at a time. The budget is twice
/// the pool plus two, enough to keep every pool thread busy; a stream that has none left
/// waits, which holds back its COPY stream (a worker's own thread, see `engine`).
struct Budget {
    used: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
}

static BUDGET: Budget = Budget {
    used: std::sync::Mutex::new(0),
    freed: std::sync::Condvar::new(),
};

/// One block of the [`BUDGET`], given back when dropped (its piece written, or abandoned).
struct Permit;

impl Permit {
    fn acquire() -> Permit {
        let limit = 2 * rayon::current_num_threads() + 2;
        let mut used = BUDGET.used.lock().unwrap_or_else(|p| p.into_inner());
        while *used >= limit {
            used = BUDGET.freed.wait(used).unwrap_or_else(|p| p.into_inner());
        }
        *used += 1;
        Permit
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut used = BUDGET.used.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(1);
        BUDGET.freed.notify_one();
    }
}

enum Item {
    Piece(Receiver<std::io::Result<Piece>>, Permit),
    Start(u32),
    End,
    Finish,
}

/// See the module documentation. Dropped without [`finish`](Self::finish), it stops its
/// writer thread and drops the sink unfinished.
///
/// Nothing starts before a second block arrives: a stream of one block (most tables of a
/// many-table database) is encoded and written on the caller's thread at `finish`, without a
/// writer thread or a hand-off to the pool, which cost more than the table itself.
pub struct ParallelEncoder {
    codec: PieceCodec,
    /// Until the writer thread starts: the sink, and the first block.
    idle: Option<Idle>,
    order: Option<Sender<Item>>,
    writer: Option<JoinHandle<Result<u64>>>,
    label: String,
}

/// A stream not started yet: its sink, and the block held back.
type Idle = (Box<dyn PieceSink>, Option<Vec<u8>>);

impl ParallelEncoder {
    /// Starts a stream compressed with `codec` into `sink`; `label` names it in errors.
    pub fn new(codec: PieceCodec, label: impl Into<String>, sink: impl PieceSink) -> Result<Self> {
        Ok(ParallelEncoder {
            codec,
            idle: Some((Box::new(sink), None)),
            order: None,
            writer: None,
            label: label.into(),
        })
    }

    /// Starts the writer thread with the sink, and sends it the block held back.
    fn start(&mut self) -> Result<()> {
        let Some((mut sink, first)) = self.idle.take() else {
            return Ok(());
        };
        let (tx, rx) = bounded::<Item>(BLOCKS_IN_FLIGHT);
        let wlabel = self.label.clone();
        let writer = std::thread::Builder::new()
            .name("pgsnap-writer".into())
            .spawn(move || -> Result<u64> {
                for item in rx {
                    match item {
                        Item::Piece(pending, _permit) => {
                            let piece = pending
                                .recv()
                                .map_err(|_| Error::internal("compression task vanished"))?
                                .map_err(|e| Error::io(format!("compressing {wlabel}"), e))?;
                            sink.piece(piece)?;
                        }
                        Item::Start(oid) => sink.start_object(oid)?,
                        Item::End => sink.end_object()?,
                        Item::Finish => return sink.finish(),
                    }
                }
                Err(Error::cancelled(format!("writing {wlabel} was abandoned")))
            })
            .map_err(|e| Error::io("starting a writer thread", e))?;
        self.order = Some(tx);
        self.writer = Some(writer);
        match first {
            Some(block) => self.submit(block),
            None => Ok(()),
        }
    }

    /// Compresses the next block (on the rayon pool); waits while too many are in flight.
    pub fn push(&mut self, block: Vec<u8>) -> Result<()> {
        if let Some((_, first @ None)) = &mut self.idle {
            *first = Some(block);
            return Ok(());
        }
        self.start()?;
        self.submit(block)
    }

    fn submit(&mut self, block: Vec<u8>) -> Result<()> {
        let permit = Permit::acquire();
        let (tx, rx) = bounded(1);
        let codec = self.codec;
        if codec == PieceCodec::Member(Compression::None) {
            // Nothing to compute: no trip through the pool.
            let _ = tx.send(codec.encode(block));
        } else {
            rayon::spawn(move || {
                let _ = tx.send(codec.encode(block));
            });
        }
        self.send(Item::Piece(rx, permit))
    }

    /// Starts large object `oid` (BLOBS entries); its bytes follow through `push`.
    pub fn start_object(&mut self, oid: u32) -> Result<()> {
        self.start()?;
        self.send(Item::Start(oid))
    }

    /// Ends the current large object.
    pub fn end_object(&mut self) -> Result<()> {
        self.start()?;
        self.send(Item::End)
    }

    /// Waits for every piece to be written and the sink to finish; returns its byte count.
    pub fn finish(mut self) -> Result<u64> {
        if let Some((mut sink, first)) = self.idle.take() {
            if let Some(block) = first {
                let piece = self
                    .codec
                    .encode(block)
                    .map_err(|e| Error::io(format!("compressing {}", self.label), e))?;
                sink.piece(piece)?;
            }
            return sink.finish();
        }
        self.send(Item::Finish)?;
        self.join()
    }

    fn send(&mut self, item: Item) -> Result<()> {
        let sent = match &self.order {
            Some(order) => order.send(item).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The writer stopped early: its error says why.
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(Error::internal(format!("writer of {} stopped", self.label))),
        }
    }

    fn join(&mut self) -> Result<u64> {
        self.order.take();
        match self.writer.take() {
            Some(h) => h
                .join()
                .map_err(|_| Error::internal(format!("writer of {} panicked", self.label)))?,
            None => Err(Error::internal(format!("writer of {} already stopped", self.label))),
        }
    }
}

impl Drop for ParallelEncoder {
    fn drop(&mut self) {
        if self.writer.is_some()
            && let Err(e) = self.join()
            && e.kind() != ErrorKind::Cancelled
        {
            tracing::debug!(stream = %self.label, error = %e, "abandoned stream's writer failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::codec::ZlibStream;

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Seen {
        Piece(u64),
        Start(u32),
        End,
        Finish,
    }

    struct Record(Arc<Mutex<Vec<Seen>>>, Arc<Mutex<Vec<u8>>>, Option<usize>);

    impl PieceSink for Record {
        fn piece(&mut self, p: Piece) -> Result<()> {
            if self.2 == Some(self.0.lock().unwrap().len()) {
                return Err(Error::archive("disk full (simulated)"));
            }
            self.0.lock().unwrap().push(Seen::Piece(p.input_len));
            self.1.lock().unwrap().extend_from_slice(&p.data);
            Ok(())
        }
        fn start_object(&mut self, oid: u32) -> Result<()> {
            self.0.lock().unwrap().push(Seen::Start(oid));
            Ok(())
        }
        fn end_object(&mut self) -> Result<()> {
            self.0.lock().unwrap().push(Seen::End);
            Ok(())
        }
        fn finish(&mut self) -> Result<u64> {
            self.0.lock().unwrap().push(Seen::Finish);
            Ok(self.1.lock().unwrap().len() as u64)
        }
    }

    type Recorded = (Record, Arc<Mutex<Vec<Seen>>>, Arc<Mutex<Vec<u8>>>);

    fn record(fail_at: Option<usize>) -> Recorded {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let bytes = Arc::new(Mutex::new(Vec::new()));
        (Record(seen.clone(), bytes.clone(), fail_at), seen, bytes)
    }

    #[test]
    fn pieces_and_markers_arrive_in_order() {
        let (sink, seen, bytes) = record(None);
        let mut enc = ParallelEncoder::new(PieceCodec::Member(Compression::None), "t", sink).unwrap();
        let mut expect = Vec::new();
        let mut want_bytes = Vec::new();
        for i in 0..40u32 {
            if i % 10 == 0 {
                enc.start_object(1000 + i).unwrap();
                expect.push(Seen::Start(1000 + i));
            }
            // Big blocks first, small ones later, so later pieces finish sooner.
            let len = if i < 5 { 2_000_000 } else { (i as usize) * 7 };
            let block = vec![b'a' + (i % 26) as u8; len];
            want_bytes.extend_from_slice(&block);
            enc.push(block).unwrap();
            expect.push(Seen::Piece(len as u64));
            if i % 10 == 9 {
                enc.end_object().unwrap();
                expect.push(Seen::End);
            }
        }
        assert_eq!(enc.finish().unwrap(), want_bytes.len() as u64);
        expect.push(Seen::Finish);
        assert_eq!(*seen.lock().unwrap(), expect);
        assert_eq!(*bytes.lock().unwrap(), want_bytes);
    }

    #[test]
    fn deflate_pieces_stitch_into_one_stream() {
        let (sink, _, bytes) = record(None);
        let mut enc = ParallelEncoder::new(PieceCodec::Deflate { level: 6 }, "t", sink).unwrap();
        let mut input = Vec::new();
        for i in 0..12 {
            let block: Vec<u8> = format!("{i}\tvalue {i}\n").repeat(20_000 + i * 999).into_bytes();
            input.extend_from_slice(&block);
            enc.push(block).unwrap();
        }
        enc.finish().unwrap();
        // Header, the pieces as delivered, trailer with the whole input's checksum.
        let mut s = ZlibStream::new(6);
        let mut stream = s.header().to_vec();
        stream.extend_from_slice(&bytes.lock().unwrap());
        s.add(libdeflater::adler32(&input), input.len() as u64);
        stream.extend_from_slice(&s.trailer());
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(&stream[..]), &mut out).unwrap();
        assert_eq!(out, input);
    }

    #[test]
    fn sink_error_surfaces_on_push_or_finish() {
        let (sink, _, _) = record(Some(3));
        let mut enc = ParallelEncoder::new(PieceCodec::Member(Compression::Gzip { level: 1 }), "t", sink).unwrap();
        let mut result = Ok(());
        for _ in 0..50 {
            result = enc.push(vec![b'x'; 10_000]);
            if result.is_err() {
                break;
            }
        }
        let err = match result {
            Err(e) => e,
            Ok(()) => enc.finish().unwrap_err(),
        };
        assert!(err.to_string().contains("disk full"), "{err}");
    }

    #[test]
    fn dropping_unfinished_does_not_finish_the_sink() {
        let (sink, seen, _) = record(None);
        let mut enc = ParallelEncoder::new(PieceCodec::Member(Compression::None), "t", sink).unwrap();
        enc.push(b"partial".to_vec()).unwrap();
        drop(enc);
        assert!(
            seen.lock().unwrap().is_empty(),
            "one block is held back: nothing started"
        );
        // Two blocks start the writer thread; dropped, it writes what it got and stops.
        let (sink, seen, _) = record(None);
        let mut enc = ParallelEncoder::new(PieceCodec::Member(Compression::None), "t", sink).unwrap();
        enc.push(b"partial".to_vec()).unwrap();
        enc.push(b"more".to_vec()).unwrap();
        drop(enc);
        assert_eq!(*seen.lock().unwrap(), vec![Seen::Piece(7), Seen::Piece(4)]);
    }

    #[test]
    fn a_one_block_stream_is_written_at_finish_on_the_callers_thread() {
        for codec in [Compression::None, Compression::Gzip { level: 6 }] {
            let (sink, seen, _) = record(None);
            let mut enc = ParallelEncoder::new(PieceCodec::Member(codec), "t", sink).unwrap();
            enc.push(b"only block".to_vec()).unwrap();
            assert!(enc.writer.is_none(), "no writer thread for a single block");
            assert!(seen.lock().unwrap().is_empty());
            enc.finish().unwrap();
            let seen = seen.lock().unwrap();
            assert_eq!(seen.len(), 2, "{seen:?}");
            assert_eq!(seen[1], Seen::Finish);
        }
    }

    #[test]
    fn objects_are_refused_by_default() {
        struct Plain;
        impl PieceSink for Plain {
            fn piece(&mut self, _: Piece) -> Result<()> {
                Ok(())
            }
            fn finish(&mut self) -> Result<u64> {
                Ok(0)
            }
        }
        let mut enc = ParallelEncoder::new(PieceCodec::Member(Compression::None), "t", Plain).unwrap();
        let _ = enc.start_object(5);
        let err = enc.finish().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal);
    }
}
