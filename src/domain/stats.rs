//! The stats dashboard's numbers: totals per severity and per error type.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{ErrorType, Severity};

/// Counts of one time bucket, per severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBucket {
    /// The bucket's start.
    pub start: DateTime<Utc>,
    /// Count per severity, in [`Severity::ALL`] order.
    pub by_severity: [u64; 4],
}

impl TimeBucket {
    /// Matching logs in the bucket.
    pub fn total(&self) -> u64 {
        self.by_severity.iter().sum()
    }
}

/// Counts of the logs matching a filter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stats {
    /// Count per severity; a severity with no logs may be absent.
    pub by_severity: BTreeMap<Severity, u64>,
    /// Count per error type; a type with no logs may be absent.
    pub by_error_type: BTreeMap<ErrorType, u64>,
    /// Earliest `occurred_at` counted.
    pub oldest: Option<DateTime<Utc>>,
    /// Latest `occurred_at` counted.
    pub newest: Option<DateTime<Utc>>,
}

impl Stats {
    /// Total number of logs counted.
    pub fn total(&self) -> u64 {
        self.by_severity.values().sum()
    }

    /// Adds `count` logs of one severity and type, whose `occurred_at` lie
    /// between `oldest` and `newest`.
    pub fn add(
        &mut self,
        severity: Severity,
        error_type: ErrorType,
        count: u64,
        oldest: DateTime<Utc>,
        newest: DateTime<Utc>,
    ) {
        if count == 0 {
            return;
        }
        *self.by_severity.entry(severity).or_default() += count;
        *self.by_error_type.entry(error_type).or_default() += count;
        self.oldest = Some(self.oldest.map_or(oldest, |o| o.min(oldest)));
        self.newest = Some(self.newest.map_or(newest, |n| n.max(newest)));
    }

    /// The count for one severity, zero when none.
    pub fn severity_count(&self, severity: Severity) -> u64 {
        self.by_severity.get(&severity).copied().unwrap_or(0)
    }

    /// The count for one error type, zero when none.
    pub fn error_type_count(&self, error_type: ErrorType) -> u64 {
        self.by_error_type.get(&error_type).copied().unwrap_or(0)
    }
}
