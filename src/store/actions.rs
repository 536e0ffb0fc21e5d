//! The `recent_actions` table: recording user actions and keeping only the
//! newest N of each source.

use serde_json::Value;
use uuid::Uuid;

use super::{Store, StoreError};
use crate::domain::{NewAction, RecordedAction, Source};

impl Store {
    /// Stores an action and, in the same transaction, deletes the actions of
    /// its source beyond the newest `keep_per_source`.
    pub async fn record_action(
        &self,
        action: &NewAction,
        keep_per_source: usize,
    ) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        let labels = serde_json::to_value(&action.source.labels)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO recent_actions (id, occurred_at, action, details, source_host, source_run_id, source_component, source_labels)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .await?;
        tx.execute(
            &insert,
            &[
                &id,
                &action.occurred_at,
                &action.action,
                &Value::Object(action.details.clone()),
                &action.source.host,
                &action.source.run_id,
                &action.source.component,
                &labels,
            ],
        )
        .await?;
        let trim = tx
            .prepare_cached(
                "DELETE FROM recent_actions WHERE id IN (
                     SELECT id FROM recent_actions
                     WHERE source_host = $1 AND source_run_id = $2 AND source_component = $3
                     ORDER BY occurred_at DESC, id DESC
                     OFFSET $4)",
            )
            .await?;
        tx.execute(
            &trim,
            &[
                &action.source.host,
                &action.source.run_id,
                &action.source.component,
                &(keep_per_source as i64),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The newest recorded actions, newest first; only those of `source`'s
    /// non-empty fields when given.
    pub async fn recent_actions(
        &self,
        source: &Source,
        limit: usize,
    ) -> Result<Vec<RecordedAction>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, occurred_at, action, details, source_host, source_run_id, source_component, source_labels
                 FROM recent_actions
                 WHERE ($1 = '' OR source_host = $1) AND ($2 = '' OR source_run_id = $2) AND ($3 = '' OR source_component = $3)
                 ORDER BY occurred_at DESC, id DESC
                 LIMIT $4",
            )
            .await?;
        let rows = client
            .query(
                &statement,
                &[
                    &source.host,
                    &source.run_id,
                    &source.component,
                    &(limit as i64),
                ],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let details: Value = row.try_get(3)?;
                let labels: Value = row.try_get(7)?;
                Ok(RecordedAction {
                    id: row.try_get(0)?,
                    timestamp: row.try_get(1)?,
                    action: row.try_get(2)?,
                    details: match details {
                        Value::Object(map) => map,
                        _ => {
                            return Err(StoreError::Corrupt(
                                "action details are not an object".into(),
                            ));
                        }
                    },
                    source: Source {
                        host: row.try_get(4)?,
                        run_id: row.try_get(5)?,
                        component: row.try_get(6)?,
                        labels: serde_json::from_value(labels)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    },
                })
            })
            .collect()
    }
}
