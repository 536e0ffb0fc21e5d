//! The `reports` table: storing generated diagnostic reports, listing them
//! and reading one back for download.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{Store, StoreError};
use crate::domain::{LogEntry, LogFilter, report::MessageCount};

/// A stored report's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    /// The report's id.
    pub id: Uuid,
    /// When it was generated.
    pub created_at: DateTime<Utc>,
    /// Number of error logs it contains.
    pub error_count: u64,
    /// Size of its JSON text, in bytes.
    pub size_bytes: u64,
}

fn row_to_report(row: &Row) -> Result<StoredReport, StoreError> {
    Ok(StoredReport {
        id: row.try_get(0)?,
        created_at: row.try_get(1)?,
        error_count: row.try_get::<_, i64>(2)?.max(0) as u64,
        size_bytes: row.try_get::<_, i64>(3)?.max(0) as u64,
    })
}

impl Store {
    /// Stores a report document; its size is measured as the text a
    /// download will send.
    pub async fn insert_report(
        &self,
        id: Uuid,
        created_at: DateTime<Utc>,
        error_count: u64,
        document: &Value,
    ) -> Result<StoredReport, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO reports (id, created_at, error_count, size_bytes, document)
                 SELECT $1, $2, $3, octet_length(d::text), d FROM (SELECT $4::jsonb AS d) AS doc
                 RETURNING id, created_at, error_count, size_bytes",
            )
            .await?;
        let row = client
            .query_one(
                &statement,
                &[&id, &created_at, &(error_count as i64), document],
            )
            .await?;
        row_to_report(&row)
    }

    /// A report's metadata, or `None`.
    pub async fn get_report(&self, id: Uuid) -> Result<Option<StoredReport>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, created_at, error_count, size_bytes FROM reports WHERE id = $1",
            )
            .await?;
        client
            .query_opt(&statement, &[&id])
            .await?
            .as_ref()
            .map(row_to_report)
            .transpose()
    }

    /// A report's JSON text, exactly as counted in `size_bytes`, or `None`.
    pub async fn report_document(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT document::text FROM reports WHERE id = $1")
            .await?;
        Ok(client
            .query_opt(&statement, &[&id])
            .await?
            .map(|row| row.get(0)))
    }

    /// Reports newest first, strictly after `(created_at, id)` when given;
    /// one more than `limit` is read to tell whether more follow.
    pub async fn list_reports(
        &self,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<(Vec<StoredReport>, bool), StoreError> {
        let client = self.client().await?;
        let limit_plus_one = limit as i64 + 1;
        let rows = match after {
            None => {
                let statement = client
                    .prepare_cached(
                        "SELECT id, created_at, error_count, size_bytes FROM reports
                         ORDER BY created_at DESC, id DESC LIMIT $1",
                    )
                    .await?;
                client.query(&statement, &[&limit_plus_one]).await?
            }
            Some((created_at, id)) => {
                let statement = client
                    .prepare_cached(
                        "SELECT id, created_at, error_count, size_bytes FROM reports
                         WHERE (created_at, id) < ($1, $2)
                         ORDER BY created_at DESC, id DESC LIMIT $3",
                    )
                    .await?;
                client
                    .query(&statement, &[&created_at, &id, &limit_plus_one])
                    .await?
            }
        };
        let has_more = rows.len() > limit;
        let reports = rows
            .iter()
            .take(limit)
            .map(row_to_report)
            .collect::<Result<_, _>>()?;
        Ok((reports, has_more))
    }

    /// Deletes a report; false when there was none.
    pub async fn delete_report(&self, id: Uuid) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("DELETE FROM reports WHERE id = $1")
            .await?;
        Ok(client.execute(&statement, &[&id]).await? == 1)
    }

    /// The logs a report includes: matching `filter`, newest first, at most
    /// `limit`, with every detail.
    pub async fn logs_for_report(
        &self,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        Ok(self
            .list_logs(filter, None, limit, true, false, usize::MAX)
            .await?
            .logs)
    }

    /// The most frequent messages among the logs matching `filter`.
    pub async fn top_messages(
        &self,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<Vec<MessageCount>, StoreError> {
        let mut sql = super::filter::SqlFilter::for_logs(filter);
        let limit = sql.param(limit as i64);
        let query = format!(
            "SELECT message, count(*) FROM logs {} GROUP BY message ORDER BY count(*) DESC, message LIMIT {limit}",
            sql.where_clause()
        );
        let client = self.client().await?;
        let statement = client.prepare_cached(&query).await?;
        client
            .query(&statement, &sql.params())
            .await?
            .iter()
            .map(|row| {
                Ok(MessageCount {
                    message: row.try_get(0)?,
                    count: row.try_get::<_, i64>(1)?.max(0) as u64,
                })
            })
            .collect()
    }

    /// The server's version and the schema version, for reports.
    pub async fn database_versions(&self) -> Result<(String, i32), StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT current_setting('server_version'), (SELECT coalesce(max(version), 0) FROM schema_migrations)",
                &[],
            )
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }
}
