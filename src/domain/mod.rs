//! Plain Rust types for what diagd stores and answers: logs, their parts,
//! filters and stats. No proto and no SQL here; `api` converts from the wire
//! and `store` maps to tables.

mod log;
mod stats;

pub use log::{
    ErrorType, GpuState, LogEntry, LogFilter, LogPage, NewLog, PageCursor, RecentAction, Severity,
    Source, SystemState,
};
pub use stats::Stats;
