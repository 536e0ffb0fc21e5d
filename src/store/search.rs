//! Full-text search over messages, stack traces and context values, newest
//! first, fast for rare, common and absent terms alike:
//!
//! 0. each term's stack traces are found once, through the traces' trigram
//!    index on their stored folded text, and matched against logs by hash;
//! 1. the newest `RECENT_WINDOW` logs matching the filter are checked first
//!    (walking the time index) — common terms fill the page here at once;
//! 2. terms the window found often enough walk on row by row, up to
//!    `WALK_ON_ROWS` more logs (medium-frequency terms: 1 in 10 to 1 in 60);
//! 3. if that is not enough, the older logs are searched through the
//!    trigram indexes and the (trace, time) index (a materialised candidate
//!    set, so the planner cannot fall back to walking the whole time index
//!    row by row for a rare term), then sorted.
//!
//! A query with no term of three letters or digits in a row cannot use the
//! trigram indexes: it searches the newest `SHORT_QUERY_WINDOW` logs only,
//! and says so.
//!
//! Hits are handed over as they are read, so the first arrives before the
//! search completes.

use std::future::Future;

use chrono::NaiveDate;
use tokio_postgres::Transaction;

use super::{
    Store, StoreError,
    filter::SqlFilter,
    logs::{FULL_COLUMNS, row_to_entry},
};
use crate::domain::{LogEntry, LogFilter, PageCursor};

/// Newest logs checked row by row before anything else.
pub const RECENT_WINDOW: i64 = 1000;
/// Most logs walked row by row after the window, when the window's rate of
/// hits says the page fills within them (about 2 µs a log).
const WALK_ON_ROWS: i64 = 8000;
/// Newest logs searched by a query without a term of three letters or
/// digits in a row (the trigram indexes cannot narrow it).
pub const SHORT_QUERY_WINDOW: i64 = 2000;
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
    /// Set when the search looked at this many of the newest logs only (a
    /// query of terms too short for the indexes) and older ones exist.
    pub searched_newest: Option<u64>,
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
        let mut client = self.replica_reader().await?;
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

    /// The executed plans (EXPLAIN ANALYZE) of the terms' trace lookup and
    /// of the index search, for showing that a selective term
    /// uses the trigram indexes.
    pub async fn explain_search(
        &self,
        filter: &LogFilter,
        terms: &[String],
    ) -> Result<String, StoreError> {
        let mut client = self.replica_reader().await?;
        let tx = client.build_transaction().read_only(true).start().await?;
        let hashes = trace_hashes(&tx, terms).await?;
        let patterns = trace_patterns(terms);
        tx.batch_execute("SET LOCAL enable_seqscan = off").await?;
        let mut plan = tx
            .query(
                &format!("EXPLAIN (ANALYZE, BUFFERS) {TRACE_LOOKUP}"),
                &[&patterns],
            )
            .await?;
        let (sql, query) = index_search(filter, terms, &hashes, None, 100);
        plan.extend(
            tx.query(
                &format!("EXPLAIN (ANALYZE, BUFFERS) {query}"),
                &sql.params(),
            )
            .await?,
        );
        tx.commit().await?;
        client.finish();
        Ok(plan
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

/// How the term conditions reach the stack trace text.
#[derive(Clone, Copy)]
pub(super) enum TraceAccess<'a> {
    /// `st` (stack_traces) is joined in: its folded text is compared.
    Joined,
    /// Per term, in order: by hash (the stored traces that contain the
    /// term, found once per search through their trigram index), or, for a
    /// term too short for that index (`None`), through `st` joined in.
    PerTerm(&'a [Option<Vec<Vec<u8>>>]),
}

/// How message and context are compared.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Folding {
    /// `diagd_fold(…)`: the form the trigram indexes hold, so a condition can
    /// use them.
    Indexed,
    /// `diagd_fold_fast(…)`: the same result, computed faster for ASCII
    /// text; for checking rows one by one (no index).
    RowByRow,
}

/// "every term occurs in the message, the stack trace or a context value",
/// compared folded (`diagd_fold`, the SQL form of [`crate::domain::fold`]);
/// the trigram indexes are on the folded text.
pub(super) fn term_conditions(
    sql: &mut SqlFilter,
    terms: &[String],
    access: TraceAccess<'_>,
    folding: Folding,
) -> String {
    let fold = match folding {
        Folding::Indexed => "diagd_fold",
        Folding::RowByRow => "diagd_fold_fast",
    };
    let conditions: Vec<String> = terms
        .iter()
        .enumerate()
        .map(|(i, term)| {
            let pattern = sql.param(super::filter::like_folded(term));
            let in_trace = match access {
                TraceAccess::Joined => format!("st.folded LIKE {pattern}"),
                TraceAccess::PerTerm(hashes) => match hashes.get(i) {
                    Some(Some(hashes)) => {
                        let hashes = sql.param(hashes.clone());
                        format!("logs.stack_trace_hash = ANY({hashes}::bytea[])")
                    }
                    _ => format!("st.folded LIKE {pattern}"),
                },
            };
            format!(
                "({fold}(logs.message) LIKE {pattern} OR {fold}(logs.context_values) LIKE {pattern} OR {in_trace})"
            )
        })
        .collect();
    conditions.join(" AND ")
}

/// True when pg_trgm takes at least one trigram from `%term%` (LIKE), so
/// the trigram indexes narrow the search; a term without one can only be
/// checked row by row. pg_trgm splits the pattern into words (runs of
/// letters and digits) and pads a word with two blanks where its start is
/// known (after a non-word character inside the term) and one blank where
/// its end is known: `abc` has a trigram, and so have `1e-5` ("1e ",
/// "  5") and the phrase `a b` ("  b"), while `ab`, `a` and `a.` have none.
pub(super) fn has_trigram(term: &str) -> bool {
    let chars: Vec<char> = term.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_alphanumeric() {
            i += 1;
        }
        let len = i - start;
        let start_known = start > 0;
        let end_known = i < chars.len();
        if len >= 3 || (start_known && len >= 1) || (end_known && len >= 2) {
            return true;
        }
    }
    false
}

/// The matching traces' hashes of each LIKE pattern ($1), one row per
/// pattern, in order.
const TRACE_LOOKUP: &str = "SELECT ARRAY(SELECT hash FROM stack_traces WHERE folded LIKE t.pattern) \
     FROM unnest($1::text[]) WITH ORDINALITY AS t(pattern, n) ORDER BY n";

/// The LIKE patterns of the terms that have trigrams: what [`TRACE_LOOKUP`]
/// looks up, in order.
fn trace_patterns(terms: &[String]) -> Vec<String> {
    terms
        .iter()
        .filter(|t| has_trigram(t))
        .map(|t| super::filter::like_folded(t))
        .collect()
}

/// The hashes of the stored traces containing each term (folded), one
/// array per term that has trigrams (`None` for the others, which would
/// need every trace read): looked up once per search through the traces'
/// trigram index, then matched against logs by hash.
async fn trace_hashes(
    tx: &Transaction<'_>,
    terms: &[String],
) -> Result<Vec<Option<Vec<Vec<u8>>>>, StoreError> {
    let rows = tx.query(TRACE_LOOKUP, &[&trace_patterns(terms)]).await?;
    let mut found = rows
        .iter()
        .map(|row| row.try_get::<_, Vec<Vec<u8>>>(0))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter();
    // One row per pattern, in order.
    Ok(terms
        .iter()
        .map(|t| has_trigram(t).then(|| found.next().unwrap_or_default()))
        .collect())
}

/// The index search over every day at once (what `explain_search` shows):
/// candidates (id, time) from the trigram indexes and the traces' index
/// (materialised), older than `before`; the newest `limit` of them; only
/// those are then read whole.
fn index_search(
    filter: &LogFilter,
    terms: &[String],
    hashes: &[Option<Vec<Vec<u8>>>],
    before: Option<PageCursor>,
    limit: i64,
) -> (SqlFilter, String) {
    let (mut sql, from, candidates) = index_candidates(filter, terms, hashes, before);
    let take = sql.param(limit);
    // The logs read whole are found by their primary key (id, occurred_at).
    let query = format!(
        "WITH candidates AS MATERIALIZED (
             SELECT logs.id, occurred_at FROM {from} {candidates}
         ),
         newest AS (
             SELECT id, occurred_at AS at FROM candidates ORDER BY occurred_at DESC, id DESC LIMIT {take}
         )
         SELECT {FULL_COLUMNS} FROM newest JOIN logs ON logs.id = newest.id AND logs.occurred_at = newest.at
         LEFT JOIN stack_traces st ON st.hash = logs.stack_trace_hash
         ORDER BY occurred_at DESC, logs.id DESC"
    );
    (sql, query)
}

/// What the index search reads candidates from, and its `WHERE` clause:
/// the filter, older than `before`, every term through the trigram indexes
/// and the traces' hashes (a term too short for the indexes is checked
/// against the trace text, joined in).
fn index_candidates(
    filter: &LogFilter,
    terms: &[String],
    hashes: &[Option<Vec<Vec<u8>>>],
    before: Option<PageCursor>,
) -> (SqlFilter, &'static str, String) {
    let mut sql = SqlFilter::for_logs(filter);
    if let Some(cursor) = before {
        sql.after_cursor(cursor);
    }
    let matches = term_conditions(
        &mut sql,
        terms,
        TraceAccess::PerTerm(hashes),
        Folding::Indexed,
    );
    sql.and(matches);
    let candidates = sql.where_clause();
    let from = if hashes.iter().any(Option::is_none) {
        "logs LEFT JOIN stack_traces st ON st.hash = logs.stack_trace_hash"
    } else {
        "logs"
    };
    (sql, from, candidates)
}

/// A walk over the newest logs matching `filter`, older than `before`, at
/// most `rows` of them, checked row by row; the matches newest first, at
/// most `limit`.
fn walk_search(
    filter: &LogFilter,
    terms: &[String],
    access: TraceAccess<'_>,
    before: Option<PageCursor>,
    rows: i64,
    limit: i64,
) -> (SqlFilter, String) {
    let mut sql = SqlFilter::for_logs(filter);
    if let Some(cursor) = before {
        sql.after_cursor(cursor);
    }
    let window = sql.param(rows);
    let window_filter = sql.where_clause();
    let matches = term_conditions(&mut sql, terms, access, Folding::RowByRow);
    let take = sql.param(limit);
    let query = format!(
        "SELECT {FULL_COLUMNS} FROM (SELECT * FROM logs {window_filter} ORDER BY occurred_at DESC, id DESC LIMIT {window}) logs
         LEFT JOIN stack_traces st ON st.hash = logs.stack_trace_hash
         WHERE {matches} ORDER BY occurred_at DESC, logs.id DESC LIMIT {take}"
    );
    (sql, query)
}

/// The `(occurred_at, id)` of the `n`th newest log (1-based) matching
/// `filter` and older than `before`, if there are that many.
async fn nth_newest(
    tx: &Transaction<'_>,
    filter: &LogFilter,
    before: Option<PageCursor>,
    n: i64,
) -> Result<Option<PageCursor>, StoreError> {
    let mut sql = SqlFilter::for_logs(filter);
    if let Some(cursor) = before {
        sql.after_cursor(cursor);
    }
    let skip = sql.param(n - 1);
    let query = format!(
        "SELECT occurred_at, id FROM logs {} ORDER BY occurred_at DESC, id DESC OFFSET {skip} LIMIT 1",
        sql.where_clause()
    );
    Ok(match tx.query_opt(&query, &sql.params()).await? {
        Some(row) => Some(PageCursor {
            occurred_at: row.try_get(0)?,
            id: row.try_get(1)?,
        }),
        None => None,
    })
}

/// Streams the rows of `query` to `sink`, at most `room` of them; returns
/// how many rows the query produced (one more than `room` when it had more).
async fn stream_hits(
    tx: &Transaction<'_>,
    query: &str,
    sql: &SqlFilter,
    room: usize,
    sent: &mut u64,
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
    Ok(SearchOutcome {
        matched,
        truncated,
        searched_newest: None,
    })
}

/// The search itself, on `client` (a reader).
async fn search_in(
    client: &mut deadpool_postgres::Object,
    filter: &LogFilter,
    terms: &[String],
    limit: usize,
    sink: &mut impl SearchSink,
) -> Result<SearchOutcome, StoreError> {
    // One snapshot for every step: the steps meet at boundaries read by
    // separate statements, which must not move while logs commit meanwhile
    // (duplicates or gaps at the seams).
    let tx = client
        .build_transaction()
        .read_only(true)
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .start()
        .await?;
    let wanted = limit as i64 + 1; // one more tells whether the limit cut it
    let mut sent = 0u64;

    // A query without a term of three letters or digits: the indexes
    // cannot narrow it, so only the newest logs are looked at.
    if !terms.iter().any(|t| has_trigram(t)) {
        let (sql, query) = walk_search(
            filter,
            terms,
            TraceAccess::Joined,
            None,
            SHORT_QUERY_WINDOW,
            wanted,
        );
        let found = stream_hits(&tx, &query, &sql, limit, &mut sent, sink).await?;
        let truncated = found > limit;
        let more = nth_newest(&tx, filter, None, SHORT_QUERY_WINDOW + 1)
            .await?
            .is_some();
        tx.commit().await?;
        return Ok(SearchOutcome {
            matched: sent,
            truncated,
            searched_newest: more.then_some(SHORT_QUERY_WINDOW as u64),
        });
    }

    let hashes = trace_hashes(&tx, terms).await?;
    let access = TraceAccess::PerTerm(&hashes);

    // 1. The newest logs, checked row by row.
    let (sql, query) = walk_search(filter, terms, access, None, RECENT_WINDOW, wanted);
    let mut found = stream_hits(&tx, &query, &sql, limit, &mut sent, sink).await?;
    if found > limit {
        return finish(tx, sent, true).await;
    }
    // Where the window ended; nothing older means it saw everything.
    let Some(mut boundary) = nth_newest(&tx, filter, None, RECENT_WINDOW).await? else {
        return finish(tx, sent, false).await;
    };

    // 2. Terms the window found often enough that the page fills within
    // the next WALK_ON_ROWS logs (at the window's rate, with a margin):
    // walk on row by row, which costs less than reading every match from
    // the indexes and sorting them.
    if found > 0 {
        let expected = (wanted - found as i64) * RECENT_WINDOW / found as i64;
        if expected <= WALK_ON_ROWS {
            let rows = (expected * 3 / 2 + 100).min(WALK_ON_ROWS);
            let (sql, query) = walk_search(
                filter,
                terms,
                access,
                Some(boundary),
                rows,
                wanted - found as i64,
            );
            found += stream_hits(&tx, &query, &sql, limit - found, &mut sent, sink).await?;
            if found > limit {
                return finish(tx, sent, true).await;
            }
            match nth_newest(&tx, filter, Some(boundary), rows).await? {
                Some(next) => boundary = next,
                None => return finish(tx, sent, false).await,
            }
        }
    }

    // 3. Older logs, through the indexes, a day (a partition, with small
    // indexes) at a time, newest first, until the page is full: a term
    // whose hits are all old reads the empty days' small indexes and then
    // only the matches of the days that fill the page, not every match.
    // The terms are rare among recent logs: keep the planner from
    // preferring a sequential scan on a poor estimate of how many rows a
    // trigram pattern matches.
    // No parallel plans: the branches of a statement must run one after
    // the other, in day order.
    tx.batch_execute(
        "SET LOCAL enable_seqscan = off; SET LOCAL max_parallel_workers_per_gather = 0",
    )
    .await?;
    // Days go in statements of 1, 2, 4, then 8 days (one branch per day,
    // run in order and only as far as the rows are fetched): the first days
    // fill most pages, and a walk over every day costs fewer round trips.
    let days = days_to_search(&tx, filter, boundary).await?;
    let mut rest = days.as_slice();
    let mut chunk = 1;
    while !rest.is_empty() {
        let (these, later) = rest.split_at(chunk.min(rest.len()));
        rest = later;
        chunk = (chunk * 2).min(DAYS_PER_STATEMENT);
        let (sql, query) = index_search_days(
            filter,
            terms,
            &hashes,
            boundary,
            these,
            wanted - found as i64,
        );
        found += stream_hits(&tx, &query, &sql, limit - found, &mut sent, sink).await?;
        if found > limit {
            return finish(tx, sent, true).await;
        }
    }
    finish(tx, sent, false).await
}

/// Most days in one statement of the index step.
const DAYS_PER_STATEMENT: usize = 8;

/// The index search over `days` (newest first), one branch per day that
/// reads only that day's partition: its candidates from the indexes, the
/// newest `limit` of them read whole. The branches' rows come day after
/// day, so newest first overall.
fn index_search_days(
    filter: &LogFilter,
    terms: &[String],
    hashes: &[Option<Vec<Vec<u8>>>],
    before: PageCursor,
    days: &[NaiveDate],
    limit: i64,
) -> (SqlFilter, String) {
    let (mut sql, from, candidates) = index_candidates(filter, terms, hashes, Some(before));
    let take = sql.param(limit);
    let branches: Vec<String> = days
        .iter()
        .enumerate()
        .map(|(i, &day)| {
            let (low, high) = super::partitions::bounds_of(day);
            let (low, high) = (sql.param(low), sql.param(high));
            format!(
                "(WITH c{i} AS MATERIALIZED (
                      SELECT logs.id, occurred_at FROM {from} {candidates}
                      AND logs.occurred_at >= {low} AND logs.occurred_at < {high}
                  ),
                  n{i} AS (
                      SELECT id, occurred_at AS at FROM c{i} ORDER BY occurred_at DESC, id DESC LIMIT {take}
                  )
                  SELECT {FULL_COLUMNS} FROM n{i}
                  JOIN logs ON logs.id = n{i}.id AND logs.occurred_at = n{i}.at
                       AND logs.occurred_at >= {low} AND logs.occurred_at < {high}
                  LEFT JOIN stack_traces st ON st.hash = logs.stack_trace_hash
                  ORDER BY logs.occurred_at DESC, logs.id DESC)"
            )
        })
        .collect();
    (sql, branches.join("\nUNION ALL\n"))
}

/// The days with a partition that may hold logs matching `filter` older than
/// `boundary`, newest first (read in the search's snapshot).
async fn days_to_search(
    tx: &Transaction<'_>,
    filter: &LogFilter,
    boundary: PageCursor,
) -> Result<Vec<NaiveDate>, StoreError> {
    Ok(super::partitions::days_with_partitions(tx)
        .await?
        .into_iter()
        .rev()
        .filter(|&day| {
            let (low, high) = super::partitions::bounds_of(day);
            low <= boundary.occurred_at
                && filter.since.is_none_or(|since| high > since)
                && filter.until.is_none_or(|until| low < until)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::has_trigram;

    #[test]
    fn terms_have_trigrams_as_pg_trgm_extracts_them_from_a_like_pattern() {
        for term in [
            "abc", "CUDA", "1e-5", "a.b", ".a", "ab-", "v0.1", "ab cd", "αβγ",
        ] {
            assert!(has_trigram(term), "{term:?}");
        }
        for term in ["a", "ab", "a.", "a-", "..", "é", "--"] {
            assert!(!has_trigram(term), "{term:?}");
        }
    }
}
