//! diagd: a gRPC diagnostics service for machine-learning training fleets.
//! Trainers push their errors; people and tools query, count, search,
//! live-tail, report on, export and clear them. Storage is PostgreSQL.
//!
//! # The map
//!
//! Layers, each depending only on those below it (and on `metrics`):
//!
//! - [`api`]: the gRPC service. Validates requests and converts wire ↔
//!   domain (`api::convert`); one file per group of RPCs; every failure is an
//!   [`api::error::ApiError`], turned into a `Status` with google.rpc
//!   details in `api::error` alone.
//! - [`domain`]: plain Rust types and rules — logs, filters, stats, search
//!   terms and case folding, secret scrubbing, fingerprints and error
//!   groups, reports. No proto, no SQL.
//! - [`store`]: PostgreSQL only — pools, migrations, one module per table
//!   family, LISTEN/NOTIFY, the embedded cluster.
//!
//! Beside them:
//!
//! - [`server`]: running the service — start-up, health, shutdown — and its
//!   plumbing: `auth` (tokens), `tls`, `incoming` (connection limits),
//!   `request_timeout`, `batched_writes`, `memory` (giving memory back),
//!   `telemetry` (diagd's own log), `metrics` (the `/metrics` endpoint),
//!   `otlp_http` (OTLP/HTTP logs).
//! - [`workers`]: the background tasks — `tail` (the live-tail hub),
//!   `retention` (drops whole days, deletes the rest in batches),
//!   `partitions` (makes the coming days' partitions of `logs`),
//!   `debug_mode` (follows the switch, flips the log level),
//!   `grouping` (groups logs stored before error groups existed), `runs`
//!   (the liveness sweep of training runs and their state changes),
//!   `alerts` (alert rules evaluated after commit; webhook delivery).
//! - [`metrics`]: diagd's Prometheus registry, which any layer may count
//!   into (it depends on nothing of diagd's).
//! - [`config`] (flags), [`export`] (export files), [`system`] (the
//!   machine's state, for reports).
//! - [`cli`]: the client sub-commands, gRPC clients like any other;
//!   `bench`: `diagd bench`, which starts PostgreSQL and diagd itself
//!   (cargo feature `bench`, on by default).
//!
//! # The path of one log
//!
//! 1. `proto/diagnostics/v1/diagnostics.proto`: `ReportError` /
//!    `IngestLogs` carry a `NewLog`. OTLP's `LogsService/Export` (gRPC, or
//!    HTTP through `server::otlp_http`) carries OpenTelemetry log records:
//!    `api::otlp` turns each into the same `NewLog` (`convert::otlp`, its
//!    error type by `domain::classify`) and joins the path at step 2.
//! 2. `api::ingest`: `convert::from_wire::new_log` validates every field (an invalid
//!    one is `ApiError::Field`), `domain::scrub` redacts secrets,
//!    `domain::fingerprint` gives each log its fingerprint (the client's,
//!    or computed from its traceback or message), and `api::admission`
//!    admits the write.
//! 3. `store::logs::insert_logs` (one ReportError's log first waits in
//!    `store::merged` to share the transaction of other callers' logs that
//!    arrive at the same time: a group commit): the batch's days get their partition of
//!    `logs` if they have none (`store::partitions`); a first statement
//!    gives every new fingerprint its error group; a second inserts the
//!    batch (stack traces deduplicated, `event_id` claimed in `log_events`
//!    makes retries idempotent), each log in its day and its group, and upserts the hourly, per-minute and per-fingerprint
//!    counts and each group's figures and status (a regression reopens it);
//!    then `NOTIFY diagd_logs`, all in one transaction; only after
//!    `COMMIT` does the client get its answer.
//! 4. `workers::tail::Hub` (in every replica) hears the NOTIFY, reads what is new in
//!    commit order (`store::tail`) and hands each log to the queue of every
//!    subscriber whose filter matches, within byte budgets.
//! 5. `api::tail` streams it to the subscriber, after its backfill or
//!    resume replay, with no gap and no duplicate at the seam.
//! 6. `workers::alerts` (in one replica at a time) also reads what is new
//!    in commit order (`store::alerts`), matches it against the alert
//!    rules (`domain::alert`) and writes the alerts to an outbox in the same
//!    transaction as its cursor; every replica delivers from the outbox.

// serde_json::json! of the effective configuration (config.rs) nests deeper
// than the default limit.
#![recursion_limit = "256"]
#![warn(missing_docs)]

pub mod api;
#[cfg(feature = "bench")]
pub mod bench;
pub mod cli;
pub mod config;
pub mod domain;
pub mod export;
pub mod metrics;
pub mod server;
pub mod store;
pub mod system;
pub mod workers;
