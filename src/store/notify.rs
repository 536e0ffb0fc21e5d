//! LISTEN/NOTIFY: a dedicated (non-pooled) connection that receives
//! notifications, so every diagd on the same database hears about changes
//! made through any of them.

use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use super::{Store, StoreError};

/// Channel notified once per committed batch of new logs (no payload).
pub const LOGS_CHANNEL: &str = "diagd_logs";
/// Channel notified when debug mode changes.
pub const DEBUG_MODE_CHANNEL: &str = "diagd_debug_mode";
/// Channel notified when logs are cleared; the payload is the deleted count.
pub const LOGS_CLEARED_CHANNEL: &str = "diagd_logs_cleared";

/// A connection listening on some channels. Dropping it closes the
/// connection.
pub struct Listener {
    /// Notifications as (channel, payload); closed when the connection ends.
    notifications: mpsc::Receiver<(String, String)>,
    /// The client; kept so the connection stays open.
    _client: tokio_postgres::Client,
}

impl Listener {
    /// The next notification, or `None` once the connection is lost.
    pub async fn next(&mut self) -> Option<(String, String)> {
        self.notifications.recv().await
    }
}

impl Store {
    /// Opens a dedicated connection that LISTENs on `channels`.
    pub async fn listen(&self, channels: &[&str]) -> Result<Listener, StoreError> {
        let (client, mut connection) =
            self.config.connect(NoTls).await.map_err(|e| {
                StoreError::Unavailable(format!("opening a LISTEN connection: {e}"))
            })?;
        let (sender, notifications) = mpsc::channel(64);
        tokio::spawn(async move {
            // Polling for messages also drives the connection itself.
            while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if sender
                            .send((n.channel().to_string(), n.payload().to_string()))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(error = %e, "LISTEN connection ended");
                        break;
                    }
                }
            }
        });
        let statements: String = channels.iter().map(|c| format!("LISTEN {c};")).collect();
        client.batch_execute(&statements).await?;
        Ok(Listener {
            notifications,
            _client: client,
        })
    }
}
