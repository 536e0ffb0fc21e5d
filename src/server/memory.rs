//! Giving memory back: after a burst (a large ingest, an export of millions
//! of logs) glibc's malloc keeps the freed pages in its per-thread arenas,
//! so diagd's RSS would stay at its peak for good. A background task asks
//! malloc to return free pages to the system every few seconds
//! (`malloc_trim`), which costs a fraction of a millisecond when there is
//! nothing to return. Other C libraries need nothing: the task is a no-op.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Time between trims.
const TRIM_INTERVAL: Duration = Duration::from_secs(5);

/// Trims until `shutdown` is cancelled.
pub async fn return_freed_memory(shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(TRIM_INTERVAL) => trim(),
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only walks malloc's own arenas under their locks;
    // it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
