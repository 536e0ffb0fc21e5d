//! A log entry and everything it carries: severity, error type, system state,
//! recent actions and source; plus the filter and page types used to read logs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// How serious a log is, most serious first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// System-breaking errors that prevent core functionality.
    Critical,
    /// Major issues affecting important functionality.
    High,
    /// Moderate issues with workarounds.
    Medium,
    /// Minor issues or informational warnings.
    Low,
}

impl Severity {
    /// Every severity, most serious first (the dashboard's order).
    pub const ALL: [Severity; 4] = [Self::Critical, Self::High, Self::Medium, Self::Low];

    /// The stable lower-case name used in storage and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }

    /// Parses the name written by [`Severity::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// The category of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// Memory exhaustion (RAM or VRAM).
    Oom,
    /// Connection or communication failures.
    Network,
    /// Invalid or incompatible configuration.
    Configuration,
    /// Failures when loading models.
    ModelLoading,
    /// Issues during training.
    Training,
    /// Problems during inference.
    Inference,
    /// Anything else.
    Other,
}

impl ErrorType {
    /// Every error type, in the contract's order.
    pub const ALL: [ErrorType; 7] = [
        Self::Oom,
        Self::Network,
        Self::Configuration,
        Self::ModelLoading,
        Self::Training,
        Self::Inference,
        Self::Other,
    ];

    /// The stable lower-case name used in storage and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oom => "oom",
            Self::Network => "network",
            Self::Configuration => "configuration",
            Self::ModelLoading => "model_loading",
            Self::Training => "training",
            Self::Inference => "inference",
            Self::Other => "other",
        }
    }

    /// Parses the name written by [`ErrorType::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// One GPU's state at the time of an error.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GpuState {
    /// Device name.
    pub name: String,
    /// GPU memory in use, in bytes.
    pub memory_used_bytes: u64,
    /// Total GPU memory in bytes; 0 when unknown.
    pub memory_total_bytes: u64,
    /// Utilization 0–100; `None` when unknown.
    pub utilization_percent: Option<f64>,
}

/// The machine's state at the time of an error.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SystemState {
    /// CPU usage over all cores, 0–100; `None` when unknown.
    pub cpu_percent: Option<f64>,
    /// Memory in use, in bytes.
    pub memory_used_bytes: u64,
    /// Total memory in bytes; 0 when unknown.
    pub memory_total_bytes: u64,
    /// Disk space in use, in bytes.
    pub disk_used_bytes: u64,
    /// Total disk space in bytes; 0 when unknown.
    pub disk_total_bytes: u64,
    /// GPUs; empty when none or unknown.
    pub gpus: Vec<GpuState>,
}

/// A user action leading up to an error (a breadcrumb).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentAction {
    /// When the action happened; `None` when the client did not say.
    pub timestamp: Option<DateTime<Utc>>,
    /// What was done.
    pub action: String,
    /// Details as a JSON object.
    pub details: Map<String, Value>,
}

/// Where a log comes from; empty strings mean "not given".
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Source {
    /// Host name of the machine.
    pub host: String,
    /// Training run identifier.
    pub run_id: String,
    /// Component inside the run.
    pub component: String,
    /// Free labels.
    pub labels: std::collections::BTreeMap<String, String>,
}

impl Source {
    /// True when no field is set (as a filter: matches everything).
    pub fn is_empty(&self) -> bool {
        self.host.is_empty()
            && self.run_id.is_empty()
            && self.component.is_empty()
            && self.labels.is_empty()
    }
}

/// A validated log, ready to be stored. `api` builds it; `store` inserts it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLog {
    /// Client idempotency key.
    pub event_id: Option<Uuid>,
    /// When the error happened (client clock; defaulted to receipt time).
    pub occurred_at: DateTime<Utc>,
    /// How serious it is.
    pub severity: Severity,
    /// Its category.
    pub error_type: ErrorType,
    /// The message; never empty.
    pub message: String,
    /// The stack trace; may be empty.
    pub stack_trace: String,
    /// Context as a JSON object.
    pub context: Map<String, Value>,
    /// The machine's state, when sent.
    pub system_state: Option<SystemState>,
    /// Breadcrumbs, oldest first.
    pub recent_actions: Vec<RecentAction>,
    /// Where it comes from.
    pub source: Source,
    /// The client's own fingerprint entries (`{{ default }}` stands for the
    /// computed one); empty = computed (see [`super::fingerprint`]).
    pub fingerprint: Vec<String>,
}

/// A stored log, as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Server-assigned UUID v7.
    pub id: Uuid,
    /// Client idempotency key, when one was sent.
    pub event_id: Option<Uuid>,
    /// Client clock.
    pub occurred_at: DateTime<Utc>,
    /// Server clock at commit time.
    pub received_at: DateTime<Utc>,
    /// How serious it is.
    pub severity: Severity,
    /// Its category.
    pub error_type: ErrorType,
    /// The message.
    pub message: String,
    /// The stack trace (empty in basic listings).
    pub stack_trace: String,
    /// Context (`None` in basic listings).
    pub context: Option<Map<String, Value>>,
    /// System state (`None` when not sent, or in basic listings).
    pub system_state: Option<SystemState>,
    /// Breadcrumbs (empty in basic listings).
    pub recent_actions: Vec<RecentAction>,
    /// Where it comes from.
    pub source: Source,
    /// The error group it belongs to; `None` for a log stored before
    /// grouping existed and not yet reached by the backfill.
    #[serde(default)]
    pub group_id: Option<i64>,
    /// Its fingerprint (hex); `None` as for `group_id`.
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// The length of `value`'s JSON text, counted without building it.
fn json_size(value: &impl Serialize) -> usize {
    /// Counts what is written to it.
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing to a counter cannot fail; a failure would only undercount.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

impl NewLog {
    /// About how many bytes this log takes (see [`LogEntry::approximate_size`]).
    pub fn approximate_size(&self) -> usize {
        128 + self.message.len()
            + self.stack_trace.len()
            + json_size(&self.context)
            + json_size(&self.recent_actions)
            + self.fingerprint.iter().map(String::len).sum::<usize>()
    }
}

impl LogEntry {
    /// About how many bytes this log takes, in memory or encoded: its text
    /// and the JSON text of its details, plus a little for the fixed fields.
    /// Computed once per log (it walks the details), for byte budgets.
    pub fn approximate_size(&self) -> usize {
        let json = json_size(&self.context)
            + json_size(&self.system_state)
            + json_size(&self.recent_actions);
        let labels: usize = self
            .source
            .labels
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        /// Ids, times, severity, type and framing.
        const FIXED: usize = 128;
        FIXED
            + self.message.len()
            + self.stack_trace.len()
            + self.source.host.len()
            + self.source.run_id.len()
            + self.source.component.len()
            + labels
            + json
    }
}

/// Which logs a read applies to; every set condition must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogFilter {
    /// Any of these severities; empty = all.
    pub severities: Vec<Severity>,
    /// Any of these error types; empty = all.
    pub error_types: Vec<ErrorType>,
    /// `occurred_at >= since`.
    pub since: Option<DateTime<Utc>>,
    /// `occurred_at < until`.
    pub until: Option<DateTime<Utc>>,
    /// Exact-match source fields; empty fields match anything.
    pub source: Source,
    /// Substring of the message, ignoring case (compared folded, see
    /// [`super::fold`]); empty = any.
    pub message_contains: String,
    /// In any of these error groups; empty = any.
    pub group_ids: Vec<i64>,
}

impl LogFilter {
    /// True when `log` meets every condition (as the database would judge;
    /// message text compared folded).
    pub fn matches(&self, log: &LogEntry) -> bool {
        (self.severities.is_empty() || self.severities.contains(&log.severity))
            && (self.error_types.is_empty() || self.error_types.contains(&log.error_type))
            && self.since.is_none_or(|since| log.occurred_at >= since)
            && self.until.is_none_or(|until| log.occurred_at < until)
            && (self.source.host.is_empty() || self.source.host == log.source.host)
            && (self.source.run_id.is_empty() || self.source.run_id == log.source.run_id)
            && (self.source.component.is_empty() || self.source.component == log.source.component)
            && self
                .source
                .labels
                .iter()
                .all(|(k, v)| log.source.labels.get(k) == Some(v))
            && (self.group_ids.is_empty()
                || log.group_id.is_some_and(|g| self.group_ids.contains(&g)))
            && (self.message_contains.is_empty()
                || super::fold::fold(&log.message)
                    .contains(&super::fold::fold(&self.message_contains)))
    }
}

/// Position in the newest-first order: a page continues strictly after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    /// `occurred_at` of the last log already returned.
    pub occurred_at: DateTime<Utc>,
    /// Id of the last log already returned (breaks ties on `occurred_at`).
    pub id: Uuid,
}

/// One page of logs read from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct LogPage {
    /// The logs, newest first.
    pub logs: Vec<LogEntry>,
    /// True when more logs follow the last one.
    pub has_more: bool,
    /// Number of logs matching the filter, when asked for.
    pub total: Option<u64>,
}
