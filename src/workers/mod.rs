//! The background work of a diagd process beside the gRPC service, each a
//! named task started by `server::run` and ended with it:
//!
//! - `tail`: the live-tail hub — LISTEN, read new logs in commit order, fan
//!   them out to the subscribers' bounded queues;
//! - `retention`: drops whole days of old logs and deletes the rest in
//!   small batches, when configured;
//! - `partitions`: the daily partitions of `logs` for today and the next
//!   days, made at start-up and every hour;
//! - `debug_mode`: follows the debug-mode switch and flips diagd's own log
//!   level;
//! - `grouping`: puts logs stored before error groups existed into their
//!   groups, in small batches, then ends;
//! - `runs`: the liveness sweep of training runs (stuck, lost) and the
//!   reader of their state changes for WatchRuns;
//! - `alerts`: evaluates alert rules after the commit and delivers the
//!   alerts (webhooks) with retries.

pub mod alerts;
pub mod debug_mode;
pub mod grouping;
pub mod partitions;
pub mod retention;
pub mod runs;
pub mod tail;
