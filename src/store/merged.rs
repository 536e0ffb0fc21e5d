//! Single writes from concurrent callers stored together — ReportError's
//! logs ([`LOGS`]) and heartbeats ([`HEARTBEATS`]): each caller queues its
//! item and waits; a few writer tasks take what has queued and write it in
//! one transaction ([`Store::insert_logs`], [`Store::heartbeats`]), then
//! answer every caller of that transaction after its commit. A group
//! commit, as IngestLogs already does within one stream.
//!
//! Why: fifty trainers reporting at once cost fifty transactions, each with
//! its statements, its rollup upserts (one row of a hot group locked by each
//! in turn) and its WAL flush; 2,700 heartbeats a second cost as many
//! BEGIN/COMMITs and context switches between busy connections. Merged,
//! they cost a few. A lone caller waits for nothing: with no transaction in
//! flight its item is taken at once.
//!
//! Bounds: a transaction takes at most a kind's `max_items` and `max_bytes`
//! (an item larger than that goes alone); the queue itself is bounded by
//! the requests in flight (a waiting ReportError holds an ingest admission
//! slot; a heartbeat, small and size-limited, counts against the server's
//! connection and stream limits) and their request size. A writer task
//! that panics is counted out, and the next caller starts another. A caller that goes away before its item is taken leaves
//! nothing written; after that, its item is written (and it was never told:
//! a retried log with the same event_id is a duplicate, as always). If a
//! merged transaction fails for a reason that is not the database's (a
//! conflict, or an error of one item), each of its items is tried again
//! alone, so one never fails the others. If the database is unavailable,
//! every caller of the transaction and every caller queued then is told so
//! at once (UNAVAILABLE, to retry), instead of each waiting out a pool
//! timeout in turn.

use std::{collections::VecDeque, future::Future, pin::Pin, sync::Mutex};

use tokio::sync::oneshot;

use super::{InsertOutcome, Store, StoreError};
use crate::domain::{
    NewLog,
    fingerprint::Fingerprint,
    run::{Heartbeat, RunState},
};

/// A write that concurrent callers share: how much one transaction takes,
/// how many run at once, where its queue is, and the write itself (one
/// answer per item, in order, after the commit).
pub(super) struct Kind<I, A> {
    /// Most items in one transaction.
    max_items: usize,
    /// Most bytes in one transaction (an item larger than this goes alone).
    max_bytes: usize,
    /// Transactions in flight at once.
    writers: usize,
    /// The queue, in the store.
    merger: fn(&Store) -> &Merger<I, A>,
    /// Stores the items in one transaction.
    write: for<'a> fn(&'a Store, &'a [I]) -> WriteFuture<'a, A>,
}

type WriteFuture<'a, A> = Pin<Box<dyn Future<Output = Result<Vec<A>, StoreError>> + Send + 'a>>;

/// ReportError's logs: up to 256 logs and 4 MiB in one transaction, two
/// transactions in flight (two keep PostgreSQL busy while diagd prepares the
/// next; more would only split the queue into smaller transactions on this
/// machine's two cores).
pub(super) const LOGS: Kind<(NewLog, Fingerprint), InsertOutcome> = Kind {
    max_items: 256,
    max_bytes: 4 * 1024 * 1024,
    writers: 2,
    merger: |store| &store.merger.logs,
    write: |store, items| {
        Box::pin(async move {
            let (logs, prints): (Vec<NewLog>, Vec<Fingerprint>) = items.iter().cloned().unzip();
            store.insert_logs(&logs, &prints).await
        })
    },
};

/// Heartbeats: up to 128 in one transaction (two set-based statements, sent
/// together), one transaction in flight:
/// at 2,700 beats/s one writer took 2,733 registrations/s against 1,821
/// with two, and four measured no better than two.
pub(super) const HEARTBEATS: Kind<Heartbeat, (RunState, RunState)> = Kind {
    max_items: 128,
    max_bytes: 1024 * 1024,
    writers: 1,
    merger: |store| &store.merger.heartbeats,
    write: |store, beats| Box::pin(store.heartbeats(beats)),
};

/// One caller's item, waiting to be taken.
struct Waiting<I, A> {
    item: I,
    size: usize,
    answer: oneshot::Sender<Result<A, StoreError>>,
}

struct Queue<I, A> {
    waiting: VecDeque<Waiting<I, A>>,
    writers: usize,
}

/// The queue of one kind of write and how many writers serve it.
pub(super) struct Merger<I, A> {
    queue: Mutex<Queue<I, A>>,
}

impl<I, A> Default for Merger<I, A> {
    fn default() -> Self {
        Merger {
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                writers: 0,
            }),
        }
    }
}

impl<I, A> Merger<I, A> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<I, A>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every queue of the store (one per `Store` and its clones).
#[derive(Default)]
pub(super) struct Mergers {
    logs: Merger<(NewLog, Fingerprint), InsertOutcome>,
    heartbeats: Merger<Heartbeat, (RunState, RunState)>,
}

impl Store {
    /// Stores one validated log, in a transaction shared with the logs of
    /// other callers waiting at the same time; returns after that commit.
    pub async fn insert_log_merged(
        &self,
        log: NewLog,
        print: Fingerprint,
    ) -> Result<InsertOutcome, StoreError> {
        let size = log.approximate_size();
        self.merged(&LOGS, (log, print), size).await
    }

    /// Queues `item` for a transaction of `kind` and waits for its answer.
    pub(super) async fn merged<I, A>(
        &self,
        kind: &'static Kind<I, A>,
        item: I,
        size: usize,
    ) -> Result<A, StoreError>
    where
        I: Send + 'static,
        A: Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let start_writer = {
            let mut queue = (kind.merger)(self).lock();
            queue.waiting.push_back(Waiting { item, size, answer });
            let start = queue.writers < kind.writers;
            if start {
                queue.writers += 1;
            }
            start
        };
        if start_writer {
            let store = self.clone();
            tokio::spawn(async move { store.write_merged(kind).await });
        }
        answered.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the writer of this request stopped before its commit".into(),
            ))
        })
    }

    /// A writer: takes what has queued, stores it, answers; until the
    /// queue is empty.
    async fn write_merged<I, A>(&self, kind: &'static Kind<I, A>)
    where
        I: Send + 'static,
        A: Send + 'static,
    {
        // Counted out however the task ends: a panic in a write (its
        // callers are told UNAVAILABLE as their answers drop) must not leave
        // the kind one writer short for good.
        let mut counted = WriterCount {
            queue: &(kind.merger)(self).queue,
            armed: true,
        };
        loop {
            let batch = {
                let mut queue = (kind.merger)(self).lock();
                let batch = take_batch(&mut queue.waiting, kind.max_items, kind.max_bytes);
                if batch.is_empty() {
                    // Counted out under the same lock as the check: a caller
                    // that queues after it starts a writer of its own.
                    queue.writers -= 1;
                    counted.armed = false;
                    return;
                }
                batch
            };
            self.store_batch(kind, batch).await;
        }
    }

    async fn store_batch<I, A>(&self, kind: &'static Kind<I, A>, batch: Vec<Waiting<I, A>>)
    where
        I: Send + 'static,
        A: Send + 'static,
    {
        // The items move out of the queue's entries (a log can be megabytes:
        // not copied), their answers stay beside them.
        let (items, answers): (Vec<I>, Vec<_>) =
            batch.into_iter().map(|w| (w.item, w.answer)).unzip();
        match (kind.write)(self, &items).await {
            Ok(written) => {
                for (answer, outcome) in answers.into_iter().zip(written) {
                    let _ = answer.send(Ok(outcome));
                }
            }
            Err(StoreError::Unavailable(reason)) => {
                // The database's state, not the items': the same answer for
                // each, and for the callers queued meanwhile, who would
                // otherwise wait out another pool timeout behind this one.
                let queued: Vec<Waiting<I, A>> =
                    (kind.merger)(self).lock().waiting.drain(..).collect();
                for answer in answers
                    .into_iter()
                    .chain(queued.into_iter().map(|w| w.answer))
                {
                    let _ = answer.send(Err(StoreError::Unavailable(reason.clone())));
                }
            }
            Err(e) if items.len() == 1 => {
                if let Some(answer) = answers.into_iter().next() {
                    let _ = answer.send(Err(e));
                }
            }
            Err(e) => {
                tracing::warn!(
                    items = items.len(),
                    error = %e,
                    "a merged write failed; writing its items one by one"
                );
                for (item, answer) in items.into_iter().zip(answers) {
                    if answer.is_closed() {
                        continue;
                    }
                    let outcome = (kind.write)(self, std::slice::from_ref(&item))
                        .await
                        .and_then(|written| {
                            written.into_iter().next().ok_or_else(|| {
                                StoreError::Corrupt("a write of one item answered none".into())
                            })
                        });
                    let _ = answer.send(outcome);
                }
            }
        }
    }
}

/// One running writer, counted out of its queue's `writers` if its task
/// ends other than by finding the queue empty (a panic).
struct WriterCount<'a, I, A> {
    queue: &'a Mutex<Queue<I, A>>,
    armed: bool,
}

impl<I, A> Drop for WriterCount<'_, I, A> {
    fn drop(&mut self) {
        if self.armed {
            self.queue.lock().unwrap_or_else(|e| e.into_inner()).writers -= 1;
        }
    }
}

/// The next transaction's items, oldest first: callers that went away are
/// dropped; at most `max_items` items and `max_bytes` bytes (but at least
/// one item).
fn take_batch<I, A>(
    waiting: &mut VecDeque<Waiting<I, A>>,
    max_items: usize,
    max_bytes: usize,
) -> Vec<Waiting<I, A>> {
    let mut batch = Vec::new();
    let mut bytes = 0;
    while let Some(next) = waiting.front() {
        if next.answer.is_closed() {
            waiting.pop_front();
            continue;
        }
        if batch.len() >= max_items || (!batch.is_empty() && bytes + next.size > max_bytes) {
            break;
        }
        bytes += next.size;
        batch.extend(waiting.pop_front());
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX_ITEMS: usize = LOGS.max_items;
    const MAX_BYTES: usize = LOGS.max_bytes;

    type Item = (NewLog, Fingerprint);

    fn waiting(
        size: usize,
    ) -> (
        Waiting<Item, InsertOutcome>,
        oneshot::Receiver<Result<InsertOutcome, StoreError>>,
    ) {
        let (answer, answered) = oneshot::channel();
        let log = NewLog {
            event_id: None,
            occurred_at: chrono::Utc::now(),
            severity: crate::domain::Severity::High,
            error_type: crate::domain::ErrorType::Training,
            message: "loss is nan".into(),
            stack_trace: String::new(),
            context: Default::default(),
            system_state: None,
            recent_actions: Vec::new(),
            source: Default::default(),
            fingerprint: Vec::new(),
        };
        let print = crate::domain::fingerprint::fingerprint(&log.message, "", &Default::default());
        (
            Waiting {
                item: (log, print),
                size,
                answer,
            },
            answered,
        )
    }

    #[test]
    fn a_batch_is_bounded_in_logs_and_bytes_and_skips_callers_gone() {
        let mut queue = VecDeque::new();
        let mut receivers = Vec::new();
        for _ in 0..MAX_ITEMS + 10 {
            let (w, r) = waiting(100);
            queue.push_back(w);
            receivers.push(r);
        }
        // The first caller went away: its log is not taken.
        drop(receivers.remove(0));
        let batch = take_batch(&mut queue, MAX_ITEMS, MAX_BYTES);
        assert_eq!(batch.len(), MAX_ITEMS);
        assert_eq!(queue.len(), 9);

        let mut queue = VecDeque::new();
        for size in [MAX_BYTES / 2, MAX_BYTES / 2, 1] {
            let (w, r) = waiting(size);
            queue.push_back(w);
            receivers.push(r);
        }
        assert_eq!(take_batch(&mut queue, MAX_ITEMS, MAX_BYTES).len(), 2);
        assert_eq!(take_batch(&mut queue, MAX_ITEMS, MAX_BYTES).len(), 1);

        // A log larger than the byte bound still goes, alone.
        let (w, _r) = waiting(MAX_BYTES * 2);
        queue.push_back(w);
        let (w, _r2) = waiting(1);
        queue.push_back(w);
        assert_eq!(take_batch(&mut queue, MAX_ITEMS, MAX_BYTES).len(), 1);
        assert_eq!(take_batch(&mut queue, MAX_ITEMS, MAX_BYTES).len(), 1);
        assert!(take_batch(&mut queue, MAX_ITEMS, MAX_BYTES).is_empty());
    }
}
