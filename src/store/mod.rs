//! PostgreSQL storage. All SQL of diagd lives under here.
//!
//! - `connections`: the write and read pools and the `Reader` guard
//! - `standby`: the optional streaming standby that takes reads
//!   (`DATABASE_READ_URL`), its lag, and which reads go where
//! - `migrate`: `migrations/NNNN_name.sql`, applied under an advisory lock
//! - `embedded`: the embedded default cluster and its supervision
//! - `partitions`: the daily partitions of `logs` (made ahead and on
//!   demand, dropped whole by retention)
//! - `logs`: inserting batches (one statement) and listing / getting logs
//! - `merged`: single writes of concurrent callers (ReportError's logs,
//!   heartbeats) stored in shared transactions: a group commit
//! - `filter`: a `LogFilter` as SQL conditions, shared by every read
//! - `stats`: counts from the hourly roll-ups, and from logs where needed
//! - `search`: text search (folded trigram matches)
//! - `tail`: logs in commit order for the live tail (settled, replays)
//! - `notify`: LISTEN/NOTIFY channels and the dedicated listener connection
//! - `export`: the export cursor; `clear`: deleting logs and their traces
//! - `groups`: error groups (listing, reading, triage, merges and splits;
//!   created and counted on the insert path in `logs`)
//! - `runs`: training runs (heartbeats, the liveness sweep, state changes)
//! - `alerts`: alert rules, the evaluation after commit, the delivery outbox
//! - `reports`, `actions`, `debug_mode`: the other tables

mod actions;
mod alerts;
#[macro_use]
mod clear;
mod connections;
mod debug_mode;
pub mod embedded;
mod export;
mod filter;
#[macro_use]
mod logs;
mod groups;
mod merged;
mod migrate;
mod notify;
mod partitions;
mod reports;
pub(crate) mod runs;
mod search;
mod standby;
mod stats;
mod tail;

use std::time::Duration;

use deadpool_postgres::{Pool, PoolError};
use tokio_postgres::{NoTls, error::SqlState};

/// Advisory lock between inserts, which hold it shared while they find or
/// store their stack traces and until they commit, and the removal of
/// unreferenced traces, which holds it exclusively ("traces" in ASCII).
const TRACES_LOCK: i64 = 0x7472_6163_6573;

/// A connection that sent or received more than this in one message is
/// closed after use rather than pooled: its buffers grew to that size and
/// would otherwise stay (per pooled connection) after the peak.
const LARGE_TRANSFER_BYTES: usize = 4 * 1024 * 1024;

pub use alerts::{Attempt, Claimed, Delivery, DeliveryFilter, DeliveryState, Evaluation};
pub use connections::{PoolStatus, READ_APPLICATION_NAME, Reader, WRITE_APPLICATION_NAME};
pub use export::ExportSink;
pub use groups::{GroupMove, GroupPage, UngroupedLog};
pub use logs::InsertOutcome;
pub use migrate::MigrationReport;
pub use notify::{DEBUG_MODE_CHANNEL, LOGS_CHANNEL, LOGS_CLEARED_CHANNEL, Listener};
pub use partitions::{DropRule, DroppedDay, bounds_of as day_bounds};
pub use reports::{ReportBody, StoredReport};
pub use runs::ChangeCursor;
pub use search::{SearchOutcome, SearchSink};
pub use standby::{StandbyCheck, StandbyState, StandbyStatus};

/// A storage failure, as the API layer needs to tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now (connection refused, pool
    /// exhausted or timed out, connection lost). Worth retrying.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The transaction lost a race with another one (deadlock detected,
    /// serialization failure) and was rolled back. Worth retrying at once.
    #[error("transaction conflict: {0}")]
    Conflict(String),
    /// A read ran longer than the read statement timeout and was cancelled
    /// by PostgreSQL.
    #[error("the query ran longer than the read statement timeout: {0}")]
    Timeout(String),
    /// A query failed for another reason.
    #[error("database error: {}", describe_query_error(.0))]
    Query(#[source] tokio_postgres::Error),
    /// The receiver of an export failed (the client went away, or the
    /// export file could not be written); nothing was changed.
    #[error("export failed: {0}")]
    Sink(String),
    /// A stored value could not be read back (corrupt or unexpected data).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// The connection settings are wrong.
    #[error("invalid database settings: {0}")]
    Config(String),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let connection_lost = e.is_closed()
            || e.code().is_some_and(|c| {
                c == &SqlState::ADMIN_SHUTDOWN
                    || c == &SqlState::CRASH_SHUTDOWN
                    || c == &SqlState::CANNOT_CONNECT_NOW
                    || c == &SqlState::TOO_MANY_CONNECTIONS
                    || c == &SqlState::INVALID_CATALOG_NAME
            })
            || e.code().is_none()
                && std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        let conflict = e.code().is_some_and(|c| {
            c == &SqlState::T_R_DEADLOCK_DETECTED || c == &SqlState::T_R_SERIALIZATION_FAILURE
        });
        let timed_out = e.code() == Some(&SqlState::QUERY_CANCELED);
        // A standby cancels a read that holds up its replay (SQLSTATE
        // 40001, like a serialization failure): the read can be run again,
        // and nothing was written.
        let recovery_conflict = e
            .as_db_error()
            .is_some_and(|db| db.message().contains("conflict with recovery"));
        if recovery_conflict {
            StoreError::Unavailable(describe_query_error(&e))
        } else if connection_lost {
            StoreError::Unavailable(describe_connection_error(&e))
        } else if timed_out {
            StoreError::Timeout(describe_query_error(&e))
        } else if conflict {
            StoreError::Conflict(describe_query_error(&e))
        } else {
            StoreError::Query(e)
        }
    }
}

/// Why a connection failed or was lost: PostgreSQL's words when it said
/// why (a missing database, a shutdown), else tokio-postgres' with their
/// causes ("error connecting to server: Connection refused").
fn describe_connection_error(e: &tokio_postgres::Error) -> String {
    if e.as_db_error().is_some() {
        return describe_query_error(e);
    }
    let mut described = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !described.ends_with(&cause_text) {
            described.push_str(": ");
            described.push_str(&cause_text);
        }
        source = cause.source();
    }
    described
}

/// PostgreSQL's own words for a failed query (its SQLSTATE and message),
/// where tokio-postgres alone says only "db error".
fn describe_query_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl From<PoolError> for StoreError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Backend(e) => e.into(),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections of the write pool (ingest, admin, live-tail hub,
    /// health).
    pub max_connections: usize,
    /// Most connections of the read pool (listing, search, export, reports),
    /// which readers cannot exceed: ingest keeps its own.
    pub read_connections: usize,
    /// How long to wait for a connection (to connect, or for a free one)
    /// before answering UNAVAILABLE.
    pub acquire_timeout: Duration,
    /// Longest a read statement may run (PostgreSQL's statement_timeout on
    /// read connections).
    pub read_statement_timeout: Duration,
    /// Longest a read transaction may sit idle (a stream whose client does
    /// not read); PostgreSQL ends the session after it.
    pub read_idle_timeout: Duration,
    /// A streaming-replication standby of the primary that takes the reads
    /// that may lag (`DATABASE_READ_URL`); `None`: every read goes to the
    /// primary.
    pub read_url: Option<String>,
    /// How far the standby may be behind the primary and still take reads.
    pub read_max_lag: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: 16,
            read_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            read_statement_timeout: Duration::from_secs(30),
            read_idle_timeout: Duration::from_secs(120),
            read_url: None,
            read_max_lag: Duration::from_secs(10),
        }
    }
}

/// diagd's storage: two pools of connections to one PostgreSQL database,
/// and a third to its standby when one is configured.
#[derive(Clone)]
pub struct Store {
    /// The write pool; cheap to clone.
    pool: Pool,
    /// The read pool.
    reads: Pool,
    /// The standby that takes reads, when configured.
    standby: Option<std::sync::Arc<standby::Standby>>,
    /// How long to wait for a connection.
    acquire_timeout: Duration,
    /// Times full clears of this process set out to end read sessions, so
    /// far (counted before they do): a read that fails after this moved was
    /// ended by a clear, not by an outage.
    ended_by_clears: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The days known to have their partition of `logs`.
    known_days: std::sync::Arc<partitions::KnownDays>,
    /// Writes of concurrent callers waiting to share a transaction (`merged`).
    merger: std::sync::Arc<merged::Mergers>,
    /// The connection settings, for dedicated (non-pooled) connections
    /// such as LISTEN.
    config: tokio_postgres::Config,
}

impl Store {
    /// Connects to the database at `url`, creating the database first when
    /// the server does not have it yet.
    pub async fn connect(url: &str, options: &PoolOptions) -> Result<Store, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::Config(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.acquire_timeout);
        }
        config.application_name(WRITE_APPLICATION_NAME);
        create_database_if_missing(&config).await?;
        let pool = connections::build_pool(
            &config,
            connections::PoolSpec {
                size: options.max_connections,
                acquire_timeout: options.acquire_timeout,
                application_name: WRITE_APPLICATION_NAME,
                session_settings: connections::common_session_settings(),
            },
        )?;
        let read_spec = || connections::PoolSpec {
            size: options.read_connections,
            acquire_timeout: options.acquire_timeout,
            application_name: READ_APPLICATION_NAME,
            session_settings: connections::read_session_settings(
                options.read_statement_timeout,
                options.read_idle_timeout,
            ),
        };
        let reads = connections::build_pool(&config, read_spec())?;
        let standby = match &options.read_url {
            None => None,
            Some(url) => {
                let mut standby_config: tokio_postgres::Config =
                    url.parse().map_err(|e: tokio_postgres::Error| {
                        StoreError::Config(format!("DATABASE_READ_URL: {e}"))
                    })?;
                if standby_config.get_connect_timeout().is_none() {
                    standby_config.connect_timeout(options.acquire_timeout);
                }
                // Never created there: a standby is read-only, and its
                // databases come from the primary.
                let pool = connections::build_pool(&standby_config, read_spec())?;
                Some(std::sync::Arc::new(standby::Standby::new(
                    pool,
                    standby_config,
                    options.read_max_lag,
                )))
            }
        };
        Ok(Store {
            pool,
            reads,
            standby,
            acquire_timeout: options.acquire_timeout,
            ended_by_clears: Default::default(),
            known_days: Default::default(),
            merger: Default::default(),
            config,
        })
    }

    /// Applies the migrations this diagd knows and the database lacks.
    pub async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let mut client = self.pool.get().await?;
        migrate::apply(&mut client).await
    }

    /// Applies the migrations up to version `last` only: a database as an
    /// older diagd left it, for tests of later migrations.
    #[cfg(any(test, feature = "testing"))]
    pub async fn migrate_to(&self, last: i32) -> Result<MigrationReport, StoreError> {
        let mut client = self.pool.get().await?;
        migrate::apply_up_to(&mut client, last).await
    }

    /// Checks that the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// A connection of the write pool.
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// How each pool's connections are used right now (for metrics):
    /// write, read, and standby when one is configured.
    pub fn pool_statuses(&self) -> Vec<PoolStatus> {
        let mut statuses = vec![
            PoolStatus::of("write", &self.pool),
            PoolStatus::of("read", &self.reads),
        ];
        if let Some(standby) = &self.standby {
            statuses.push(PoolStatus::of("standby", &standby.pool));
        }
        statuses
    }

    /// A connection of the read pool, cancelled and closed if dropped
    /// before [`Reader::finish`].
    async fn reader(&self) -> Result<Reader, StoreError> {
        Ok(Reader::new(self.reads.get().await?))
    }

    /// How many times full clears of this process have ended read sessions
    /// so far (see [`Store::clear_logs`]); compared before and after a read.
    pub fn readers_ended_by_clears(&self) -> u64 {
        self.ended_by_clears
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Connections in use and idle, per pool: (writes, reads).
    pub fn pool_status(&self) -> (deadpool_postgres::Status, deadpool_postgres::Status) {
        (self.pool.status(), self.reads.status())
    }
}

/// Creates the database named in `config` when the server lacks it, by
/// connecting to the `postgres` maintenance database with the same login.
async fn create_database_if_missing(config: &tokio_postgres::Config) -> Result<(), StoreError> {
    match config.connect(NoTls).await {
        Ok((client, connection)) => {
            drop(client);
            drop(connection);
            return Ok(());
        }
        Err(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {}
        Err(e) => {
            return Err(StoreError::Unavailable(format!(
                "connecting to PostgreSQL: {e}"
            )));
        }
    }
    let dbname = config
        .get_dbname()
        .map(str::to_string)
        .or_else(|| config.get_user().map(str::to_string))
        .ok_or_else(|| StoreError::Config("no database name in DATABASE_URL".into()))?;
    let mut admin = config.clone();
    admin.dbname("postgres");
    let (client, connection) = admin.connect(NoTls).await.map_err(|e| {
        StoreError::Unavailable(format!(
            "connecting to PostgreSQL to create database {dbname:?}: {e}"
        ))
    })?;
    let connection = tokio::spawn(connection);
    let statement = format!("CREATE DATABASE {}", quote_identifier(&dbname));
    let result = client.batch_execute(&statement).await;
    drop(client);
    let _ = connection.await;
    match result {
        Ok(()) => {
            tracing::info!(database = %dbname, "created database");
            Ok(())
        }
        Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => Ok(()),
        Err(e) => Err(StoreError::Query(e)),
    }
}

/// Drops a database (closing its sessions); used by tests for cleanup.
#[cfg(any(test, feature = "testing"))]
pub async fn drop_database(admin_url: &str, dbname: &str) -> Result<(), StoreError> {
    let config: tokio_postgres::Config = admin_url
        .parse()
        .map_err(|e: tokio_postgres::Error| StoreError::Config(e.to_string()))?;
    let (client, connection) = config.connect(NoTls).await?;
    let connection = tokio::spawn(connection);
    let result = client
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_identifier(dbname)
        ))
        .await;
    drop(client);
    let _ = connection.await;
    Ok(result?)
}

/// A PostgreSQL URL with its database name replaced by `name` (query
/// parameters kept).
pub fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Quotes an SQL identifier (doubling embedded quotes).
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::with_database_name;

    #[test]
    fn the_database_name_is_replaced_and_parameters_kept() {
        assert_eq!(
            with_database_name("postgres://u:p@h:5432/old?sslmode=disable", "new"),
            "postgres://u:p@h:5432/new?sslmode=disable"
        );
        assert_eq!(with_database_name("postgres://h", "db"), "postgres://h/db");
    }
}
