//! Error groups in PostgreSQL: listing and reading them (their figures are
//! the sums of their fingerprints' maintained counts), changing their
//! triage, and merging and splitting them. Groups are created and counted
//! on the insert path (`logs.rs`); a merge or split moves fingerprints and
//! their logs under [`GROUPS_LOCK`], which every insert holds shared, so no
//! log is stored under a group its fingerprint just left.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{
    Reader, Store, StoreError,
    filter::like_folded,
    logs::{FULL_COLUMNS, GroupColumns, LOGS_WITH_TRACES, row_to_entry},
};
use crate::domain::{
    ErrorType, Severity,
    fingerprint::{Components, Fingerprint},
    group::{
        BucketCount, BucketWidth, ErrorGroup, GroupCursor, GroupDetail, GroupFilter,
        GroupFingerprint, GroupNote, GroupOrder, GroupRefusal, GroupStatus, GroupUpdate,
        IgnoreRule, ValueCount,
    },
    report::ReportGroup,
};

/// Advisory lock between inserts (shared, from before they read their
/// fingerprints' groups until they commit) and merges and splits
/// (exclusive) — "groups" in ASCII.
pub(crate) const GROUPS_LOCK: i64 = 0x6772_6f75_7073;

/// A group's columns as `row_to_group` reads them (from `error_groups e`).
/// An ignore whose time has passed reads as unresolved.
const GROUP_COLUMNS: &str = "
       e.id, e.title, e.culprit, e.exception_type, e.error_type,
       CASE WHEN e.status = 'ignored' AND e.ignored_until <= now() THEN 'unresolved' ELSE e.status END AS status,
       e.status_changed_at, e.status_changed_by,
       CASE WHEN e.ignored_until <= now() THEN NULL ELSE e.ignored_until END AS ignored_until,
       e.ignored_events_left, e.regressed_at, e.note, e.note_author, e.note_updated_at, e.created_at,
       e.event_count, e.first_seen, e.last_seen, e.top_severity, e.hosts, e.runs";

/// Per group `g.id` of a page: how many fingerprints land in it.
const FINGERPRINT_COUNT: &str =
    "(SELECT count(*) FROM group_fingerprints f WHERE f.group_id = g.id)::integer AS fingerprints";

/// Logs of group `g.id` since `{since}` (a placeholder), from the hourly counts.
const WINDOW_COUNT: &str = "
    (SELECT coalesce(sum(h.log_count), 0)::bigint
     FROM group_fingerprints f JOIN fingerprint_counts_hourly h ON h.fingerprint = f.fingerprint
     WHERE f.group_id = g.id AND h.hour >= {since})";

/// Most fingerprints GetGroup lists (the largest first).
const MAX_LISTED_FINGERPRINTS: i64 = 20;
/// Most hosts and runs GetGroup lists.
const TOP_SOURCES: i64 = 10;
/// Longest chain of merges followed from an id.
const MAX_MERGE_HOPS: usize = 16;

/// A page of groups.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPage {
    /// The groups, in order.
    pub groups: Vec<ErrorGroup>,
    /// Where the next page starts; `None` on the last.
    pub next: Option<GroupCursor>,
}

/// What a merge or split did.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMove {
    /// The group that received the fingerprints.
    pub group: ErrorGroup,
    /// Logs moved into it.
    pub moved_logs: u64,
}

impl Store {
    /// One page of groups matching `filter` in `order`, after `cursor`.
    /// `window_start` is where `window_count` (and the growth order) starts.
    pub async fn list_groups(
        &self,
        filter: &GroupFilter,
        order: GroupOrder,
        window_start: DateTime<Utc>,
        cursor: Option<GroupCursor>,
        page_size: usize,
        max_bytes: usize,
    ) -> Result<GroupPage, StoreError> {
        let mut params: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = Vec::new();
        let mut param = |value: Box<dyn tokio_postgres::types::ToSql + Sync + Send>| {
            params.push(value);
            format!("${}", params.len())
        };
        let since = param(Box::new(window_start));
        let window = WINDOW_COUNT.replace("{since}", &since);
        let mut conditions = vec!["e.merged_into IS NULL".to_string()];
        if !filter.include_empty {
            conditions.push("e.event_count > 0".to_string());
        }
        if !filter.statuses.is_empty() {
            let names: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
            conditions.push(format!(
                "(CASE WHEN e.status = 'ignored' AND e.ignored_until <= now() THEN 'unresolved' \
                 ELSE e.status END) = ANY({})",
                param(Box::new(names))
            ));
        }
        if !filter.severities.is_empty() {
            let ranks: Vec<i16> = filter
                .severities
                .iter()
                .map(|s| severity_rank(*s))
                .collect();
            conditions.push(format!("e.top_severity = ANY({})", param(Box::new(ranks))));
        }
        if !filter.error_types.is_empty() {
            let names: Vec<&str> = filter.error_types.iter().map(|t| t.as_str()).collect();
            conditions.push(format!("e.error_type = ANY({})", param(Box::new(names))));
        }
        if let Some(since) = filter.since {
            conditions.push(format!("e.last_seen >= {}", param(Box::new(since))));
        }
        if let Some(until) = filter.until {
            conditions.push(format!("e.last_seen < {}", param(Box::new(until))));
        }
        for (value, table, column) in [
            (&filter.host, "fingerprint_hosts", "source_host"),
            (&filter.run_id, "fingerprint_runs", "source_run_id"),
        ] {
            if !value.is_empty() {
                let p = param(Box::new(value.clone()));
                conditions.push(format!(
                    "EXISTS (SELECT 1 FROM group_fingerprints f JOIN {table} s \
                     ON s.fingerprint = f.fingerprint WHERE f.group_id = e.id AND s.{column} = {p})"
                ));
            }
        }
        if !filter.text.is_empty() {
            let p = param(Box::new(like_folded(&filter.text)));
            conditions.push(format!(
                "(diagd_fold(e.title) LIKE {p} OR diagd_fold(e.culprit) LIKE {p})"
            ));
        }
        // Without empty groups, the time and count orders follow an index
        // (error_groups_last_seen, …): a page reads about its own rows. The
        // others compute their key for every matching group.
        let micros = |column: &str| {
            format!("coalesce((extract(epoch FROM e.{column}) * 1000000)::bigint, -1)")
        };
        let (key, order_by, indexed) = match order {
            GroupOrder::LastSeen => (micros("last_seen"), "e.last_seen", true),
            GroupOrder::FirstSeen => (micros("first_seen"), "e.first_seen", true),
            GroupOrder::Count => ("e.event_count".to_string(), "e.event_count", true),
            GroupOrder::Growth => (window.replace("g.id", "e.id"), "sort_key", false),
        };
        let indexed = indexed && !filter.include_empty;
        if let Some(cursor) = cursor {
            let i = param(Box::new(cursor.id));
            if indexed && order != GroupOrder::Count {
                let at = DateTime::<Utc>::from_timestamp_micros(cursor.key).ok_or_else(|| {
                    StoreError::Corrupt(format!("group page position {}", cursor.key))
                })?;
                let k = param(Box::new(at));
                conditions.push(format!("({order_by}, e.id) < ({k}, {i})"));
            } else if indexed {
                let k = param(Box::new(cursor.key));
                conditions.push(format!("({order_by}, e.id) < ({k}, {i})"));
            } else {
                let k = param(Box::new(cursor.key));
                conditions.push(format!("({key}, e.id) < ({k}, {i})"));
            }
        }
        let limit = param(Box::new(page_size as i64 + 1));
        let sort = if indexed {
            format!("{order_by} DESC, e.id DESC")
        } else {
            format!("{key} DESC, e.id DESC")
        };
        let query = format!(
            "SELECT g.*, {window} AS window_count, {FINGERPRINT_COUNT}
             FROM (SELECT {GROUP_COLUMNS}, {key} AS sort_key FROM error_groups e
                   WHERE {conditions} ORDER BY {sort} LIMIT {limit}) g
             ORDER BY sort_key DESC, id DESC",
            conditions = conditions.join(" AND "),
        );
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let rows = self
            .read_replicated(|client| client.query_then_finish(&query, &params))
            .await?;
        let mut groups = Vec::with_capacity(rows.len());
        let mut keys = Vec::with_capacity(rows.len());
        let mut bytes = 0;
        let mut more = rows.len() > page_size;
        for row in rows.iter().take(page_size) {
            let group = row_to_group(row)?;
            bytes += group.approximate_size();
            if bytes > max_bytes && !groups.is_empty() {
                more = true;
                break;
            }
            groups.push(group);
            keys.push(row.try_get::<_, i64>("sort_key")?);
        }
        let next = if more {
            groups
                .last()
                .zip(keys.last())
                .map(|(g, k)| GroupCursor { key: *k, id: g.id })
        } else {
            None
        };
        Ok(GroupPage { groups, next })
    }

    /// Logs stored before grouping existed and not grouped yet.
    pub async fn ungrouped_logs(&self) -> Result<u64, StoreError> {
        let client = self.reader().await?;
        let count: i64 = client
            .query_one("SELECT count(*) FROM logs WHERE group_id IS NULL", &[])
            .await?
            .get(0);
        client.finish();
        Ok(count as u64)
    }

    /// The group `id` ends up in after merges (itself when never merged),
    /// or `None` when there is no such group.
    pub async fn resolve_group(&self, id: i64) -> Result<Option<i64>, StoreError> {
        let client = self.client().await?;
        resolve(&client, id).await
    }

    /// Group `id` (already resolved) with its latest log, fingerprints,
    /// histogram of `buckets` buckets of `width` ending now, and top sources.
    pub async fn get_group(
        &self,
        id: i64,
        buckets: u32,
        width: BucketWidth,
    ) -> Result<Option<GroupDetail>, StoreError> {
        self.read_by_id(|client| group_detail(client, id, buckets, width))
            .await
    }
}

/// [`Store::get_group`] on `client` (given back when done).
async fn group_detail(
    mut client: Reader,
    id: i64,
    buckets: u32,
    width: BucketWidth,
) -> Result<Option<GroupDetail>, StoreError> {
    let tx = client.build_transaction().read_only(true).start().await?;
    let Some(group) = read_group(&tx, id, Utc::now() - TimeDelta::hours(24)).await? else {
        tx.commit().await?;
        client.finish();
        return Ok(None);
    };
    let latest_log = tx
        .query_opt(
            &format!(
                "SELECT {FULL_COLUMNS} FROM {LOGS_WITH_TRACES} WHERE logs.group_id = $1 \
                     ORDER BY occurred_at DESC, logs.id DESC LIMIT 1"
            ),
            &[&id],
        )
        .await?
        .map(|row| row_to_entry(&row))
        .transpose()?;
    let fingerprints = tx
        .query(
            "SELECT fingerprint, version, components, title, event_count, added_at \
                 FROM group_fingerprints WHERE group_id = $1 \
                 ORDER BY event_count DESC, fingerprint LIMIT $2",
            &[&id, &MAX_LISTED_FINGERPRINTS],
        )
        .await?
        .iter()
        .map(row_to_fingerprint)
        .collect::<Result<Vec<_>, _>>()?;
    // The counts are hourly: a finer width is read as hours.
    let width = if width == BucketWidth::Minute {
        BucketWidth::Hour
    } else {
        width
    };
    let (step, unit) = (width.step(), width.unit());
    let now = Utc::now();
    let last = now
        .duration_trunc(step)
        .map_err(|e| StoreError::Corrupt(format!("bucket: {e}")))?;
    let first = last - step * (buckets.max(1) as i32 - 1);
    let counted = tx
            .query(
                "SELECT date_trunc($3, h.hour, 'UTC') AS bucket, sum(h.log_count)::bigint AS count
                 FROM group_fingerprints f JOIN fingerprint_counts_hourly h ON h.fingerprint = f.fingerprint
                 WHERE f.group_id = $1 AND h.hour >= $2
                 GROUP BY 1",
                &[&id, &first, &unit],
            )
            .await?;
    let mut histogram: Vec<BucketCount> = (0..buckets.max(1))
        .map(|i| BucketCount {
            start: first + step * i as i32,
            count: 0,
        })
        .collect();
    for row in &counted {
        let bucket: DateTime<Utc> = row.try_get("bucket")?;
        let count: i64 = row.try_get("count")?;
        if let Some(slot) = histogram.iter_mut().find(|b| b.start == bucket) {
            slot.count = count.max(0) as u64;
        }
    }
    let mut top = Vec::new();
    for (table, column) in [
        ("fingerprint_hosts", "source_host"),
        ("fingerprint_runs", "source_run_id"),
    ] {
        let rows = tx
            .query(
                &format!(
                    "SELECT s.{column} AS value, sum(s.log_count)::bigint AS count
                         FROM group_fingerprints f JOIN {table} s ON s.fingerprint = f.fingerprint
                         WHERE f.group_id = $1 AND s.{column} <> ''
                         GROUP BY 1 HAVING sum(s.log_count) > 0
                         ORDER BY 2 DESC, 1 LIMIT $2"
                ),
                &[&id, &TOP_SOURCES],
            )
            .await?;
        top.push(
            rows.iter()
                .map(|row| {
                    Ok(ValueCount {
                        value: row.try_get("value")?,
                        count: row.try_get::<_, i64>("count")?.max(0) as u64,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?,
        );
    }
    tx.commit().await?;
    client.finish();
    let top_runs = top.pop().unwrap_or_default();
    let top_hosts = top.pop().unwrap_or_default();
    Ok(Some(GroupDetail {
        group,
        latest_log,
        fingerprints,
        histogram,
        top_hosts,
        top_runs,
    }))
}

impl Store {
    /// Applies `update` to group `id` (already resolved); the group after,
    /// or `None` when there is no such group.
    pub async fn update_group(
        &self,
        id: i64,
        update: &GroupUpdate,
    ) -> Result<Option<ErrorGroup>, StoreError> {
        let (status, until, events): (Option<&str>, Option<DateTime<Utc>>, Option<i64>) =
            match update.status {
                None => (None, None, None),
                Some((status, rule)) => match rule {
                    Some(IgnoreRule::Until(t)) => (Some(status.as_str()), Some(t), None),
                    Some(IgnoreRule::ForEvents(n)) => (
                        Some(status.as_str()),
                        None,
                        Some(n.min(i64::MAX as u64) as i64),
                    ),
                    Some(IgnoreRule::Forever) | None => (Some(status.as_str()), None, None),
                },
            };
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE error_groups SET
                    status = coalesce($2, status),
                    status_changed_at = CASE WHEN $2::text IS NULL THEN status_changed_at ELSE now() END,
                    status_changed_by = CASE WHEN $2::text IS NULL THEN status_changed_by ELSE $7 END,
                    ignored_until = CASE WHEN $2::text IS NULL THEN ignored_until ELSE $3 END,
                    ignored_events_left = CASE WHEN $2::text IS NULL THEN ignored_events_left ELSE $4 END,
                    note = CASE WHEN $5 THEN $6 ELSE note END,
                    note_author = CASE WHEN $5 THEN $7 ELSE note_author END,
                    note_updated_at = CASE WHEN $5 THEN now() ELSE note_updated_at END
                 WHERE id = $1 AND merged_into IS NULL",
                &[
                    &id,
                    &status,
                    &until,
                    &events,
                    &update.note.is_some(),
                    &update.note.clone().unwrap_or_default(),
                    &update.actor,
                ],
            )
            .await?;
        if changed == 0 {
            return Ok(None);
        }
        self.changed_for_readers();
        read_group(&client, id, Utc::now() - TimeDelta::hours(24)).await
    }

    /// Merges `sources` into `target` (all resolved, distinct): their
    /// fingerprints and logs move, and the sources point at the target.
    pub async fn merge_groups(
        &self,
        target: i64,
        sources: &[i64],
    ) -> Result<Result<GroupMove, GroupRefusal>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&GROUPS_LOCK])
            .await?;
        let mut all = sources.to_vec();
        all.push(target);
        all.sort_unstable();
        let found: Vec<i64> = tx
            .query(
                "SELECT id FROM error_groups WHERE id = ANY($1) AND merged_into IS NULL \
                 ORDER BY id FOR UPDATE",
                &[&all],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if let Some(missing) = all.iter().find(|id| !found.contains(id)) {
            return Ok(Err(GroupRefusal::NotFound(*missing)));
        }
        tx.execute(
            "UPDATE group_fingerprints SET group_id = $1 WHERE group_id = ANY($2)",
            &[&target, &sources],
        )
        .await?;
        let moved = tx
            .execute(
                "UPDATE logs SET group_id = $1 WHERE group_id = ANY($2)",
                &[&target, &sources],
            )
            .await?;
        // The target keeps its own note; without one it takes a source's.
        tx.execute(
            "UPDATE error_groups t SET note = s.note, note_author = s.note_author, note_updated_at = s.note_updated_at
             FROM (SELECT note, note_author, note_updated_at FROM error_groups
                   WHERE id = ANY($2) AND note <> '' ORDER BY note_updated_at DESC NULLS LAST LIMIT 1) s
             WHERE t.id = $1 AND t.note = ''",
            &[&target, &sources],
        )
        .await?;
        tx.execute(
            "UPDATE error_groups SET merged_into = $1 WHERE id = ANY($2) OR merged_into = ANY($2)",
            &[&target, &sources],
        )
        .await?;
        tx.execute(
            &refresh_group_figures_where("e.id = ANY($1)", "true"),
            &[&all],
        )
        .await?;
        let group = read_group(&tx, target, Utc::now() - TimeDelta::hours(24))
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("group {target} vanished in a merge")))?;
        tx.commit().await?;
        self.changed_for_readers();
        Ok(Ok(GroupMove {
            group,
            moved_logs: moved,
        }))
    }

    /// Moves `fingerprint` and its logs out of group `id` (resolved) into a
    /// new group, which is returned.
    pub async fn split_group(
        &self,
        id: i64,
        fingerprint: &str,
    ) -> Result<Result<GroupMove, GroupRefusal>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&GROUPS_LOCK])
            .await?;
        let exists = tx
            .query_opt(
                "SELECT id FROM error_groups WHERE id = $1 AND merged_into IS NULL FOR UPDATE",
                &[&id],
            )
            .await?;
        if exists.is_none() {
            return Ok(Err(GroupRefusal::NotFound(id)));
        }
        let members: Vec<String> = tx
            .query(
                "SELECT fingerprint FROM group_fingerprints WHERE group_id = $1",
                &[&id],
            )
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        if !members.iter().any(|f| f == fingerprint) {
            return Ok(Err(GroupRefusal::FingerprintNotInGroup(
                fingerprint.to_string(),
            )));
        }
        if members.len() < 2 {
            return Ok(Err(GroupRefusal::LastFingerprint));
        }
        let new_id: i64 = tx
            .query_one(
                "INSERT INTO error_groups (title, culprit, exception_type, error_type)
                 SELECT title, culprit, exception_type, error_type FROM group_fingerprints WHERE fingerprint = $1
                 RETURNING id",
                &[&fingerprint],
            )
            .await?
            .get(0);
        tx.execute(
            "UPDATE group_fingerprints SET group_id = $1 WHERE fingerprint = $2",
            &[&new_id, &fingerprint],
        )
        .await?;
        let moved = tx
            .execute(
                "UPDATE logs SET group_id = $1 WHERE group_id = $2 AND fingerprint = $3",
                &[&new_id, &id, &fingerprint],
            )
            .await?;
        tx.execute(
            &refresh_group_figures_where("e.id = ANY($1)", "true"),
            &[&vec![id, new_id]],
        )
        .await?;
        let group = read_group(&tx, new_id, Utc::now() - TimeDelta::hours(24))
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("group {new_id} vanished in a split")))?;
        tx.commit().await?;
        self.changed_for_readers();
        Ok(Ok(GroupMove {
            group,
            moved_logs: moved,
        }))
    }
}

impl Store {
    /// The groups with most logs matching `filter` (largest first, at most
    /// `limit`), with their notes, for a diagnostic report.
    pub async fn report_groups(
        &self,
        filter: &crate::domain::LogFilter,
        limit: usize,
    ) -> Result<Vec<ReportGroup>, StoreError> {
        let mut sql = super::filter::SqlFilter::for_logs(filter);
        sql.and("group_id IS NOT NULL".into());
        let limit = sql.param(limit as i64);
        let query = format!(
            "WITH counted AS (
                SELECT group_id, count(*) AS count, min(occurred_at) AS first_seen, max(occurred_at) AS last_seen
                FROM logs {} GROUP BY group_id ORDER BY count(*) DESC, group_id LIMIT {limit}
             )
             SELECT c.*, e.title, e.culprit, e.regressed_at, e.note, e.note_author, e.note_updated_at,
                    CASE WHEN e.status = 'ignored' AND e.ignored_until <= now() THEN 'unresolved' ELSE e.status END AS status
             FROM counted c JOIN error_groups e ON e.id = c.group_id
             ORDER BY c.count DESC, c.group_id",
            sql.where_clause()
        );
        let client = self.replica_reader().await?;
        let rows = client.query(&query, &sql.params()).await?;
        client.finish();
        rows.iter()
            .map(|row| {
                let status: &str = row.try_get("status")?;
                Ok(ReportGroup {
                    id: row.try_get("group_id")?,
                    title: row.try_get("title")?,
                    culprit: row.try_get("culprit")?,
                    status: GroupStatus::parse(status).ok_or_else(|| {
                        StoreError::Corrupt(format!("error group status: {status:?}"))
                    })?,
                    regressed_at: row.try_get("regressed_at")?,
                    count: row.try_get::<_, i64>("count")?.max(0) as u64,
                    first_seen: row.try_get("first_seen")?,
                    last_seen: row.try_get("last_seen")?,
                    known_fix: row_to_note(row)?,
                })
            })
            .collect()
    }
}

/// A log stored before grouping existed, as the backfill reads it.
#[derive(Debug, Clone)]
pub struct UngroupedLog {
    /// Its id.
    pub id: uuid::Uuid,
    /// Its kind (the kind of a group it creates).
    pub error_type: ErrorType,
    /// Its message and stack trace, which make its fingerprint.
    pub message: String,
    /// See `message`.
    pub stack_trace: String,
}

/// Groups logs the backfill fingerprinted and counts them, in one
/// statement; only logs still without a group are touched (two diagd
/// backfilling at once count each log once).
const ASSIGN_GROUPS: &str = concat!(
    "
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[]) AS t(id, fingerprint)
),
grouped AS (
    UPDATE logs l SET fingerprint = i.fingerprint, group_id = g.group_id
    FROM input i JOIN group_fingerprints g ON g.fingerprint = i.fingerprint
    WHERE l.id = i.id AND l.group_id IS NULL
    RETURNING l.fingerprint, l.group_id, l.occurred_at, l.severity, l.source_host, l.source_run_id
),
",
    count_fingerprints!("grouped"),
    // Figures only: older logs neither reopen nor count down a group.
    count_group_figures!("grouped", ""),
    "
SELECT count(*) FROM grouped"
);

/// Recomputes the figures of the groups where `groups` holds (a condition
/// on `e`, the group) from their fingerprints, after a merge, split or
/// delete moved or lowered them; hosts and runs are counted
/// again only where `recount` also holds (the others keep theirs: their
/// fingerprints lost no host or run).
pub(super) fn refresh_group_figures_where(groups: &str, recount: &str) -> String {
    format!(
        "
UPDATE error_groups e
SET (event_count, first_seen, last_seen, top_severity) = (
        SELECT coalesce(sum(f.event_count), 0), min(f.first_seen), max(f.last_seen), min(f.top_severity)
        FROM group_fingerprints f WHERE f.group_id = e.id),
    hosts = CASE WHEN {recount} THEN
                (SELECT count(DISTINCT s.source_host) FILTER (WHERE s.source_host <> '')
                 FROM group_fingerprints f JOIN fingerprint_hosts s ON s.fingerprint = f.fingerprint
                 WHERE f.group_id = e.id)
            ELSE e.hosts END,
    runs = CASE WHEN {recount} THEN
               (SELECT count(DISTINCT s.source_run_id) FILTER (WHERE s.source_run_id <> '')
                FROM group_fingerprints f JOIN fingerprint_runs s ON s.fingerprint = f.fingerprint
                WHERE f.group_id = e.id)
           ELSE e.runs END
WHERE {groups}"
    )
}

impl Store {
    /// The next logs without a group, oldest id first: at most `max_rows`,
    /// and no more once about `max_bytes` of text were read.
    pub async fn ungrouped_batch(
        &self,
        max_rows: usize,
        max_bytes: usize,
    ) -> Result<Vec<UngroupedLog>, StoreError> {
        let mut client = self.reader().await?;
        let tx = client.build_transaction().read_only(true).start().await?;
        let statement = tx
            .prepare_cached(
                "SELECT logs.id, error_type, message, coalesce(st.trace, '') AS stack_trace
                 FROM logs LEFT JOIN stack_traces st ON st.hash = logs.stack_trace_hash
                 WHERE group_id IS NULL ORDER BY logs.id LIMIT $1",
            )
            .await?;
        let portal = tx.bind(&statement, &[&(max_rows as i64)]).await?;
        let mut logs = Vec::new();
        let mut bytes = 0;
        'fetch: loop {
            let rows = tx.query_portal(&portal, 16).await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let error_type: &str = row.try_get("error_type")?;
                let log = UngroupedLog {
                    id: row.try_get("id")?,
                    error_type: ErrorType::parse(error_type).ok_or_else(|| {
                        StoreError::Corrupt(format!("error_type: {error_type:?}"))
                    })?,
                    message: row.try_get("message")?,
                    stack_trace: row.try_get("stack_trace")?,
                };
                bytes += log.message.len() + log.stack_trace.len();
                logs.push(log);
                if bytes >= max_bytes {
                    break 'fetch;
                }
            }
        }
        drop(portal);
        tx.commit().await?;
        client.finish();
        Ok(logs)
    }

    /// Puts `logs` in the groups of `prints` (one per log) and counts
    /// them; returns how many were still ungrouped.
    pub async fn assign_groups(
        &self,
        logs: &[UngroupedLog],
        prints: &[Fingerprint],
    ) -> Result<u64, StoreError> {
        if logs.is_empty() {
            return Ok(0);
        }
        let columns = GroupColumns::from_prints(logs.iter().map(|l| l.error_type), prints)?;
        let ids: Vec<uuid::Uuid> = logs.iter().map(|l| l.id).collect();
        let hashes: Vec<&str> = prints.iter().map(|p| p.hash.as_str()).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        columns.ensure(&tx).await?;
        let statement = tx.prepare_cached(ASSIGN_GROUPS).await?;
        let grouped: i64 = tx.query_one(&statement, &[&ids, &hashes]).await?.get(0);
        tx.commit().await?;
        Ok(grouped.max(0) as u64)
    }
}

/// Follows `merged_into` from `id`.
async fn resolve(client: &impl GenericClient, id: i64) -> Result<Option<i64>, StoreError> {
    let mut current = id;
    for _ in 0..MAX_MERGE_HOPS {
        let Some(row) = client
            .query_opt(
                "SELECT merged_into FROM error_groups WHERE id = $1",
                &[&current],
            )
            .await?
        else {
            return Ok(None);
        };
        match row.get::<_, Option<i64>>(0) {
            Some(next) => current = next,
            None => return Ok(Some(current)),
        }
    }
    Err(StoreError::Corrupt(format!(
        "group {id}: more than {MAX_MERGE_HOPS} merges to follow"
    )))
}

/// Group `id` with its figures, or `None`.
async fn read_group(
    client: &impl GenericClient,
    id: i64,
    window_start: DateTime<Utc>,
) -> Result<Option<ErrorGroup>, StoreError> {
    let query = format!(
        "SELECT g.*, {window} AS window_count, {FINGERPRINT_COUNT}
         FROM (SELECT {GROUP_COLUMNS} FROM error_groups e WHERE e.id = $1) g",
        window = WINDOW_COUNT.replace("{since}", "$2"),
    );
    client
        .query_opt(&query, &[&id, &window_start])
        .await?
        .map(|row| row_to_group(&row))
        .transpose()
}

/// 0 for critical … 3 for low, as stored in `top_severity`.
fn severity_rank(severity: Severity) -> i16 {
    Severity::ALL
        .iter()
        .position(|s| *s == severity)
        .unwrap_or(3) as i16
}

fn row_to_group(row: &Row) -> Result<ErrorGroup, StoreError> {
    let corrupt = |what: &str, value: &dyn std::fmt::Debug| {
        StoreError::Corrupt(format!("error group {what}: {value:?}"))
    };
    let status: &str = row.try_get("status")?;
    let status = GroupStatus::parse(status).ok_or_else(|| corrupt("status", &status))?;
    let error_type: &str = row.try_get("error_type")?;
    let ignored_until: Option<DateTime<Utc>> = row.try_get("ignored_until")?;
    let ignored_events_left: Option<i64> = row.try_get("ignored_events_left")?;
    let ignore =
        (status == GroupStatus::Ignored).then(|| match (ignored_until, ignored_events_left) {
            (Some(t), _) => IgnoreRule::Until(t),
            (None, Some(n)) => IgnoreRule::ForEvents(n.max(0) as u64),
            (None, None) => IgnoreRule::Forever,
        });
    let top_severity: Option<i16> = row.try_get("top_severity")?;
    Ok(ErrorGroup {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        culprit: row.try_get("culprit")?,
        exception_type: row.try_get("exception_type")?,
        error_type: ErrorType::parse(error_type).ok_or_else(|| corrupt("type", &error_type))?,
        status,
        status_changed_at: row.try_get("status_changed_at")?,
        status_changed_by: row.try_get("status_changed_by")?,
        ignore,
        regressed_at: row.try_get("regressed_at")?,
        note: row_to_note(row)?,
        severity: top_severity.and_then(|r| Severity::ALL.get(r.max(0) as usize).copied()),
        event_count: row.try_get::<_, i64>("event_count")?.max(0) as u64,
        first_seen: row.try_get("first_seen")?,
        last_seen: row.try_get("last_seen")?,
        window_count: row
            .try_get::<_, Option<i64>>("window_count")?
            .map(|n| n.max(0) as u64),
        hosts: row.try_get::<_, i64>("hosts")?.max(0) as u64,
        runs: row.try_get::<_, i64>("runs")?.max(0) as u64,
        fingerprints: row.try_get::<_, i32>("fingerprints")?.max(0) as u32,
        created_at: row.try_get("created_at")?,
    })
}

/// A group row's note (columns note, note_author, note_updated_at); `None`
/// when none was written.
fn row_to_note(row: &Row) -> Result<Option<GroupNote>, StoreError> {
    let text: String = row.try_get("note")?;
    if text.is_empty() {
        return Ok(None);
    }
    Ok(Some(GroupNote {
        text,
        author: row.try_get("note_author")?,
        updated_at: row
            .try_get::<_, Option<DateTime<Utc>>>("note_updated_at")?
            .unwrap_or_default(),
    }))
}

fn row_to_fingerprint(row: &Row) -> Result<GroupFingerprint, StoreError> {
    let components: serde_json::Value = row.try_get("components")?;
    let components: Components = serde_json::from_value(components)
        .map_err(|e| StoreError::Corrupt(format!("fingerprint components: {e}")))?;
    Ok(GroupFingerprint {
        hash: row.try_get("fingerprint")?,
        version: row.try_get::<_, i32>("version")?.max(0) as u32,
        components,
        title: row.try_get("title")?,
        event_count: row.try_get::<_, i64>("event_count")?.max(0) as u64,
        added_at: row.try_get("added_at")?,
    })
}
