//! The `debug_mode` row: reading and switching debug mode, notifying every
//! diagd on the database in the same transaction.

use super::{Store, StoreError, notify::DEBUG_MODE_CHANNEL};
use crate::domain::DebugMode;

const SELECT: &str = "SELECT enabled, changed_at, changed_by, auto_off_at FROM debug_mode";

fn row_to_debug_mode(row: &tokio_postgres::Row) -> Result<DebugMode, StoreError> {
    Ok(DebugMode {
        enabled: row.try_get(0)?,
        changed_at: row.try_get(1)?,
        changed_by: row.try_get(2)?,
        auto_off_at: row.try_get(3)?,
    })
}

impl Store {
    /// The stored debug-mode state.
    pub async fn debug_mode(&self) -> Result<DebugMode, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(SELECT).await?;
        row_to_debug_mode(&client.query_one(&statement, &[]).await?)
    }

    /// Switches debug mode and notifies every diagd on this database; with
    /// `auto_off_after`, it turns off that long after the change, both times
    /// by the database's clock (so the delay holds however long the request
    /// waited before its transaction began).
    pub async fn set_debug_mode(
        &self,
        enabled: bool,
        changed_by: &str,
        auto_off_after: Option<chrono::TimeDelta>,
    ) -> Result<DebugMode, StoreError> {
        let auto_off_secs: Option<f64> =
            auto_off_after.map(|d| d.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6);
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let statement = tx
            .prepare_cached(
                "UPDATE debug_mode SET enabled = $1, changed_at = now(), changed_by = $2,
                        auto_off_at = now() + make_interval(secs => $3::float8)
                 RETURNING enabled, changed_at, changed_by, auto_off_at",
            )
            .await?;
        let row = tx
            .query_one(&statement, &[&enabled, &changed_by, &auto_off_secs])
            .await?;
        tx.execute("SELECT pg_notify($1, '')", &[&DEBUG_MODE_CHANNEL])
            .await?;
        tx.commit().await?;
        row_to_debug_mode(&row)
    }

    /// Switches debug mode off when its auto-off time has passed (once, for
    /// all replicas racing to do it); returns whether this call did.
    pub async fn expire_debug_mode(&self) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let changed = tx
            .execute(
                "UPDATE debug_mode SET enabled = false, changed_at = now(), changed_by = 'auto-off', auto_off_at = NULL
                 WHERE enabled AND auto_off_at IS NOT NULL AND auto_off_at <= now()",
                &[],
            )
            .await?;
        if changed > 0 {
            tx.execute("SELECT pg_notify($1, '')", &[&DEBUG_MODE_CHANNEL])
                .await?;
        }
        tx.commit().await?;
        Ok(changed > 0)
    }
}
