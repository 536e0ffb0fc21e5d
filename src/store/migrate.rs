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
        if done.contains(&version) {
            continue;
        }
        tracing::info!(version, name, "applying migration");
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
