//! diagd: a gRPC diagnostics service for machine-learning training fleets.
//! Trainers push their errors; people and tools query, count, search,
//! live-tail, report on, export and clear them. Storage is PostgreSQL.
//!
//! The way of one log: `api::ingest` (validate, convert) →
//! `store::logs` (one statement, one transaction) → the caller's answer.

// serde_json::json! of the effective configuration (config.rs) nests deeper
// than the default limit.
#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod batched_writes;
pub mod cli;
pub mod config;
pub mod debug_mode;
pub mod domain;
pub mod export;
pub mod incoming;
pub mod live;
pub mod memory;
pub mod request_timeout;
pub mod retention;
pub mod server;
pub mod store;
pub mod system;
pub mod telemetry;
pub mod tls;
