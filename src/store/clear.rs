//! ClearLogs: deleting logs atomically — optionally after exporting exactly
//! the logs that will be deleted, in the same snapshot — while keeping the
//! hourly counts (by source and by kind) and the error groups' counts
//! exact, and telling every diagd on the database.
//! The stack traces that only deleted logs referred to are deleted too
//! (right after, under [`TRACES_LOCK`]), so cleared means gone.

use chrono::{DateTime, Utc};
use tokio_postgres::{IsolationLevel, Transaction, error::SqlState};

use super::{
    READ_APPLICATION_NAME, Store, StoreError, TRACES_LOCK,
    export::{ExportSink, stream_logs},
    filter::SqlFilter,
    groups::{GROUPS_LOCK, refresh_group_figures_where},
    notify::LOGS_CLEARED_CHANNEL,
};
use crate::domain::LogFilter;

/// Advisory lock of retention: one diagd at a time runs it ("diagdrt").
pub(super) const RETENTION_LOCK: i64 = 0x64_6961_6764_7274;

/// How long a full clear waits for its exclusive lock on `logs` in one
/// attempt. Inserts queue behind a waiting exclusive lock, so this is also
/// the longest a full clear can hold up ingest per attempt.
const FULL_CLEAR_LOCK_WAIT_MS: u32 = 500;
/// Attempts of a full clear to lock `logs`; between them it ends diagd's
/// own read sessions that hold the table (stalled exports, long searches).
const FULL_CLEAR_ATTEMPTS: usize = 3;

/// Ends diagd's read sessions on this database that hold a lock on `logs`;
/// returns how many.
const END_READERS_OF_LOGS: &str = "
SELECT count(pg_terminate_backend(a.pid))
FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.application_name = $1 AND a.pid <> pg_backend_pid()
  AND EXISTS (SELECT 1 FROM pg_locks l
              WHERE l.pid = a.pid AND l.granted AND l.relation IN (
                  'logs'::regclass, 'log_events'::regclass, 'log_counts_hourly'::regclass, 'log_counts_kind_hourly'::regclass,
                  'log_counts_minutely'::regclass, 'fingerprint_counts_hourly'::regclass,
                  'fingerprint_hosts'::regclass, 'fingerprint_runs'::regclass))";

/// Every table a full clear truncates, locked up front (with the retried
/// lock wait) so the TRUNCATE itself never waits on a reader.
const TRUNCATED: &str = "logs, log_events, log_counts_hourly, log_counts_kind_hourly, log_counts_minutely, \
     fingerprint_counts_hourly, fingerprint_hosts, fingerprint_runs";

/// The error groups' figures lowered by the logs of `$rows` (removed logs,
/// with fingerprint, group_id, source_host and source_run_id, each row
/// counting `$count`: `count(*)` for logs, `sum(removed)` for counts): their
/// fingerprints' hosts and runs, and their groups' counts. Relative
/// updates: what a concurrent insert just added stays.
macro_rules! lower_group_figures {
    ($rows:literal, $count:literal) => {
        concat!(
            "adjusted_print_hosts AS (
    UPDATE fingerprint_hosts AS s SET log_count = s.log_count - p.removed
    FROM (SELECT fingerprint, source_host, ",
            $count,
            " AS removed
          FROM ",
            $rows,
            " WHERE fingerprint IS NOT NULL GROUP BY 1, 2) p
    WHERE (s.fingerprint, s.source_host) = (p.fingerprint, p.source_host)
),
adjusted_print_runs AS (
    UPDATE fingerprint_runs AS s SET log_count = s.log_count - p.removed
    FROM (SELECT fingerprint, source_run_id, ",
            $count,
            " AS removed
          FROM ",
            $rows,
            " WHERE fingerprint IS NOT NULL GROUP BY 1, 2) p
    WHERE (s.fingerprint, s.source_run_id) = (p.fingerprint, p.source_run_id)
),
adjusted_groups AS (
    UPDATE error_groups AS e SET event_count = e.event_count - d.removed
    FROM (SELECT group_id, ",
            $count,
            " AS removed FROM ",
            $rows,
            " WHERE group_id IS NOT NULL GROUP BY 1) d
    WHERE e.id = d.group_id
),
"
        )
    };
}

/// Lowers the hourly counts (per source and per kind) by what a DELETE
/// removed; returns the touched buckets and how many logs left each.
const DELETE_AND_COUNT: &str = concat!("
WITH deleted AS (
    DELETE FROM logs {where}
    RETURNING occurred_at, severity, error_type, source_host, source_run_id, source_component, stack_trace_hash,
              fingerprint, group_id, event_id
),
forgotten AS (
    -- A deleted log's event_id may be sent again and stored anew.
    DELETE FROM log_events e USING deleted d WHERE e.event_id = d.event_id
),
-- Every table in the order inserts write them (store/logs.rs): fingerprints,
-- their hourly counts, hosts and runs, groups, then the hourly and minute
-- counts. Relative updates: what a concurrent insert just added stays.
print_hours AS (
    SELECT fingerprint, date_trunc('hour', occurred_at, 'UTC') AS hour, severity, count(*) AS removed
    FROM deleted WHERE fingerprint IS NOT NULL
    GROUP BY 1, 2, 3
),
adjusted_prints AS (
    -- First/last seen and the top severity are recomputed after
    -- (REFRESH_PRINTS, refresh_group_figures_where).
    UPDATE group_fingerprints AS g SET event_count = g.event_count - p.removed
    FROM (SELECT fingerprint, sum(removed) AS removed FROM print_hours GROUP BY 1) p
    WHERE g.fingerprint = p.fingerprint
),
adjusted_print_hours AS (
    UPDATE fingerprint_counts_hourly AS h SET log_count = h.log_count - p.removed
    FROM print_hours p
    WHERE (h.fingerprint, h.hour, h.severity) = (p.fingerprint, p.hour, p.severity)
),
", lower_group_figures!("deleted", "count(*)"), "prints AS (
    SELECT coalesce(array_agg(DISTINCT fingerprint), '{}') AS touched FROM print_hours
),
counted AS (
    SELECT date_trunc('hour', occurred_at, 'UTC') AS hour, severity, error_type,
           source_host, source_run_id, source_component, count(*) AS removed
    FROM deleted
    GROUP BY 1, 2, 3, 4, 5, 6
),
adjusted AS (
    UPDATE log_counts_hourly AS c SET log_count = c.log_count - counted.removed
    FROM counted
    WHERE (c.hour, c.severity, c.error_type, c.source_host, c.source_run_id, c.source_component)
        = (counted.hour, counted.severity, counted.error_type, counted.source_host, counted.source_run_id, counted.source_component)
),
counted_kinds AS (
    SELECT hour, severity, error_type, sum(removed) AS removed FROM counted GROUP BY 1, 2, 3
),
adjusted_kinds AS (
    -- Relative, like the per-source counts: a log of the same kind inserted
    -- meanwhile keeps its count.
    UPDATE log_counts_kind_hourly AS k SET log_count = k.log_count - counted_kinds.removed
    FROM counted_kinds
    WHERE (k.hour, k.severity, k.error_type) = (counted_kinds.hour, counted_kinds.severity, counted_kinds.error_type)
),
adjusted_minutes AS (
    UPDATE log_counts_minutely AS m SET log_count = m.log_count - d.removed
    FROM (SELECT date_trunc('minute', occurred_at, 'UTC') AS minute, severity, count(*) AS removed
          FROM deleted GROUP BY 1, 2) d
    WHERE (m.minute, m.severity) = (d.minute, d.severity)
),
traces AS (
    SELECT coalesce(array_agg(DISTINCT stack_trace_hash), '{}') AS hashes
    FROM deleted WHERE stack_trace_hash IS NOT NULL
)
-- The traces' hashes and the touched fingerprints once, on the first row only.
SELECT hour, severity, error_type, source_host, source_run_id, source_component, removed,
       CASE WHEN row_number() OVER () = 1 THEN (SELECT hashes FROM traces) END,
       CASE WHEN row_number() OVER () = 1 THEN (SELECT touched FROM prints) END
FROM counted");

/// After a delete: the touched fingerprints' first/last seen (from their
/// remaining logs) and top severity (from their remaining hourly counts),
/// and their emptied count rows dropped.
///
/// The oldest and newest log are looked for in the first and last hour that
/// still count logs of the fingerprint (one day's partition each), and in
/// every day only when the hourly counts have none (its last log is gone).
const REFRESH_PRINTS: &str = "
WITH refreshed AS (
    UPDATE group_fingerprints g
    SET first_seen = coalesce(
            (SELECT min(l.occurred_at)
             FROM (SELECT min(hour) AS hour FROM fingerprint_counts_hourly c
                   WHERE c.fingerprint = g.fingerprint AND c.log_count > 0) b
             JOIN logs l ON l.occurred_at >= b.hour AND l.occurred_at < b.hour + interval '1 hour'
             WHERE l.group_id = g.group_id AND l.fingerprint = g.fingerprint),
            (SELECT min(occurred_at) FROM logs l WHERE l.group_id = g.group_id AND l.fingerprint = g.fingerprint)),
        last_seen = coalesce(
            (SELECT max(l.occurred_at)
             FROM (SELECT max(hour) AS hour FROM fingerprint_counts_hourly c
                   WHERE c.fingerprint = g.fingerprint AND c.log_count > 0) b
             JOIN logs l ON l.occurred_at >= b.hour AND l.occurred_at < b.hour + interval '1 hour'
             WHERE l.group_id = g.group_id AND l.fingerprint = g.fingerprint),
            (SELECT max(occurred_at) FROM logs l WHERE l.group_id = g.group_id AND l.fingerprint = g.fingerprint)),
        top_severity = (SELECT min(CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END)
                        FROM fingerprint_counts_hourly h WHERE h.fingerprint = g.fingerprint AND h.log_count > 0)
    WHERE g.fingerprint = ANY($1)
),
hours AS (
    DELETE FROM fingerprint_counts_hourly WHERE fingerprint = ANY($1) AND log_count <= 0
),
hosts AS (
    DELETE FROM fingerprint_hosts WHERE fingerprint = ANY($1) AND log_count <= 0
)
DELETE FROM fingerprint_runs WHERE fingerprint = ANY($1) AND log_count <= 0";

/// Recomputes oldest/newest of the touched buckets from the logs that remain.
const REFRESH_BOUNDS: &str = "
WITH touched AS (
    SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
        AS t(hour, severity, error_type, source_host, source_run_id, source_component)
),
fresh AS (
    SELECT t.hour, t.severity, t.error_type, t.source_host, t.source_run_id, t.source_component,
           min(l.occurred_at) AS oldest, max(l.occurred_at) AS newest
    FROM touched t
    JOIN logs l ON l.occurred_at >= t.hour AND l.occurred_at < t.hour + interval '1 hour'
               AND l.severity = t.severity AND l.error_type = t.error_type AND l.source_host = t.source_host
               AND l.source_run_id = t.source_run_id AND l.source_component = t.source_component
    GROUP BY 1, 2, 3, 4, 5, 6
)
UPDATE log_counts_hourly AS c SET oldest = f.oldest, newest = f.newest
FROM fresh f
WHERE (c.hour, c.severity, c.error_type, c.source_host, c.source_run_id, c.source_component)
    = (f.hour, f.severity, f.error_type, f.source_host, f.source_run_id, f.source_component)";

/// Recomputes oldest/newest of the touched per-kind buckets from the
/// per-source ones (already refreshed), and drops the emptied buckets.
const REFRESH_KIND_BOUNDS: &str = "
WITH touched AS (
    SELECT DISTINCT * FROM unnest($1::timestamptz[], $2::text[], $3::text[]) AS t(hour, severity, error_type)
),
fresh AS (
    SELECT t.hour, t.severity, t.error_type, min(c.oldest) AS oldest, max(c.newest) AS newest
    FROM touched t
    JOIN log_counts_hourly c ON (c.hour, c.severity, c.error_type) = (t.hour, t.severity, t.error_type)
    WHERE c.log_count > 0
    GROUP BY 1, 2, 3
),
refreshed AS (
    UPDATE log_counts_kind_hourly AS k SET oldest = f.oldest, newest = f.newest
    FROM fresh f
    WHERE (k.hour, k.severity, k.error_type) = (f.hour, f.severity, f.error_type)
)
DELETE FROM log_counts_kind_hourly k USING touched t
WHERE (k.hour, k.severity, k.error_type) = (t.hour, t.severity, t.error_type) AND k.log_count <= 0";

impl Store {
    /// Deletes the logs matching `filter` (all when it is empty); returns
    /// how many.
    pub async fn clear_logs(&self, filter: &LogFilter) -> Result<u64, StoreError> {
        if filter == &LogFilter::default() {
            let count = self.truncate_logs().await?;
            // The traces go after, row by row: truncating stack_traces too
            // would need it locked exclusively as well, and readers lock logs
            // then stack_traces while inserts lock them the other way round,
            // so one order or the other could deadlock.
            self.changed_for_readers();
            self.delete_unreferenced_traces(TraceSet::All).await;
            return Ok(count);
        }
        let (deleted, traces) = self.clear_matching(filter).await?;
        self.changed_for_readers();
        self.delete_unreferenced_traces(TraceSet::Of(&traces)).await;
        Ok(deleted)
    }

    /// Empties `logs` and the counts; returns how many logs there were.
    ///
    /// TRUNCATE needs `logs` locked exclusively, and while it waits for
    /// readers to let go every insert waits behind it. So it waits at most
    /// [`FULL_CLEAR_LOCK_WAIT_MS`] at a time, and between attempts ends the
    /// diagd read sessions holding the table (their streams end with an
    /// error; the clear says how many in diagd's log). If another program
    /// holds the table, the clear answers ABORTED after the last attempt,
    /// and ingest was held up at most one wait per attempt.
    async fn truncate_logs(&self) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let mut ended_readers = 0i64;
        for attempt in 1..=FULL_CLEAR_ATTEMPTS {
            let tx = client.transaction().await?;
            tx.batch_execute(&format!(
                "SET LOCAL lock_timeout = {FULL_CLEAR_LOCK_WAIT_MS}"
            ))
            .await?;
            match tx
                .batch_execute(&format!(
                    "SELECT pg_advisory_xact_lock_shared({GROUPS_LOCK}); \
                     LOCK TABLE {TRUNCATED} IN ACCESS EXCLUSIVE MODE"
                ))
                .await
            {
                Ok(()) => {}
                Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                    tx.rollback().await?;
                    if attempt == FULL_CLEAR_ATTEMPTS {
                        return Err(StoreError::Conflict(format!(
                            "a full clear could not lock the logs table in {FULL_CLEAR_ATTEMPTS} \
                             attempts of {FULL_CLEAR_LOCK_WAIT_MS} ms: another session holds it"
                        )));
                    }
                    // Counted before the readers are ended, so a reader that
                    // fails from it always sees the count moved.
                    self.ended_by_clears
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let ended: i64 = client
                        .query_one(END_READERS_OF_LOGS, &[&READ_APPLICATION_NAME])
                        .await?
                        .get(0);
                    ended_readers += ended;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            let count: i64 = tx.query_one("SELECT count(*) FROM logs", &[]).await?.get(0);
            // Groups stay, with their status, notes and merges; their
            // counts go to zero.
            tx.batch_execute(&format!(
                "TRUNCATE {TRUNCATED}; \
                 UPDATE group_fingerprints SET event_count = 0, first_seen = NULL, \
                 last_seen = NULL, top_severity = NULL WHERE event_count <> 0; \
                 UPDATE error_groups SET event_count = 0, first_seen = NULL, \
                 last_seen = NULL, top_severity = NULL, hosts = 0, runs = 0 \
                 WHERE event_count <> 0 OR hosts <> 0 OR runs <> 0"
            ))
            .await?;
            notify_cleared(&tx, count as u64).await?;
            tx.commit().await?;
            if ended_readers > 0 {
                tracing::warn!(
                    ended_readers,
                    "a full clear ended read streams (exports, searches) that held the logs table"
                );
            }
            return Ok(count as u64);
        }
        unreachable!("the last attempt returns")
    }

    /// Deletes the logs matching `filter`; returns how many, and their
    /// traces.
    ///
    /// READ COMMITTED, set explicitly: the DELETE's snapshot decides what is
    /// deleted, and the same statement lowers the hourly counts relatively,
    /// so a count a concurrent insert just raised is lowered on its newest
    /// version (REPEATABLE READ failed the clear with a serialization error
    /// instead, for every clear racing ingest of the same kinds). That
    /// statement also row-locks every touched count, so the bounds
    /// recomputed by the next statements, with a newer snapshot, include
    /// every insert into those hours that committed, and later ones wait.
    async fn clear_matching(&self, filter: &LogFilter) -> Result<(u64, Vec<Vec<u8>>), StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await?;
        let (deleted, traces) = delete_matching(&tx, filter, None).await?;
        notify_cleared(&tx, deleted).await?;
        tx.commit().await?;
        Ok((deleted, traces))
    }

    /// Exports the logs matching `filter` to `sink`, then deletes exactly
    /// those, in one transaction: if the export fails nothing is deleted.
    /// Returns (exported, deleted), which are equal.
    pub async fn export_and_clear_logs(
        &self,
        filter: &LogFilter,
        sink: &mut impl ExportSink,
    ) -> Result<(u64, u64), StoreError> {
        let mut client = self.client().await?;
        // One snapshot for both: logs committed meanwhile are neither
        // exported nor deleted.
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .start()
            .await?;
        let exported = stream_logs(&tx, filter, sink).await?;
        let (deleted, traces) = delete_matching(&tx, filter, None).await?;
        notify_cleared(&tx, deleted).await?;
        tx.commit().await?;
        self.changed_for_readers();
        drop(client);
        self.delete_unreferenced_traces(TraceSet::Of(&traces)).await;
        Ok((exported, deleted))
    }
}

impl Store {
    /// Retention: deletes at most `batch` of the oldest logs matching
    /// `filter` in one short transaction. `None` when another diagd is
    /// running retention right now.
    pub async fn delete_oldest_logs(
        &self,
        filter: &LogFilter,
        batch: usize,
    ) -> Result<Option<u64>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let locked: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&RETENTION_LOCK])
            .await?
            .try_get(0)?;
        if !locked {
            return Ok(None);
        }
        let (deleted, traces) = delete_matching(&tx, filter, Some(batch)).await?;
        tx.commit().await?;
        drop(client);
        self.delete_unreferenced_traces(TraceSet::Of(&traces)).await;
        Ok(Some(deleted))
    }

    /// Deletes every stack trace no log refers to: those a removal that
    /// failed left behind, and those of clears by diagd versions that did
    /// not remove traces. Run once at start-up, in the background.
    pub async fn sweep_unreferenced_traces(&self) {
        self.delete_unreferenced_traces(TraceSet::All).await;
    }

    /// Deletes the stack traces of `traces` that no log refers to any more.
    /// The logs are deleted already, so a failure here is logged, not
    /// returned: the traces stay, unreachable.
    ///
    /// Every insert that stores or finds traces holds [`TRACES_LOCK`] shared
    /// from before it looks for them until it commits; this takes it
    /// exclusively, so no insert can be between finding a trace stored and
    /// committing the log that refers to it while the trace is found
    /// unreferenced. Each step is its own READ COMMITTED transaction, after
    /// the deletion committed, so that it sees every log committed before it
    /// got the lock.
    pub(super) async fn delete_unreferenced_traces(&self, traces: TraceSet<'_>) {
        if let TraceSet::Of(hashes) = traces
            && hashes.is_empty()
        {
            return;
        }
        let mut deleted = 0;
        loop {
            match self.delete_unreferenced_traces_step(traces).await {
                Ok(step) => {
                    deleted += step;
                    crate::metrics::METRICS.traces_removed.inc_by(step);
                    if step < TRACES_PER_STEP as u64 {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        "could not remove the stack traces of deleted logs; they stay stored, unreachable"
                    );
                    return;
                }
            }
        }
        tracing::debug!(deleted, "stack traces of deleted logs removed");
    }

    /// At most [`TRACES_PER_STEP`] unreferenced traces of `traces`, in one
    /// short transaction (ingest waits on the lock meanwhile).
    async fn delete_unreferenced_traces_step(
        &self,
        traces: TraceSet<'_>,
    ) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&TRACES_LOCK])
            .await?;
        let unreferenced = "NOT EXISTS (SELECT 1 FROM logs WHERE logs.stack_trace_hash = s.hash)";
        let limit = TRACES_PER_STEP as i64;
        let deleted = match traces {
            TraceSet::Of(hashes) => {
                tx.execute(
                    &format!(
                        "DELETE FROM stack_traces WHERE hash IN (SELECT hash FROM stack_traces s \
                         WHERE s.hash = ANY($1) AND {unreferenced} LIMIT $2)"
                    ),
                    &[&hashes, &limit],
                )
                .await?
            }
            TraceSet::All => {
                tx.execute(
                    &format!(
                        "DELETE FROM stack_traces WHERE hash IN (SELECT hash FROM stack_traces s \
                         WHERE {unreferenced} LIMIT $1)"
                    ),
                    &[&limit],
                )
                .await?
            }
        };
        tx.commit().await?;
        Ok(deleted)
    }
}

/// Which stack traces to look at for removal.
#[derive(Clone, Copy)]
pub(super) enum TraceSet<'a> {
    /// Those of these hashes (the traces of logs just deleted).
    Of(&'a [Vec<u8>]),
    /// All (after every log was deleted).
    All,
}

/// Most traces removed in one transaction.
const TRACES_PER_STEP: usize = 10_000;

/// Deletes the matching logs of the transaction's snapshot and keeps the
/// hourly counts exact; returns how many, and the stack traces they had.
async fn delete_matching(
    tx: &Transaction<'_>,
    filter: &LogFilter,
    oldest_first_limit: Option<usize>,
) -> Result<(u64, Vec<Vec<u8>>), StoreError> {
    // Shared, as inserts hold it: a merge or split (exclusive) never moves
    // these logs' groups while their counts are lowered.
    tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&GROUPS_LOCK])
        .await?;
    let mut sql = SqlFilter::for_logs(filter);
    let target = match oldest_first_limit {
        None => sql.where_clause(),
        Some(limit) => {
            let limit = sql.param(limit as i64);
            let filter = sql.where_clause();
            // By primary key (id, occurred_at), and with the filter again on
            // the outer rows, so only the days it can match are read (an
            // `id IN` alone hashed every day's logs).
            let again = match filter.strip_prefix("WHERE ") {
                Some(conditions) => format!(" AND {conditions}"),
                None => String::new(),
            };
            format!(
                "WHERE (id, occurred_at) IN (SELECT id, occurred_at FROM logs {filter} \
                 ORDER BY occurred_at, id LIMIT {limit}){again}"
            )
        }
    };
    let rows = tx
        .query(&DELETE_AND_COUNT.replace("{where}", &target), &sql.params())
        .await?;
    let mut deleted = 0u64;
    let traces: Vec<Vec<u8>> = match rows.first() {
        Some(row) => row
            .try_get::<_, Option<Vec<Vec<u8>>>>(7)?
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let touched_prints: Vec<String> = match rows.first() {
        Some(row) => row
            .try_get::<_, Option<Vec<String>>>(8)?
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let mut hours: Vec<DateTime<Utc>> = Vec::with_capacity(rows.len());
    let mut columns: [Vec<String>; 5] = Default::default();
    for row in &rows {
        hours.push(row.try_get(0)?);
        for (i, column) in columns.iter_mut().enumerate() {
            column.push(row.try_get(i + 1)?);
        }
        deleted += row.try_get::<_, i64>(6)?.max(0) as u64;
    }
    if !rows.is_empty() {
        let [severities, types, hosts, runs, components] = &columns;
        tx.execute(
            REFRESH_BOUNDS,
            &[&hours, severities, types, hosts, runs, components],
        )
        .await?;
        tx.batch_execute("DELETE FROM log_counts_hourly WHERE log_count <= 0")
            .await?;
        tx.execute(
            "DELETE FROM log_counts_minutely WHERE minute >= $1 AND minute < $2 AND log_count <= 0",
            &[
                &hours.iter().min(),
                &hours.iter().max().map(|h| *h + chrono::TimeDelta::hours(1)),
            ],
        )
        .await?;
        tx.execute(REFRESH_KIND_BOUNDS, &[&hours, severities, types])
            .await?;
    }
    refresh_touched_prints(tx, &touched_prints).await?;
    Ok((deleted, traces))
}

/// After logs of `touched_prints` were removed: their fingerprints' and
/// groups' first/last seen, top severity, hosts and runs, from what remains.
async fn refresh_touched_prints(
    tx: &Transaction<'_>,
    touched_prints: &[String],
) -> Result<(), StoreError> {
    if touched_prints.is_empty() {
        return Ok(());
    }
    tx.execute(REFRESH_PRINTS, &[&touched_prints]).await?;
    tx.execute(
        &format!(
            "WITH touched AS (SELECT DISTINCT group_id FROM group_fingerprints WHERE fingerprint = ANY($1))
             {}",
            refresh_group_figures_where("e.id IN (SELECT group_id FROM touched)", "true")
        ),
        &[&touched_prints],
    )
    .await?;
    Ok(())
}

async fn notify_cleared(tx: &Transaction<'_>, deleted: u64) -> Result<(), StoreError> {
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&LOGS_CLEARED_CHANNEL, &deleted.to_string()],
    )
    .await?;
    Ok(())
}
