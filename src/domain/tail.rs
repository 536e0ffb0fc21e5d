//! Positions in the live tail: logs are followed in commit order, by the id
//! of the transaction that inserted them and their insertion sequence.

/// A position in commit order; a tail continues strictly after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct TailCursor {
    /// Id of the inserting transaction.
    pub txid: i64,
    /// Insertion sequence within the table.
    pub seq: i64,
}
