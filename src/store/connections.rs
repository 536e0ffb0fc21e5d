//! diagd's two connection pools and the guard readers hold.
//!
//! Writes (ingest, admin, the live-tail hub, health) and reads (listing,
//! search, export, reports) come from separate pools, so no number of
//! readers, however slow their clients, can take the connections that
//! ingest needs. Read connections carry a statement timeout and an
//! idle-in-transaction timeout, and a reader whose request is abandoned
//! mid-query (the client went away, the request was cancelled) takes its
//! connection out of the pool and cancels the query inside PostgreSQL.

use std::{
    ops::{Deref, DerefMut},
    time::Duration,
};

use deadpool_postgres::{
    HookError, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use tokio_postgres::NoTls;

use super::StoreError;

/// `application_name` of the write pool's sessions.
pub const WRITE_APPLICATION_NAME: &str = "diagd";
/// `application_name` of the read pool's sessions (how a full clear finds
/// the readers that hold the logs table).
pub const READ_APPLICATION_NAME: &str = "diagd-read";

/// How a pool's connections are used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// `write`, `read` or `standby`.
    pub name: &'static str,
    /// Connections handed out.
    pub in_use: usize,
    /// Connections open and free.
    pub idle: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

impl PoolStatus {
    /// The status of `pool`, named `name`.
    pub(super) fn of(name: &'static str, pool: &Pool) -> PoolStatus {
        let status = pool.status();
        PoolStatus {
            name,
            in_use: status.size.saturating_sub(status.available),
            idle: status.available,
            waiting: status.waiting,
        }
    }
}

/// Settings of one pool.
pub(super) struct PoolSpec<'a> {
    /// Most connections.
    pub size: usize,
    /// How long to wait for a connection.
    pub acquire_timeout: Duration,
    /// `application_name` of its sessions.
    pub application_name: &'a str,
    /// Session settings run on every new connection (`SET …`).
    pub session_settings: Vec<String>,
}

/// Builds a pool over `config` (which is not changed).
pub(super) fn build_pool(
    config: &tokio_postgres::Config,
    spec: PoolSpec<'_>,
) -> Result<Pool, StoreError> {
    let mut config = config.clone();
    config.application_name(spec.application_name);
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let settings = spec.session_settings.clone();
    Pool::builder(manager)
        .max_size(spec.size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(spec.acquire_timeout))
        .create_timeout(Some(spec.acquire_timeout))
        .recycle_timeout(Some(spec.acquire_timeout))
        .post_create(deadpool_postgres::Hook::async_fn(move |client, _| {
            let settings = settings.clone();
            Box::pin(async move {
                for setting in &settings {
                    // A setting the server does not know (an older
                    // PostgreSQL) is skipped: each is a safeguard, not a
                    // requirement.
                    if let Err(e) = client.batch_execute(setting).await {
                        if e.code().is_none() {
                            return Err(HookError::Backend(e));
                        }
                        tracing::debug!(%setting, error = %e, "session setting not applied");
                    }
                }
                Ok(())
            })
        }))
        .build()
        .map_err(|e| StoreError::Config(e.to_string()))
}

/// The session settings of read connections: no statement runs longer than
/// `statement_timeout`, no transaction idles longer than `idle_timeout`
/// (a stream whose client stopped reading), and a query whose client
/// connection closed is stopped within a second (PostgreSQL 14+).
pub(super) fn read_session_settings(
    statement_timeout: Duration,
    idle_timeout: Duration,
) -> Vec<String> {
    vec![
        format!(
            "SET statement_timeout = {}",
            statement_timeout.as_millis().max(1)
        ),
        format!(
            "SET idle_in_transaction_session_timeout = {}",
            idle_timeout.as_millis().max(1)
        ),
        "SET client_connection_check_interval = 1000".to_string(),
    ]
    .into_iter()
    .chain(common_session_settings())
    .collect()
}

/// Settings of every connection: no JIT compilation. diagd's statements
/// are short and indexed; PostgreSQL judged some of them costly enough to
/// compile (12.6 ms of JIT for one search at 1,000,000 logs), which took
/// longer than running them.
pub(super) fn common_session_settings() -> Vec<String> {
    vec!["SET jit = off".to_string()]
}

/// A read connection. Call [`Reader::finish`] when the work is done to give
/// it back to the pool; dropped without that (the request was abandoned
/// mid-query, or failed), it leaves the pool, closes, and any query still
/// running on it is cancelled inside PostgreSQL.
pub struct Reader {
    /// The pooled connection; `None` once given back or taken out.
    object: Option<Object>,
    /// Whether it is a connection to the standby.
    standby: bool,
}

impl Reader {
    /// Wraps a pooled connection to the primary.
    pub(super) fn new(object: Object) -> Reader {
        Reader {
            object: Some(object),
            standby: false,
        }
    }

    /// Wraps a pooled connection to the standby.
    pub(super) fn on_standby(object: Object) -> Reader {
        Reader {
            object: Some(object),
            standby: true,
        }
    }

    /// Whether this connection reads from the standby (whose data may be a
    /// moment behind the primary's).
    pub fn is_on_standby(&self) -> bool {
        self.standby
    }

    /// The work is done: the connection goes back to the pool.
    pub fn finish(mut self) {
        drop(self.object.take());
    }

    /// Runs one query, then gives the connection back.
    pub(super) async fn query_then_finish(
        self,
        query: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let rows = self.query(query, params).await?;
        self.finish();
        Ok(rows)
    }
}

impl Deref for Reader {
    type Target = Object;

    fn deref(&self) -> &Object {
        self.object.as_ref().expect("a reader holds its connection")
    }
}

impl DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut Object {
        self.object.as_mut().expect("a reader holds its connection")
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let Some(object) = self.object.take() else {
            return;
        };
        // Never back to the pool: a cancel request sent now could otherwise
        // reach the next user's query on the same session.
        let cancel = object.cancel_token();
        let client = Object::take(object);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = cancel.cancel_query(NoTls).await {
                    tracing::debug!(error = %e, "cancelling an abandoned read failed");
                }
                drop(client);
            });
        }
    }
}
