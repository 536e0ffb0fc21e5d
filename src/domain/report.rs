//! The diagnostic report: one JSON document with the feature description's
//! keys (`report_id`, `timestamp`, `version`, `system`, `errors`,
//! `configuration`, `recent_actions`) plus a summary, the error groups with
//! their known fixes (`groups`), and guidance. Keys may be
//! added, never renamed. The `errors` array can be large: the builder
//! takes what stands in its place, and the store fills it in.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{ErrorType, RecordedAction, Severity, Stats};

/// A message and how many matching logs carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageCount {
    /// The message.
    pub message: String,
    /// How many logs carry it.
    pub count: u64,
}

/// An error group among a report's logs, with its known fix.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportGroup {
    /// The group's id.
    pub id: i64,
    /// Its title and culprit.
    pub title: String,
    /// See `title`.
    pub culprit: String,
    /// Its triage status.
    pub status: super::group::GroupStatus,
    /// When it last regressed, if ever.
    pub regressed_at: Option<DateTime<Utc>>,
    /// Matching logs in it, and their first and last `occurred_at`.
    pub count: u64,
    /// See `count`.
    pub first_seen: DateTime<Utc>,
    /// See `count`.
    pub last_seen: DateTime<Utc>,
    /// Its note: the cause and fix someone wrote down.
    pub known_fix: Option<super::group::GroupNote>,
}

/// Everything a report is made of.
pub struct ReportInputs {
    /// The report's id.
    pub report_id: Uuid,
    /// When it is generated.
    pub generated_at: DateTime<Utc>,
    /// The machine diagd runs on (OS, CPU, memory, disks, GPUs).
    pub system: Value,
    /// How many matching logs the `errors` array holds (newest first, with
    /// every detail).
    pub included: u64,
    /// Counts of every matching log (not only those included).
    pub stats: Stats,
    /// The most frequent messages among the matching logs.
    pub top_messages: Vec<MessageCount>,
    /// The error groups with most matching logs, largest first.
    pub groups: Vec<ReportGroup>,
    /// diagd's effective configuration, secrets redacted.
    pub configuration: Value,
    /// Recorded user actions, newest first.
    pub recent_actions: Vec<RecordedAction>,
}

/// The suggested file name of a report.
pub fn file_name(report_id: Uuid) -> String {
    format!("diagnostic-report-{report_id}.json")
}

/// Builds the report document, with `errors` as its `errors` value (the
/// array of included logs, or what stands in for it).
pub fn build(inputs: ReportInputs, errors: Value) -> Value {
    let types_present: Vec<ErrorType> = ErrorType::ALL
        .into_iter()
        .filter(|t| inputs.stats.error_type_count(*t) > 0)
        .collect();
    let by_severity: Map<String, Value> = Severity::ALL
        .into_iter()
        .map(|s| {
            (
                s.as_str().to_string(),
                json!(inputs.stats.severity_count(s)),
            )
        })
        .collect();
    let by_error_type: Map<String, Value> = ErrorType::ALL
        .into_iter()
        .map(|t| {
            (
                t.as_str().to_string(),
                json!(inputs.stats.error_type_count(t)),
            )
        })
        .collect();
    let guidance: Map<String, Value> = types_present
        .iter()
        .map(|t| (t.as_str().to_string(), json!(t.guidance())))
        .collect();
    let included = inputs.included;
    json!({
        "report_id": inputs.report_id.to_string(),
        "timestamp": inputs.generated_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "version": env!("CARGO_PKG_VERSION"),
        "system": inputs.system,
        "errors": errors,
        "error_summary": {
            "total_matching": inputs.stats.total(),
            "included": included,
            "truncated": included < inputs.stats.total(),
            "by_severity": by_severity,
            "by_error_type": by_error_type,
            "oldest": inputs.stats.oldest,
            "newest": inputs.stats.newest,
            "top_messages": inputs.top_messages.iter()
                .map(|m| json!({"message": m.message, "count": m.count}))
                .collect::<Vec<_>>(),
        },
        "groups": inputs.groups.iter().map(|g| json!({
            "id": g.id,
            "title": g.title,
            "culprit": g.culprit,
            "status": g.status.as_str(),
            "regressed_at": g.regressed_at,
            "count": g.count,
            "first_seen": g.first_seen,
            "last_seen": g.last_seen,
            "known_fix": g.known_fix.as_ref().map(|n| json!({
                "text": n.text,
                "author": n.author,
                "updated_at": n.updated_at,
            })),
        })).collect::<Vec<_>>(),
        "configuration": inputs.configuration,
        "recent_actions": inputs.recent_actions,
        "guidance": guidance,
    })
}
