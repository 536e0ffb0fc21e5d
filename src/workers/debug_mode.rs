//! Following debug mode while diagd runs: a named background task listens
//! for changes (LISTEN/NOTIFY, with a one-second poll as a safety net and for
//! auto-off), switches diagd's own log filter to debug and back, and
//! publishes the state to WatchDebugMode streams.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{
    domain::DebugMode,
    server::telemetry::FilterHandle,
    store::{DEBUG_MODE_CHANNEL, Listener, Store},
};

/// How often the state is re-read even without a notification.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// diagd's own log filter and the filter it returns to when debug mode ends.
#[derive(Clone)]
pub struct LogControl {
    /// Changes the active filter.
    pub handle: FilterHandle,
    /// The configured filter (e.g. "info").
    pub base: String,
}

impl LogControl {
    /// The filter while debug mode is on: the base plus diagd's debug
    /// output, which logs every request with its timing.
    fn debug_filter(&self) -> String {
        format!("{},diagd=debug,tower_http=debug", self.base)
    }

    fn apply(&self, on: bool) {
        let filter = if on {
            self.debug_filter()
        } else {
            self.base.clone()
        };
        match tracing_subscriber::EnvFilter::try_new(&filter) {
            Ok(filter) => {
                if let Err(e) = self.handle.reload(filter) {
                    tracing::warn!(error = %e, "switching the log level failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, filter, "invalid debug log filter"),
        }
    }
}

/// Starts the task that follows debug mode until `shutdown`; returns the
/// state as it changes (effective state: off once auto-off has passed).
pub fn follow(
    store: Store,
    log_control: Option<LogControl>,
    shutdown: CancellationToken,
) -> watch::Receiver<DebugMode> {
    let (sender, receiver) = watch::channel(DebugMode::default());
    tokio::spawn(async move {
        let mut listener: Option<Listener> = None;
        let mut applied: Option<bool> = None;
        loop {
            if listener.is_none() {
                listener = store.listen(&[DEBUG_MODE_CHANNEL]).await.ok();
            }
            match store.debug_mode().await {
                Ok(mut mode) => {
                    let now = Utc::now();
                    if mode.enabled && !mode.is_on(now) {
                        // Auto-off time passed: switch it off for everyone.
                        let _ = store.expire_debug_mode().await;
                        mode = store.debug_mode().await.unwrap_or(DebugMode {
                            enabled: false,
                            ..mode
                        });
                    }
                    let on = mode.is_on(now);
                    if applied != Some(on) {
                        // The filter first, then the line that says so: a
                        // request sent once "debug mode ON" is read is
                        // logged in full (its span is made under the new
                        // filter).
                        if let Some(control) = &log_control {
                            control.apply(on);
                        }
                        if applied.is_some() || on {
                            tracing::info!(on, changed_by = ?mode.changed_by, "debug mode {}", if on { "ON" } else { "OFF" });
                        }
                        applied = Some(on);
                    }
                    sender.send_if_modified(|current| {
                        let changed = *current != mode;
                        *current = mode;
                        changed
                    });
                }
                Err(e) => tracing::debug!(error = %e, "reading debug mode"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                notification = async {
                    match listener.as_mut() {
                        Some(l) => l.next().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if notification.is_none() {
                        listener = None;
                    }
                }
                () = tokio::time::sleep(POLL_INTERVAL) => {}
            }
        }
    });
    receiver
}
