//! The optional streaming-replication standby that takes diagd's reads
//! (`DATABASE_READ_URL`): its pool, the watch on how far its data is behind
//! the primary's, and the rule that sends each read to it or to the primary.
//!
//! The rule: a read that may go to the standby ([`Store::replica_reader`])
//! goes there while the last check found it answering, a replica of this
//! primary's database, and at most `max_lag` behind; otherwise (not checked
//! yet, down, lagging, the wrong server) it goes to the primary's read pool,
//! which is bounded apart from ingest's. A read by id that finds nothing on
//! the standby asks the primary before answering "not found", so a log,
//! group or report written a moment ago is always found.
//!
//! The lag is measured in time, not bytes: every check records the
//! primary's WAL position with the time it was read, and the standby's lag
//! is the age of the oldest recorded position it has not replayed yet (to
//! about one check interval; zero when it has replayed everything). An idle
//! primary does not make a caught-up standby look behind.

use std::{
    collections::VecDeque,
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use super::{Reader, Store, StoreError};

/// How long primary WAL positions are remembered: a standby further behind
/// is reported as at least this far behind.
const REMEMBERED: Duration = Duration::from_secs(15 * 60);

/// Where the standby stands, as the last check found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandbyState {
    /// Not checked yet: reads go to the primary.
    Unchecked,
    /// Answering and at most `max_lag` behind: reads go to it.
    Streaming,
    /// Answering but more than `max_lag` behind: reads go to the primary
    /// until it catches up.
    Lagging,
    /// Not answering, or not a replica of the primary's database: reads go
    /// to the primary.
    Down,
}

impl StandbyState {
    /// The state's name, as metrics and logs show it.
    pub fn name(self) -> &'static str {
        match self {
            StandbyState::Unchecked => "unchecked",
            StandbyState::Streaming => "streaming",
            StandbyState::Lagging => "lagging",
            StandbyState::Down => "down",
        }
    }
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
    /// Why it is down (the last check's error).
    pub error: Option<String>,
    /// Reads served by the standby since diagd started.
    pub reads_on_standby: u64,
    /// Reads that could have gone to the standby but went to the primary
    /// (it was down, lagging or not checked yet, or a read by id found
    /// nothing on it).
    pub reads_on_primary: u64,
}

/// The standby: its pool and what the checks found.
pub(super) struct Standby {
    /// Read connections to the standby (same size and settings as the
    /// primary's read pool).
    pub(super) pool: Pool,
    /// The lag beyond which reads go to the primary.
    max_lag: Duration,
    /// Whether reads go to the standby now.
    in_use: AtomicBool,
    /// The last check's findings.
    last: Mutex<Checked>,
    /// Primary WAL positions (bytes since 0/0) and when they were read,
    /// oldest first, for at most [`REMEMBERED`].
    positions: Mutex<VecDeque<(Instant, i64)>>,
    /// Reads served by the standby.
    reads_on_standby: AtomicU64,
    /// Reads that went to the primary instead.
    reads_on_primary: AtomicU64,
}

/// One check's findings.
#[derive(Debug, Clone)]
struct Checked {
    state: StandbyState,
    lag: Duration,
    at: Option<DateTime<Utc>>,
    error: Option<String>,
}

impl Standby {
    /// A standby reached through `pool`, used while at most `max_lag` behind.
    pub(super) fn new(pool: Pool, max_lag: Duration) -> Standby {
        Standby {
            pool,
            max_lag,
            in_use: AtomicBool::new(false),
            last: Mutex::new(Checked {
                state: StandbyState::Unchecked,
                lag: Duration::ZERO,
                at: None,
                error: None,
            }),
            positions: Mutex::new(VecDeque::new()),
            reads_on_standby: AtomicU64::new(0),
            reads_on_primary: AtomicU64::new(0),
        }
    }

    /// What the last check found and what reads did.
    pub(super) fn status(&self) -> StandbyStatus {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner()).clone();
        StandbyStatus {
            state: last.state,
            lag: last.lag,
            max_lag: self.max_lag,
            checked_at: last.at,
            error: last.error,
            reads_on_standby: self.reads_on_standby.load(Ordering::Relaxed),
            reads_on_primary: self.reads_on_primary.load(Ordering::Relaxed),
        }
    }

    /// Records a check's result; reads follow it at once.
    fn record(&self, state: StandbyState, lag: Duration, error: Option<String>) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.state != state {
            match state {
                StandbyState::Streaming => {
                    tracing::info!(lag_ms = lag.as_millis() as u64, "the standby takes reads")
                }
                StandbyState::Lagging => tracing::warn!(
                    lag_secs = lag.as_secs(),
                    max_lag_secs = self.max_lag.as_secs(),
                    "the standby is behind the primary by more than the allowed lag: reads go to the primary until it catches up"
                ),
                StandbyState::Down => tracing::warn!(
                    error = error.as_deref().unwrap_or(""),
                    "the standby cannot take reads: they go to the primary"
                ),
                StandbyState::Unchecked => {}
            }
        }
        self.in_use
            .store(state == StandbyState::Streaming, Ordering::SeqCst);
        *last = Checked {
            state,
            lag,
            at: Some(Utc::now()),
            error,
        };
    }

    /// Remembers the primary's WAL position read at `at`.
    fn remember_position(&self, at: Instant, position: i64) {
        let mut positions = self.positions.lock().unwrap_or_else(|e| e.into_inner());
        positions.push_back((at, position));
        while positions.len() > 1
            && positions
                .front()
                .is_some_and(|(then, _)| at.saturating_duration_since(*then) > REMEMBERED)
        {
            positions.pop_front();
        }
    }

    /// How far behind a standby that has replayed up to `replayed` is at
    /// `now`.
    fn lag_of(&self, replayed: i64, now: Instant) -> Duration {
        let positions = self.positions.lock().unwrap_or_else(|e| e.into_inner());
        lag_behind(&positions, replayed, now)
    }
}

/// The age of the oldest remembered primary position beyond `replayed`:
/// what the primary had committed by then, the standby does not show yet.
/// Zero when the standby has replayed every remembered position.
fn lag_behind(positions: &VecDeque<(Instant, i64)>, replayed: i64, now: Instant) -> Duration {
    positions
        .iter()
        .find(|(_, position)| *position > replayed)
        .map_or(Duration::ZERO, |(at, _)| now.saturating_duration_since(*at))
}

/// What a check reads from each server: whether it replays WAL, how far
/// (NULL on a primary), the cluster's identity and the database's name.
const STANDBY_POSITION: &str = "SELECT pg_is_in_recovery(), \
     (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, \
     (SELECT system_identifier FROM pg_control_system()), current_database()";
/// The primary's WAL position, identity and database.
const PRIMARY_POSITION: &str = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint, \
     (SELECT system_identifier FROM pg_control_system()), current_database()";

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
    /// pool while it takes reads, else (or when it cannot be reached now)
    /// from the primary's read pool.
    pub(super) async fn replica_reader(&self) -> Result<Reader, StoreError> {
        if let Some(standby) = &self.standby
            && standby.in_use.load(Ordering::SeqCst)
        {
            match standby.pool.get().await {
                Ok(object) => {
                    standby.reads_on_standby.fetch_add(1, Ordering::Relaxed);
                    return Ok(Reader::on_standby(object));
                }
                Err(e) => {
                    let error = StoreError::from(e);
                    if !matches!(error, StoreError::Unavailable(_)) {
                        return Err(error);
                    }
                    standby.record(StandbyState::Down, Duration::ZERO, Some(error.to_string()));
                }
            }
        }
        self.count_read_on_primary();
        self.reader().await
    }

    /// A read of one thing by id (`read` gets a connection and gives it
    /// back): on the standby while it takes reads, and again on the primary
    /// when the standby found nothing, so that what was written a moment ago
    /// and not replayed yet is never answered "not found".
    pub(super) async fn read_by_id<T, F, Fut>(&self, read: F) -> Result<Option<T>, StoreError>
    where
        F: Fn(Reader) -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, StoreError>>,
    {
        let client = self.replica_reader().await?;
        let on_standby = client.is_on_standby();
        match read(client).await? {
            None if on_standby => {
                self.count_read_on_primary();
                read(self.reader().await?).await
            }
            found => Ok(found),
        }
    }

    /// Counts a read that went to the primary although a standby is
    /// configured.
    pub(super) fn count_read_on_primary(&self) {
        if let Some(standby) = &self.standby {
            standby.reads_on_primary.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Checks the standby once: that it answers, is a replica of the
    /// primary's database, and how far behind it is; reads follow the
    /// result. Nothing without a standby.
    pub async fn check_standby(&self) {
        let Some(standby) = &self.standby else {
            return;
        };
        let timeout = self.acquire_timeout;
        // The primary first: a position read after the standby's would make
        // a caught-up standby look behind.
        let primary = tokio::time::timeout(timeout, async {
            let client = self.client().await?;
            let row = client.query_one(PRIMARY_POSITION, &[]).await?;
            Ok::<_, StoreError>((
                row.try_get::<_, i64>(0)?,
                row.try_get::<_, i64>(1)?,
                row.try_get::<_, String>(2)?,
            ))
        })
        .await;
        let primary = match primary {
            Ok(Ok(found)) => {
                standby.remember_position(Instant::now(), found.0);
                Some(found)
            }
            // The primary is down: the standby is judged by what is
            // remembered (its health says the rest).
            _ => None,
        };
        let found = tokio::time::timeout(timeout, async {
            let client = standby.pool.get().await?;
            let row = client.query_one(STANDBY_POSITION, &[]).await?;
            Ok::<_, StoreError>((
                row.try_get::<_, bool>(0)?,
                row.try_get::<_, Option<i64>>(1)?,
                row.try_get::<_, i64>(2)?,
                row.try_get::<_, String>(3)?,
            ))
        })
        .await;
        let (in_recovery, replayed, system, database) = match found {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                standby.record(StandbyState::Down, Duration::ZERO, Some(e.to_string()));
                return;
            }
            Err(_) => {
                standby.record(
                    StandbyState::Down,
                    Duration::ZERO,
                    Some(format!("no answer within {} s", timeout.as_secs())),
                );
                return;
            }
        };
        if let Some((_, primary_system, primary_database)) = &primary
            && (*primary_system != system || *primary_database != database)
        {
            standby.record(
                StandbyState::Down,
                Duration::ZERO,
                Some(format!(
                    "DATABASE_READ_URL is not a replica of DATABASE_URL: it names database \
                     {database:?} of cluster {system}, the primary database {primary_database:?} \
                     of cluster {primary_system}"
                )),
            );
            return;
        }
        // A server that is not in recovery (the primary itself, or a
        // promoted standby) shows everything it has.
        let lag = match (in_recovery, replayed) {
            (true, Some(replayed)) => standby.lag_of(replayed, Instant::now()),
            _ => Duration::ZERO,
        };
        let state = if lag <= standby.max_lag {
            StandbyState::Streaming
        } else {
            StandbyState::Lagging
        };
        standby.record(state, lag, None);
    }
}

#[cfg(test)]
mod tests {
    use std::{
        collections::VecDeque,
        time::{Duration, Instant},
    };

    use super::lag_behind;

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
}
