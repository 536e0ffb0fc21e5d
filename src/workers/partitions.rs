//! Partition upkeep: a named background task that makes the daily
//! partitions of `logs` for today and the next days at start-up and then
//! every hour, so a day's first logs never wait for theirs. Ingest still
//! makes any other day's partition on demand (store/partitions.rs).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// Time between two rounds of upkeep.
const INTERVAL: Duration = Duration::from_secs(3600);
/// Time before trying again after a failed round.
const RETRY: Duration = Duration::from_secs(60);

/// Starts the upkeep until `shutdown`.
pub fn start(store: Store, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            let wait = match store.maintain_partitions().await {
                Ok(days) => {
                    tracing::debug!(days, "log partitions checked");
                    INTERVAL
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not make the coming days' log partitions; ingest makes them when needed");
                    RETRY
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    });
}
