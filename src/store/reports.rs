//! The `reports` and `report_parts` tables: storing generated diagnostic
//! reports, listing them and reading one back for download.
//!
//! A report's JSON text is stored in parts (`report_parts`, in `seq` order):
//! the document around its `errors` array, rendered by PostgreSQL from the
//! caller's skeleton, and the array's elements, read from `logs` through a
//! portal a few rows per round trip and written a part (about 1 MiB of logs)
//! at a time. A report is invisible until its last part is written (`ready`;
//! see `Store::insert_report`). No report is ever held whole, and the text
//! is exactly what one jsonb document would print. Reports stored
//! before parts existed keep their single `document` and are read from it.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::Row;
use tokio_stream::StreamExt;
use uuid::Uuid;

use super::{
    Store, StoreError,
    filter::SqlFilter,
    logs::{FULL_COLUMNS, LOGS_WITH_TRACES, row_to_entry},
};
use crate::domain::{LogFilter, report::MessageCount};

/// About how many bytes of logs make one part of a report.
const PART_BYTES: usize = 1024 * 1024;

/// Most rows fetched per round trip while generating a report (fewer when
/// logs are large: about `PART_BYTES` worth, judged by the largest so far).
const MAX_FETCH_ROWS: usize = 16;

/// One part of a report's `errors` array: the elements' jsonb text, joined
/// as jsonb prints an array, after `$3` (the separator from the previous
/// part, or nothing).
/// The report's row is touched in the same statement (see `ABANDONED_AFTER`).
const INSERT_ERRORS_PART: &str =
    "WITH touched AS (UPDATE reports SET touched_at = now() WHERE id = $1)
     INSERT INTO report_parts (report_id, seq, body)
     SELECT $1, $2, $3::text || string_agg(e::text, ', ' ORDER BY n)
     FROM jsonb_array_elements($4::jsonb) WITH ORDINALITY AS t(e, n)";

/// A report still being generated whose row has not been touched for this
/// long was left by a diagd that died: the next generation removes it.
/// (Every part touches it, and the generation does at least every
/// `TOUCH_EVERY` while it reads.)
const ABANDONED_AFTER: &str = "15 minutes";

/// How often, at least, a generation touches its report's row.
const TOUCH_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Removes the row (and parts) of a report whose generation did not finish
/// — failed, or dropped with its request — unless `store` was taken.
struct Unfinished {
    store: Option<Store>,
    id: Uuid,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        let (Some(store), id) = (self.store.take(), self.id) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let removed = async {
                let client = store.client().await?;
                client
                    .execute("DELETE FROM reports WHERE id = $1 AND NOT ready", &[&id])
                    .await?;
                Ok::<_, StoreError>(())
            };
            if let Err(e) = removed.await {
                tracing::warn!(report_id = %id, error = %e, "removing an unfinished report failed; a later generation removes it");
            }
        });
    }
}

/// What a download reads: a report stored whole, or the number of its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportBody {
    /// A report stored before parts existed: its whole JSON text.
    Whole(String),
    /// A report stored in parts: read them with `Store::report_part`.
    Parts {
        /// Its metadata.
        report: StoredReport,
        /// How many parts it has (`seq` 0 to `count - 1`).
        count: i32,
    },
}

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
    /// Generates and stores a report, all or nothing: its `errors` are the
    /// logs matching `filter`, newest first, at most `max_errors`, with
    /// every detail; `document(included, placeholder)` gives the rest of the
    /// document, with the string `placeholder` where the `errors` array
    /// goes. Its size is measured as the text a download will send.
    ///
    /// The logs are read on a read connection (statement timeout, cancelled
    /// if abandoned, ended by a full clear like other readers) in a
    /// read-only snapshot, which takes no transaction id; each part is
    /// written in its own short transaction under a row that stays invisible
    /// until the last step marks it ready. So a long report never holds
    /// back the live tail, which hands out a log only once every older
    /// transaction id has ended. A generation that fails or is abandoned
    /// removes its row (and parts); one that died with its diagd is removed
    /// by the next generation, once untouched for `ABANDONED_AFTER`.
    pub async fn insert_report(
        &self,
        id: Uuid,
        created_at: DateTime<Utc>,
        filter: &LogFilter,
        max_errors: usize,
        document: impl FnOnce(u64, &str) -> Value,
    ) -> Result<StoredReport, StoreError> {
        let writer = self.client().await?;
        writer
            .execute(
                &format!(
                    "DELETE FROM reports WHERE NOT ready AND touched_at < now() - interval '{ABANDONED_AFTER}'"
                ),
                &[],
            )
            .await?;
        writer
            .execute(
                "INSERT INTO reports (id, created_at, error_count, size_bytes, ready, touched_at)
                 VALUES ($1, $2, 0, 0, false, now())",
                &[&id, &created_at],
            )
            .await?;
        drop(writer);
        let mut unfinished = Unfinished {
            store: Some(self.clone()),
            id,
        };
        let stored = self
            .write_report_parts(id, filter, max_errors, document)
            .await?;
        unfinished.store = None;
        self.changed_for_readers();
        Ok(stored)
    }

    /// The steps of `insert_report` after its row exists.
    async fn write_report_parts(
        &self,
        id: Uuid,
        filter: &LogFilter,
        max_errors: usize,
        document: impl FnOnce(u64, &str) -> Value,
    ) -> Result<StoredReport, StoreError> {
        let mut client = self.replica_reader().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let mut sql = SqlFilter::for_logs(filter);
        let limit = sql.param(max_errors as i64);
        let query = format!(
            "SELECT {FULL_COLUMNS} FROM {LOGS_WITH_TRACES} {} ORDER BY occurred_at DESC, logs.id DESC LIMIT {limit}",
            sql.where_clause()
        );
        let statement = tx.prepare_cached(&query).await?;
        let portal = tx.bind(&statement, &sql.params()).await?;
        let mut seq = 1i32;
        let mut included = 0u64;
        let mut part = Vec::new();
        let mut part_bytes = 0usize;
        let mut largest = PART_BYTES / 2;
        let mut touched = std::time::Instant::now();
        loop {
            if touched.elapsed() >= TOUCH_EVERY {
                self.client()
                    .await?
                    .execute(
                        "UPDATE reports SET touched_at = now() WHERE id = $1",
                        &[&id],
                    )
                    .await?;
                touched = std::time::Instant::now();
            }
            let fetch = (PART_BYTES / largest.max(1)).clamp(1, MAX_FETCH_ROWS);
            let rows = tx.query_portal_raw(&portal, fetch as i32).await?;
            let mut rows = std::pin::pin!(rows);
            let mut fetched = 0;
            while let Some(row) = rows.next().await {
                let entry = row_to_entry(&row?)?;
                fetched += 1;
                let size = entry.approximate_size();
                largest = if included == 0 {
                    size
                } else {
                    largest.max(size)
                };
                part_bytes += size;
                part.push(
                    serde_json::to_value(&entry)
                        .map_err(|e| StoreError::Corrupt(format!("a log as report JSON: {e}")))?,
                );
                included += 1;
            }
            let done = fetched < fetch;
            if part_bytes >= PART_BYTES || (done && !part.is_empty()) {
                let separator = if seq == 1 { "" } else { ", " };
                let elements = Value::Array(std::mem::take(&mut part));
                let writer = self.client().await?;
                let insert_part = writer.prepare_cached(INSERT_ERRORS_PART).await?;
                writer
                    .execute(&insert_part, &[&id, &seq, &separator, &elements])
                    .await?;
                touched = std::time::Instant::now();
                seq += 1;
                part_bytes = 0;
            }
            if done {
                break;
            }
        }
        drop(portal);

        // The rest of the document, printed by PostgreSQL as the whole
        // document would be, split where the errors go.
        let placeholder = format!("diagd-report-errors-{}", Uuid::new_v4().simple());
        let skeleton = document(included, &placeholder);
        let text: String = tx
            .query_one("SELECT $1::jsonb::text", &[&skeleton])
            .await?
            .try_get(0)?;
        tx.rollback().await?;
        client.finish();
        let quoted = format!("\"{placeholder}\"");
        let (head, tail) = match text.split_once(&quoted) {
            Some((head, tail)) if !tail.contains(&quoted) => {
                (format!("{head}["), format!("]{tail}"))
            }
            _ => {
                return Err(StoreError::Corrupt(
                    "the report skeleton has no single place for its errors".into(),
                ));
            }
        };
        let mut writer = self.client().await?;
        let tx = writer.transaction().await?;
        tx.execute(
            "INSERT INTO report_parts (report_id, seq, body) VALUES ($1, 0, $2), ($1, $3, $4)",
            &[&id, &head, &seq, &tail],
        )
        .await?;
        let row = tx
            .query_opt(
                "UPDATE reports SET error_count = $2, ready = true, touched_at = NULL,
                     size_bytes = (SELECT coalesce(sum(octet_length(body)), 0) FROM report_parts WHERE report_id = $1)
                 WHERE id = $1
                 RETURNING id, created_at, error_count, size_bytes",
                &[&id, &(included as i64)],
            )
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt("the report's row vanished while it was generated".into())
            })?;
        let stored = row_to_report(&row)?;
        tx.commit().await?;
        Ok(stored)
    }

    /// What a download of report `id` reads, or `None`.
    pub async fn report_body(&self, id: Uuid) -> Result<Option<ReportBody>, StoreError> {
        self.read_by_id(|client| read_report_body(client, id)).await
    }

    /// Part `seq` of report `id`, or `None` (the report was deleted).
    pub async fn report_part(&self, id: Uuid, seq: i32) -> Result<Option<String>, StoreError> {
        self.read_by_id(|client| read_report_part(client, id, seq))
            .await
    }
}

/// [`Store::report_body`] on `client` (given back when done).
async fn read_report_body(
    client: super::Reader,
    id: Uuid,
) -> Result<Option<ReportBody>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT id, created_at, error_count, size_bytes, document::text,
                     (SELECT count(*)::int FROM report_parts WHERE report_id = r.id)
                 FROM reports r WHERE id = $1 AND ready",
        )
        .await?;
    let row = client.query_opt(&statement, &[&id]).await?;
    client.finish();
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(match row.try_get::<_, Option<String>>(4)? {
        Some(document) => ReportBody::Whole(document),
        None => ReportBody::Parts {
            report: row_to_report(&row)?,
            count: row.try_get(5)?,
        },
    }))
}

/// [`Store::report_part`] on `client` (given back when done).
async fn read_report_part(
    client: super::Reader,
    id: Uuid,
    seq: i32,
) -> Result<Option<String>, StoreError> {
    let statement = client
        .prepare_cached("SELECT body FROM report_parts WHERE report_id = $1 AND seq = $2")
        .await?;
    let row = client.query_opt(&statement, &[&id, &seq]).await?;
    client.finish();
    Ok(row.map(|row| row.try_get(0)).transpose()?)
}

impl Store {
    /// A report's metadata, or `None`.
    pub async fn get_report(&self, id: Uuid) -> Result<Option<StoredReport>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT id, created_at, error_count, size_bytes FROM reports WHERE id = $1 AND ready",
            )
            .await?;
        client
            .query_opt(&statement, &[&id])
            .await?
            .as_ref()
            .map(row_to_report)
            .transpose()
    }

    /// A report's whole JSON text, exactly as counted in `size_bytes`, or
    /// `None` (for checks and small reports: downloads read it in parts).
    pub async fn report_document(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT coalesce(document::text,
                     (SELECT string_agg(body, '' ORDER BY seq) FROM report_parts WHERE report_id = r.id))
                 FROM reports r WHERE id = $1 AND ready",
            )
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
        let client = self.replica_reader().await?;
        let limit_plus_one = limit as i64 + 1;
        let rows = match after {
            None => {
                let statement = client
                    .prepare_cached(
                        "SELECT id, created_at, error_count, size_bytes FROM reports WHERE ready
                         ORDER BY created_at DESC, id DESC LIMIT $1",
                    )
                    .await?;
                client.query(&statement, &[&limit_plus_one]).await?
            }
            Some((created_at, id)) => {
                let statement = client
                    .prepare_cached(
                        "SELECT id, created_at, error_count, size_bytes FROM reports
                         WHERE ready AND (created_at, id) < ($1, $2)
                         ORDER BY created_at DESC, id DESC LIMIT $3",
                    )
                    .await?;
                client
                    .query(&statement, &[&created_at, &id, &limit_plus_one])
                    .await?
            }
        };
        client.finish();
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
            .prepare_cached("DELETE FROM reports WHERE id = $1 AND ready")
            .await?;
        let deleted = client.execute(&statement, &[&id]).await? == 1;
        self.changed_for_readers();
        Ok(deleted)
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
        let client = self.replica_reader().await?;
        let statement = client.prepare_cached(&query).await?;
        let rows = client.query(&statement, &sql.params()).await?;
        client.finish();
        rows.iter()
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
