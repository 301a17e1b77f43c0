//! Catalog queries run ahead on helper sessions.
//!
//! The leader reads the catalogs one query at a time and decides between them, so on a
//! database of many tables one server core works while the other idles (10 000 tables: about
//! 0.75 s of query time, serial, plus the leader's own work between queries). Helper sessions,
//! set up as the workers are and inside the dump's snapshot, run the readers' queries (the
//! large ones and those every dump runs) beforehand, in parallel and pipelined; the readers
//! then take each result by its SQL text, in their own order, and decide exactly as before.
//! Over a network that also spares the leader a round trip per query.
//!
//! A helper's result is only ever a copy of what the leader would have read: the snapshot is
//! the same (`SET TRANSACTION SNAPSHOT`), the session settings are the same (deparse output
//! depends on `search_path` and `quote_all_identifiers`), and the definitions read through
//! the server's syscache-based functions (`pg_get_indexdef`, ...) are asked for only after the
//! leader has locked the tables, as pg_dump's `getTables` orders it. When a helper's query
//! fails, the leader runs it itself, so an error is always the leader's own.
//!
//! Helpers exist only while the catalogs are read; the data phase opens its workers as
//! before, so the dump never holds more than `1 + jobs` connections at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::error::Result;
use crate::pg::{Row, Session, SessionOptions, Target};

/// More helpers than this gain nothing: a handful of queries take most of the time.
pub const MAX_HELPERS: usize = 4;

/// Opens up to `count` helper sessions under `snapshot`. A helper that cannot connect is left
/// out (the queries run on the leader instead); the workers connecting later report a lasting
/// problem.
pub async fn open_helpers(target: &Target, opts: &SessionOptions, snapshot: &str, count: usize) -> Vec<Session> {
    let opened =
        futures_util::future::join_all((0..count.min(MAX_HELPERS)).map(|_| target.connect_in_snapshot(opts, snapshot)))
            .await;
    opened
        .into_iter()
        .filter_map(|r| match r {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::debug!("catalog helper not opened: {e}");
                None
            }
        })
        .collect()
}

type Reply = oneshot::Receiver<Result<Vec<Row>>>;
type Asked = (String, oneshot::Sender<Result<Vec<Row>>>);

/// Queries running (or queued) on helpers, keyed by their SQL.
#[derive(Default)]
pub struct Prefetch {
    helpers: Vec<Arc<Session>>,
    pending: Mutex<HashMap<String, Reply>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Prefetch {
    /// Starts `queries` (in the order the readers need them, each with a weight) on
    /// `helpers`: each query goes to the helper with the least weight so far, and each helper
    /// runs its share in order, pipelined. Nothing starts without helpers.
    pub fn start(helpers: Vec<Session>, queries: Vec<(String, u32)>) -> Prefetch {
        let helpers: Vec<Arc<Session>> = helpers.into_iter().map(Arc::new).collect();
        if helpers.is_empty() {
            return Prefetch::default();
        }
        let mut shares: Vec<Vec<Asked>> = (0..helpers.len()).map(|_| Vec::new()).collect();
        let mut load = vec![0u64; helpers.len()];
        let mut pending = HashMap::new();
        for (sql, weight) in queries {
            if pending.contains_key(&sql) {
                continue;
            }
            let (tx, rx) = oneshot::channel();
            pending.insert(sql.clone(), rx);
            let h = (0..load.len()).min_by_key(|&h| load[h]).unwrap_or(0);
            load[h] += u64::from(weight);
            shares[h].push((sql, tx));
        }
        let tasks = helpers
            .iter()
            .zip(shares)
            .map(|(helper, share)| {
                let helper = helper.clone();
                tokio::spawn(async move {
                    // All of a helper's queries go out at once (each is one message batch, see
                    // `Session::query`; `join_all` polls them in order, so they are sent and
                    // answered in order): one round trip for the lot instead of one each, which
                    // is what a server across a network charges for.
                    let helper = &helper;
                    futures_util::future::join_all(share.into_iter().map(|(sql, tx)| async move {
                        let rows = helper.query(&sql).await;
                        // A reader that no longer waits (the dump failed) needs no result.
                        let _ = tx.send(rows);
                    }))
                    .await;
                })
            })
            .collect();
        Prefetch {
            helpers,
            pending: Mutex::new(pending),
            tasks,
        }
    }

    /// The rows of `sql` if a helper was asked for them: `None` when it was not, or when it
    /// failed (the caller then runs the query itself).
    pub async fn take(&self, sql: &str) -> Option<Vec<Row>> {
        let reply = self.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(sql)?;
        match reply.await {
            Ok(Ok(rows)) => Some(rows),
            Ok(Err(e)) => {
                tracing::debug!("catalog helper failed, the leader reads instead: {e}");
                None
            }
            Err(_) => None,
        }
    }

    /// Stops what is left, closes the helpers and returns the queries no reader took (a
    /// reader built other SQL than the one asked for ahead: wasted server time).
    pub async fn finish(mut self) -> Vec<String> {
        let unused: Vec<String> = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
            .into_keys()
            .collect();
        for t in std::mem::take(&mut self.tasks) {
            t.abort();
            let _ = t.await;
        }
        let closing = std::mem::take(&mut self.helpers)
            .into_iter()
            .filter_map(|h| Arc::try_unwrap(h).ok())
            .map(Session::close);
        futures_util::future::join_all(closing).await;
        unused
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        // A failed or dropped dump: nothing more is sent; the helpers close with the tasks.
        for t in &self.tasks {
            t.abort();
        }
    }
}
