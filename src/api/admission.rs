//! Admission: bounded concurrency for ingest and for server-streaming
//! RPCs. Over a limit the caller gets RESOURCE_EXHAUSTED naming the limit
//! and saying to retry — never an unbounded queue.

use std::{sync::Arc, time::Duration};

use super::error::{ApiError, Limit};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long an ingest call waits for a free slot before giving up.
const INGEST_WAIT: Duration = Duration::from_secs(1);

/// Open search/export streams by default: below the read pool's default
/// size (8), so listing, stats and reports keep connections of their own.
pub const DEFAULT_MAX_STREAMS: usize = 6;

/// The limits of one diagd process.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Ingest writes (ReportError, one IngestLogs batch, RecordAction) in flight.
    ingest: Arc<Semaphore>,
    /// Its size, for messages.
    max_ingest: usize,
    /// Open server streams other than live tails and debug-mode watches
    /// (search, export).
    streams: Arc<Semaphore>,
    /// Its size, for messages.
    max_streams: usize,
    /// Open WatchDebugMode streams: one per training process that follows
    /// debug mode, so a fleet has its own, larger pool and never crowds out
    /// searches and exports.
    watchers: Arc<Semaphore>,
    /// Its size, for messages.
    max_watchers: usize,
}

impl Limits {
    /// Limits of `max_ingest` concurrent ingest writes, `max_streams` open
    /// search/export streams and `max_watchers` open debug-mode watches.
    pub fn new(max_ingest: usize, max_streams: usize, max_watchers: usize) -> Limits {
        Limits {
            ingest: Arc::new(Semaphore::new(max_ingest)),
            max_ingest,
            streams: Arc::new(Semaphore::new(max_streams)),
            max_streams,
            watchers: Arc::new(Semaphore::new(max_watchers)),
            max_watchers,
        }
    }

    /// A slot for one ingest write, waiting briefly for one to free up.
    pub async fn ingest_slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        match tokio::time::timeout(INGEST_WAIT, self.ingest.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::busy(
                Limit {
                    reason: "INGEST_LIMIT",
                    value: self.max_ingest as u64,
                    flag: Some("--max-concurrent-ingest"),
                },
                format!(
                    "ingest concurrency limit reached: {} writes in flight (--max-concurrent-ingest); \
                     retry with backoff (nothing of this request was stored)",
                    self.max_ingest
                ),
            )),
        }
    }

    /// A slot for one open stream, held until the stream ends.
    pub fn stream_slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.streams.clone().try_acquire_owned().map_err(|_| {
            ApiError::busy(
                Limit {
                    reason: "STREAM_LIMIT",
                    value: self.max_streams as u64,
                    flag: Some("--max-streams"),
                },
                format!(
                    "stream limit reached: {} open streams (--max-streams); retry later",
                    self.max_streams
                ),
            )
        })
    }

    /// A slot for one WatchDebugMode stream, held until it ends.
    pub fn watcher_slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.watchers.clone().try_acquire_owned().map_err(|_| {
            ApiError::busy(
                Limit {
                    reason: "WATCH_LIMIT",
                    value: self.max_watchers as u64,
                    flag: Some("--max-debug-watchers"),
                },
                format!(
                    "debug-mode watch limit reached: {} open watches (--max-debug-watchers); retry later",
                    self.max_watchers
                ),
            )
        })
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(64, DEFAULT_MAX_STREAMS, 10_000)
    }
}
