//! The optional streaming-replication standby that takes diagd's reads
//! (`DATABASE_READ_URL`): its pool, the check of how far its data is behind
//! the primary's, and the rule that sends each read to it or to the primary.
//!
//! The rule: a read that may go to the standby ([`Store::replica_reader`])
//! goes there while the last check found it answering, a replica of this
//! primary's database following it, and at most `max_lag` behind — and, after
//! this diagd changed something people look at (a group, a clear, a report),
//! only once the standby has replayed that change. Otherwise (not known
//! yet, down, lagging, the wrong server, its pool busy) the read goes to the
//! primary's read pool, which is bounded apart from ingest's. A read by id
//! that finds nothing on the standby asks the primary before answering "not
//! found", and a read that fails on the standby for a lost connection or a
//! conflict with recovery is run again on the primary.
//!
//! The lag is measured in time, not bytes: every check (once a second, on
//! connections of its own) records the primary's WAL write position with
//! the time it was read, and the standby's lag is the age of the oldest
//! recorded position it has not replayed yet (to about one check interval;
//! zero when it has replayed everything, however idle the primary). Until
//! that can be known — no position read from the primary within `max_lag`,
//! or the standby behind every position recorded so far — the standby takes
//! no reads. [`judge`] holds these rules as a pure function.

use std::{
    collections::VecDeque,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use deadpool_postgres::{Pool, PoolError, Timeouts};
use tokio_postgres::NoTls;

use super::{Reader, Store, StoreError};

/// Primary WAL positions are remembered for at least this long (and for
/// twice the allowed lag when that is longer): a standby further behind is
/// reported as at least this far behind.
const REMEMBERED: Duration = Duration::from_secs(15 * 60);

/// How long a read waits for a free standby connection before it goes to
/// the primary instead.
const STANDBY_WAIT: Duration = Duration::from_millis(500);

/// `application_name` of the check's own connections.
const CHECK_APPLICATION_NAME: &str = "diagd-standby-check";

/// Where the standby stands, as the last check found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandbyState {
    /// Not known yet (just started, catching up from further back than
    /// diagd remembers, or the primary's position could not be read
    /// lately): reads go to the primary.
    Unchecked,
    /// Answering and at most `max_lag` behind: reads go to it.
    Streaming,
    /// Answering but more than `max_lag` behind: reads go to the primary
    /// until it is back within half of it.
    Lagging,
    /// Not answering, or not a standby following the primary's database:
    /// reads go to the primary.
    Down,
}

/// The standby's last check and what reads did since start.
#[derive(Debug, Clone)]
pub struct StandbyStatus {
    /// What the last check found.
    pub state: StandbyState,
    /// How far its data was behind the primary's at the last check (to
    /// about a check interval; at least this much when it is further behind
    /// than diagd remembers).
    pub lag: Duration,
    /// The lag beyond which reads go to the primary.
    pub max_lag: Duration,
    /// When the last check ran; `None` before the first.
    pub checked_at: Option<DateTime<Utc>>,
    /// Why it takes no reads (Unchecked, Lagging beyond memory, Down).
    pub error: Option<String>,
    /// Reads served by the standby since diagd started.
    pub reads_on_standby: u64,
    /// Reads that could have gone to the standby but went to the primary
    /// (it was not usable, its pool was busy, a change of this diagd was
    /// not replayed yet, a read by id found nothing on it, or a read on it
    /// failed and was run again).
    pub reads_on_primary: u64,
}

/// Which server a database is on, as the check compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Identity {
    /// `pg_control_system().system_identifier`: the same for a primary and
    /// every standby copied from it.
    system: i64,
    /// The database's name.
    database: String,
    /// When the server's postmaster started: tells the primary itself from
    /// a copy of it that no longer follows it.
    started: String,
}

/// What a check read from the standby.
#[derive(Debug, Clone)]
pub(super) struct StandbyRow {
    /// `pg_is_in_recovery()`.
    in_recovery: bool,
    /// The WAL replayed so far (bytes since 0/0); `None` before any.
    replayed: Option<i64>,
    /// Which server and database it is.
    identity: Identity,
}

/// What a check concluded.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Verdict {
    state: StandbyState,
    lag: Duration,
    /// Everything the primary had written by then, the standby shows.
    caught_up_to: Option<Instant>,
    /// Why it takes no reads, when it does not.
    reason: Option<String>,
}

impl Verdict {
    /// A standby that takes no reads (`state` Unchecked or Down), and why.
    fn no_reads(state: StandbyState, reason: impl Into<String>) -> Verdict {
        Verdict {
            state,
            lag: Duration::ZERO,
            caught_up_to: None,
            reason: Some(reason.into()),
        }
    }
}

/// Decides the standby's state from a check: `positions` are the primary's
/// WAL positions read so far (oldest first), `primary` the primary's
/// identity as last read, `standby` what the standby answered, `previous`
/// the state before.
pub(super) fn judge(
    positions: &VecDeque<(Instant, i64)>,
    primary: Option<&Identity>,
    standby: &StandbyRow,
    previous: StandbyState,
    now: Instant,
    max_lag: Duration,
) -> Verdict {
    const NOT_READ: &str = "the primary's WAL position has not been read yet";
    let Some(primary) = primary else {
        return Verdict::no_reads(StandbyState::Unchecked, NOT_READ);
    };
    let theirs = &standby.identity;
    if theirs.system != primary.system || theirs.database != primary.database {
        return Verdict::no_reads(
            StandbyState::Down,
            format!(
                "DATABASE_READ_URL is not a replica of DATABASE_URL: it names database {:?} of \
                 cluster {}, the primary database {:?} of cluster {}",
                theirs.database, theirs.system, primary.database, primary.system
            ),
        );
    }
    if !standby.in_recovery {
        // The primary itself shows everything; a copy that was promoted, or
        // restored from the same backup, no longer follows it.
        return if theirs.started == primary.started {
            Verdict {
                state: StandbyState::Streaming,
                lag: Duration::ZERO,
                caught_up_to: Some(now),
                reason: None,
            }
        } else {
            Verdict::no_reads(
                StandbyState::Down,
                "DATABASE_READ_URL's server is not in recovery: a promoted standby or a copy of \
                 the primary, which no longer follows it",
            )
        };
    }
    let Some(&(newest_at, _)) = positions.back() else {
        return Verdict::no_reads(StandbyState::Unchecked, NOT_READ);
    };
    let unread_for = now.saturating_duration_since(newest_at);
    if unread_for > max_lag {
        return Verdict::no_reads(
            StandbyState::Unchecked,
            format!(
                "the primary's WAL position could not be read for {} s",
                unread_for.as_secs()
            ),
        );
    }
    let Some(replayed) = standby.replayed else {
        return Verdict::no_reads(
            StandbyState::Unchecked,
            "the standby has not replayed any WAL yet",
        );
    };
    let caught_up_to = positions
        .iter()
        .rev()
        .find(|(_, position)| *position <= replayed)
        .map(|(at, _)| *at);
    let Some(caught_up_to) = caught_up_to else {
        // Behind every position remembered: at least as old as the oldest,
        // maybe much older.
        let at_least = positions
            .front()
            .map_or(Duration::ZERO, |(at, _)| now.saturating_duration_since(*at));
        let state = if at_least > max_lag {
            StandbyState::Lagging
        } else {
            StandbyState::Unchecked
        };
        return Verdict {
            state,
            lag: at_least,
            caught_up_to: None,
            reason: Some(format!(
                "the standby is behind every primary position read since diagd started, {} s \
                 ago at least",
                at_least.as_secs()
            )),
        };
    };
    let lag = lag_behind(positions, replayed, now);
    // Back from lagging only well within the limit, so that a lag hovering
    // around it does not flip reads every second.
    let limit = if previous == StandbyState::Lagging {
        max_lag / 2
    } else {
        max_lag
    };
    let state = if lag <= limit {
        StandbyState::Streaming
    } else {
        StandbyState::Lagging
    };
    Verdict {
        state,
        lag,
        caught_up_to: Some(caught_up_to),
        reason: None,
    }
}

/// The age of the oldest remembered primary position beyond `replayed`:
/// what the primary had written by then, the standby does not show yet.
/// Zero when the standby has replayed every remembered position.
fn lag_behind(positions: &VecDeque<(Instant, i64)>, replayed: i64, now: Instant) -> Duration {
    positions
        .iter()
        .find(|(_, position)| *position > replayed)
        .map_or(Duration::ZERO, |(at, _)| now.saturating_duration_since(*at))
}

/// The standby: its pool and what the checks found.
pub(super) struct Standby {
    /// Read connections to the standby (same size and settings as the
    /// primary's read pool).
    pub(super) pool: Pool,
    /// Its connection settings, for the check's own connection.
    config: tokio_postgres::Config,
    /// The lag beyond which reads go to the primary.
    max_lag: Duration,
    /// Whether reads go to the standby now.
    in_use: AtomicBool,
    /// The last check's findings, and what fences reads.
    last: Mutex<Findings>,
    /// Primary WAL positions (bytes since 0/0) and when they were read,
    /// oldest first.
    positions: Mutex<VecDeque<(Instant, i64)>>,
    /// Reads served by the standby.
    reads_on_standby: AtomicU64,
    /// Reads that went to the primary instead.
    reads_on_primary: AtomicU64,
}

/// The last check's findings and the newest change that reads must see.
#[derive(Debug, Clone)]
struct Findings {
    verdict: Verdict,
    at: Option<DateTime<Utc>>,
    /// The primary's identity, as last read.
    primary: Option<Identity>,
    /// When this diagd last changed something people look at: reads go to
    /// the primary until the standby has caught up to a position read
    /// after it.
    changed_at: Option<Instant>,
    /// When the last verdict was recorded: an old one (a check that hangs)
    /// does not keep sending reads to the standby.
    recorded: Option<Instant>,
    /// Lagging until a check finds it back within half the limit, whatever
    /// was found in between (down, not known).
    lagging: bool,
}

impl Standby {
    /// A standby reached through `pool` (built from `config`), used while at
    /// most `max_lag` behind.
    pub(super) fn new(pool: Pool, config: tokio_postgres::Config, max_lag: Duration) -> Standby {
        Standby {
            pool,
            config,
            max_lag,
            in_use: AtomicBool::new(false),
            last: Mutex::new(Findings {
                verdict: Verdict::no_reads(StandbyState::Unchecked, "not checked yet"),
                at: None,
                primary: None,
                changed_at: None,
                recorded: None,
                lagging: false,
            }),
            positions: Mutex::new(VecDeque::new()),
            reads_on_standby: AtomicU64::new(0),
            reads_on_primary: AtomicU64::new(0),
        }
    }

    fn findings(&self) -> std::sync::MutexGuard<'_, Findings> {
        self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the last check found and what reads did.
    pub(super) fn status(&self) -> StandbyStatus {
        let last = self.findings().clone();
        StandbyStatus {
            state: last.verdict.state,
            lag: last.verdict.lag,
            max_lag: self.max_lag,
            checked_at: last.at,
            error: last.verdict.reason,
            reads_on_standby: self.reads_on_standby.load(Ordering::Relaxed),
            reads_on_primary: self.reads_on_primary.load(Ordering::Relaxed),
        }
    }

    /// Records a verdict; reads follow it at once.
    fn record(&self, verdict: Verdict) {
        let mut last = self.findings();
        if last.verdict.state != verdict.state {
            let reason = verdict.reason.as_deref().unwrap_or("");
            match verdict.state {
                StandbyState::Streaming => tracing::info!(
                    lag_ms = verdict.lag.as_millis() as u64,
                    "the standby takes reads"
                ),
                StandbyState::Lagging => tracing::warn!(
                    lag_secs = verdict.lag.as_secs(),
                    max_lag_secs = self.max_lag.as_secs(),
                    "the standby is behind the primary by more than the allowed lag: reads go to the primary until it catches up"
                ),
                StandbyState::Down => tracing::warn!(
                    reason,
                    "the standby cannot take reads: they go to the primary"
                ),
                StandbyState::Unchecked => tracing::info!(
                    reason,
                    "the standby's lag is not known: reads go to the primary"
                ),
            }
        }
        self.in_use
            .store(verdict.state == StandbyState::Streaming, Ordering::SeqCst);
        match verdict.state {
            StandbyState::Lagging => last.lagging = true,
            StandbyState::Streaming => last.lagging = false,
            StandbyState::Down | StandbyState::Unchecked => {}
        }
        last.verdict = verdict;
        last.at = Some(Utc::now());
        last.recorded = Some(Instant::now());
    }

    /// Whether a read may go to the standby now: it takes reads and shows
    /// this diagd's latest change.
    fn usable(&self) -> bool {
        if !self.in_use.load(Ordering::SeqCst) {
            return false;
        }
        let last = self.findings();
        let stale_after = self.max_lag.max(Duration::from_secs(5));
        if last
            .recorded
            .is_none_or(|recorded| recorded.elapsed() > stale_after)
        {
            return false;
        }
        match (last.changed_at, last.verdict.caught_up_to) {
            (None, _) => true,
            (Some(changed), Some(caught_up)) => caught_up > changed,
            (Some(_), None) => false,
        }
    }

    /// Remembers the primary's WAL position read at `at`.
    fn remember_position(&self, at: Instant, position: i64) {
        let keep = REMEMBERED.max(self.max_lag * 2);
        let mut positions = self.positions.lock().unwrap_or_else(|e| e.into_inner());
        positions.push_back((at, position));
        while positions.len() > 1
            && positions
                .front()
                .is_some_and(|(then, _)| at.saturating_duration_since(*then) > keep)
        {
            positions.pop_front();
        }
    }
}

/// The check's own connections (not the pools', which readers may fill),
/// kept from one check to the next and made again when lost.
#[derive(Default)]
pub struct StandbyCheck {
    primary: Option<tokio_postgres::Client>,
    standby: Option<tokio_postgres::Client>,
}

/// Connects with `config` for the check, within `timeout`.
async fn connect_for_check(
    config: &tokio_postgres::Config,
    timeout: Duration,
) -> Result<tokio_postgres::Client, StoreError> {
    let mut config = config.clone();
    config.application_name(CHECK_APPLICATION_NAME);
    let (client, connection) = tokio::time::timeout(timeout, config.connect(NoTls))
        .await
        .map_err(|_| {
            StoreError::Unavailable(format!("no connection within {} s", timeout.as_secs()))
        })??;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Runs `query` on the check's connection in `slot` (made first when there
/// is none; dropped when it fails, to be made again next time).
async fn query_for_check(
    slot: &mut Option<tokio_postgres::Client>,
    config: &tokio_postgres::Config,
    timeout: Duration,
    query: &str,
) -> Result<tokio_postgres::Row, StoreError> {
    if slot.as_ref().is_none_or(|client| client.is_closed()) {
        *slot = Some(connect_for_check(config, timeout).await?);
    }
    let client = slot.as_ref().expect("connected above");
    match tokio::time::timeout(timeout, client.query_one(query, &[])).await {
        Ok(Ok(row)) => Ok(row),
        Ok(Err(e)) => {
            *slot = None;
            Err(e.into())
        }
        Err(_) => {
            *slot = None;
            Err(StoreError::Unavailable(format!(
                "no answer within {} s",
                timeout.as_secs()
            )))
        }
    }
}

/// The primary's WAL write position (a commit that returned is below it,
/// with `synchronous_commit` on; a caught-up standby has replayed exactly to
/// it), and which server and database it is.
const PRIMARY_POSITION: &str = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint, \
     (SELECT system_identifier FROM pg_control_system()), current_database(), \
     extract(epoch FROM pg_postmaster_start_time())::text";
/// Whether the standby replays WAL, how far (NULL on a primary), and which
/// server and database it is.
const STANDBY_POSITION: &str = "SELECT pg_is_in_recovery(), \
     (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, \
     (SELECT system_identifier FROM pg_control_system()), current_database(), \
     extract(epoch FROM pg_postmaster_start_time())::text";

impl Store {
    /// Whether a standby is configured (`DATABASE_READ_URL`).
    pub fn has_standby(&self) -> bool {
        self.standby.is_some()
    }

    /// The standby's last check and what reads did; `None` without one.
    pub fn standby_status(&self) -> Option<StandbyStatus> {
        self.standby.as_ref().map(|s| s.status())
    }

    /// A connection for a read that may be served by the standby: from its
    /// pool while it is usable, else (or when its pool has no free
    /// connection soon, or it cannot be reached now) from the primary's
    /// read pool.
    pub(super) async fn replica_reader(&self) -> Result<Reader, StoreError> {
        if let Some(standby) = &self.standby
            && standby.usable()
        {
            let timeouts = Timeouts {
                wait: Some(STANDBY_WAIT),
                ..standby.pool.timeouts()
            };
            match standby.pool.timeout_get(&timeouts).await {
                Ok(object) => {
                    standby.reads_on_standby.fetch_add(1, Ordering::Relaxed);
                    return Ok(Reader::on_standby(object));
                }
                // Busy, not broken: this read spills over to the primary.
                Err(PoolError::Timeout(deadpool_postgres::TimeoutType::Wait)) => {}
                Err(e) => standby.record(Verdict::no_reads(
                    StandbyState::Down,
                    StoreError::from(e).to_string(),
                )),
            }
        }
        self.count_read_on_primary();
        self.reader().await
    }

    /// A read (`read` gets a connection and gives it back) on the standby
    /// when it is usable; run again on the primary when it failed there for
    /// a lost connection or a conflict with recovery.
    pub(super) async fn read_replicated<T, F, Fut>(&self, read: F) -> Result<T, StoreError>
    where
        F: Fn(Reader) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let client = self.replica_reader().await?;
        let on_standby = client.is_on_standby();
        match read(client).await {
            Err(StoreError::Unavailable(_) | StoreError::Conflict(_)) if on_standby => {
                self.count_read_on_primary();
                read(self.reader().await?).await
            }
            done => done,
        }
    }

    /// A read of one thing by id, as [`read_replicated`](Self::read_replicated),
    /// and again on the primary when the standby found nothing, so that
    /// what was written a moment ago and not replayed yet is never answered
    /// "not found".
    pub(super) async fn read_by_id<T, F, Fut>(&self, read: F) -> Result<Option<T>, StoreError>
    where
        F: Fn(Reader) -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, StoreError>>,
    {
        let client = self.replica_reader().await?;
        if !client.is_on_standby() {
            return read(client).await;
        }
        match read(client).await {
            Ok(Some(found)) => Ok(Some(found)),
            Ok(None) | Err(StoreError::Unavailable(_) | StoreError::Conflict(_)) => {
                self.count_read_on_primary();
                read(self.reader().await?).await
            }
            Err(e) => Err(e),
        }
    }

    /// Counts a read that went to the primary although a standby is
    /// configured.
    pub(super) fn count_read_on_primary(&self) {
        if let Some(standby) = &self.standby {
            standby.reads_on_primary.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// This diagd just committed a change people look at (a group's
    /// triage, a clear, a report): its reads go to the primary until the
    /// standby shows it (the next check or two).
    pub fn changed_for_readers(&self) {
        if let Some(standby) = &self.standby {
            standby.findings().changed_at = Some(Instant::now());
        }
    }

    /// Checks the standby once, on `check`'s own connections: that it
    /// answers, is a standby following the primary's database, and how far
    /// behind it is; reads follow the result. Nothing without a standby.
    pub async fn check_standby(&self, check: &mut StandbyCheck) {
        let Some(standby) = &self.standby else {
            return;
        };
        let timeout = self.acquire_timeout;
        // The primary first: a position read after the standby's would make
        // a caught-up standby look behind.
        // Stamped when asked: a change committed while the question was on
        // its way must not count as included in the answer.
        let asked = Instant::now();
        match query_for_check(&mut check.primary, &self.config, timeout, PRIMARY_POSITION).await {
            Ok(row) => match primary_row(&row) {
                Ok((position, identity)) => {
                    let mut findings = standby.findings();
                    if findings
                        .primary
                        .as_ref()
                        .is_some_and(|known| *known != identity)
                    {
                        // Another primary (a failover, a restore): positions
                        // of the old one mean nothing now.
                        standby
                            .positions
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .clear();
                    }
                    findings.primary = Some(identity);
                    drop(findings);
                    standby.remember_position(asked, position);
                }
                Err(e) => tracing::debug!(error = %e, "reading the primary's WAL position"),
            },
            // Judged by what is remembered: without a recent position the
            // standby takes no reads (the primary's own health says the rest).
            Err(e) => tracing::debug!(error = %e, "reading the primary's WAL position"),
        }
        let row = query_for_check(
            &mut check.standby,
            &standby.config,
            timeout,
            STANDBY_POSITION,
        )
        .await
        .and_then(|row| standby_row(&row));
        let verdict = match row {
            Err(e) => Verdict::no_reads(StandbyState::Down, e.to_string()),
            Ok(row) => {
                let (primary, previous) = {
                    let last = standby.findings();
                    let previous = if last.lagging {
                        StandbyState::Lagging
                    } else {
                        last.verdict.state
                    };
                    (last.primary.clone(), previous)
                };
                // Judged under the lock (judge takes no other).
                let positions = standby.positions.lock().unwrap_or_else(|e| e.into_inner());
                judge(
                    &positions,
                    primary.as_ref(),
                    &row,
                    previous,
                    Instant::now(),
                    standby.max_lag,
                )
            }
        };
        standby.record(verdict);
    }
}

/// The primary's position and identity from a [`PRIMARY_POSITION`] row.
fn primary_row(row: &tokio_postgres::Row) -> Result<(i64, Identity), StoreError> {
    Ok((
        row.try_get(0)?,
        Identity {
            system: row.try_get(1)?,
            database: row.try_get(2)?,
            started: row.try_get(3)?,
        },
    ))
}

/// A [`STANDBY_POSITION`] row.
fn standby_row(row: &tokio_postgres::Row) -> Result<StandbyRow, StoreError> {
    Ok(StandbyRow {
        in_recovery: row.try_get(0)?,
        replayed: row.try_get(1)?,
        identity: Identity {
            system: row.try_get(2)?,
            database: row.try_get(3)?,
            started: row.try_get(4)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::{
        collections::VecDeque,
        time::{Duration, Instant},
    };

    use super::{Identity, StandbyRow, StandbyState, judge, lag_behind};

    fn identity(system: i64, database: &str, started: &str) -> Identity {
        Identity {
            system,
            database: database.into(),
            started: started.into(),
        }
    }

    fn standby(replayed: Option<i64>) -> StandbyRow {
        StandbyRow {
            in_recovery: true,
            replayed,
            identity: identity(7, "diagd", "standby started"),
        }
    }

    #[test]
    fn the_lag_is_the_age_of_the_oldest_position_not_replayed() {
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        // The primary wrote up to 100 by second 0, 100 still at 1 (idle),
        // 250 by 2 and 400 by 3.
        let positions: VecDeque<_> = [(at(0), 100), (at(1), 100), (at(2), 250), (at(3), 400)]
            .into_iter()
            .collect();
        let now = at(4);
        // Replayed everything: no lag, however long the primary was idle.
        assert_eq!(lag_behind(&positions, 400, now), Duration::ZERO);
        assert_eq!(lag_behind(&positions, 500, now), Duration::ZERO);
        // Missing what was written by second 3.
        assert_eq!(lag_behind(&positions, 300, now), Duration::from_secs(1));
        // Missing what was written by second 2: two seconds behind.
        assert_eq!(lag_behind(&positions, 100, now), Duration::from_secs(2));
        // Behind everything remembered: at least the oldest's age.
        assert_eq!(lag_behind(&positions, 50, now), Duration::from_secs(4));
        // Nothing remembered yet: nothing to be behind.
        assert_eq!(lag_behind(&VecDeque::new(), 0, now), Duration::ZERO);
    }

    #[test]
    fn a_standby_takes_reads_only_when_its_lag_is_known_and_small() {
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let max = Duration::from_secs(10);
        let primary = identity(7, "diagd", "primary started");
        let positions: VecDeque<_> = [(at(0), 100), (at(1), 200), (at(2), 300)]
            .into_iter()
            .collect();
        let judged = |positions: &VecDeque<_>, row: &StandbyRow, previous, now| {
            judge(positions, Some(&primary), row, previous, now, max)
        };

        // Caught up: streaming, caught up to the newest position.
        let v = judged(
            &positions,
            &standby(Some(300)),
            StandbyState::Unchecked,
            at(2),
        );
        assert_eq!(v.state, StandbyState::Streaming);
        assert_eq!((v.lag, v.caught_up_to), (Duration::ZERO, Some(at(2))));
        // A little behind: streaming, with its lag.
        let v = judged(
            &positions,
            &standby(Some(200)),
            StandbyState::Streaming,
            at(3),
        );
        assert_eq!(v.state, StandbyState::Streaming);
        assert_eq!(
            (v.lag, v.caught_up_to),
            (Duration::from_secs(1), Some(at(1)))
        );
        // Just started and behind everything read so far: not known, so no
        // reads, however small the age of what is remembered.
        let v = judged(
            &positions,
            &standby(Some(50)),
            StandbyState::Unchecked,
            at(2),
        );
        assert_eq!(v.state, StandbyState::Unchecked);
        // Still behind the oldest once it is older than the limit: lagging.
        let v = judged(
            &positions,
            &standby(Some(50)),
            StandbyState::Unchecked,
            at(13),
        );
        assert_eq!(
            v.state,
            StandbyState::Unchecked,
            "the primary unread for 11 s"
        );
        let recent: VecDeque<_> = [(at(0), 100), (at(12), 900)].into_iter().collect();
        let v = judged(&recent, &standby(Some(50)), StandbyState::Streaming, at(12));
        assert_eq!(v.state, StandbyState::Lagging);
        assert_eq!(v.lag, Duration::from_secs(12));
        // More than the limit behind: lagging; back only within half of it.
        let long: VecDeque<_> = [(at(0), 100), (at(10), 200), (at(20), 300)]
            .into_iter()
            .collect();
        let v = judged(&long, &standby(Some(100)), StandbyState::Streaming, at(21));
        assert_eq!(
            (v.state, v.lag),
            (StandbyState::Lagging, Duration::from_secs(11))
        );
        let v = judged(&long, &standby(Some(200)), StandbyState::Lagging, at(27));
        assert_eq!(
            (v.state, v.lag),
            (StandbyState::Lagging, Duration::from_secs(7))
        );
        let v = judged(&long, &standby(Some(200)), StandbyState::Lagging, at(24));
        assert_eq!(
            (v.state, v.lag),
            (StandbyState::Streaming, Duration::from_secs(4))
        );
        // The primary's position not read within the limit: not known.
        let v = judged(
            &positions,
            &standby(Some(300)),
            StandbyState::Streaming,
            at(13),
        );
        assert_eq!(v.state, StandbyState::Unchecked);
        assert!(v.reason.unwrap().contains("could not be read"));
        // Never read the primary: not known.
        let v = judge(
            &positions,
            None,
            &standby(Some(300)),
            StandbyState::Unchecked,
            at(2),
            max,
        );
        assert_eq!(v.state, StandbyState::Unchecked);
        // Nothing replayed yet: not known.
        let v = judged(&positions, &standby(None), StandbyState::Unchecked, at(2));
        assert_eq!(v.state, StandbyState::Unchecked);
    }

    #[test]
    fn only_a_standby_of_the_primarys_database_or_the_primary_itself_takes_reads() {
        let now = Instant::now();
        let max = Duration::from_secs(10);
        let positions: VecDeque<_> = [(now, 100)].into_iter().collect();
        let primary = identity(7, "diagd", "primary started");
        let judged = |row: &StandbyRow| {
            judge(
                &positions,
                Some(&primary),
                row,
                StandbyState::Unchecked,
                now,
                max,
            )
        };
        // Another cluster, or another database of this one.
        for other in [identity(8, "diagd", "x"), identity(7, "other", "x")] {
            let v = judged(&StandbyRow {
                identity: other,
                ..standby(Some(100))
            });
            assert_eq!(v.state, StandbyState::Down);
            assert!(v.reason.unwrap().contains("not a replica"));
        }
        // The primary itself: everything is there.
        let v = judged(&StandbyRow {
            in_recovery: false,
            replayed: None,
            identity: primary.clone(),
        });
        assert_eq!(v.state, StandbyState::Streaming);
        // A promoted standby, or a copy of the primary: no longer follows it.
        let v = judged(&StandbyRow {
            in_recovery: false,
            replayed: None,
            identity: identity(7, "diagd", "promoted later"),
        });
        assert_eq!(v.state, StandbyState::Down);
        assert!(v.reason.unwrap().contains("not in recovery"));
    }
}
