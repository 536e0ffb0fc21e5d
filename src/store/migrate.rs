//! Schema migrations: the `migrations/NNNN_name.sql` files, embedded at build
//! time, applied in order inside one transaction and recorded in
//! `schema_migrations`. Replicas starting together serialise on an advisory
//! lock, so each migration runs exactly once.

use deadpool_postgres::Object;

use super::StoreError;

/// Every migration this diagd knows: `(version, name, sql)`, in order.
const MIGRATIONS: &[(i32, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Key of the advisory lock taken while migrating ("diagd" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x64_6961_6764;

/// The migration that moves every log into daily partitions (a copy, with
/// diagd not serving meanwhile).
const PARTITIONS_MIGRATION: i32 = 14;

/// Seconds the partition migration takes per million logs, measured on a
/// 2-core machine (BENCHMARKS.md); for the estimate in diagd's log.
const PARTITION_COPY_SECS_PER_MILLION: f64 = 45.0;

/// Says in diagd's log, before the partition migration starts, how many
/// logs it moves and about how long diagd will not serve.
async fn warn_of_the_partition_copy(
    tx: &tokio_postgres::Transaction<'_>,
) -> Result<(), StoreError> {
    let estimate: f32 = tx
        .query_one(
            "SELECT coalesce(max(reltuples), -1)::real FROM pg_class WHERE oid = to_regclass('logs')",
            &[],
        )
        .await?
        .get(0);
    let logs = if estimate >= 0.0 {
        estimate as f64
    } else {
        let counted: i64 = tx.query_one("SELECT count(*) FROM logs", &[]).await?.get(0);
        counted as f64
    };
    if logs >= 1.0 {
        tracing::warn!(
            logs = logs as u64,
            estimated_secs = (logs / 1e6 * PARTITION_COPY_SECS_PER_MILLION).ceil() as u64,
            "migration 14 moves every stored log into daily partitions of the logs table; \
             diagd serves again when it ends (no log is lost; ingest clients retry meanwhile)"
        );
    }
    Ok(())
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this run, in order.
    pub applied: Vec<i32>,
    /// The schema version after the run (the highest applied version).
    pub schema_version: i32,
}

/// Applies the migrations the database lacks, all or none.
pub(super) async fn apply(client: &mut Object) -> Result<MigrationReport, StoreError> {
    apply_up_to(client, i32::MAX).await
}

/// Applies the migrations the database lacks up to `last` (tests build a
/// database as an older diagd left it).
pub(super) async fn apply_up_to(
    client: &mut Object,
    last: i32,
) -> Result<MigrationReport, StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    integer     PRIMARY KEY,
             name       text        NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let done: Vec<i32> = tx
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut applied = Vec::new();
    for &(version, name, sql) in MIGRATIONS {
        if done.contains(&version) || version > last {
            continue;
        }
        tracing::info!(version, name, "applying migration");
        if version == PARTITIONS_MIGRATION {
            warn_of_the_partition_copy(&tx).await?;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&version, &name],
        )
        .await?;
        applied.push(version);
    }
    let schema_version: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0);
    tx.commit().await?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if schema_version > known {
        tracing::warn!(
            schema_version,
            known,
            "the database was migrated by a newer diagd; this one may not understand all of it"
        );
    }
    Ok(MigrationReport {
        applied,
        schema_version,
    })
}
