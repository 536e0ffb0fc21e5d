//! Reading logs in commit order for the live tail. A log is only handed out
//! once every transaction that started before its own has ended (its txid
//! is below the oldest running one), so a log committed late by a
//! transaction that began early can never be skipped by a reader that has
//! moved on.
//!
//! Replays (backfill, resume) are read through a portal, a few rows per round
//! trip, and handed to the caller one log at a time, so that a caller with a
//! byte budget never has more than one log beyond it in memory and stopping
//! early costs the database at most one round trip more.

use std::ops::ControlFlow;

use tokio_stream::StreamExt;

use super::{
    Store, StoreError,
    filter::SqlFilter,
    logs::{FULL_COLUMNS, LOGS_WITH_TRACES, row_to_entry},
    search::{Folding, TraceAccess, term_conditions},
};
use crate::domain::{LogEntry, LogFilter, TailCursor};

/// Rows a replay's portal returns per round trip (the rows arrive one by
/// one as the caller takes them, so this bounds the waste when it stops,
/// not its memory).
const REPLAY_ROWS: i32 = 32;

/// The oldest transaction id still running: logs of smaller ids are final.
pub(super) const SETTLED: &str = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

impl Store {
    /// The position after every settled log: where a new tail starts.
    pub async fn tail_position(&self) -> Result<TailCursor, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT txid, seq FROM logs WHERE txid < {SETTLED} ORDER BY txid DESC, seq DESC LIMIT 1"),
                &[],
            )
            .await?;
        Ok(match row {
            Some(row) => TailCursor {
                txid: row.try_get(0)?,
                seq: row.try_get(1)?,
            },
            None => TailCursor::default(),
        })
    }

    /// The position of the newest committed log, settled or not.
    pub async fn committed_position(&self) -> Result<TailCursor, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT txid, seq FROM logs ORDER BY txid DESC, seq DESC LIMIT 1",
                &[],
            )
            .await?;
        Ok(match row {
            Some(row) => cursor_of(&row)?,
            None => TailCursor::default(),
        })
    }

    /// Whether logs after `after` are committed but not settled yet (an
    /// older transaction, possibly of another database in the same
    /// cluster, is still running): the tail should look again soon.
    pub async fn unsettled_logs_after(&self, after: TailCursor) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT EXISTS (SELECT 1 FROM logs WHERE (txid, seq) > ($1, $2) AND txid >= {SETTLED})"
            ))
            .await?;
        Ok(client
            .query_one(&statement, &[&after.txid, &after.seq])
            .await?
            .try_get(0)?)
    }

    /// Settled logs after `after`, in commit order, at most `limit`, and
    /// no more once they take `max_bytes` (by `LogEntry::approximate_size`,
    /// returned with each log; the log that reaches it is kept). Rows are
    /// taken as they arrive, so no more than that is held; the second value
    /// says the batch was cut short for its bytes (more may follow).
    pub async fn settled_logs_after(
        &self,
        after: TailCursor,
        limit: usize,
        max_bytes: usize,
    ) -> Result<(Vec<(TailCursor, LogEntry, usize)>, bool), StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(&format!(
                "SELECT txid, seq, {FULL_COLUMNS} FROM {LOGS_WITH_TRACES}
                 WHERE (txid, seq) > ($1, $2) AND txid < {SETTLED}
                 ORDER BY txid, seq LIMIT $3"
            ))
            .await?;
        let limit = limit as i64;
        let mut batch = Vec::new();
        let read: Result<bool, StoreError> = async {
            let rows = client
                .query_raw(&statement, [&after.txid, &after.seq, &limit])
                .await?;
            let mut rows = std::pin::pin!(rows);
            let mut bytes = 0usize;
            while let Some(row) = rows.next().await {
                let row = row?;
                let entry = row_to_entry(&row)?;
                let size = entry.approximate_size();
                bytes = bytes.saturating_add(size);
                batch.push((cursor_of(&row)?, entry, size));
                if bytes >= max_bytes {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        .await;
        if !matches!(read, Ok(false)) {
            // Cut short (or failed) with the rest of the result still
            // arriving on this connection: close it rather than make the
            // next user wait behind it.
            drop(deadpool_postgres::Object::take(client));
        }
        Ok((batch, read?))
    }

    /// The newest logs matching `filter` and `terms` in `(after, upto]`,
    /// newest first, at most `limit` (for backfill and resume), each handed
    /// to `visit` as it arrives until `visit` breaks.
    pub async fn visit_matching_logs_newest_first(
        &self,
        filter: &LogFilter,
        terms: &[String],
        after: Option<TailCursor>,
        upto: TailCursor,
        limit: usize,
        mut visit: impl FnMut(TailCursor, LogEntry) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let mut sql = range_conditions(filter, terms, after, upto);
        let conditions = sql.where_clause();
        let take = sql.param(limit as i64);
        let query = format!(
            "SELECT txid, seq, {FULL_COLUMNS} FROM {LOGS_WITH_TRACES} {conditions}
             ORDER BY txid DESC, seq DESC LIMIT {take}"
        );
        let mut client = self.reader().await?;
        // A portal lives in a transaction; this one only reads and is rolled
        // back when dropped.
        let transaction = client.transaction().await?;
        let statement = transaction.prepare_cached(&query).await?;
        let portal = transaction.bind(&statement, &sql.params()).await?;
        'read: loop {
            let rows = transaction.query_portal_raw(&portal, REPLAY_ROWS).await?;
            let mut rows = std::pin::pin!(rows);
            let mut read = 0;
            while let Some(row) = rows.next().await {
                let row = row?;
                read += 1;
                if visit(cursor_of(&row)?, row_to_entry(&row)?).is_break() {
                    break 'read;
                }
            }
            if read < REPLAY_ROWS {
                break;
            }
        }
        drop(portal);
        transaction.rollback().await?;
        client.finish();
        Ok(())
    }

    /// How many logs match `filter` and `terms` in `(after, upto]`, counting
    /// at most `cap` when given.
    pub async fn count_matching_between(
        &self,
        filter: &LogFilter,
        terms: &[String],
        after: Option<TailCursor>,
        upto: TailCursor,
        cap: Option<usize>,
    ) -> Result<u64, StoreError> {
        let mut sql = range_conditions(filter, terms, after, upto);
        let conditions = sql.where_clause();
        let query = match cap {
            Some(cap) => {
                let cap = sql.param(cap as i64);
                format!(
                    "SELECT count(*) FROM (SELECT 1 FROM {LOGS_WITH_TRACES} {conditions} LIMIT {cap}) AS capped"
                )
            }
            None => format!("SELECT count(*) FROM {LOGS_WITH_TRACES} {conditions}"),
        };
        let client = self.reader().await?;
        let count: i64 = client.query_one(&query, &sql.params()).await?.try_get(0)?;
        client.finish();
        Ok(count.max(0) as u64)
    }
}

/// Conditions for "matches, and lies in (after, upto] in commit order".
fn range_conditions(
    filter: &LogFilter,
    terms: &[String],
    after: Option<TailCursor>,
    upto: TailCursor,
) -> SqlFilter {
    let mut sql = SqlFilter::for_logs(filter);
    let (txid, seq) = (sql.param(upto.txid), sql.param(upto.seq));
    sql.and(format!("(txid, seq) <= ({txid}, {seq})"));
    if let Some(after) = after {
        let (txid, seq) = (sql.param(after.txid), sql.param(after.seq));
        sql.and(format!("(txid, seq) > ({txid}, {seq})"));
    }
    if !terms.is_empty() {
        let matches = term_conditions(&mut sql, terms, TraceAccess::Joined, Folding::RowByRow);
        sql.and(matches);
    }
    sql
}

fn cursor_of(row: &tokio_postgres::Row) -> Result<TailCursor, StoreError> {
    Ok(TailCursor {
        txid: row.try_get("txid")?,
        seq: row.try_get("seq")?,
    })
}
