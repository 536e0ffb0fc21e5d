//! Full-text search over messages, stack traces and context values, newest
//! first, fast for rare, common and absent terms alike:
//!
//! 1. the newest `RECENT_WINDOW` logs matching the filter are checked first
//!    (walking the time index) — common terms fill the page here at once;
//! 2. if that is not enough, the older logs are searched through the trigram
//!    indexes (a materialised candidate set, so the planner cannot fall back
//!    to walking the whole time index row by row for a rare term), then
//!    sorted.
//!
//! Hits are handed over as they are read, so the first arrives before the
//! search completes.

use std::future::Future;

use tokio_postgres::Transaction;

use super::{
    Store, StoreError,
    filter::SqlFilter,
    logs::{FULL_COLUMNS, row_to_entry},
};
use crate::domain::{LogEntry, LogFilter, PageCursor};

/// Newest logs checked row by row before the index search.
pub const RECENT_WINDOW: i64 = 1000;
/// Rows read per round trip while streaming hits.
const FETCH: i32 = 25;

/// Receives search hits in order, newest first.
pub trait SearchSink: Send {
    /// One hit; an error stops the search (the client went away).
    fn hit(&mut self, log: LogEntry) -> impl Future<Output = Result<(), String>> + Send;
}

/// How a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchOutcome {
    /// Hits handed over.
    pub matched: u64,
    /// True when more logs matched than the limit allowed.
    pub truncated: bool,
}

impl Store {
    /// Streams up to `limit` logs matching `filter` and every term, newest
    /// first, to `sink`.
    pub async fn search_logs(
        &self,
        filter: &LogFilter,
        terms: &[String],
        limit: usize,
        sink: &mut impl SearchSink,
    ) -> Result<SearchOutcome, StoreError> {
        let mut client = self.reader().await?;
        let outcome = search_in(&mut client, filter, terms, limit, sink).await?;
        client.finish();
        Ok(outcome)
    }

    /// Merges pending index entries and refreshes the planner's statistics
    /// of the searched tables (VACUUM ANALYZE), e.g. after a bulk load.
    pub async fn refresh_statistics(&self) -> Result<(), StoreError> {
        self.client()
            .await?
            .batch_execute("VACUUM (ANALYZE) logs, stack_traces")
            .await?;
        Ok(())
    }

    /// The executed plan of the index search (EXPLAIN ANALYZE), for showing
    /// that a selective term uses the trigram indexes.
    pub async fn explain_search(
        &self,
        filter: &LogFilter,
        terms: &[String],
    ) -> Result<String, StoreError> {
        let (sql, query) = index_search(filter, terms, None, 100);
        let mut client = self.reader().await?;
        let tx = client.build_transaction().read_only(true).start().await?;
        tx.batch_execute("SET LOCAL enable_seqscan = off").await?;
        let rows = tx
            .query(
                &format!("EXPLAIN (ANALYZE, BUFFERS) {query}"),
                &sql.params(),
            )
            .await?;
        tx.commit().await?;
        client.finish();
        Ok(rows
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

/// How the term conditions reach the stack trace text.
#[derive(Clone, Copy)]
pub(super) enum TraceAccess {
    /// `st.trace` is joined in.
    Joined,
    /// Through the trace table's trigram index, by hash.
    ByIndex,
}

/// "every term occurs in the message, the stack trace or a context value",
/// compared folded (`diagd_fold`, the SQL form of [`crate::domain::fold`]);
/// the trigram indexes are on the folded text.
pub(super) fn term_conditions(
    sql: &mut SqlFilter,
    terms: &[String],
    access: TraceAccess,
) -> String {
    let conditions: Vec<String> = terms
        .iter()
        .map(|term| {
            let pattern = sql.param(super::filter::like_folded(term));
            let in_trace = match access {
                TraceAccess::Joined => format!("diagd_fold(st.trace) LIKE {pattern}"),
                TraceAccess::ByIndex => format!(
                    "logs.stack_trace_hash = ANY(ARRAY(SELECT hash FROM stack_traces WHERE diagd_fold(trace) LIKE {pattern}))"
                ),
            };
            format!(
                "(diagd_fold(logs.message) LIKE {pattern} OR diagd_fold(logs.context_values) LIKE {pattern} OR {in_trace})"
            )
        })
        .collect();
    conditions.join(" AND ")
}

/// The index search: candidates (id, time) from the trigram indexes
/// (materialised), older than `before`; the newest `limit` of them; only
/// those are then read whole.
fn index_search(
    filter: &LogFilter,
    terms: &[String],
    before: Option<PageCursor>,
    limit: i64,
) -> (SqlFilter, String) {
    let mut sql = SqlFilter::for_logs(filter);
    if let Some(cursor) = before {
        sql.after_cursor(cursor);
    }
    let matches = term_conditions(&mut sql, terms, TraceAccess::ByIndex);
    sql.and(matches);
    let candidates = sql.where_clause();
    let take = sql.param(limit);
    let query = format!(
        "WITH candidates AS MATERIALIZED (
             SELECT id, occurred_at FROM logs {candidates}
         ),
         newest AS (
             SELECT id FROM candidates ORDER BY occurred_at DESC, id DESC LIMIT {take}
         )
         SELECT {FULL_COLUMNS} FROM newest JOIN logs ON logs.id = newest.id
         LEFT JOIN stack_traces st ON st.hash = logs.stack_trace_hash
         ORDER BY occurred_at DESC, logs.id DESC"
    );
    (sql, query)
}

/// Streams the rows of `query` to `sink`, at most `room` of them; returns
/// how many rows the query produced (one more than `room` when it had more).
async fn stream_hits(
    tx: &Transaction<'_>,
    query: &str,
    sql: &SqlFilter,
    room: usize,
    sent: &mut u64,
    last: &mut Option<PageCursor>,
    sink: &mut impl SearchSink,
) -> Result<usize, StoreError> {
    let statement = tx.prepare(query).await?;
    let portal = tx.bind(&statement, &sql.params()).await?;
    let mut produced = 0usize;
    loop {
        let rows = tx.query_portal(&portal, FETCH).await?;
        if rows.is_empty() {
            return Ok(produced);
        }
        for row in &rows {
            produced += 1;
            if produced > room {
                return Ok(produced);
            }
            let log = row_to_entry(row)?;
            *last = Some(PageCursor {
                occurred_at: log.occurred_at,
                id: log.id,
            });
            sink.hit(log).await.map_err(StoreError::Sink)?;
            *sent += 1;
        }
    }
}

async fn finish(
    tx: deadpool_postgres::Transaction<'_>,
    matched: u64,
    truncated: bool,
) -> Result<SearchOutcome, StoreError> {
    tx.commit().await?;
    Ok(SearchOutcome { matched, truncated })
}

/// The search itself, on `client` (a reader).
async fn search_in(
    client: &mut deadpool_postgres::Object,
    filter: &LogFilter,
    terms: &[String],
    limit: usize,
    sink: &mut impl SearchSink,
) -> Result<SearchOutcome, StoreError> {
    let tx = client.build_transaction().read_only(true).start().await?;
    let wanted = limit as i64 + 1; // one more tells whether the limit cut it
    let mut sent = 0u64;

    // 1. The newest logs, checked row by row.
    let mut sql = SqlFilter::for_logs(filter);
    let window = sql.param(RECENT_WINDOW);
    let window_filter = sql.where_clause();
    let matches = term_conditions(&mut sql, terms, TraceAccess::ByIndex);
    let take = sql.param(wanted);
    let recent = format!(
        "SELECT {FULL_COLUMNS} FROM (SELECT * FROM logs {window_filter} ORDER BY occurred_at DESC, id DESC LIMIT {window}) logs
         LEFT JOIN stack_traces st ON st.hash = logs.stack_trace_hash
         WHERE {matches} ORDER BY occurred_at DESC, logs.id DESC LIMIT {take}"
    );
    let mut last = None;
    let found = stream_hits(&tx, &recent, &sql, limit, &mut sent, &mut last, sink).await?;
    if found > limit {
        return finish(tx, sent, true).await;
    }

    // Where the window ended; nothing older means the window saw everything.
    let mut sql = SqlFilter::for_logs(filter);
    let skip = sql.param(RECENT_WINDOW - 1);
    let boundary = format!(
        "SELECT occurred_at, id FROM logs {} ORDER BY occurred_at DESC, id DESC OFFSET {skip} LIMIT 1",
        sql.where_clause()
    );
    let Some(row) = tx.query_opt(&boundary, &sql.params()).await? else {
        return finish(tx, sent, false).await;
    };
    let boundary = PageCursor {
        occurred_at: row.try_get(0)?,
        id: row.try_get(1)?,
    };

    // 2. Older logs, through the trigram indexes. The recent window did
    // not fill the page, so the terms are rare among recent logs: keep
    // the planner from preferring a sequential scan on a poor estimate
    // of how many rows a trigram pattern matches.
    tx.batch_execute("SET LOCAL enable_seqscan = off").await?;
    let (sql, query) = index_search(filter, terms, Some(boundary), wanted - found as i64);
    let found_older =
        stream_hits(&tx, &query, &sql, limit - found, &mut sent, &mut last, sink).await?;
    finish(tx, sent, found + found_older > limit).await
}
