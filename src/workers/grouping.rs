//! The grouping backfill: logs stored before error groups existed (their
//! `group_id` is NULL after migration 0008) are fingerprinted and put in
//! their groups in the background, a short batch at a time — at most
//! [`BATCH_ROWS`] logs and about [`BATCH_BYTES`] of text per transaction,
//! with a pause between — so it never holds long locks or takes ingest's
//! capacity. It resumes wherever it stopped (it just looks for ungrouped
//! logs again), and several diagd on one database share the work without
//! counting a log twice. ListGroups reports how many logs are left.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{
    domain::fingerprint::{Fingerprint, GroupingOptions, fingerprint},
    store::{Store, StoreError, UngroupedLog},
};

/// Most logs per batch.
pub const BATCH_ROWS: usize = 500;
/// About the most message and trace text per batch.
pub const BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Pause between batches.
const PAUSE: Duration = Duration::from_millis(20);
/// Wait after a failure before trying again.
const RETRY: Duration = Duration::from_secs(5);

/// Groups every ungrouped log, then ends (also when `shutdown` fires).
pub async fn backfill(store: Store, options: GroupingOptions, shutdown: CancellationToken) {
    let mut grouped_total = 0u64;
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        match step(&store, &options).await {
            Ok(None) => {
                if grouped_total > 0 {
                    tracing::info!(
                        logs = grouped_total,
                        "grouping backfill finished: every stored log has its error group"
                    );
                }
                return;
            }
            Ok(Some(grouped)) => {
                if grouped_total == 0 {
                    tracing::info!("grouping backfill started: older logs are being grouped");
                }
                grouped_total += grouped;
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(PAUSE) => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "grouping backfill: a batch failed; trying again");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(RETRY) => {}
                }
            }
        }
    }
}

/// One batch; `None` when nothing was left to group.
async fn step(store: &Store, options: &GroupingOptions) -> Result<Option<u64>, StoreError> {
    let logs = store.ungrouped_batch(BATCH_ROWS, BATCH_BYTES).await?;
    if logs.is_empty() {
        return Ok(None);
    }
    let options = options.clone();
    let (logs, prints) = tokio::task::spawn_blocking(move || {
        let prints: Vec<Fingerprint> = logs
            .iter()
            .map(|log: &UngroupedLog| fingerprint(&log.message, &log.stack_trace, &options))
            .collect();
        (logs, prints)
    })
    .await
    .map_err(|e| StoreError::Corrupt(format!("fingerprinting failed: {e}")))?;
    store.assign_groups(&logs, &prints).await.map(Some)
}
