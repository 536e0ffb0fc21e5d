//! Plain Rust types and rules for what diagd stores and answers: logs and
//! their parts, filters, stats, actions, debug mode, the live tail's
//! positions and notices; search terms and case folding (`search`, `fold`),
//! secret scrubbing (`scrub`), error fingerprints (`fingerprint`: which logs
//! are the same error) and error groups (`group`: their counts and triage),
//! training runs (`run`: heartbeats and the states derived from them),
//! alert rules, what fires them and what alerts say (`alert`), error
//! types of errors known only by their text (`classify`), the report
//! document and guidance. No proto
//! and no SQL here; `api` converts from the wire and `store` maps to
//! tables.

mod action;
pub mod alert;
pub mod classify;
mod debug_mode;
pub mod fingerprint;
pub mod fold;
pub mod group;
mod guidance;
mod log;
pub mod report;
pub mod run;
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
pub use stats::{Stats, TimeBucket};
pub use tail::{NoticeKind, TailCursor};

/// A count with thousands separators: 1,234,567 (for people: notes,
/// summaries, the CLI).
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
