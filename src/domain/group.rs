//! Error groups: the logs of one fingerprint (or of several, once merged),
//! counted and triaged together — status, regressions, ignore rules and the
//! knowledge-base note — and the filters, orders and pages that read them.

use chrono::{DateTime, Utc};

use super::{ErrorType, LogEntry, Severity, fingerprint::Components};

/// Where a group stands in triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupStatus {
    /// Needs attention (new, reopened, or its ignore rule ran out).
    Unresolved,
    /// Fixed; a new event reopens it as a regression.
    Resolved,
    /// Muted: for good, until a time, or for a number of further events.
    Ignored,
}

impl GroupStatus {
    /// Every status.
    pub const ALL: [GroupStatus; 3] = [Self::Unresolved, Self::Resolved, Self::Ignored];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unresolved => "unresolved",
            Self::Resolved => "resolved",
            Self::Ignored => "ignored",
        }
    }

    /// Parses [`GroupStatus::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// How long an ignored group stays ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreRule {
    /// Until someone changes it.
    Forever,
    /// Until this time; then it is unresolved again.
    Until(DateTime<Utc>),
    /// For this many more events; the next one after them reopens it.
    ForEvents(u64),
}

/// The knowledge-base entry of a group: cause and fix, by whom, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupNote {
    /// Free text (cause, fix, links).
    pub text: String,
    /// Who wrote it (the caller's name, or the token's role).
    pub author: String,
    /// When it was last written.
    pub updated_at: DateTime<Utc>,
}

/// A group as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorGroup {
    /// Stable id.
    pub id: i64,
    /// `Type: normalised message`.
    pub title: String,
    /// `module in function` of the innermost in-app frame; may be empty.
    pub culprit: String,
    /// The last exception's type (e.g. `torch.OutOfMemoryError`); may be empty.
    pub exception_type: String,
    /// diagd's kind of its first log.
    pub error_type: ErrorType,
    /// Triage status (an expired ignore reads as unresolved).
    pub status: GroupStatus,
    /// When the status last changed, and by whom.
    pub status_changed_at: DateTime<Utc>,
    /// Who changed the status last (empty: diagd itself).
    pub status_changed_by: String,
    /// The ignore rule, when ignored.
    pub ignore: Option<IgnoreRule>,
    /// When a resolved group last received a new event.
    pub regressed_at: Option<DateTime<Utc>>,
    /// The knowledge-base note, if written.
    pub note: Option<GroupNote>,
    /// The highest severity among its stored logs.
    pub severity: Option<Severity>,
    /// Logs stored in it.
    pub event_count: u64,
    /// Earliest and latest `occurred_at` among them.
    pub first_seen: Option<DateTime<Utc>>,
    /// See `first_seen`.
    pub last_seen: Option<DateTime<Utc>>,
    /// Logs in the window asked for (ListGroups' growth), when asked.
    pub window_count: Option<u64>,
    /// Distinct hosts and runs among its logs.
    pub hosts: u64,
    /// See `hosts`.
    pub runs: u64,
    /// How many fingerprints land in it.
    pub fingerprints: u32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl ErrorGroup {
    /// About how many bytes it takes on the wire (for page byte bounds).
    pub fn approximate_size(&self) -> usize {
        256 + self.title.len()
            + self.culprit.len()
            + self.exception_type.len()
            + self.status_changed_by.len()
            + self
                .note
                .as_ref()
                .map_or(0, |n| n.text.len() + n.author.len())
    }
}

/// One fingerprint of a group and why it is what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFingerprint {
    /// Hex hash.
    pub hash: String,
    /// The rules' version that made it.
    pub version: u32,
    /// What it was made of.
    pub components: Components,
    /// The title it had when first seen.
    pub title: String,
    /// Logs stored under it.
    pub event_count: u64,
    /// When it was first added to diagd.
    pub added_at: DateTime<Utc>,
}

/// A count per value (host or run), largest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueCount {
    /// The host or run id.
    pub value: String,
    /// Logs from it.
    pub count: u64,
}

/// A count in one time bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketCount {
    /// Start of the bucket.
    pub start: DateTime<Utc>,
    /// Logs in it.
    pub count: u64,
}

/// A group with everything GetGroup shows.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupDetail {
    /// The group.
    pub group: ErrorGroup,
    /// Its newest log, every detail included.
    pub latest_log: Option<LogEntry>,
    /// Its fingerprints: why its logs are together.
    pub fingerprints: Vec<GroupFingerprint>,
    /// Counts over the window asked for, one per bucket, oldest first.
    pub histogram: Vec<BucketCount>,
    /// The hosts and runs with most logs in it.
    pub top_hosts: Vec<ValueCount>,
    /// See `top_hosts`.
    pub top_runs: Vec<ValueCount>,
}

/// The order of ListGroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupOrder {
    /// Most recently seen first.
    #[default]
    LastSeen,
    /// Most recently first seen (newest groups) first.
    FirstSeen,
    /// Most logs first.
    Count,
    /// Most logs within the window first.
    Growth,
}

/// Which groups ListGroups returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupFilter {
    /// Any of these statuses; empty = all.
    pub statuses: Vec<GroupStatus>,
    /// Highest severity among these; empty = all.
    pub severities: Vec<Severity>,
    /// diagd kinds; empty = all.
    pub error_types: Vec<ErrorType>,
    /// Last seen at or after.
    pub since: Option<DateTime<Utc>>,
    /// Last seen before.
    pub until: Option<DateTime<Utc>>,
    /// Has logs from this host (exact); empty = any.
    pub host: String,
    /// Has logs from this run (exact); empty = any.
    pub run_id: String,
    /// Substring of the title or culprit, ignoring case; empty = any.
    pub text: String,
    /// Also groups whose logs were all cleared.
    pub include_empty: bool,
}

/// Where a ListGroups page continues: after this group in the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCursor {
    /// The order's value of the last group returned (micros or a count).
    pub key: i64,
    /// Its id.
    pub id: i64,
}

/// A change to a group's triage.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupUpdate {
    /// The new status and, when ignored, its rule.
    pub status: Option<(GroupStatus, Option<IgnoreRule>)>,
    /// The new note text (empty clears it).
    pub note: Option<String>,
    /// Who makes the change.
    pub actor: String,
}

/// Why a change to groups was refused (nothing was changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupRefusal {
    /// No group has this id.
    NotFound(i64),
    /// The fingerprint is not one of the group's.
    FingerprintNotInGroup(String),
    /// The group's only fingerprint cannot be split off.
    LastFingerprint,
}

/// The width of a histogram bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BucketWidth {
    /// One bucket per minute (GetStats only).
    Minute,
    /// One bucket per hour.
    Hour,
    /// One bucket per UTC day.
    #[default]
    Day,
}

impl BucketWidth {
    /// The bucket's length.
    pub fn step(self) -> chrono::TimeDelta {
        match self {
            Self::Minute => chrono::TimeDelta::minutes(1),
            Self::Hour => chrono::TimeDelta::hours(1),
            Self::Day => chrono::TimeDelta::days(1),
        }
    }

    /// Its name for PostgreSQL's `date_trunc`.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }
}
