//! The live tail's own types: positions (logs are followed in commit order,
//! by the id of the transaction that inserted them and their insertion
//! sequence) and what a notice to a subscriber is about.

/// A position in commit order; a tail continues strictly after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct TailCursor {
    /// Id of the inserting transaction.
    pub txid: i64,
    /// Insertion sequence within the table.
    pub seq: i64,
}

/// What a notice tells a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Logs were dropped because the subscriber fell behind.
    Dropped,
    /// Logs arrived while a resuming subscriber was away, beyond the replay.
    Missed,
    /// Backfill or replay is over; what follows is live.
    Live,
    /// Logs were cleared.
    LogsCleared,
    /// The database cannot be reached.
    DatabaseUnavailable,
    /// The database is back.
    DatabaseRestored,
}
