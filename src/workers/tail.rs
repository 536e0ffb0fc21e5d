//! Fan-out of new logs to live-tail subscribers.
//!
//! One hub per diagd process. A named background task keeps one dedicated
//! LISTEN connection: each committed batch NOTIFYs (no payload), and the hub
//! then reads what is new after its cursor, in commit order (at most 500
//! logs or about 16 MiB per read), and hands each log to every subscriber
//! whose filter matches. A one-second poll backs the
//! notifications up (a log can only be handed out once older transactions
//! have ended). Every replica on the database runs its own hub, so a log
//! ingested through one reaches subscribers of all.
//!
//! Each subscriber has a queue bounded in logs and in bytes: the hub never
//! waits for a subscriber. When a log would overflow either bound it is
//! counted as dropped for that subscriber, which is told how many it missed
//! as soon as it catches up. The bytes are each log's approximate size,
//! measured once per log and added to (and, on receipt, taken from) one
//! counter per subscriber.
//!
//! All queues and replays together also share one process-wide byte budget
//! (`TailOptions::total_bytes`, a `TailBudget`): a log is queued for a
//! subscriber only when both its own budget and the shared one have room,
//! and its bytes are given back when the subscriber takes it or goes away
//! with it still queued; a replay holds its collected logs' bytes in the
//! same budget until each is sent (`HeldBytes`). Many tails that never read
//! thus hold at most `total_bytes`, not `max_subscribers` times their own
//! budgets.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{
    domain::{FoldedText, LogEntry, LogFilter, NoticeKind, SearchQuery, TailCursor},
    metrics::METRICS,
    store::{LOGS_CHANNEL, LOGS_CLEARED_CHANNEL, Store, StoreError},
};

/// How soon to look again while committed logs wait on an older transaction.
const SETTLE_POLL: Duration = Duration::from_millis(5);

/// Logs read per query while catching up.
const CATCH_UP_BATCH: usize = 500;

/// Bytes of logs (approximately) read per query while catching up: large
/// logs come in smaller batches.
const CATCH_UP_BYTES: usize = 16 * 1024 * 1024;

/// Live-tail settings.
#[derive(Debug, Clone)]
pub struct TailOptions {
    /// Most subscribers at once on this diagd.
    pub max_subscribers: usize,
    /// Logs queued per subscriber before they are dropped for it.
    pub buffer: usize,
    /// Bytes of logs queued per subscriber before they are dropped for it
    /// (a log larger than this is always dropped for every subscriber).
    pub buffer_bytes: usize,
    /// Most bytes of logs a backfill or a resume replays; older logs beyond
    /// it are left out and counted in a MISSED notice.
    pub replay_bytes: usize,
    /// Most bytes of logs all subscribers' queues and all replays hold
    /// together on this diagd (beyond it, logs are dropped for the
    /// subscribers that would queue them, and replays are cut).
    pub total_bytes: usize,
    /// Idle time after which a heartbeat is sent.
    pub heartbeat: Duration,
    /// How often the hub looks for new logs without a notification.
    pub poll_interval: Duration,
}

impl Default for TailOptions {
    fn default() -> Self {
        TailOptions {
            max_subscribers: 1000,
            buffer: 1024,
            buffer_bytes: 8 * 1024 * 1024,
            replay_bytes: 16 * 1024 * 1024,
            total_bytes: 256 * 1024 * 1024,
            heartbeat: Duration::from_secs(15),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// The process-wide byte budget of the live tail, shared by every
/// subscriber's queue and every replay; cheap to clone.
#[derive(Debug, Clone)]
pub struct TailBudget {
    /// Bytes held now.
    used: Arc<AtomicUsize>,
    /// Most bytes held at once.
    limit: usize,
}

impl TailBudget {
    /// A budget of `limit` bytes, none of them held.
    pub fn new(limit: usize) -> Self {
        TailBudget {
            used: Arc::new(AtomicUsize::new(0)),
            limit,
        }
    }

    /// Takes `bytes` if they fit (one atomic addition, undone when they do
    /// not); whoever took them gives them back with `give_back`.
    pub fn try_take(&self, bytes: usize) -> bool {
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if before
            .checked_add(bytes)
            .is_none_or(|after| after > self.limit)
        {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Gives back bytes taken with `try_take`.
    pub fn give_back(&self, bytes: usize) {
        if bytes > 0 {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    /// Takes `bytes` if they fit, as a guard that gives them back on drop.
    pub fn hold(&self, bytes: usize) -> Option<HeldBytes> {
        self.try_take(bytes).then(|| HeldBytes {
            budget: self.clone(),
            bytes,
        })
    }

    /// Most bytes held at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// Bytes held in a `TailBudget`, given back when this is dropped.
#[derive(Debug)]
pub struct HeldBytes {
    budget: TailBudget,
    bytes: usize,
}

impl Drop for HeldBytes {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

/// A new log as every subscriber receives it.
#[derive(Debug)]
pub struct SharedLog {
    /// The log.
    pub entry: LogEntry,
    /// Its approximate size in bytes (`LogEntry::approximate_size`), as
    /// counted against subscribers' byte budgets.
    pub size: usize,
    /// Its encoded form, made by the first subscriber that sends it and sent
    /// as is by the others (so a log is encoded once, not once per
    /// subscriber).
    pub encoded: OnceLock<Bytes>,
}

/// What the hub sends a subscriber.
#[derive(Debug, Clone)]
pub enum TailEvent {
    /// A new log and its position.
    Log {
        /// Position of the log in commit order.
        cursor: TailCursor,
        /// The log, shared by every subscriber that receives it.
        log: Arc<SharedLog>,
    },
    /// Something every subscriber should know.
    Notice {
        /// What about.
        kind: NoticeKind,
        /// How many logs it concerns, when it concerns some.
        count: u64,
        /// In words.
        message: String,
    },
}

/// The subscriber limit was reached.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("live-tail subscriber limit reached: {limit} subscribers (--max-subscribers); retry later")]
pub struct TooManySubscribers {
    /// The limit.
    pub limit: usize,
}

/// A live subscription; dropping it unsubscribes.
pub struct Subscription {
    /// Events in order.
    pub events: mpsc::Receiver<TailEvent>,
    /// Logs dropped for this subscriber and not yet reported to it.
    pub dropped: Arc<AtomicU64>,
    /// Notices its full queue could not take.
    held_notices: HeldNotices,
    /// Bytes of logs in `events`: whoever receives a log from `events`
    /// accounts for it with `Subscription::received`.
    queued_bytes: Arc<AtomicUsize>,
    /// The process-wide budget the queued bytes are also held in.
    budget: TailBudget,
    /// The hub's position when subscribing: every matching log after it
    /// arrives through `events`; those at or before it are the caller's
    /// (backfill, replay).
    pub start: TailCursor,
    /// Removes the subscriber from the hub on drop.
    _guard: Unsubscribe,
}

struct Unsubscribe {
    hub: Hub,
    id: u64,
    /// The subscriber's queued bytes, given back to the hub's budget.
    queued_bytes: Arc<AtomicUsize>,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        self.hub.lock().subscribers.remove(&self.id);
        // Out of the hub (under its lock, which every addition holds),
        // nothing is added any more: what is still counted is what the
        // subscriber leaves queued, freed with its queue.
        let left = self.queued_bytes.swap(0, Ordering::Relaxed);
        self.hub.budget.give_back(left);
    }
}

impl Subscription {
    /// The notices (clears, database outages) that arrived while this
    /// subscriber's queue was full, oldest kind first; taken once.
    pub fn take_held_notices(&self) -> Vec<(NoticeKind, u64, String)> {
        self.held_notices.take()
    }

    /// Accounts for a log taken from `events`: its bytes leave the queue
    /// and the process-wide budget.
    pub fn received(&self, log: &SharedLog) {
        self.queued_bytes.fetch_sub(log.size, Ordering::Relaxed);
        self.budget.give_back(log.size);
    }
}

/// One subscriber as the hub sees it.
struct Subscriber {
    /// Which logs it wants.
    filter: LogFilter,
    /// Text it wants, if any.
    query: Option<SearchQuery>,
    /// Its queue.
    sender: mpsc::Sender<TailEvent>,
    /// Logs dropped for it, not yet reported.
    dropped: Arc<AtomicU64>,
    /// Notices its full queue could not take, not yet reported.
    held_notices: HeldNotices,
    /// Bytes of logs in its queue.
    queued_bytes: Arc<AtomicUsize>,
}

/// Notices a subscriber's full queue could not take, kept until its stream
/// next looks (see `Subscription::take_held_notices`) instead of being lost:
/// at most one per kind — clears add up their counts, a database state
/// keeps the newest.
#[derive(Clone, Default)]
pub struct HeldNotices(Arc<Mutex<Vec<(NoticeKind, u64, String)>>>);

impl HeldNotices {
    fn hold(&self, kind: NoticeKind, count: u64, message: String) {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match held.iter_mut().find(|(k, _, _)| *k == kind) {
            Some(entry) if kind == NoticeKind::LogsCleared => {
                entry.1 = entry.1.saturating_add(count);
                entry.2 = cleared_message(entry.1);
            }
            Some(entry) => *entry = (kind, count, message),
            None => held.push((kind, count, message)),
        }
    }

    fn take(&self) -> Vec<(NoticeKind, u64, String)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The LOGS_CLEARED notice's words.
fn cleared_message(count: u64) -> String {
    format!("{count} logs were cleared")
}

#[derive(Default)]
struct HubState {
    /// Everything up to here has been handed out.
    cursor: TailCursor,
    /// Current subscribers by id.
    subscribers: HashMap<u64, Subscriber>,
    /// Next subscriber id.
    next_id: u64,
}

/// The fan-out point of a diagd process; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    state: Arc<Mutex<HubState>>,
    options: Arc<TailOptions>,
    /// Bytes held by all queues and replays together.
    budget: TailBudget,
}

impl Hub {
    /// Starts the hub at the current end of the log and its background task
    /// (until `shutdown`).
    pub async fn start(
        store: Store,
        options: TailOptions,
        shutdown: CancellationToken,
    ) -> Result<Hub, StoreError> {
        let hub = Hub {
            state: Arc::new(Mutex::new(HubState {
                cursor: store.tail_position().await?,
                ..HubState::default()
            })),
            budget: TailBudget::new(options.total_bytes),
            options: Arc::new(options),
        };
        tokio::spawn(follow_new_logs(store, hub.clone(), shutdown));
        Ok(hub)
    }

    /// The live-tail settings.
    pub fn options(&self) -> &TailOptions {
        &self.options
    }

    /// The process-wide byte budget that queues and replays share.
    pub fn budget(&self) -> &TailBudget {
        &self.budget
    }

    /// Subscribes to new logs matching `filter` and `query`.
    pub fn subscribe(
        &self,
        filter: LogFilter,
        query: Option<SearchQuery>,
    ) -> Result<Subscription, TooManySubscribers> {
        let (sender, events) = mpsc::channel(self.options.buffer.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let held_notices = HeldNotices::default();
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let mut state = self.lock();
        if state.subscribers.len() >= self.options.max_subscribers {
            return Err(TooManySubscribers {
                limit: self.options.max_subscribers,
            });
        }
        let id = state.next_id;
        state.next_id += 1;
        state.subscribers.insert(
            id,
            Subscriber {
                filter,
                query,
                sender,
                dropped: dropped.clone(),
                held_notices: held_notices.clone(),
                queued_bytes: queued_bytes.clone(),
            },
        );
        Ok(Subscription {
            events,
            dropped,
            held_notices,
            queued_bytes: queued_bytes.clone(),
            budget: self.budget.clone(),
            start: state.cursor,
            _guard: Unsubscribe {
                hub: self.clone(),
                id,
                queued_bytes,
            },
        })
    }

    /// Subscribers connected now.
    pub fn subscriber_count(&self) -> usize {
        self.lock().subscribers.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands a batch (in commit order, each log with its approximate size)
    /// to the matching subscribers, without ever waiting for one.
    fn dispatch(&self, batch: Vec<(TailCursor, LogEntry, usize)>) {
        let budget = self.options.buffer_bytes;
        let mut state = self.lock();
        let mut gone = Vec::new();
        for (cursor, log, size) in batch {
            let log = Arc::new(SharedLog {
                size,
                entry: log,
                encoded: OnceLock::new(),
            });
            // Lowered once per log, and only when some subscriber searches.
            let mut text = None;
            for (id, subscriber) in &state.subscribers {
                if !subscriber.filter.matches(&log.entry)
                    || subscriber.query.as_ref().is_some_and(|q| {
                        !q.matches_text(text.get_or_insert_with(|| FoldedText::of(&log.entry)))
                    })
                {
                    continue;
                }
                // Only the hub adds to the counter (under the lock), so what
                // is read here can only shrink before the addition. The
                // shared budget is taken second, only when the own one fits.
                let queued = subscriber.queued_bytes.load(Ordering::Relaxed);
                if queued.saturating_add(log.size) > budget || !self.budget.try_take(log.size) {
                    subscriber.dropped.fetch_add(1, Ordering::Relaxed);
                    METRICS.live_dropped.inc();
                    continue;
                }
                subscriber
                    .queued_bytes
                    .fetch_add(log.size, Ordering::Relaxed);
                let event = TailEvent::Log {
                    cursor,
                    log: log.clone(),
                };
                if let Err(e) = subscriber.sender.try_send(event) {
                    subscriber
                        .queued_bytes
                        .fetch_sub(log.size, Ordering::Relaxed);
                    self.budget.give_back(log.size);
                    match e {
                        mpsc::error::TrySendError::Full(_) => {
                            subscriber.dropped.fetch_add(1, Ordering::Relaxed);
                            METRICS.live_dropped.inc();
                        }
                        mpsc::error::TrySendError::Closed(_) => gone.push(*id),
                    }
                }
            }
            state.cursor = cursor;
        }
        for id in gone {
            state.subscribers.remove(&id);
        }
    }

    /// Tells every subscriber something.
    fn broadcast(&self, kind: NoticeKind, count: u64, message: String) {
        let state = self.lock();
        for subscriber in state.subscribers.values() {
            let notice = TailEvent::Notice {
                kind,
                count,
                message: message.clone(),
            };
            // Never waited for: a full queue keeps it for its stream to
            // report next.
            if let Err(mpsc::error::TrySendError::Full(TailEvent::Notice {
                kind,
                count,
                message,
            })) = subscriber.sender.try_send(notice)
            {
                subscriber.held_notices.hold(kind, count, message);
            }
        }
    }

    fn cursor(&self) -> TailCursor {
        self.lock().cursor
    }

    /// Moves the cursor to `newest` if nobody is subscribed and the cursor is
    /// still `from`. False when a subscriber came meanwhile: it started at
    /// `from` and needs the logs after it dispatched.
    fn advance_unwatched(&self, from: TailCursor, newest: TailCursor) -> bool {
        let mut state = self.lock();
        if !state.subscribers.is_empty() || state.cursor != from {
            return false;
        }
        if newest > from {
            state.cursor = newest;
        }
        true
    }
}

/// The hub's background task: LISTEN, catch up, dispatch; reconnect and
/// announce outages.
async fn follow_new_logs(store: Store, hub: Hub, shutdown: CancellationToken) {
    let mut unavailable = false;
    loop {
        let connected = match store.listen(&[LOGS_CHANNEL, LOGS_CLEARED_CHANNEL]).await {
            Ok(listener) => Some(listener),
            Err(e) => {
                tracing::debug!(error = %e, "live tail: cannot LISTEN");
                None
            }
        };
        let Some(mut listener) = connected else {
            if !unavailable {
                unavailable = true;
                hub.broadcast(
                    NoticeKind::DatabaseUnavailable,
                    0,
                    "the database cannot be reached; the live tail resumes when it is back".into(),
                );
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => continue,
            }
        };
        let mut caught_up = catch_up(&store, &hub).await;
        let mut healthy = caught_up.is_ok();
        if healthy && unavailable {
            unavailable = false;
            tracing::info!("live tail: database connection restored");
            hub.broadcast(
                NoticeKind::DatabaseRestored,
                0,
                "the database is back; logs committed meanwhile follow".into(),
            );
        }
        while healthy {
            // Logs waiting on an older transaction: look again shortly.
            let wait = if matches!(caught_up, Ok(true)) {
                SETTLE_POLL
            } else {
                hub.options.poll_interval
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                notification = listener.next() => match notification {
                    Some((channel, payload)) if channel == LOGS_CLEARED_CHANNEL => {
                        let count = payload.parse().unwrap_or(0);
                        // A clear through any replica: this one's reads go
                        // to the primary until the standby shows it, before
                        // the pages told below list the logs again.
                        store.changed_for_readers();
                        hub.broadcast(NoticeKind::LogsCleared, count, cleared_message(count));
                    }
                    Some(_) => {
                        caught_up = catch_up(&store, &hub).await;
                        healthy = caught_up.is_ok();
                    }
                    None => healthy = false,
                },
                () = tokio::time::sleep(wait) => {
                    caught_up = catch_up(&store, &hub).await;
                    healthy = caught_up.is_ok();
                }
            }
        }
        if !unavailable {
            unavailable = true;
            tracing::warn!("live tail: lost the database connection; reconnecting");
            hub.broadcast(
                NoticeKind::DatabaseUnavailable,
                0,
                "the database connection was lost; the live tail resumes when it is back".into(),
            );
        }
    }
}

/// Dispatches every settled log after the hub's cursor; returns whether
/// committed logs still wait to settle (look again soon).
async fn catch_up(store: &Store, hub: &Hub) -> Result<bool, StoreError> {
    loop {
        if hub.subscriber_count() == 0 {
            // Nobody follows: move past what settled without reading a log
            // (a trainer fleet ingesting with no tail open costs the
            // database no second read of every log).
            let from = hub.cursor();
            let newest = store.tail_position().await?;
            if hub.advance_unwatched(from, newest) {
                return store.unsettled_logs_after(hub.cursor()).await;
            }
            // Somebody subscribed meanwhile: read the logs, for them.
        }
        let (batch, cut) = store
            .settled_logs_after(hub.cursor(), CATCH_UP_BATCH, CATCH_UP_BYTES)
            .await?;
        let full = cut || batch.len() == CATCH_UP_BATCH;
        hub.dispatch(batch);
        if !full {
            return store.unsettled_logs_after(hub.cursor()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TailBudget;

    #[test]
    fn the_shared_budget_refuses_what_does_not_fit_and_takes_back_what_is_given() {
        let budget = TailBudget::new(100);
        assert!(budget.try_take(60));
        assert!(!budget.try_take(41), "60 + 41 is over 100");
        assert_eq!(budget.used(), 60, "a refused take leaves nothing held");
        let held = budget.hold(40).expect("60 + 40 fits");
        assert!(budget.hold(1).is_none());
        drop(held);
        assert_eq!(budget.used(), 60);
        budget.give_back(60);
        assert_eq!(budget.used(), 0);
        assert!(!TailBudget::new(usize::MAX - 1).try_take(usize::MAX));
    }
}
