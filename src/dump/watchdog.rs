//! The leader watchdog. The leader's transaction holds the exported snapshot and the
//! ACCESS SHARE locks for the whole dump, but it sits idle while the workers copy, so its
//! death (`pg_terminate_backend`, a crashed or restarted server, a dropped network) would
//! otherwise be noticed only at COMMIT, after every table was copied for nothing. pg_dump
//! notices the same way, late; pgsnap stops at once: when the leader's connection ends
//! during the data phase, every worker's sink refuses its next block, which fails the export
//! through the engine's ordinary first-error path (the other workers' queries are cancelled
//! on the server), and the dump reports the leader's loss as its one error.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::engine::{BlockSink, ExportJob, SinkFactory};
use crate::error::{Error, ErrorKind, Result, Retry};

/// How long the workers get to stop after the leader is gone, before the dump returns anyway
/// (a worker waiting on the server sees its refusal only at its next block).
const UNWIND_LIMIT: Duration = Duration::from_secs(10);

/// Closed, with the reason, once the leader is gone.
#[derive(Clone, Default, Debug)]
pub(crate) struct Gate(Arc<OnceLock<String>>);

impl Gate {
    fn close(&self, reason: &str) {
        let _ = self.0.set(reason.to_string());
    }

    fn check(&self) -> Result<()> {
        match self.0.get() {
            Some(reason) => Err(leader_lost(reason)),
            None => Ok(()),
        }
    }
}

fn leader_lost(reason: &str) -> Error {
    Error::new(
        ErrorKind::Connect,
        format!("the leader connection, which holds the dump's snapshot, was lost during the data phase: {reason}"),
    )
    .with_retry(Retry::Maybe)
}

/// Runs the data phase `phase` while watching `leader_ended` (see [`crate::pg::Session::ended`]).
/// If the leader goes first, `gate` closes, the phase is given [`UNWIND_LIMIT`] to fail and
/// release its files and sessions, and the leader's loss is the error.
pub(crate) async fn watch<T>(
    leader_ended: impl Future<Output = String>,
    gate: &Gate,
    phase: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::pin!(phase);
    tokio::select! {
        biased;
        r = &mut phase => r,
        reason = leader_ended => {
            tracing::debug!("leader connection ended during the data phase: {reason}");
            gate.close(&reason);
            let _ = tokio::time::timeout(UNWIND_LIMIT, &mut phase).await;
            Err(leader_lost(&reason))
        }
    }
}

/// A [`SinkFactory`] whose sinks refuse to open, take blocks or finish once `gate` is closed.
pub(crate) struct GatedSinks {
    inner: Arc<dyn SinkFactory>,
    gate: Gate,
}

impl GatedSinks {
    pub(crate) fn new(inner: Arc<dyn SinkFactory>, gate: Gate) -> GatedSinks {
        GatedSinks { inner, gate }
    }
}

impl SinkFactory for GatedSinks {
    fn open(&self, job: &ExportJob) -> Result<Box<dyn BlockSink>> {
        self.gate.check()?;
        Ok(Box::new(GatedSink {
            inner: self.inner.open(job)?,
            gate: self.gate.clone(),
        }))
    }
}

struct GatedSink {
    inner: Box<dyn BlockSink>,
    gate: Gate,
}

impl BlockSink for GatedSink {
    fn push(&mut self, block: Vec<u8>) -> Result<()> {
        self.gate.check()?;
        self.inner.push(block)
    }

    fn rows(&mut self, rows: u64) {
        self.inner.rows(rows)
    }

    fn finish(self: Box<Self>) -> Result<u64> {
        self.gate.check()?;
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Null;
    impl BlockSink for Null {
        fn push(&mut self, _block: Vec<u8>) -> Result<()> {
            Ok(())
        }
        fn finish(self: Box<Self>) -> Result<u64> {
            Ok(0)
        }
    }
    #[tokio::test]
    async fn a_lost_leader_stops_the_sinks_and_is_the_error() {
        let gate = Gate::default();
        let mut open = GatedSink {
            inner: Box::new(Null),
            gate: gate.clone(),
        };
        open.push(b"a".to_vec()).unwrap();
        // A phase that keeps pushing until its sink refuses, as a worker does.
        let phase = async move {
            loop {
                open.push(b"row".to_vec())?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            #[allow(unreachable_code)]
            Ok::<(), Error>(())
        };
        let ended = async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            "terminating connection due to administrator command (SQLSTATE 57P01)".to_string()
        };
        let e = watch(ended, &gate, phase).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Connect);
        assert!(e.to_string().contains("leader connection"), "{e}");
        assert!(e.to_string().contains("57P01"), "{e}");
        assert!(gate.check().is_err(), "no sink opens after the leader is gone");
    }

    #[tokio::test]
    async fn a_phase_that_ends_first_is_its_own_result() {
        let gate = Gate::default();
        let r = watch(std::future::pending::<String>(), &gate, async { Ok(7) }).await;
        assert_eq!(r.unwrap(), 7);
        assert!(gate.check().is_ok());
    }
}
