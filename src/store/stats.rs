//! Stats for the dashboard. Whole hours are read from the hourly counts
//! maintained on insert — `log_counts_kind_hourly` (severity × type) when no
//! source is asked for, `log_counts_hourly` (× host, run, component) when one
//! is — so unfiltered and time-range stats cost a few rows per hour; only the partial hours at the edges of a time range, and filters
//! the hourly counts cannot answer (labels, message text, groups), read
//! `logs`. Counts over time (`stats_buckets`) read the per-minute, per-hour
//! or per-group-hour counts the same way.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::{Store, StoreError, filter::SqlFilter};
use crate::domain::{ErrorType, LogFilter, Severity, Stats, TimeBucket, group::BucketWidth};

/// Where a count is read.
#[derive(Debug, Clone, Copy)]
enum ReadFrom {
    /// The standby when it takes reads, else the primary.
    Replica,
    /// The primary.
    Primary,
}

impl Store {
    /// Exact counts of the logs matching `filter` (from the standby when
    /// one takes reads).
    pub async fn stats(&self, filter: &LogFilter) -> Result<Stats, StoreError> {
        self.stats_from(filter, ReadFrom::Replica).await
    }

    /// [`stats`](Self::stats) read on the primary, for what decides a write
    /// on them (retention's row limit): a standby's count may not show the
    /// deletes just made.
    pub async fn stats_on_primary(&self, filter: &LogFilter) -> Result<Stats, StoreError> {
        self.stats_from(filter, ReadFrom::Primary).await
    }

    async fn stats_from(
        &self,
        filter: &LogFilter,
        read_from: ReadFrom,
    ) -> Result<Stats, StoreError> {
        if !filter.source.labels.is_empty()
            || !filter.message_contains.is_empty()
            || !filter.group_ids.is_empty()
        {
            let mut stats = Stats::default();
            self.add_counted_logs(filter, &mut stats, read_from).await?;
            return Ok(stats);
        }
        let from_hour = filter.since.map(ceil_hour);
        let to_hour = filter.until.map(floor_hour);
        let mut stats = Stats::default();
        if let (Some(from), Some(to)) = (from_hour, to_hour)
            && from >= to
        {
            // The range lies within an hour or two: count the logs themselves.
            self.add_counted_logs(filter, &mut stats, read_from).await?;
            return Ok(stats);
        }
        self.add_hourly_counts(filter, from_hour, to_hour, &mut stats, read_from)
            .await?;
        if let (Some(since), Some(from)) = (filter.since, from_hour)
            && since < from
        {
            let edge = LogFilter {
                since: Some(since),
                until: Some(from),
                ..filter.clone()
            };
            self.add_counted_logs(&edge, &mut stats, read_from).await?;
        }
        if let (Some(until), Some(to)) = (filter.until, to_hour)
            && to < until
        {
            let edge = LogFilter {
                since: Some(to),
                until: Some(until),
                ..filter.clone()
            };
            self.add_counted_logs(&edge, &mut stats, read_from).await?;
        }
        Ok(stats)
    }

    /// Adds the maintained counts of the whole hours in `[from, to)`.
    async fn add_hourly_counts(
        &self,
        filter: &LogFilter,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        stats: &mut Stats,
        read_from: ReadFrom,
    ) -> Result<(), StoreError> {
        let sql = SqlFilter::for_hourly_counts(filter, from, to);
        // Without a source condition the per-kind counts answer with a few
        // rows per hour, however many hosts and runs there are.
        let source = &filter.source;
        let table =
            if source.host.is_empty() && source.run_id.is_empty() && source.component.is_empty() {
                "log_counts_kind_hourly"
            } else {
                "log_counts_hourly"
            };
        let query = format!(
            "SELECT severity, error_type, sum(log_count)::bigint, min(oldest), max(newest)
             FROM {table} {} GROUP BY severity, error_type HAVING sum(log_count) > 0",
            sql.where_clause()
        );
        self.add_grouped_counts(&query, &sql, stats, read_from)
            .await
    }

    /// Adds the counts of the matching logs, read from `logs` itself.
    async fn add_counted_logs(
        &self,
        filter: &LogFilter,
        stats: &mut Stats,
        read_from: ReadFrom,
    ) -> Result<(), StoreError> {
        let sql = SqlFilter::for_logs(filter);
        let query = format!(
            "SELECT severity, error_type, count(*), min(occurred_at), max(occurred_at)
             FROM logs {} GROUP BY severity, error_type",
            sql.where_clause()
        );
        self.add_grouped_counts(&query, &sql, stats, read_from)
            .await
    }

    /// Runs a query returning (severity, error_type, count, oldest, newest)
    /// rows and adds them to `stats`.
    async fn add_grouped_counts(
        &self,
        query: &str,
        sql: &SqlFilter,
        stats: &mut Stats,
        from: ReadFrom,
    ) -> Result<(), StoreError> {
        let read = |client: super::Reader| async move {
            let statement = client.prepare_cached(query).await?;
            let rows = client.query(&statement, &sql.params()).await?;
            client.finish();
            Ok(rows)
        };
        let rows = match from {
            ReadFrom::Replica => self.read_replicated(read).await?,
            ReadFrom::Primary => read(self.reader().await?).await?,
        };
        for row in rows {
            let severity: &str = row.try_get(0)?;
            let error_type: &str = row.try_get(1)?;
            let count: i64 = row.try_get(2)?;
            let severity = Severity::parse(severity)
                .ok_or_else(|| StoreError::Corrupt(format!("severity {severity:?} in stats")))?;
            let error_type = ErrorType::parse(error_type).ok_or_else(|| {
                StoreError::Corrupt(format!("error_type {error_type:?} in stats"))
            })?;
            stats.add(
                severity,
                error_type,
                count.max(0) as u64,
                row.try_get(3)?,
                row.try_get(4)?,
            );
        }
        Ok(())
    }
}

impl Store {
    /// Counts of the logs matching `filter` per bucket of `width` over
    /// `[from, to)` (both on bucket boundaries), per severity, oldest first,
    /// empty buckets included. Read from the maintained counts: per minute
    /// and severity (`log_counts_minutely`), per hour and kind, per hour and
    /// source, or per fingerprint and hour for groups; only what those
    /// cannot answer (a message or labels; minutes with a source, group or
    /// error type; a group with error types or a source) counts logs.
    pub async fn stats_buckets(
        &self,
        filter: &LogFilter,
        width: BucketWidth,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<TimeBucket>, StoreError> {
        let source = &filter.source;
        let by_source =
            !(source.host.is_empty() && source.run_id.is_empty() && source.component.is_empty());
        let by_logs = !filter.message_contains.is_empty()
            || !source.labels.is_empty()
            || (width == BucketWidth::Minute
                && (by_source || !filter.group_ids.is_empty() || !filter.error_types.is_empty()))
            || (!filter.group_ids.is_empty() && (by_source || !filter.error_types.is_empty()));
        let unit = width.unit();
        let window = LogFilter {
            since: Some(from),
            until: Some(to),
            ..filter.clone()
        };
        let (query, sql) = if by_logs {
            let sql = SqlFilter::for_logs(&window);
            (
                format!(
                    "SELECT date_trunc('{unit}', occurred_at, 'UTC') AS bucket, severity, count(*)::bigint AS count
                     FROM logs {} GROUP BY 1, 2",
                    sql.where_clause()
                ),
                sql,
            )
        } else if !filter.group_ids.is_empty() {
            let mut sql = SqlFilter::default();
            let groups = sql.param(filter.group_ids.clone());
            let from = sql.param(from);
            let to = sql.param(to);
            let mut severities = String::new();
            if !filter.severities.is_empty() {
                let names: Vec<&'static str> =
                    filter.severities.iter().map(|s| s.as_str()).collect();
                severities = format!("AND h.severity = ANY({})", sql.param(names));
            }
            (
                format!(
                    "SELECT date_trunc('{unit}', h.hour, 'UTC') AS bucket, h.severity, sum(h.log_count)::bigint AS count
                     FROM group_fingerprints f JOIN fingerprint_counts_hourly h ON h.fingerprint = f.fingerprint
                     WHERE f.group_id = ANY({groups}) AND h.hour >= {from} AND h.hour < {to} {severities}
                     GROUP BY 1, 2"
                ),
                sql,
            )
        } else {
            let (table, column) = match (width, by_source) {
                (BucketWidth::Minute, _) => ("log_counts_minutely", "minute"),
                (_, false) => ("log_counts_kind_hourly", "hour"),
                (_, true) => ("log_counts_hourly", "hour"),
            };
            let mut sql = SqlFilter::for_hourly_counts(filter, None, None);
            let from = sql.param(from);
            let to = sql.param(to);
            sql.and(format!("{column} >= {from} AND {column} < {to}"));
            (
                format!(
                    "SELECT date_trunc('{unit}', {column}, 'UTC') AS bucket, severity, sum(log_count)::bigint AS count
                     FROM {table} {} GROUP BY 1, 2",
                    sql.where_clause()
                ),
                sql,
            )
        };
        let params = sql.params();
        let rows = self
            .read_replicated(|client| client.query_then_finish(&query, &params))
            .await?;
        let step = width.step();
        let count = ((to - from).num_seconds() / step.num_seconds()).max(0) as usize;
        let mut buckets: Vec<TimeBucket> = (0..count)
            .map(|i| TimeBucket {
                start: from + step * i as i32,
                by_severity: [0; 4],
            })
            .collect();
        for row in rows {
            let start: DateTime<Utc> = row.try_get("bucket")?;
            let severity: &str = row.try_get("severity")?;
            let n: i64 = row.try_get("count")?;
            let Some(index) = Severity::ALL.iter().position(|s| s.as_str() == severity) else {
                return Err(StoreError::Corrupt(format!(
                    "severity {severity:?} in stats"
                )));
            };
            let slot = ((start - from).num_seconds() / step.num_seconds()) as usize;
            if let Some(bucket) = buckets.get_mut(slot) {
                bucket.by_severity[index] += n.max(0) as u64;
            }
        }
        Ok(buckets)
    }
}

/// The start of the hour holding `t`.
fn floor_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

/// The first hour boundary at or after `t`.
fn ceil_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = floor_hour(t);
    if floor == t {
        t
    } else {
        floor + TimeDelta::hours(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_bounds_round_the_right_way() {
        let t: DateTime<Utc> = "2026-11-25T10:20:30Z".parse().unwrap();
        assert_eq!(
            floor_hour(t),
            "2026-11-25T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            ceil_hour(t),
            "2026-11-25T11:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let on_hour: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
        assert_eq!(ceil_hour(on_hour), on_hour);
        assert_eq!(floor_hour(on_hour), on_hour);
    }
}
