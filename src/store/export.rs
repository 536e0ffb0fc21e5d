//! Reading every log matching a filter in batches through a server-side
//! cursor (a portal), inside one snapshot, so memory stays flat however many
//! logs there are and the count announced first matches what follows.

use std::future::Future;

use tokio_postgres::{IsolationLevel, Transaction};

use super::{
    Store, StoreError,
    filter::SqlFilter,
    logs::{FULL_COLUMNS, FetchSize, LOGS_WITH_TRACES, row_to_entry},
};
use crate::domain::{LogEntry, LogFilter};

/// Receives the logs of an export, oldest first.
pub trait ExportSink: Send {
    /// Called once, first, with the number of logs that follow.
    fn begin(&mut self, total: u64) -> impl Future<Output = Result<(), String>> + Send;
    /// Called with each batch, in order.
    fn batch(&mut self, logs: Vec<LogEntry>) -> impl Future<Output = Result<(), String>> + Send;
    /// Called after the last batch; when it returns Ok the export is complete
    /// (for a file: written and synced).
    fn finish(&mut self) -> impl Future<Output = Result<(), String>> + Send;
}

impl Store {
    /// Sends every log matching `filter` to `sink`, oldest first; returns
    /// how many were sent.
    pub async fn export_logs(
        &self,
        filter: &LogFilter,
        sink: &mut impl ExportSink,
    ) -> Result<u64, StoreError> {
        let mut client = self.replica_reader().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let count = stream_logs(&tx, filter, sink).await?;
        tx.commit().await?;
        client.finish();
        Ok(count)
    }
}

/// Matching logs above which an export is read in time order through the
/// indexes rather than sorted.
const UNSORTED_ABOVE: i64 = 50_000;

/// Streams the matching logs of `tx`'s snapshot to `sink` (begin, batches,
/// finish); returns how many were sent.
pub(super) async fn stream_logs(
    tx: &Transaction<'_>,
    filter: &LogFilter,
    sink: &mut impl ExportSink,
) -> Result<u64, StoreError> {
    let sql = SqlFilter::for_logs(filter);
    let total: i64 = tx
        .query_one(
            &format!("SELECT count(*) FROM logs {}", sql.where_clause()),
            &sql.params(),
        )
        .await?
        .get(0);
    sink.begin(total as u64).await.map_err(StoreError::Sink)?;
    let statement = tx
        .prepare(&format!(
            "SELECT {FULL_COLUMNS} FROM {LOGS_WITH_TRACES} {} ORDER BY occurred_at, logs.id",
            sql.where_clause()
        ))
        .await?;
    // A large export is planned (at the bind) without a sort: each day's
    // partition read in the order of its (occurred_at, id) index, one day
    // after the other, streams from the first row. At 10,000,000 logs the
    // planner preferred sorting every log first (through temporary files,
    // longer than the read statement timeout before the first row). A
    // small one keeps the planner's choice: a selective filter without an
    // index in time order (message text, labels, groups) is best found
    // first and sorted, and so is any export filtered by one: walked in
    // time order, its matches could lie days of index apart (a read
    // timeout between two rows).
    let stream_unsorted = total > UNSORTED_ABOVE
        && filter.message_contains.is_empty()
        && filter.source.labels.is_empty()
        && filter.group_ids.is_empty();
    if stream_unsorted {
        tx.batch_execute("SET LOCAL enable_sort = off").await?;
    }
    let portal = tx.bind(&statement, &sql.params()).await?;
    if stream_unsorted {
        tx.batch_execute("SET LOCAL enable_sort TO DEFAULT").await?;
    }
    let mut sent = 0u64;
    // Batches are sized by bytes: a few rows at a time when logs are large.
    let mut fetch = FetchSize::new(true);
    loop {
        let rows = tx.query_portal(&portal, fetch.rows()).await?;
        if rows.is_empty() {
            break;
        }
        let logs = rows
            .iter()
            .map(row_to_entry)
            .collect::<Result<Vec<_>, _>>()?;
        drop(rows);
        fetch.observe(
            logs.len(),
            logs.iter().map(LogEntry::approximate_size).sum(),
        );
        sent += logs.len() as u64;
        sink.batch(logs).await.map_err(StoreError::Sink)?;
    }
    sink.finish().await.map_err(StoreError::Sink)?;
    Ok(sent)
}
