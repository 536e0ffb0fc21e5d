//! Plain Rust types for what diagd stores and answers: logs, their parts,
//! filters and stats. No proto and no SQL here; `api` converts from the wire
//! and `store` maps to tables.

mod action;
mod debug_mode;
pub mod fold;
mod guidance;
mod log;
pub mod report;
pub mod scrub;
pub mod search;
mod stats;
mod tail;

pub use action::{NewAction, RecordedAction};
pub use debug_mode::DebugMode;
pub use guidance::Guidance;
pub use log::{
    ErrorType, GpuState, LogEntry, LogFilter, LogPage, NewLog, PageCursor, RecentAction, Severity,
    Source, SystemState,
};
pub use search::{FoldedText, MatchLocation, SearchQuery};
pub use stats::Stats;
pub use tail::{NoticeKind, TailCursor};
