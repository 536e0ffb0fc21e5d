//! Retention: a named background task that removes logs older than a
//! maximum age and the oldest logs beyond a maximum count. Whole days go at
//! once (their partition is dropped: one short transaction per day, counts
//! kept exact); the rest, at the edge, in small batches of deletes (one
//! short transaction each, with a pause between), so it never holds long
//! locks or stalls ingest. Off unless configured. Its last run is
//! reported in GetStats.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, TimeDelta, Utc};
use tokio_util::sync::CancellationToken;

use crate::{
    domain::LogFilter,
    store::{DropRule, Store, StoreError, day_bounds},
};

/// Retention settings.
#[derive(Debug, Clone)]
pub struct RetentionOptions {
    /// Delete logs that occurred longer ago than this.
    pub max_age: Option<TimeDelta>,
    /// Keep at most this many logs (the oldest go first).
    pub max_rows: Option<u64>,
    /// Time between runs.
    pub interval: Duration,
    /// Logs deleted per transaction.
    pub batch: usize,
}

impl Default for RetentionOptions {
    fn default() -> Self {
        RetentionOptions {
            max_age: None,
            max_rows: None,
            interval: Duration::from_secs(60),
            batch: 1000,
        }
    }
}

impl RetentionOptions {
    /// True when a limit is configured.
    pub fn enabled(&self) -> bool {
        self.max_age.is_some() || self.max_rows.is_some()
    }
}

/// What retention has done (this process).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionStatus {
    /// True when a limit is configured.
    pub enabled: bool,
    /// When the last run finished.
    pub last_run: Option<DateTime<Utc>>,
    /// Logs the last run deleted.
    pub last_deleted: u64,
    /// Logs deleted since this diagd started.
    pub total_deleted: u64,
}

/// Reads the retention status; cheap to clone.
#[derive(Clone, Default)]
pub struct Retention {
    status: Arc<Mutex<RetentionStatus>>,
}

impl Retention {
    /// Starts the retention task (when enabled) until `shutdown`.
    pub fn start(
        store: Store,
        options: RetentionOptions,
        shutdown: CancellationToken,
    ) -> Retention {
        let retention = Retention::default();
        retention.update(|s| s.enabled = options.enabled());
        if options.enabled() {
            tokio::spawn(run(store, options, retention.clone(), shutdown));
        }
        retention
    }

    /// The current status.
    pub fn status(&self) -> RetentionStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn update(&self, change: impl FnOnce(&mut RetentionStatus)) {
        change(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

async fn run(
    store: Store,
    options: RetentionOptions,
    retention: Retention,
    shutdown: CancellationToken,
) {
    loop {
        match enforce(&store, &options, &shutdown).await {
            Ok(deleted) => {
                if deleted > 0 {
                    tracing::info!(deleted, "retention deleted old logs");
                    crate::metrics::METRICS.retention_deleted.inc_by(deleted);
                }
                retention.update(|s| {
                    s.last_run = Some(Utc::now());
                    s.last_deleted = deleted;
                    s.total_deleted += deleted;
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "retention run failed; retrying at the next interval")
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(options.interval) => {}
        }
    }
}

/// One run: age first, then count. Returns how many logs it deleted.
async fn enforce(
    store: &Store,
    options: &RetentionOptions,
    shutdown: &CancellationToken,
) -> Result<u64, StoreError> {
    let batch = options.batch.max(1);
    let mut deleted = 0;
    if let Some(max_age) = options.max_age {
        let before = Utc::now() - max_age;
        deleted += drop_days(
            store,
            DropRule {
                before: Some(before),
                keep_rows: None,
            },
            shutdown,
        )
        .await?;
        // Then the rows of the day the limit falls in.
        let too_old = LogFilter {
            until: Some(before),
            ..LogFilter::default()
        };
        loop {
            let Some(n) = store.delete_oldest_logs(&too_old, batch).await? else {
                return Ok(deleted); // another diagd is on it
            };
            deleted += n;
            if (n as usize) < batch || !pause(shutdown).await {
                break;
            }
        }
    }
    if let Some(max_rows) = options.max_rows {
        deleted += drop_days(
            store,
            DropRule {
                before: None,
                keep_rows: Some(max_rows),
            },
            shutdown,
        )
        .await?;
        loop {
            let total = store.stats_on_primary(&LogFilter::default()).await?.total();
            let excess = total.saturating_sub(max_rows);
            if excess == 0 {
                break;
            }
            // The oldest logs are in the oldest day: bounded to it, the
            // delete reads that day only.
            let oldest_day = LogFilter {
                until: store
                    .partition_days()
                    .await?
                    .first()
                    .map(|&day| day_bounds(day).1),
                ..LogFilter::default()
            };
            let Some(n) = store
                .delete_oldest_logs(&oldest_day, batch.min(excess as usize))
                .await?
            else {
                break;
            };
            deleted += n;
            if n == 0 || !pause(shutdown).await {
                break;
            }
        }
    }
    Ok(deleted)
}

/// Drops the oldest days while `rule` lets them go; returns how many logs
/// they held.
async fn drop_days(
    store: &Store,
    rule: DropRule,
    shutdown: &CancellationToken,
) -> Result<u64, StoreError> {
    let mut deleted = 0;
    while !shutdown.is_cancelled() {
        // Each drop is logged by the store, with what it took.
        let Some(dropped) = store.drop_oldest_day(rule).await? else {
            break;
        };
        deleted += dropped.logs;
    }
    Ok(deleted)
}

/// A short pause between batches so ingest keeps its share; false when
/// shutting down.
async fn pause(shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = tokio::time::sleep(Duration::from_millis(20)) => true,
    }
}
