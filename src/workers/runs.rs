//! Runs in the background: the liveness sweep (every second, by the
//! database's clock; one replica at a time, see `store::runs`) that marks
//! members stuck or lost, and the one poller per diagd that reads recorded
//! state changes and hands them to every WatchRuns stream through a bounded
//! broadcast (a stream that falls more than [`WATCH_BUFFER`] changes behind
//! is ended, never waited for). Old changes are pruned after a day.

use std::{sync::Arc, time::Duration};

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::{
    domain::run::RunChange,
    store::{ChangeCursor, Store},
};

/// How often members are checked for stuck and lost.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// How often recorded changes are read for WatchRuns streams.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Changes one read hands out at most.
const POLL_BATCH: usize = 500;

/// Changes a WatchRuns stream may be behind before it is ended (each is a
/// few hundred bytes: ~1 MiB at most per diagd).
pub const WATCH_BUFFER: usize = 2048;

/// How long recorded changes are kept.
const KEEP_CHANGES: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// The stream of state changes of this diagd, for WatchRuns.
#[derive(Clone)]
pub struct RunWatch {
    sender: broadcast::Sender<Arc<RunChange>>,
}

impl RunWatch {
    /// A receiver of every change recorded from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<RunChange>> {
        self.sender.subscribe()
    }
}

/// Starts the sweep and the change poller; both end with `shutdown`.
pub fn start(store: Store, shutdown: CancellationToken) -> RunWatch {
    let (sender, _) = broadcast::channel(WATCH_BUFFER);
    tokio::spawn(sweep(store.clone(), shutdown.clone()));
    tokio::spawn(poll(store, sender.clone(), shutdown));
    RunWatch { sender }
}

async fn sweep(store: Store, shutdown: CancellationToken) {
    // The first prune soon after start (diagd may never run an hour).
    let mut pruned_at = tokio::time::Instant::now() - Duration::from_secs(3590);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(SWEEP_INTERVAL) => {}
        }
        if let Err(e) = store.sweep_runs().await {
            tracing::warn!(error = %e, "the run liveness sweep failed; retrying");
        }
        if pruned_at.elapsed() > Duration::from_secs(3600) {
            pruned_at = tokio::time::Instant::now();
            if let Err(e) = store
                .prune_run_changes(chrono::Utc::now() - KEEP_CHANGES)
                .await
            {
                tracing::warn!(error = %e, "pruning old run changes failed");
            }
        }
    }
}

async fn poll(
    store: Store,
    sender: broadcast::Sender<Arc<RunChange>>,
    shutdown: CancellationToken,
) {
    // Where this diagd has read up to: streams see the changes recorded
    // after they open (read whether or not one listens, so none opening
    // between two reads misses a change). Changes come in the order their
    // transactions finished, never skipping one that committed late.
    let mut cursor: Option<ChangeCursor> = None;
    loop {
        let mut full = false;
        match &cursor {
            None => match store.run_changes_start().await {
                Ok(start) => cursor = Some(start),
                Err(e) => tracing::debug!(error = %e, "reading run changes failed"),
            },
            Some(after) => match store.run_changes_after(after, POLL_BATCH).await {
                Ok((changes, next)) => {
                    full = changes.len() == POLL_BATCH;
                    for change in changes {
                        let _ = sender.send(Arc::new(change));
                    }
                    cursor = Some(next);
                }
                Err(e) => tracing::debug!(error = %e, "reading run changes failed"),
            },
        }
        // A full batch: more are waiting, read on at once.
        if full {
            continue;
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}
