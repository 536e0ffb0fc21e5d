//! The `logs` table: inserting batches (with their hourly counts, in the same
//! transaction), listing pages newest first, and reading one log.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_postgres::{Row, types::Json};
use uuid::Uuid;

use super::{
    Store, StoreError, TRACES_LOCK, filter::SqlFilter, groups::GROUPS_LOCK, notify::LOGS_CHANNEL,
};
use crate::domain::{
    ErrorType, LogEntry, LogFilter, LogPage, NewLog, PageCursor, Severity, fingerprint::Fingerprint,
};

/// The CTEs that count logs just given fingerprints into their
/// fingerprints' totals, hourly counts, hosts and runs, read from the CTE named
/// `$rows` (columns fingerprint, group_id, occurred_at, severity,
/// source_host, source_run_id). Shared by inserts and the backfill.
macro_rules! count_fingerprints {
    ($rows:literal) => {
        concat!("counted_prints AS (
    -- Per fingerprint, in key order (rows exist: no insert happens). Relative
    -- updates, so concurrent batches of one hot fingerprint add up.
    INSERT INTO group_fingerprints AS g
        (fingerprint, group_id, version, components, title, culprit, exception_type, error_type,
         event_count, first_seen, last_seen, top_severity)
    SELECT fingerprint, min(group_id), 0, '{}', '', '', '', '', count(*), min(occurred_at), max(occurred_at),
           min(CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END)
    FROM ", $rows, "
    GROUP BY fingerprint
    ORDER BY fingerprint
    ON CONFLICT (fingerprint) DO UPDATE
    SET event_count = g.event_count + EXCLUDED.event_count,
        first_seen = least(g.first_seen, EXCLUDED.first_seen),
        last_seen = greatest(g.last_seen, EXCLUDED.last_seen),
        top_severity = least(g.top_severity, EXCLUDED.top_severity)
),
counted_print_hours AS (
    INSERT INTO fingerprint_counts_hourly AS h (fingerprint, hour, severity, log_count)
    SELECT fingerprint, date_trunc('hour', occurred_at, 'UTC'), severity, count(*)
    FROM ", $rows, "
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (fingerprint, hour, severity) DO UPDATE SET log_count = h.log_count + EXCLUDED.log_count
),
counted_print_hosts AS (
    INSERT INTO fingerprint_hosts AS s (fingerprint, source_host, log_count)
    SELECT fingerprint, source_host, count(*)
    FROM ", $rows, "
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (fingerprint, source_host) DO UPDATE SET log_count = s.log_count + EXCLUDED.log_count
    RETURNING fingerprint, source_host <> '' AND xmax = 0 AS added
),
counted_print_runs AS (
    INSERT INTO fingerprint_runs AS s (fingerprint, source_run_id, log_count)
    SELECT fingerprint, source_run_id, count(*)
    FROM ", $rows, "
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (fingerprint, source_run_id) DO UPDATE SET log_count = s.log_count + EXCLUDED.log_count
    RETURNING fingerprint, source_run_id <> '' AND xmax = 0 AS added
),
new_sources AS (
    -- Per group, the host and run rows these logs added (xmax = 0: inserted,
    -- not updated): how many hosts and runs the group gains.
    SELECT p.group_id, count(*) FILTER (WHERE k.kind = 'host') AS hosts,
           count(*) FILTER (WHERE k.kind = 'run') AS runs
    FROM (SELECT 'host' AS kind, fingerprint FROM counted_print_hosts WHERE added
          UNION ALL
          SELECT 'run', fingerprint FROM counted_print_runs WHERE added) k
    JOIN (SELECT DISTINCT fingerprint, group_id FROM ", $rows, ") p ON p.fingerprint = k.fingerprint
    GROUP BY p.group_id
),
")
    };
}

/// The CTE `counted_groups`: the figures of each group the logs of the CTE
/// named `$rows` (as `count_fingerprints!` reads them, after it) fall
/// into — count, first/last seen, top severity, hosts and runs gained —
/// in group order, after the fingerprints (as every writer locks them);
/// every row exists, so nothing is inserted. `$more` adds assignments to
/// the same row update (the insert's status rules), or is empty.
macro_rules! count_group_figures {
    ($rows:literal, $more:literal) => {
        concat!("counted_groups AS (
    INSERT INTO error_groups AS e (id, title, culprit, exception_type, error_type,
                                   event_count, first_seen, last_seen, top_severity, hosts, runs)
    OVERRIDING SYSTEM VALUE
    SELECT i.group_id, '', '', '', '', count(*), min(i.occurred_at), max(i.occurred_at),
           min(CASE i.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END),
           coalesce(max(n.hosts), 0), coalesce(max(n.runs), 0)
    FROM ", $rows, " i LEFT JOIN new_sources n ON n.group_id = i.group_id
    GROUP BY i.group_id
    ORDER BY i.group_id
    ON CONFLICT (id) DO UPDATE
    SET event_count = e.event_count + EXCLUDED.event_count,
        hosts = e.hosts + EXCLUDED.hosts,
        runs = e.runs + EXCLUDED.runs,
        first_seen = least(e.first_seen, EXCLUDED.first_seen),
        last_seen = greatest(e.last_seen, EXCLUDED.last_seen),
        top_severity = least(e.top_severity, EXCLUDED.top_severity)", $more, "
)")
    };
}

/// Inserts a batch with one statement: the distinct new stack traces, the
/// rows (skipping event_ids already stored) and, from the rows actually
/// inserted, the hourly counts (by source, and by kind alone). Rollup rows are upserted in key order so
/// concurrent batches cannot deadlock.
const INSERT_BATCH: &str = concat!("
WITH input AS (
    SELECT * FROM unnest(
        $1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::bytea[],
        $8::jsonb[], $9::jsonb[], $10::jsonb[], $11::text[], $12::text[], $13::text[], $14::jsonb[],
        $17::text[]
    ) WITH ORDINALITY AS t(id, event_id, occurred_at, severity, error_type, message, stack_trace_hash,
           context, system_state, recent_actions, source_host, source_run_id, source_component, source_labels,
           fingerprint, position)
),
traces AS (
    -- In hash order, so concurrent batches sharing new traces cannot deadlock.
    -- A batch with traces took TRACES_LOCK shared in an earlier statement of
    -- its transaction (see insert_logs) and holds it until commit: a trace
    -- found stored cannot be removed as unreferenced before this batch's
    -- logs refer to it, and this statement's snapshot sees every clear's
    -- removal of traces that committed before. A trace already stored is
    -- skipped before its row is built: the row's folded text (a generated
    -- column) costs ~70 µs for a 2 KB trace.
    INSERT INTO stack_traces (hash, trace)
    SELECT * FROM unnest($15::bytea[], $16::text[]) AS t(hash, trace)
    WHERE NOT EXISTS (SELECT 1 FROM stack_traces s WHERE s.hash = t.hash)
    ORDER BY hash
    ON CONFLICT (hash) DO NOTHING
),
firsts AS (
    -- The first log of each event_id in the batch; the others repeat it.
    SELECT DISTINCT ON (event_id) event_id, id, occurred_at, position
    FROM input WHERE event_id IS NOT NULL
    ORDER BY event_id, position
),
claimed AS (
    -- Event ids are unique across every day's partition here (a unique
    -- index on the partitioned logs would have to include occurred_at). In
    -- event_id order, so concurrent batches cannot deadlock; a batch that
    -- meets an id another one is inserting waits for its commit.
    INSERT INTO log_events (event_id, log_id, occurred_at)
    SELECT event_id, id, occurred_at FROM firsts ORDER BY event_id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING log_id
),
inserted AS (
    -- Every fingerprint has its group by now (ENSURE_GROUPS ran first in
    -- this transaction).
    INSERT INTO logs (id, event_id, occurred_at, severity, error_type, message, stack_trace_hash,
                      context, system_state, recent_actions, source_host, source_run_id, source_component, source_labels,
                      fingerprint, group_id)
    SELECT id, event_id, occurred_at, severity, input.error_type, message, stack_trace_hash,
           context, system_state, recent_actions, source_host, source_run_id, source_component, source_labels,
           input.fingerprint, g.group_id
    FROM input LEFT JOIN group_fingerprints g ON g.fingerprint = input.fingerprint
    WHERE input.event_id IS NULL OR input.id IN (SELECT log_id FROM claimed)
    -- In the batch's order (the join may reorder): `seq`, the live tail's
    -- order within a transaction, follows it.
    ORDER BY input.position
    RETURNING id, occurred_at, severity, error_type, source_host, source_run_id, source_component, fingerprint, group_id
),
", count_fingerprints!("inserted"), count_group_figures!("inserted", ",
        -- The status, in the same row update as the figures (so a batch
        -- that waited for another's lock decides on the newest row): a
        -- resolved group that gets an event is a regression; an ignored one
        -- whose rule ran out is unresolved again; an ignore for N events
        -- counts down.
        status = CASE WHEN e.status = 'resolved'
                        OR (e.status = 'ignored' AND (e.ignored_until <= now()
                                                      OR e.ignored_events_left < EXCLUDED.event_count))
                      THEN 'unresolved' ELSE e.status END,
        regressed_at = CASE WHEN e.status = 'resolved' THEN now() ELSE e.regressed_at END,
        -- Which transaction reopened it: its logs are regressions to alerts.
        regressed_txid = CASE WHEN e.status = 'resolved' THEN pg_current_xact_id()::text::bigint
                              ELSE e.regressed_txid END,
        status_changed_at = CASE WHEN e.status = 'resolved'
                                   OR (e.status = 'ignored' AND (e.ignored_until <= now()
                                                                 OR e.ignored_events_left < EXCLUDED.event_count))
                                 THEN now() ELSE e.status_changed_at END,
        status_changed_by = CASE WHEN e.status = 'resolved'
                                   OR (e.status = 'ignored' AND (e.ignored_until <= now()
                                                                 OR e.ignored_events_left < EXCLUDED.event_count))
                                 THEN '' ELSE e.status_changed_by END,
        ignored_until = CASE WHEN e.ignored_until <= now() THEN NULL ELSE e.ignored_until END,
        ignored_events_left = CASE WHEN e.status <> 'ignored' OR e.ignored_events_left < EXCLUDED.event_count
                                   THEN NULL
                                   ELSE e.ignored_events_left - EXCLUDED.event_count END
"), ",
counted AS (
    INSERT INTO log_counts_hourly AS c
        (hour, severity, error_type, source_host, source_run_id, source_component, log_count, oldest, newest)
    SELECT date_trunc('hour', occurred_at, 'UTC'), severity, error_type, source_host, source_run_id, source_component,
           count(*), min(occurred_at), max(occurred_at)
    FROM inserted
    GROUP BY 1, 2, 3, 4, 5, 6
    ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (hour, severity, error_type, source_host, source_run_id, source_component) DO UPDATE
    SET log_count = c.log_count + EXCLUDED.log_count,
        oldest = least(c.oldest, EXCLUDED.oldest),
        newest = greatest(c.newest, EXCLUDED.newest)
),
counted_kinds AS (
    INSERT INTO log_counts_kind_hourly AS k (hour, severity, error_type, log_count, oldest, newest)
    SELECT date_trunc('hour', occurred_at, 'UTC'), severity, error_type, count(*), min(occurred_at), max(occurred_at)
    FROM inserted
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (hour, severity, error_type) DO UPDATE
    SET log_count = k.log_count + EXCLUDED.log_count,
        oldest = least(k.oldest, EXCLUDED.oldest),
        newest = greatest(k.newest, EXCLUDED.newest)
),
counted_minutes AS (
    INSERT INTO log_counts_minutely AS m (minute, severity, log_count)
    SELECT date_trunc('minute', occurred_at, 'UTC'), severity, count(*)
    FROM inserted
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (minute, severity) DO UPDATE SET log_count = m.log_count + EXCLUDED.log_count
)
SELECT id FROM inserted");

/// Makes sure every fingerprint of a batch has a group: a fingerprint seen
/// for the first time gets a new group seeded by it (and its mapping), in
/// fingerprint order. Two batches bringing the same new fingerprint at once
/// meet on the seed's unique key: the second waits for the first to commit
/// and then adds nothing, and its next statement sees the first's rows.
pub(super) const ENSURE_GROUPS: &str = "
WITH prints AS (
    -- GROUPS_LOCK ($8) shared, held until commit: no merge or split moves
    -- these fingerprints between here and the logs' commit.
    SELECT * FROM unnest($1::text[], $2::integer[], $3::jsonb[], $4::text[], $5::text[], $6::text[], $7::text[])
        AS t(fingerprint, version, components, title, culprit, exception_type, error_type)
    WHERE (SELECT true FROM pg_advisory_xact_lock_shared($8::bigint))
),
created AS (
    INSERT INTO error_groups (seed_fingerprint, title, culprit, exception_type, error_type)
    SELECT fingerprint, title, culprit, exception_type, error_type
    FROM prints p
    WHERE NOT EXISTS (SELECT 1 FROM group_fingerprints g WHERE g.fingerprint = p.fingerprint)
    ORDER BY fingerprint
    ON CONFLICT (seed_fingerprint) DO NOTHING
    RETURNING id, seed_fingerprint
)
INSERT INTO group_fingerprints (fingerprint, group_id, version, components, title, culprit, exception_type, error_type)
SELECT p.fingerprint, c.id, p.version, p.components, p.title, p.culprit, p.exception_type, p.error_type
FROM created c JOIN prints p ON p.fingerprint = c.seed_fingerprint
ORDER BY p.fingerprint
ON CONFLICT (fingerprint) DO NOTHING";

/// Logs with their stack traces: what `FULL_COLUMNS` reads from.
pub(super) const LOGS_WITH_TRACES: &str =
    "logs LEFT JOIN stack_traces st ON st.hash = logs.stack_trace_hash";

/// Columns of a full log (from `LOGS_WITH_TRACES`), named as `row_to_entry`
/// reads them.
pub(super) const FULL_COLUMNS: &str = "logs.id AS id, event_id, occurred_at, received_at, severity, error_type, message, \
     coalesce(st.trace, '') AS stack_trace, context, system_state, recent_actions, source_host, source_run_id, \
     source_component, source_labels, logs.fingerprint AS fingerprint, logs.group_id AS group_id";

/// The same columns without the heavy details (for basic listings, from
/// `logs` alone).
const BASIC_COLUMNS: &str = "id, event_id, occurred_at, received_at, severity, error_type, message, \
     ''::text AS stack_trace, NULL::jsonb AS context, NULL::jsonb AS system_state, NULL::jsonb AS recent_actions, \
     source_host, source_run_id, source_component, source_labels, fingerprint, group_id";

/// What happened to one log of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored under this id.
    Inserted(Uuid),
    /// Not stored: its event_id was already stored (or repeated in the batch).
    Duplicate,
}

impl Store {
    /// Stores a batch of validated logs in one transaction, each in the
    /// group of its fingerprint (`prints[i]` is `logs[i]`'s), returning what
    /// happened to each, in order. Returns only after the commit.
    pub async fn insert_logs(
        &self,
        logs: &[NewLog],
        prints: &[Fingerprint],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        if logs.is_empty() {
            return Ok(Vec::new());
        }
        let mut attempt = 1;
        loop {
            self.ensure_partitions_of(logs).await?;
            match self.insert_logs_once(logs, prints).await {
                Err(e) if super::partitions::is_missing_partition(&e) && attempt < 3 => {
                    // Another diagd's retention dropped a day this one knew:
                    // nothing was stored; the day is made again.
                    self.forget_partitions();
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// [`Store::insert_logs`] once every day of the batch has its partition.
    async fn insert_logs_once(
        &self,
        logs: &[NewLog],
        prints: &[Fingerprint],
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        if prints.len() != logs.len() {
            return Err(StoreError::Corrupt(format!(
                "{} fingerprints for {} logs",
                prints.len(),
                logs.len()
            )));
        }
        let ids: Vec<Uuid> = logs.iter().map(|_| Uuid::now_v7()).collect();
        let columns = BatchColumns::from_logs(logs)?;
        let groups = GroupColumns::from_prints(logs.iter().map(|l| l.error_type), prints)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let ensure = tx.prepare_cached(ENSURE_GROUPS).await?;
        let log_prints: Vec<&str> = prints.iter().map(|p| p.hash.as_str()).collect();
        let statement = tx.prepare_cached(INSERT_BATCH).await?;
        // Both statements are sent at once (pipelined): PostgreSQL runs them
        // in order, the insert with a snapshot that sees the groups just
        // made, and the batch costs no extra round trip for its groups
        // (`biased`: polled, so sent, in this order).
        let ensure_params = groups.params();
        let insert_params: [&(dyn tokio_postgres::types::ToSql + Sync); 17] = [
            &ids,
            &columns.event_ids,
            &columns.occurred_at,
            &columns.severities,
            &columns.error_types,
            &columns.messages,
            &columns.stack_trace_hashes,
            &columns.contexts,
            &columns.system_states,
            &columns.recent_actions,
            &columns.hosts,
            &columns.run_ids,
            &columns.components,
            &columns.labels,
            &columns.new_trace_hashes,
            &columns.new_traces,
            &log_prints,
        ];
        // A batch with traces takes TRACES_LOCK shared in a statement of its
        // own, before the insert: the insert's snapshot then starts after
        // the lock is held, so its check for traces already stored cannot
        // see one that a clear removed while the batch waited for the lock.
        let lock_traces = tx
            .prepare_cached("SELECT pg_advisory_xact_lock_shared($1)")
            .await?;
        let has_traces = !columns.new_trace_hashes.is_empty();
        let (locked, ensured, rows) = tokio::join!(
            biased;
            async {
                if has_traces {
                    tx.execute(&lock_traces, &[&TRACES_LOCK]).await.map(|_| ())
                } else {
                    Ok(())
                }
            },
            tx.execute(&ensure, &ensure_params),
            tx.query(&statement, &insert_params)
        );
        locked?;
        ensured?;
        let rows = rows?;
        // A CRITICAL log of a run's member fails that member (issue #15).
        let inserted_ids: std::collections::HashSet<Uuid> =
            rows.iter().map(|row| row.get(0)).collect();
        let critical: Vec<super::runs::CriticalLog> = logs
            .iter()
            .zip(&ids)
            .filter(|(log, id)| {
                log.severity == crate::domain::Severity::Critical
                    && !log.source.run_id.is_empty()
                    && !log.source.host.is_empty()
                    && inserted_ids.contains(id)
            })
            .map(|(log, _)| super::runs::CriticalLog {
                run_id: log.source.run_id.clone(),
                host: log.source.host.clone(),
                rank: log
                    .source
                    .labels
                    .get("rank")
                    .and_then(|r| r.trim().parse().ok()),
                pid: log
                    .source
                    .labels
                    .get("pid")
                    .and_then(|p| p.trim().parse().ok()),
                message: log.message.clone(),
            })
            .collect();
        if !critical.is_empty() {
            super::runs::fail_members(&tx, &critical).await?;
        }
        if !rows.is_empty() {
            // Wakes the live tail of every diagd on this database; the
            // readers then look for what is new after their own cursor.
            tx.execute("SELECT pg_notify($1, '')", &[&LOGS_CHANNEL])
                .await?;
        }
        tx.commit().await?;
        if logs.iter().map(NewLog::approximate_size).sum::<usize>() > super::LARGE_TRANSFER_BYTES {
            // The connection's buffers grew to this batch; do not keep them.
            drop(deadpool_postgres::Object::take(client));
        }
        let inserted: std::collections::HashSet<Uuid> = rows.iter().map(|row| row.get(0)).collect();
        Ok(ids
            .into_iter()
            .map(|id| {
                if inserted.contains(&id) {
                    InsertOutcome::Inserted(id)
                } else {
                    InsertOutcome::Duplicate
                }
            })
            .collect())
    }

    /// The ceiling `diagd bench` compares ingest with: the same rows as
    /// [`Store::insert_logs`] would write, sent with `COPY logs … FROM STDIN
    /// (FORMAT binary)` (stack traces upserted first, as there) — and then
    /// rolled back, so the table keeps only what diagd stored and its
    /// rollups stay exact. Returns the rows copied.
    #[cfg(feature = "bench")]
    pub async fn copy_logs_and_roll_back(&self, logs: &[NewLog]) -> Result<u64, StoreError> {
        use tokio_postgres::{binary_copy::BinaryCopyInWriter, types::Type};
        let columns = BatchColumns::from_logs(logs)?;
        self.ensure_partitions_of(logs).await?;
        let ids: Vec<Uuid> = logs.iter().map(|_| Uuid::now_v7()).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The event ids first, as the insert claims them.
        tx.execute(
            "INSERT INTO log_events (event_id, log_id, occurred_at) \
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS t(e, i, o) \
             WHERE e IS NOT NULL ORDER BY e ON CONFLICT (event_id) DO NOTHING",
            &[&columns.event_ids, &ids, &columns.occurred_at],
        )
        .await?;
        tx.execute(
            "INSERT INTO stack_traces (hash, trace) SELECT * FROM unnest($1::bytea[], $2::text[]) \
             AS t(hash, trace) WHERE NOT EXISTS (SELECT 1 FROM stack_traces s WHERE s.hash = t.hash) \
             ORDER BY hash ON CONFLICT (hash) DO NOTHING",
            &[&columns.new_trace_hashes, &columns.new_traces],
        )
        .await?;
        let sink = tx
            .copy_in(
                "COPY logs (id, event_id, occurred_at, severity, error_type, message, stack_trace_hash, \
                 context, system_state, recent_actions, source_host, source_run_id, source_component, \
                 source_labels) FROM STDIN (FORMAT binary)",
            )
            .await?;
        let writer = BinaryCopyInWriter::new(
            sink,
            &[
                Type::UUID,
                Type::UUID,
                Type::TIMESTAMPTZ,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::BYTEA,
                Type::JSONB,
                Type::JSONB,
                Type::JSONB,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::JSONB,
            ],
        );
        let mut writer = std::pin::pin!(writer);
        for (i, id) in ids.iter().enumerate() {
            writer
                .as_mut()
                .write(&[
                    id,
                    &columns.event_ids[i],
                    &columns.occurred_at[i],
                    &columns.severities[i],
                    &columns.error_types[i],
                    &columns.messages[i],
                    &columns.stack_trace_hashes[i],
                    &columns.contexts[i],
                    &columns.system_states[i],
                    &columns.recent_actions[i],
                    &columns.hosts[i],
                    &columns.run_ids[i],
                    &columns.components[i],
                    &columns.labels[i],
                ])
                .await?;
        }
        let copied = writer.as_mut().finish().await?;
        tx.rollback().await?;
        Ok(copied)
    }

    /// The id of the log stored with this event_id, if any.
    pub async fn log_id_for_event(&self, event_id: Uuid) -> Result<Option<Uuid>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT log_id FROM log_events WHERE event_id = $1")
            .await?;
        Ok(client
            .query_opt(&statement, &[&event_id])
            .await?
            .map(|row| row.get(0)))
    }

    /// One log with every detail, or `None`.
    pub async fn get_log(&self, id: Uuid) -> Result<Option<LogEntry>, StoreError> {
        self.read_by_id(|client| read_log(client, id)).await
    }
}

/// [`Store::get_log`] on `client` (given back when done).
async fn read_log(client: super::Reader, id: Uuid) -> Result<Option<LogEntry>, StoreError> {
    let statement = client
        .prepare_cached(&format!(
            "SELECT {FULL_COLUMNS} FROM {LOGS_WITH_TRACES} WHERE logs.id = $1"
        ))
        .await?;
    let entry = client
        .query_opt(&statement, &[&id])
        .await?
        .map(|row| row_to_entry(&row))
        .transpose()?;
    client.finish();
    Ok(entry)
}

impl Store {
    /// One page of logs matching `filter`, newest first, strictly after
    /// `cursor`; with `full` every detail, otherwise the basic columns.
    /// The page ends after `page_size` logs or once it holds about
    /// `max_bytes` (always at least one log); rows are read a few at a time,
    /// so a page of large logs is never held whole beyond that bound.
    pub async fn list_logs(
        &self,
        filter: &LogFilter,
        cursor: Option<PageCursor>,
        page_size: usize,
        full: bool,
        include_total: bool,
        max_bytes: usize,
    ) -> Result<LogPage, StoreError> {
        self.read_replicated(|client| {
            list_logs_on(
                client,
                filter,
                cursor,
                page_size,
                full,
                include_total,
                max_bytes,
            )
        })
        .await
    }
}

/// [`Store::list_logs`] on `client` (given back when done).
async fn list_logs_on(
    mut client: super::Reader,
    filter: &LogFilter,
    cursor: Option<PageCursor>,
    page_size: usize,
    full: bool,
    include_total: bool,
    max_bytes: usize,
) -> Result<LogPage, StoreError> {
    let tx = client.build_transaction().read_only(true).start().await?;
    let total = if include_total {
        let sql = SqlFilter::for_logs(filter);
        let query = format!("SELECT count(*) FROM logs {}", sql.where_clause());
        let count: i64 = tx.query_one(&query, &sql.params()).await?.get(0);
        Some(count as u64)
    } else {
        None
    };
    let mut sql = SqlFilter::for_logs(filter);
    if let Some(cursor) = cursor {
        sql.after_cursor(cursor);
    }
    let limit = sql.param(page_size as i64 + 1);
    let query = format!(
        "SELECT {} FROM {} {} ORDER BY occurred_at DESC, logs.id DESC LIMIT {limit}",
        if full { FULL_COLUMNS } else { BASIC_COLUMNS },
        if full { LOGS_WITH_TRACES } else { "logs" },
        sql.where_clause(),
    );
    let statement = tx.prepare_cached(&query).await?;
    let portal = tx.bind(&statement, &sql.params()).await?;
    let mut fetch = FetchSize::new(full);
    let mut logs = Vec::new();
    let mut bytes = 0usize;
    let mut has_more = false;
    'pages: loop {
        let rows = tx.query_portal(&portal, fetch.rows()).await?;
        if rows.is_empty() {
            break;
        }
        let mut fetched_bytes = 0;
        for row in &rows {
            if logs.len() == page_size {
                has_more = true;
                break 'pages;
            }
            let entry = row_to_entry(row)?;
            let size = entry.approximate_size();
            fetched_bytes += size;
            if bytes + size > max_bytes && !logs.is_empty() {
                has_more = true;
                break 'pages;
            }
            bytes += size;
            logs.push(entry);
        }
        fetch.observe(rows.len(), fetched_bytes);
    }
    drop(portal);
    tx.commit().await?;
    client.finish();
    Ok(LogPage {
        logs,
        has_more,
        total,
    })
}

/// How many rows a cursor reads per round trip: as many as fit in about
/// [`FetchSize::TARGET_BYTES`] going by the rows seen so far, so small logs
/// come in large batches and large logs a few at a time.
pub(super) struct FetchSize {
    /// Rows of the next fetch.
    rows: i32,
}

impl FetchSize {
    /// Bytes one fetch should about bring.
    const TARGET_BYTES: usize = 1024 * 1024;
    /// Most rows of one fetch.
    const MAX_ROWS: i32 = 500;

    /// The first fetch: few rows when they carry every detail.
    pub(super) fn new(full: bool) -> FetchSize {
        FetchSize {
            rows: if full { 8 } else { 100 },
        }
    }

    /// Rows to ask for next.
    pub(super) fn rows(&self) -> i32 {
        self.rows
    }

    /// `count` rows of `bytes` in all arrived: size the next fetch.
    pub(super) fn observe(&mut self, count: usize, bytes: usize) {
        if count == 0 {
            return;
        }
        let per_row = (bytes / count).max(1);
        self.rows = (Self::TARGET_BYTES / per_row).clamp(1, Self::MAX_ROWS as usize) as i32;
    }
}

/// A batch turned into one array per column, as `INSERT_BATCH` takes them.
struct BatchColumns<'a> {
    event_ids: Vec<Option<Uuid>>,
    occurred_at: Vec<DateTime<Utc>>,
    severities: Vec<&'static str>,
    error_types: Vec<&'static str>,
    messages: Vec<&'a str>,
    stack_trace_hashes: Vec<Option<Vec<u8>>>,
    /// The batch's distinct stack traces and their hashes (stored once).
    new_trace_hashes: Vec<Vec<u8>>,
    new_traces: Vec<&'a str>,
    // JSON columns are serialised straight from the domain values (no
    // intermediate `serde_json::Value`, no copies).
    contexts: Vec<Json<&'a serde_json::Map<String, Value>>>,
    system_states: Vec<Option<Json<&'a crate::domain::SystemState>>>,
    recent_actions: Vec<Json<&'a [crate::domain::RecentAction]>>,
    hosts: Vec<&'a str>,
    run_ids: Vec<&'a str>,
    components: Vec<&'a str>,
    labels: Vec<Json<&'a BTreeMap<String, String>>>,
}

impl<'a> BatchColumns<'a> {
    fn from_logs(logs: &'a [NewLog]) -> Result<Self, StoreError> {
        let mut columns = BatchColumns {
            event_ids: Vec::with_capacity(logs.len()),
            occurred_at: Vec::with_capacity(logs.len()),
            severities: Vec::with_capacity(logs.len()),
            error_types: Vec::with_capacity(logs.len()),
            messages: Vec::with_capacity(logs.len()),
            stack_trace_hashes: Vec::with_capacity(logs.len()),
            new_trace_hashes: Vec::new(),
            new_traces: Vec::new(),
            contexts: Vec::with_capacity(logs.len()),
            system_states: Vec::with_capacity(logs.len()),
            recent_actions: Vec::with_capacity(logs.len()),
            hosts: Vec::with_capacity(logs.len()),
            run_ids: Vec::with_capacity(logs.len()),
            components: Vec::with_capacity(logs.len()),
            labels: Vec::with_capacity(logs.len()),
        };
        let mut distinct_traces = std::collections::HashSet::new();
        for log in logs {
            columns.event_ids.push(log.event_id);
            columns.occurred_at.push(log.occurred_at);
            columns.severities.push(log.severity.as_str());
            columns.error_types.push(log.error_type.as_str());
            columns.messages.push(&log.message);
            if log.stack_trace.is_empty() {
                columns.stack_trace_hashes.push(None);
            } else {
                let hash = Sha256::digest(log.stack_trace.as_bytes()).to_vec();
                if distinct_traces.insert(hash.clone()) {
                    columns.new_trace_hashes.push(hash.clone());
                    columns.new_traces.push(&log.stack_trace);
                }
                columns.stack_trace_hashes.push(Some(hash));
            }
            columns.contexts.push(Json(&log.context));
            columns
                .system_states
                .push(log.system_state.as_ref().map(Json));
            columns.recent_actions.push(Json(&log.recent_actions));
            columns.hosts.push(&log.source.host);
            columns.run_ids.push(&log.source.run_id);
            columns.components.push(&log.source.component);
            columns.labels.push(Json(&log.source.labels));
        }
        Ok(columns)
    }
}

/// The distinct fingerprints of a batch, one array per column, as
/// `ENSURE_GROUPS` takes them (the first log of each fingerprint gives its
/// kind).
pub(super) struct GroupColumns<'a> {
    fingerprints: Vec<&'a str>,
    versions: Vec<i32>,
    components: Vec<Value>,
    titles: Vec<&'a str>,
    culprits: Vec<&'a str>,
    exception_types: Vec<&'a str>,
    error_types: Vec<&'static str>,
}

impl<'a> GroupColumns<'a> {
    /// The distinct fingerprints of `prints`, the kind of each taken from
    /// the log it first appears with.
    pub(super) fn from_prints(
        kinds: impl IntoIterator<Item = ErrorType>,
        prints: &'a [Fingerprint],
    ) -> Result<Self, StoreError> {
        let mut columns = GroupColumns {
            fingerprints: Vec::new(),
            versions: Vec::new(),
            components: Vec::new(),
            titles: Vec::new(),
            culprits: Vec::new(),
            exception_types: Vec::new(),
            error_types: Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        for (kind, print) in kinds.into_iter().zip(prints) {
            if !seen.insert(print.hash.as_str()) {
                continue;
            }
            columns.fingerprints.push(&print.hash);
            columns.versions.push(print.version as i32);
            columns.components.push(
                serde_json::to_value(&print.components)
                    .map_err(|e| StoreError::Corrupt(format!("fingerprint components: {e}")))?,
            );
            columns.titles.push(&print.title);
            columns.culprits.push(&print.culprit);
            columns.exception_types.push(&print.exception_type);
            columns.error_types.push(kind.as_str());
        }
        Ok(columns)
    }
}

impl GroupColumns<'_> {
    /// `ENSURE_GROUPS`' parameters.
    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 8] {
        [
            &self.fingerprints,
            &self.versions,
            &self.components,
            &self.titles,
            &self.culprits,
            &self.exception_types,
            &self.error_types,
            &GROUPS_LOCK,
        ]
    }

    /// Runs `ENSURE_GROUPS` for these fingerprints in `tx`.
    pub(super) async fn ensure(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
    ) -> Result<(), StoreError> {
        let ensure = tx.prepare_cached(ENSURE_GROUPS).await?;
        tx.execute(&ensure, &self.params()).await?;
        Ok(())
    }
}

/// Reads a row of `FULL_COLUMNS` (or `BASIC_COLUMNS`) back into a log, by
/// column name (other columns before or after them are ignored).
pub(super) fn row_to_entry(row: &Row) -> Result<LogEntry, StoreError> {
    let severity: &str = row.try_get("severity")?;
    let error_type: &str = row.try_get("error_type")?;
    let context: Option<Value> = row.try_get("context")?;
    let system_state: Option<Value> = row.try_get("system_state")?;
    let recent_actions: Option<Value> = row.try_get("recent_actions")?;
    let labels: Value = row.try_get("source_labels")?;
    let corrupt =
        |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("{what}: {e}"));
    Ok(LogEntry {
        id: row.try_get("id")?,
        event_id: row.try_get("event_id")?,
        occurred_at: row.try_get("occurred_at")?,
        received_at: row.try_get("received_at")?,
        severity: Severity::parse(severity).ok_or_else(|| corrupt("severity", &severity))?,
        error_type: ErrorType::parse(error_type)
            .ok_or_else(|| corrupt("error_type", &error_type))?,
        message: row.try_get("message")?,
        stack_trace: row.try_get("stack_trace")?,
        context: match context {
            Some(Value::Object(map)) => Some(map),
            Some(_) => return Err(corrupt("context", &"not a JSON object")),
            None => None,
        },
        system_state: system_state
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| corrupt("system_state", &e))?,
        recent_actions: recent_actions
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| corrupt("recent_actions", &e))?
            .unwrap_or_default(),
        source: crate::domain::Source {
            host: row.try_get("source_host")?,
            run_id: row.try_get("source_run_id")?,
            component: row.try_get("source_component")?,
            labels: serde_json::from_value::<BTreeMap<String, String>>(labels)
                .map_err(|e| corrupt("source_labels", &e))?,
        },
        group_id: row.try_get("group_id")?,
        fingerprint: row.try_get("fingerprint")?,
    })
}
