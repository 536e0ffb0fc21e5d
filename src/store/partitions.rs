//! Time partitions of `logs` (migration 0014): one per UTC day, named
//! `logs_pYYYYMMDD`. This module knows which days have one (a cache,
//! refreshed when PostgreSQL says a row found none), makes them ahead (today
//! and the next days) and on demand (a batch with a day that has none), and
//! lets retention drop a whole day at once while the hourly counts, the error
//! groups' counts, hosts, runs and first/last seen, and the stack traces stay
//! exact (a group's top severity is kept; see [`Store::drop_oldest_day`]).

use std::collections::BTreeSet;

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use tokio_postgres::IsolationLevel;

use crate::domain::NewLog;

use super::{
    Store, StoreError,
    clear::{RETENTION_LOCK, TraceSet},
    groups::GROUPS_LOCK,
    notify::LOGS_CLEARED_CHANNEL,
};

/// Advisory lock taken by whoever makes or drops partitions ("parts").
const PARTITIONS_LOCK: i64 = 0x70_6172_7473;

/// Days after today that always have their partition (made at start-up and
/// by the hourly upkeep), so a day's first logs never wait for one.
const DAYS_AHEAD: u64 = 3;

/// How long making a partition waits for its lock on `logs` (SHARE UPDATE
/// EXCLUSIVE: only another partition change or a VACUUM of `logs` holds it).
const MAKE_LOCK_WAIT_MS: u32 = 5_000;

/// How long dropping a partition waits for its exclusive lock on `logs`.
/// Reads and inserts queue behind a waiting exclusive lock, so this is also
/// the longest a drop can hold them up per attempt.
const DROP_LOCK_WAIT_MS: u32 = 500;

/// The days known to have a partition; shared by a diagd's clones of
/// [`Store`].
#[derive(Default)]
pub(super) struct KnownDays(std::sync::Mutex<BTreeSet<NaiveDate>>);

impl KnownDays {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<NaiveDate>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The UTC day of a time.
fn day_of(at: DateTime<Utc>) -> NaiveDate {
    at.date_naive()
}

/// A day's partition name.
fn partition_name(day: NaiveDate) -> String {
    format!("logs_p{}", day.format("%Y%m%d"))
}

/// The days that have a partition of `logs`, oldest first, as `client`
/// (a connection or a transaction, in its snapshot) sees them.
pub(super) async fn days_with_partitions(
    client: &impl tokio_postgres::GenericClient,
) -> Result<Vec<NaiveDate>, StoreError> {
    let rows = client
        .query(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'logs'::regclass",
            &[],
        )
        .await?;
    let mut days: Vec<NaiveDate> = rows
        .iter()
        .filter_map(|row| day_of_partition(row.get::<_, &str>(0)))
        .collect();
    days.sort_unstable();
    Ok(days)
}

/// The time range a day's partition holds: [start, start of the next day).
pub fn bounds_of(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let low = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    (low, low + TimeDelta::days(1))
}

/// The day of a partition name, `None` for a table that is not one.
fn day_of_partition(name: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(name.strip_prefix("logs_p")?, "%Y%m%d").ok()
}

/// True when PostgreSQL refused a row for having no partition: a check
/// violation that names no constraint (the table's own checks have names).
pub(super) fn is_missing_partition(e: &StoreError) -> bool {
    match e {
        StoreError::Query(e) => e.as_db_error().is_some_and(|db| {
            db.code() == &tokio_postgres::error::SqlState::CHECK_VIOLATION
                && db.constraint().is_none()
        }),
        _ => false,
    }
}

/// One day dropped by retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedDay {
    /// The day.
    pub day: NaiveDate,
    /// Logs it held.
    pub logs: u64,
}

/// Why the oldest day may go.
#[derive(Debug, Clone, Copy)]
pub struct DropRule {
    /// Every log of the day occurred before this.
    pub before: Option<DateTime<Utc>>,
    /// At least this many logs stay after the day goes.
    pub keep_rows: Option<u64>,
}

impl Store {
    /// Makes sure each day of `days` has its partition; days this diagd
    /// already knows to have one cost nothing.
    pub(super) async fn ensure_partitions(
        &self,
        days: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<(), StoreError> {
        let missing: Vec<NaiveDate> = {
            let known = self.known_days.lock();
            let mut missing: Vec<NaiveDate> = days
                .into_iter()
                .filter(|day| !known.contains(day))
                .collect();
            missing.sort_unstable();
            missing.dedup();
            missing
        };
        if missing.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.batch_execute(&format!("SET LOCAL lock_timeout = {MAKE_LOCK_WAIT_MS}"))
            .await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITIONS_LOCK])
            .await?;
        let made: i64 = tx
            .query_one(
                "SELECT count(*) FILTER (WHERE diagd_ensure_log_partition(day)) \
                 FROM unnest($1::date[]) AS day",
                &[&missing],
            )
            .await?
            .get(0);
        tx.commit().await?;
        if made > 0 {
            tracing::debug!(made, "made log partitions");
        }
        self.known_days.lock().extend(missing);
        Ok(())
    }

    /// Makes sure the day of every log of `logs` has its partition.
    pub(super) async fn ensure_partitions_of(&self, logs: &[NewLog]) -> Result<(), StoreError> {
        self.ensure_partitions(logs.iter().map(|log| day_of(log.occurred_at)))
            .await
    }

    /// Forgets which days have partitions (another diagd dropped one); the
    /// next insert asks again.
    pub(super) fn forget_partitions(&self) {
        self.known_days.lock().clear();
    }

    /// The upkeep, at start-up and hourly: today and the next
    /// [`DAYS_AHEAD`] days get their partitions, and the days that have one
    /// are read again. Returns how many days have a partition.
    pub async fn maintain_partitions(&self) -> Result<usize, StoreError> {
        let today = day_of(Utc::now());
        let days = (0..=DAYS_AHEAD).filter_map(|n| today.checked_add_days(Days::new(n)));
        // Replaced in one step: inserts meanwhile see the old set or the new.
        let existing: BTreeSet<NaiveDate> = self.partition_days().await?.into_iter().collect();
        *self.known_days.lock() = existing;
        self.ensure_partitions(days).await?;
        Ok(self.known_days.lock().len())
    }

    /// The days that have a partition, oldest first.
    pub async fn partition_days(&self) -> Result<Vec<NaiveDate>, StoreError> {
        let client = self.client().await?;
        days_with_partitions(&**client).await
    }

    /// Retention: drops the oldest day's partition when `rule` lets it go,
    /// lowering the error groups' figures by its logs, removing its hourly
    /// and minute counts and forgetting its event ids in the same
    /// transaction. `Ok(None)` when the oldest day must stay, when another
    /// diagd runs retention, or when a lock was not had in time (retention
    /// then deletes the day's rows in batches, or drops it next run).
    ///
    /// Locks, in order: the day's partition (EXCLUSIVE: inserts into that
    /// day wait, reads go on) while the day is counted and its event ids are
    /// deleted; then `logs` itself (ACCESS EXCLUSIVE, waited for at most
    /// [`DROP_LOCK_WAIT_MS`]) only for the short part: the counts' updates
    /// from what was counted, and the DROP (a fingerprint left empty loses
    /// its first/last seen there). After the commit: the touched
    /// fingerprints' first seen, their groups' figures (hosts and runs only
    /// where a fingerprint lost one). A group's top severity is not
    /// recounted (it stays the most severe level it had until it is empty):
    /// that would read every hourly count of every touched fingerprint.
    pub async fn drop_oldest_day(&self, rule: DropRule) -> Result<Option<DroppedDay>, StoreError> {
        let Some(&day) = self.partition_days().await?.first() else {
            return Ok(None);
        };
        let (low, high) = bounds_of(day);
        if rule.before.is_some_and(|before| high > before) {
            return Ok(None);
        }
        if rule.keep_rows.is_some() && day >= day_of(Utc::now()) {
            // Never today or the days made ahead.
            return Ok(None);
        }
        let started = std::time::Instant::now();
        let dropped = match self.drop_day(day, low, high, rule.keep_rows).await {
            Err(StoreError::Query(e))
                if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) =>
            {
                tracing::info!(%day, "retention could not lock a day's partition in time; it deletes rows instead");
                return Ok(None);
            }
            other => other?,
        };
        let Some((logs, traces, touched_prints)) = dropped else {
            return Ok(None);
        };
        self.known_days.lock().remove(&day);
        self.changed_for_readers();
        let dropped_in = started.elapsed();
        if let Err(e) = self.refresh_prints_after_drop(&touched_prints).await {
            tracing::warn!(error = %e, "could not recompute the first seen of groups after dropping a day");
        }
        let refreshed_in = started.elapsed() - dropped_in;
        self.delete_unreferenced_traces(TraceSet::Of(&traces)).await;
        tracing::info!(
            %day,
            logs,
            drop_ms = dropped_in.as_millis() as u64,
            groups_ms = refreshed_in.as_millis() as u64,
            traces_ms = (started.elapsed() - dropped_in - refreshed_in).as_millis() as u64,
            "dropped a day of logs"
        );
        Ok(Some(DroppedDay { day, logs }))
    }

    /// The transaction of [`Store::drop_oldest_day`]: the day's logs, its
    /// traces and fingerprints, or `None` when it stays.
    async fn drop_day(
        &self,
        day: NaiveDate,
        low: DateTime<Utc>,
        high: DateTime<Utc>,
        keep_rows: Option<u64>,
    ) -> Result<Option<(u64, Vec<Vec<u8>>, Vec<String>)>, StoreError> {
        let name = super::quote_identifier(&partition_name(day));
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await?;
        tx.batch_execute(&format!("SET LOCAL lock_timeout = {DROP_LOCK_WAIT_MS}"))
            .await?;
        let locked: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&RETENTION_LOCK])
            .await?
            .get(0);
        if !locked {
            return Ok(None);
        }
        // Same order as making partitions; then shared as inserts hold it,
        // so no merge or split moves the day's logs while their groups'
        // counts are lowered.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITIONS_LOCK])
            .await?;
        tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&GROUPS_LOCK])
            .await?;
        // No insert or delete changes the day while it is counted: those
        // wait for the drop, then find no partition, make it again and go on.
        match tx
            .batch_execute(&format!("LOCK TABLE {name} IN EXCLUSIVE MODE"))
            .await
        {
            Ok(()) => {}
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(keep) = keep_rows {
            // The logs left once the day is gone, from the hourly counts
            // (kept in the transactions that insert and delete logs; no
            // scan of the day for a drop that may not happen), in one read.
            let left: i64 = tx
                .query_one(
                    "SELECT coalesce(sum(log_count) FILTER (WHERE hour < $1 OR hour >= $2), 0)::bigint \
                     FROM log_counts_kind_hourly",
                    &[&low, &high],
                )
                .await?
                .get(0);
            if left < keep as i64 {
                return Ok(None);
            }
        }
        // Counted once, before `logs` is locked: what the day takes from each
        // fingerprint, host, run and group. Its event ids go now, in this
        // transaction: a log sent again with one of them after the commit is
        // stored anew, and one sent meanwhile waits for the commit.
        tx.batch_execute(&COUNT_DAY.replace("{day}", &name)).await?;
        tx.execute(DELETE_DAY_EVENTS, &[&low, &high]).await?;
        let row = tx.query_one(DROPPED_DAY_SUMMARY, &[]).await?;
        let logs: i64 = row.try_get(0)?;
        let traces: Vec<Vec<u8>> = row.try_get(1)?;
        let touched_prints: Vec<String> = row.try_get(2)?;
        // The day's own counts: no other day's insert touches these rows.
        tx.execute(DELETE_DAY_COUNTS, &[&low, &high]).await?;
        // The counts shared with other days' logs only under the lock on
        // `logs`, which waits for every insert in flight to commit: none can
        // then hold (or wait for) these rows while the drop waits for it.
        // Reads wait too (about 3 s at 10,000,000 logs, BENCHMARKS.md).
        // EXCLUSIVE here and ACCESS EXCLUSIVE only for the DROP was tried:
        // a reader open at the upgrade (an export) then makes the drop fail
        // after blocking writes for the whole update, and an export-first
        // ClearLogs (holding ACCESS SHARE, then wanting ROW EXCLUSIVE) can
        // deadlock with it.
        tx.batch_execute("LOCK TABLE logs IN ACCESS EXCLUSIVE MODE")
            .await?;
        tx.execute(DROP_DAY, &[]).await?;
        tx.batch_execute(&format!("DROP TABLE {name}")).await?;
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&LOGS_CLEARED_CHANNEL, &logs.to_string()],
        )
        .await?;
        tx.commit().await?;
        Ok(Some((logs.max(0) as u64, traces, touched_prints)))
    }

    /// The first seen of the fingerprints a dropped day touched, and their
    /// groups' figures, from what remains.
    async fn refresh_prints_after_drop(&self, touched_prints: &[String]) -> Result<(), StoreError> {
        if touched_prints.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await?;
        tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&GROUPS_LOCK])
            .await?;
        let emptied: Vec<String> = tx
            .query(REFRESH_AFTER_DROP, &[&touched_prints])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        // Hosts and runs counted again only for the groups of fingerprints
        // that lost a host or run; the others' did not change.
        tx.execute(
            &format!(
                "WITH touched AS (SELECT DISTINCT group_id FROM group_fingerprints WHERE fingerprint = ANY($1)),
                 emptied AS (SELECT DISTINCT group_id FROM group_fingerprints WHERE fingerprint = ANY($2))
                 {}",
                super::groups::refresh_group_figures_where(
                    "e.id IN (SELECT group_id FROM touched)",
                    "e.id IN (SELECT group_id FROM emptied)"
                )
            ),
            &[&touched_prints, &emptied],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// After the oldest day was dropped, per touched fingerprint: the first
/// seen is the oldest log of its first hour still counted (one day's
/// partition, not every day's index); the last seen and top severity stay
/// unless no log is left (the last seen lies in a later day; the top
/// severity stays the most severe level the fingerprint had, which exact
/// recounting would cost a read of all its hourly counts: ClearLogs and
/// row deletes do recount it). Emptied host and run rows go.
const REFRESH_AFTER_DROP: &str = "
WITH refreshed AS (
    UPDATE group_fingerprints g
    SET first_seen = CASE WHEN g.event_count <= 0 THEN NULL ELSE coalesce(
            (SELECT min(l.occurred_at)
             FROM (SELECT min(hour) AS hour FROM fingerprint_counts_hourly c
                   WHERE c.fingerprint = g.fingerprint AND c.log_count > 0) b
             JOIN logs l ON l.occurred_at >= b.hour AND l.occurred_at < b.hour + interval '1 hour'
             WHERE l.group_id = g.group_id AND l.fingerprint = g.fingerprint),
            -- No counted hour in this snapshot (a log came after the drop's
            -- commit): every day's.
            (SELECT min(occurred_at) FROM logs l WHERE l.group_id = g.group_id AND l.fingerprint = g.fingerprint)) END,
        last_seen = CASE WHEN g.event_count <= 0 THEN NULL ELSE g.last_seen END,
        top_severity = CASE WHEN g.event_count <= 0 THEN NULL ELSE g.top_severity END
    WHERE g.fingerprint = ANY($1)
),
hosts AS (
    DELETE FROM fingerprint_hosts WHERE fingerprint = ANY($1) AND log_count <= 0 RETURNING fingerprint
),
runs AS (
    DELETE FROM fingerprint_runs WHERE fingerprint = ANY($1) AND log_count <= 0 RETURNING fingerprint
)
SELECT DISTINCT fingerprint FROM (SELECT fingerprint FROM hosts UNION ALL SELECT fingerprint FROM runs) emptied";

/// What a dropped day takes, counted in one read of its partition before
/// `logs` is locked (into a temporary table gone at commit): per
/// fingerprint, group, host, run and stack trace.
const COUNT_DAY: &str = "
CREATE TEMPORARY TABLE diagd_dropped_day ON COMMIT DROP AS
SELECT fingerprint, group_id, source_host, source_run_id, stack_trace_hash, count(*) AS removed
FROM {day}
GROUP BY 1, 2, 3, 4, 5";

/// The dropped day's event ids (each claims the `occurred_at` of its log:
/// a range of the BRIN index, not a join with the day).
const DELETE_DAY_EVENTS: &str =
    "DELETE FROM log_events WHERE occurred_at >= $1 AND occurred_at < $2";

/// From the counted day: its logs, stack traces and fingerprints.
const DROPPED_DAY_SUMMARY: &str = "
SELECT coalesce(sum(removed), 0)::bigint,
       coalesce(array_agg(DISTINCT stack_trace_hash) FILTER (WHERE stack_trace_hash IS NOT NULL), '{}'),
       coalesce(array_agg(DISTINCT fingerprint) FILTER (WHERE fingerprint IS NOT NULL), '{}')
FROM diagd_dropped_day";

/// The counts a dropped day takes with it, relative to what stays
/// (concurrent inserts into other days keep theirs): the error groups' and
/// fingerprints' counts, hosts and runs lowered by the day's logs (from
/// `diagd_dropped_day`).
const DROP_DAY: &str = concat!(
    "
WITH adjusted_prints AS (
    -- A fingerprint left without logs has no first/last seen or top
    -- severity, in this transaction already.
    UPDATE group_fingerprints AS g
    SET event_count = g.event_count - p.removed,
        first_seen = CASE WHEN g.event_count - p.removed <= 0 THEN NULL ELSE g.first_seen END,
        last_seen = CASE WHEN g.event_count - p.removed <= 0 THEN NULL ELSE g.last_seen END,
        top_severity = CASE WHEN g.event_count - p.removed <= 0 THEN NULL ELSE g.top_severity END
    FROM (SELECT fingerprint, sum(removed) AS removed FROM diagd_dropped_day
          WHERE fingerprint IS NOT NULL GROUP BY 1) p
    WHERE g.fingerprint = p.fingerprint
),
",
    lower_group_figures!("diagd_dropped_day", "sum(removed)"),
    "done AS (SELECT 1)
SELECT 1"
);

/// The day's hourly and minute counts, removed (a day holds whole hours and
/// minutes).
const DELETE_DAY_COUNTS: &str = "
WITH print_hours AS (
    DELETE FROM fingerprint_counts_hourly WHERE hour >= $1 AND hour < $2
),
hours AS (
    DELETE FROM log_counts_hourly WHERE hour >= $1 AND hour < $2
),
kinds AS (
    DELETE FROM log_counts_kind_hourly WHERE hour >= $1 AND hour < $2
)
DELETE FROM log_counts_minutely WHERE minute >= $1 AND minute < $2";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_and_days_round_trip() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        assert_eq!(partition_name(day), "logs_p20261202");
        assert_eq!(day_of_partition("logs_p20261202"), Some(day));
        assert_eq!(day_of_partition("logs"), None);
        assert_eq!(day_of_partition("logs_pxyz"), None);
        let (low, high) = bounds_of(day);
        assert_eq!(low.to_rfc3339(), "2026-12-02T00:00:00+00:00");
        assert_eq!(high.to_rfc3339(), "2026-12-03T00:00:00+00:00");
    }
}
