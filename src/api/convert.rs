//! Conversions between the wire types (`pb`) and the domain types, with the
//! validation of everything a client sends. Each validation error names the
//! offending field relative to the message being converted; callers prefix
//! it with where that message sits in the request.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use prost_types::{ListValue, Struct, Timestamp, value::Kind};
use serde_json::{Map, Number, Value};
use uuid::Uuid;

use super::{error::FieldError, pb};
use crate::domain::{
    DebugMode, ErrorType, GpuState, LogEntry, LogFilter, NewAction, NewLog, RecentAction, Severity,
    Source, Stats, SystemState,
};
use crate::store::StoredReport;

/// Largest accepted message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Largest accepted stack trace, in bytes.
pub const MAX_STACK_TRACE_BYTES: usize = 1024 * 1024;
/// Largest accepted context, in bytes of encoded JSON.
pub const MAX_CONTEXT_BYTES: usize = 256 * 1024;
/// Longest substring a filter may look for (each byte is work for every
/// log the filter reads).
pub const MAX_FILTER_TEXT_BYTES: usize = 1024;
/// Deepest accepted nesting of JSON objects and lists.
pub const MAX_JSON_DEPTH: usize = 20;
/// How far in the future `occurred_at` may lie (clock skew allowance).
pub const MAX_FUTURE: TimeDelta = TimeDelta::days(1);
/// Most recent actions carried by one log.
pub const MAX_RECENT_ACTIONS: usize = 1000;
/// Longest action name, in bytes.
pub const MAX_ACTION_BYTES: usize = 1024;
/// Largest action details, in bytes of encoded JSON.
pub const MAX_ACTION_DETAILS_BYTES: usize = 64 * 1024;
/// Longest source host, run id or component, in bytes.
pub const MAX_SOURCE_FIELD_BYTES: usize = 256;
/// Most labels on one source.
pub const MAX_LABELS: usize = 64;
/// Longest label key, in bytes.
pub const MAX_LABEL_KEY_BYTES: usize = 128;
/// Longest label value, in bytes.
pub const MAX_LABEL_VALUE_BYTES: usize = 1024;
/// Most GPUs in one system state.
pub const MAX_GPUS: usize = 64;

// ---------------------------------------------------------------- wire → domain

/// Validates a log sent by a client. `now` is the receipt time, used as the
/// default `occurred_at` and to bound it.
pub fn new_log(log: pb::NewLog, now: DateTime<Utc>) -> Result<NewLog, FieldError> {
    let event_id = optional_uuid("event_id", &log.event_id)?;
    let occurred_at = match log.occurred_at {
        Some(ts) => timestamp("occurred_at", ts)?,
        None => now,
    };
    if occurred_at > now + MAX_FUTURE {
        return Err(FieldError::new(
            "occurred_at",
            format!("{occurred_at} is more than a day in the future (server time {now})"),
        ));
    }
    let severity = severity("severity", log.severity)?.ok_or_else(|| {
        FieldError::new(
            "severity",
            "required: one of SEVERITY_CRITICAL, SEVERITY_HIGH, SEVERITY_MEDIUM, SEVERITY_LOW",
        )
    })?;
    let error_type = error_type("error_type", log.error_type)?.unwrap_or(ErrorType::Other);
    text("message", &log.message, MAX_MESSAGE_BYTES)?;
    if log.message.trim().is_empty() {
        return Err(FieldError::new("message", "required: describe the error"));
    }
    text("stack_trace", &log.stack_trace, MAX_STACK_TRACE_BYTES)?;
    let context = json_object("context", log.context, MAX_CONTEXT_BYTES)?;
    let system_state = log
        .system_state
        .map(system_state)
        .transpose()
        .map_err(|e| e.within("system_state"))?;
    if log.recent_actions.len() > MAX_RECENT_ACTIONS {
        return Err(FieldError::new(
            "recent_actions",
            format!(
                "at most {MAX_RECENT_ACTIONS} actions, got {}",
                log.recent_actions.len()
            ),
        ));
    }
    let recent_actions = log
        .recent_actions
        .into_iter()
        .enumerate()
        .map(|(i, action)| {
            recent_action(action).map_err(|e| e.within(&format!("recent_actions[{i}]")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let source = source(log.source.unwrap_or_default()).map_err(|e| e.within("source"))?;
    Ok(NewLog {
        event_id,
        occurred_at,
        severity,
        error_type,
        message: log.message,
        stack_trace: log.stack_trace,
        context,
        system_state,
        recent_actions,
        source,
    })
}

/// Validates an action sent to RecordAction.
pub fn new_action(
    request: pb::RecordActionRequest,
    now: DateTime<Utc>,
) -> Result<NewAction, FieldError> {
    let occurred_at = match request.timestamp {
        Some(ts) => timestamp("timestamp", ts)?,
        None => now,
    };
    if occurred_at > now + MAX_FUTURE {
        return Err(FieldError::new(
            "timestamp",
            format!("{occurred_at} is more than a day in the future (server time {now})"),
        ));
    }
    text("action", &request.action, MAX_ACTION_BYTES)?;
    if request.action.trim().is_empty() {
        return Err(FieldError::new(
            "action",
            "required: name the action, e.g. \"start_training\"",
        ));
    }
    Ok(NewAction {
        occurred_at,
        action: request.action,
        details: json_object("details", request.details, MAX_ACTION_DETAILS_BYTES)?,
        source: source(request.source.unwrap_or_default()).map_err(|e| e.within("source"))?,
    })
}

/// Validates a filter; `None` is the empty filter (everything).
pub fn log_filter(filter: Option<pb::LogFilter>) -> Result<LogFilter, FieldError> {
    let Some(filter) = filter else {
        return Ok(LogFilter::default());
    };
    // Each listed once, in the order given: a huge repeated field of
    // duplicates costs one pass, not a huge SQL array.
    let mut severities = Vec::new();
    for (i, &value) in filter.severities.iter().enumerate() {
        let field = || format!("severities[{i}]");
        let s = severity("", value)
            .map_err(|e| FieldError::new(field(), e.reason))?
            .ok_or_else(|| FieldError::new(field(), "SEVERITY_UNSPECIFIED is not a severity"))?;
        if !severities.contains(&s) {
            severities.push(s);
        }
    }
    let mut error_types = Vec::new();
    for (i, &value) in filter.error_types.iter().enumerate() {
        let field = || format!("error_types[{i}]");
        let t = error_type("", value)
            .map_err(|e| FieldError::new(field(), e.reason))?
            .ok_or_else(|| {
                FieldError::new(field(), "ERROR_TYPE_UNSPECIFIED is not an error type")
            })?;
        if !error_types.contains(&t) {
            error_types.push(t);
        }
    }
    let since = filter.since.map(|ts| timestamp("since", ts)).transpose()?;
    let until = filter.until.map(|ts| timestamp("until", ts)).transpose()?;
    if let (Some(since), Some(until)) = (since, until)
        && since > until
    {
        return Err(FieldError::new(
            "until",
            format!("{until} is before since ({since})"),
        ));
    }
    let source = source(filter.source.unwrap_or_default()).map_err(|e| e.within("source"))?;
    text(
        "message_contains",
        &filter.message_contains,
        MAX_FILTER_TEXT_BYTES,
    )?;
    Ok(LogFilter {
        severities,
        error_types,
        since,
        until,
        source,
        message_contains: filter.message_contains,
    })
}

/// A log id given by a client.
pub fn log_id(field: &str, id: &str) -> Result<Uuid, FieldError> {
    if id.is_empty() {
        return Err(FieldError::new(field, "required"));
    }
    Uuid::parse_str(id).map_err(|_| FieldError::new(field, format!("{id:?} is not a UUID")))
}

/// A severity number: `None` for UNSPECIFIED, an error for unknown numbers.
fn severity(field: &str, value: i32) -> Result<Option<Severity>, FieldError> {
    match pb::Severity::try_from(value) {
        Ok(pb::Severity::Unspecified) => Ok(None),
        Ok(pb::Severity::Critical) => Ok(Some(Severity::Critical)),
        Ok(pb::Severity::High) => Ok(Some(Severity::High)),
        Ok(pb::Severity::Medium) => Ok(Some(Severity::Medium)),
        Ok(pb::Severity::Low) => Ok(Some(Severity::Low)),
        Err(_) => Err(FieldError::new(field, format!("unknown severity {value}"))),
    }
}

/// An error-type number: `None` for UNSPECIFIED, an error for unknown numbers.
fn error_type(field: &str, value: i32) -> Result<Option<ErrorType>, FieldError> {
    match pb::ErrorType::try_from(value) {
        Ok(pb::ErrorType::Unspecified) => Ok(None),
        Ok(pb::ErrorType::Oom) => Ok(Some(ErrorType::Oom)),
        Ok(pb::ErrorType::Network) => Ok(Some(ErrorType::Network)),
        Ok(pb::ErrorType::Configuration) => Ok(Some(ErrorType::Configuration)),
        Ok(pb::ErrorType::ModelLoading) => Ok(Some(ErrorType::ModelLoading)),
        Ok(pb::ErrorType::Training) => Ok(Some(ErrorType::Training)),
        Ok(pb::ErrorType::Inference) => Ok(Some(ErrorType::Inference)),
        Ok(pb::ErrorType::Other) => Ok(Some(ErrorType::Other)),
        Err(_) => Err(FieldError::new(
            field,
            format!("unknown error type {value}"),
        )),
    }
}

/// An optional UUID: empty means none.
fn optional_uuid(field: &str, value: &str) -> Result<Option<Uuid>, FieldError> {
    if value.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(value)
        .map(Some)
        .map_err(|_| FieldError::new(field, format!("{value:?} is not a UUID")))
}

/// Earliest time diagd accepts, in Unix seconds: 0001-01-01T00:00:00Z.
pub const MIN_SECONDS: i64 = -62_135_596_800;
/// Latest time diagd accepts, in Unix seconds: 9999-12-31T23:59:59Z.
pub const MAX_SECONDS: i64 = 253_402_300_799;

/// A protobuf timestamp within years 1–9999 (what PostgreSQL and RFC 3339 hold).
pub fn timestamp(field: &str, ts: Timestamp) -> Result<DateTime<Utc>, FieldError> {
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return Err(FieldError::new(
            field,
            format!("nanos {} out of range 0..1e9", ts.nanos),
        ));
    }
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&ts.seconds) {
        return Err(FieldError::new(field, "must lie between years 1 and 9999"));
    }
    DateTime::from_timestamp(ts.seconds, ts.nanos as u32)
        .ok_or_else(|| FieldError::new(field, "not a valid time"))
}

/// Checks a text field: its size, and no NUL character (PostgreSQL text
/// cannot hold one).
fn text(field: &str, value: &str, max_bytes: usize) -> Result<(), FieldError> {
    if value.len() > max_bytes {
        return Err(FieldError::new(
            field,
            format!("{} bytes is over the limit of {max_bytes}", value.len()),
        ));
    }
    if value.contains('\0') {
        return Err(FieldError::new(
            field,
            "contains a NUL character (\\0), which cannot be stored",
        ));
    }
    Ok(())
}

/// A JSON object from a `Struct`, checked for depth, size, NUL characters
/// and non-finite numbers. `None` is the empty object.
fn json_object(
    field: &str,
    value: Option<Struct>,
    max_bytes: usize,
) -> Result<Map<String, Value>, FieldError> {
    let Some(value) = value else {
        return Ok(Map::new());
    };
    let map = struct_to_json(value, 1).map_err(|reason| FieldError::new(field, reason))?;
    let size = serde_json::to_vec(&map)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > max_bytes {
        return Err(FieldError::new(
            field,
            format!("{size} bytes of JSON is over the limit of {max_bytes}"),
        ));
    }
    Ok(map)
}

fn struct_to_json(value: Struct, depth: usize) -> Result<Map<String, Value>, String> {
    if depth > MAX_JSON_DEPTH {
        return Err(format!("nested more than {MAX_JSON_DEPTH} levels deep"));
    }
    value
        .fields
        .into_iter()
        .map(|(key, value)| {
            if key.contains('\0') {
                return Err(
                    "a key contains a NUL character (\\0), which cannot be stored".to_string(),
                );
            }
            let value = value_to_json(value, depth).map_err(|reason| format!("{key}: {reason}"))?;
            Ok((key, value))
        })
        .collect()
}

fn value_to_json(value: prost_types::Value, depth: usize) -> Result<Value, String> {
    Ok(match value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::NumberValue(n)) => number_to_json(n)?,
        Some(Kind::StringValue(s)) => {
            if s.contains('\0') {
                return Err("contains a NUL character (\\0), which cannot be stored".into());
            }
            Value::String(s)
        }
        Some(Kind::StructValue(s)) => Value::Object(struct_to_json(s, depth + 1)?),
        Some(Kind::ListValue(list)) => {
            if depth + 1 > MAX_JSON_DEPTH {
                return Err(format!("nested more than {MAX_JSON_DEPTH} levels deep"));
            }
            Value::Array(
                list.values
                    .into_iter()
                    .map(|v| value_to_json(v, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
    })
}

/// A Struct number as JSON: integral values within ±2^53 (exact in a
/// double) become JSON integers, so `{"batch_size": 64}` stays 64, not 64.0.
fn number_to_json(n: f64) -> Result<Value, String> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if n.fract() == 0.0 && n.abs() <= EXACT {
        return Ok(Value::Number(Number::from(n as i64)));
    }
    Number::from_f64(n)
        .map(Value::Number)
        .ok_or_else(|| format!("{n} is not a finite number, which JSON cannot hold"))
}

fn percent(field: &str, value: Option<f64>) -> Result<Option<f64>, FieldError> {
    match value {
        Some(p) if !(0.0..=100.0).contains(&p) => Err(FieldError::new(
            field,
            format!("{p} is not between 0 and 100"),
        )),
        other => Ok(other),
    }
}

fn used_within_total(used_field: &str, used: u64, total: u64) -> Result<(), FieldError> {
    if total > 0 && used > total {
        return Err(FieldError::new(
            used_field,
            format!("{used} is more than the total {total}"),
        ));
    }
    Ok(())
}

fn system_state(state: pb::SystemState) -> Result<SystemState, FieldError> {
    let cpu_percent = percent("cpu_percent", state.cpu_percent)?;
    used_within_total(
        "memory_used_bytes",
        state.memory_used_bytes,
        state.memory_total_bytes,
    )?;
    used_within_total(
        "disk_used_bytes",
        state.disk_used_bytes,
        state.disk_total_bytes,
    )?;
    if state.gpus.len() > MAX_GPUS {
        return Err(FieldError::new("gpus", format!("at most {MAX_GPUS} GPUs")));
    }
    let gpus = state
        .gpus
        .into_iter()
        .enumerate()
        .map(|(i, gpu)| {
            let within = |e: FieldError| e.within(&format!("gpus[{i}]"));
            text("name", &gpu.name, MAX_SOURCE_FIELD_BYTES).map_err(within)?;
            used_within_total(
                "memory_used_bytes",
                gpu.memory_used_bytes,
                gpu.memory_total_bytes,
            )
            .map_err(within)?;
            Ok(GpuState {
                utilization_percent: percent("utilization_percent", gpu.utilization_percent)
                    .map_err(within)?,
                name: gpu.name,
                memory_used_bytes: gpu.memory_used_bytes,
                memory_total_bytes: gpu.memory_total_bytes,
            })
        })
        .collect::<Result<Vec<_>, FieldError>>()?;
    Ok(SystemState {
        cpu_percent,
        memory_used_bytes: state.memory_used_bytes,
        memory_total_bytes: state.memory_total_bytes,
        disk_used_bytes: state.disk_used_bytes,
        disk_total_bytes: state.disk_total_bytes,
        gpus,
    })
}

fn recent_action(action: pb::RecentAction) -> Result<RecentAction, FieldError> {
    text("action", &action.action, MAX_ACTION_BYTES)?;
    if action.action.trim().is_empty() {
        return Err(FieldError::new("action", "required"));
    }
    Ok(RecentAction {
        timestamp: action
            .timestamp
            .map(|ts| timestamp("timestamp", ts))
            .transpose()?,
        action: action.action,
        details: json_object("details", action.details, MAX_ACTION_DETAILS_BYTES)?,
    })
}

fn source(source: pb::Source) -> Result<Source, FieldError> {
    text("host", &source.host, MAX_SOURCE_FIELD_BYTES)?;
    text("run_id", &source.run_id, MAX_SOURCE_FIELD_BYTES)?;
    text("component", &source.component, MAX_SOURCE_FIELD_BYTES)?;
    if source.labels.len() > MAX_LABELS {
        return Err(FieldError::new(
            "labels",
            format!("at most {MAX_LABELS} labels"),
        ));
    }
    for (key, value) in &source.labels {
        if key.is_empty() {
            return Err(FieldError::new("labels", "a label key is empty"));
        }
        text("labels", key, MAX_LABEL_KEY_BYTES)?;
        text(&format!("labels[{key}]"), value, MAX_LABEL_VALUE_BYTES)?;
    }
    Ok(Source {
        host: source.host,
        run_id: source.run_id,
        component: source.component,
        labels: source.labels.into_iter().collect::<BTreeMap<_, _>>(),
    })
}

// ---------------------------------------------------------------- domain → wire

/// A stored log on the wire.
pub fn log_entry(entry: LogEntry) -> pb::LogEntry {
    pb::LogEntry {
        id: entry.id.to_string(),
        event_id: entry.event_id.map(|id| id.to_string()).unwrap_or_default(),
        occurred_at: Some(timestamp_to_proto(entry.occurred_at)),
        received_at: Some(timestamp_to_proto(entry.received_at)),
        severity: severity_to_proto(entry.severity) as i32,
        error_type: error_type_to_proto(entry.error_type) as i32,
        message: entry.message,
        stack_trace: entry.stack_trace,
        context: entry.context.map(json_to_struct),
        system_state: entry.system_state.map(|s| pb::SystemState {
            cpu_percent: s.cpu_percent,
            memory_used_bytes: s.memory_used_bytes,
            memory_total_bytes: s.memory_total_bytes,
            disk_used_bytes: s.disk_used_bytes,
            disk_total_bytes: s.disk_total_bytes,
            gpus: s
                .gpus
                .into_iter()
                .map(|g| pb::GpuState {
                    name: g.name,
                    memory_used_bytes: g.memory_used_bytes,
                    memory_total_bytes: g.memory_total_bytes,
                    utilization_percent: g.utilization_percent,
                })
                .collect(),
        }),
        recent_actions: entry
            .recent_actions
            .into_iter()
            .map(|a| pb::RecentAction {
                timestamp: a.timestamp.map(timestamp_to_proto),
                action: a.action,
                details: Some(json_to_struct(a.details)),
            })
            .collect(),
        source: Some(pb::Source {
            host: entry.source.host,
            run_id: entry.source.run_id,
            component: entry.source.component,
            labels: entry.source.labels.into_iter().collect(),
        }),
    }
}

/// A filter on the wire (for clients such as the CLI).
pub fn log_filter_to_proto(filter: &LogFilter) -> pb::LogFilter {
    pb::LogFilter {
        severities: filter
            .severities
            .iter()
            .map(|s| severity_to_proto(*s) as i32)
            .collect(),
        error_types: filter
            .error_types
            .iter()
            .map(|t| error_type_to_proto(*t) as i32)
            .collect(),
        since: filter.since.map(timestamp_to_proto),
        until: filter.until.map(timestamp_to_proto),
        source: Some(pb::Source {
            host: filter.source.host.clone(),
            run_id: filter.source.run_id.clone(),
            component: filter.source.component.clone(),
            labels: filter.source.labels.clone().into_iter().collect(),
        }),
        message_contains: filter.message_contains.clone(),
    }
}

/// Stats on the wire: every severity and every error type, zeros included.
pub fn stats_response(
    stats: Stats,
    live_subscribers: usize,
    retention: crate::workers::retention::RetentionStatus,
) -> pb::GetStatsResponse {
    pb::GetStatsResponse {
        total: stats.total(),
        by_severity: Severity::ALL
            .into_iter()
            .map(|s| pb::SeverityCount {
                severity: severity_to_proto(s) as i32,
                count: stats.severity_count(s),
            })
            .collect(),
        by_error_type: ErrorType::ALL
            .into_iter()
            .map(|t| pb::ErrorTypeCount {
                error_type: error_type_to_proto(t) as i32,
                count: stats.error_type_count(t),
            })
            .collect(),
        oldest: stats.oldest.map(timestamp_to_proto),
        newest: stats.newest.map(timestamp_to_proto),
        live_subscribers: live_subscribers as u32,
        retention: Some(pb::RetentionStatus {
            enabled: retention.enabled,
            last_run: retention.last_run.map(timestamp_to_proto),
            last_deleted: retention.last_deleted,
            total_deleted: retention.total_deleted,
        }),
    }
}

/// Debug mode on the wire, as in effect at `now`.
pub fn debug_mode(mode: DebugMode, now: DateTime<Utc>) -> pb::DebugMode {
    let on = mode.is_on(now);
    pb::DebugMode {
        enabled: on,
        changed_at: mode.changed_at.map(timestamp_to_proto),
        changed_by: mode.changed_by,
        auto_off_at: if on {
            mode.auto_off_at.map(timestamp_to_proto)
        } else {
            None
        },
    }
}

/// A stored report's metadata on the wire.
pub fn report_info(report: StoredReport) -> pb::ReportInfo {
    pb::ReportInfo {
        report_id: report.id.to_string(),
        created_at: Some(timestamp_to_proto(report.created_at)),
        error_count: report.error_count,
        size_bytes: report.size_bytes,
        file_name: crate::domain::report::file_name(report.id),
    }
}

/// A time as a protobuf timestamp.
pub fn timestamp_to_proto(t: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn severity_to_proto(s: Severity) -> pb::Severity {
    match s {
        Severity::Critical => pb::Severity::Critical,
        Severity::High => pb::Severity::High,
        Severity::Medium => pb::Severity::Medium,
        Severity::Low => pb::Severity::Low,
    }
}

pub fn error_type_to_proto(t: ErrorType) -> pb::ErrorType {
    match t {
        ErrorType::Oom => pb::ErrorType::Oom,
        ErrorType::Network => pb::ErrorType::Network,
        ErrorType::Configuration => pb::ErrorType::Configuration,
        ErrorType::ModelLoading => pb::ErrorType::ModelLoading,
        ErrorType::Training => pb::ErrorType::Training,
        ErrorType::Inference => pb::ErrorType::Inference,
        ErrorType::Other => pb::ErrorType::Other,
    }
}

/// A JSON object as a `Struct` (numbers become doubles, as Struct holds them).
pub fn json_to_struct(map: Map<String, Value>) -> Struct {
    Struct {
        fields: map
            .into_iter()
            .map(|(k, v)| (k, json_to_value(v)))
            .collect(),
    }
}

fn json_to_value(value: Value) -> prost_types::Value {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s),
        Value::Array(items) => Kind::ListValue(ListValue {
            values: items.into_iter().map(json_to_value).collect(),
        }),
        Value::Object(map) => Kind::StructValue(json_to_struct(map)),
    };
    prost_types::Value { kind: Some(kind) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> Struct {
        let mut value = Struct::default();
        for _ in 1..depth {
            let mut outer = Struct::default();
            outer.fields.insert(
                "a".into(),
                prost_types::Value {
                    kind: Some(Kind::StructValue(value)),
                },
            );
            value = outer;
        }
        value
    }

    #[test]
    fn filters_round_trip_through_the_wire() {
        let filter = LogFilter {
            severities: vec![Severity::High, Severity::Low],
            error_types: vec![ErrorType::ModelLoading],
            since: Some("2026-11-01T00:00:00Z".parse().unwrap()),
            until: Some("2026-11-02T00:00:00.5Z".parse().unwrap()),
            source: Source {
                host: "gpu-1".into(),
                labels: [("pool".to_string(), "a100".to_string())].into(),
                ..Source::default()
            },
            message_contains: "cuda".into(),
        };
        assert_eq!(
            log_filter(Some(log_filter_to_proto(&filter))).unwrap(),
            filter
        );
    }

    #[test]
    fn json_depth_is_bounded() {
        assert!(json_object("context", Some(nested(MAX_JSON_DEPTH)), usize::MAX).is_ok());
        let err = json_object("context", Some(nested(MAX_JSON_DEPTH + 1)), usize::MAX).unwrap_err();
        assert_eq!(err.field, "context");
        assert!(err.reason.contains("levels deep"), "{}", err.reason);
    }

    #[test]
    fn json_round_trips_through_struct() {
        let json = serde_json::json!({"a": 1.5, "b": [true, null, "x"], "c": {"d": "e"}});
        let Value::Object(map) = json else {
            unreachable!()
        };
        let back = struct_to_json(json_to_struct(map.clone()), 1).unwrap();
        assert_eq!(back, map);
    }

    #[test]
    fn nan_is_rejected_with_its_key() {
        let mut s = Struct::default();
        s.fields.insert(
            "loss".into(),
            prost_types::Value {
                kind: Some(Kind::NumberValue(f64::NAN)),
            },
        );
        let err = json_object("context", Some(s), usize::MAX).unwrap_err();
        assert!(err.reason.starts_with("loss:"), "{}", err.reason);
    }

    #[test]
    fn timestamps_outside_years_1_to_9999_are_rejected() {
        let err = timestamp(
            "t",
            Timestamp {
                seconds: i64::MAX,
                nanos: 0,
            },
        )
        .unwrap_err();
        assert_eq!(err.field, "t");
        assert!(
            timestamp(
                "t",
                Timestamp {
                    seconds: 0,
                    nanos: -1
                }
            )
            .is_err()
        );
        assert!(
            timestamp(
                "t",
                Timestamp {
                    seconds: 0,
                    nanos: 0
                }
            )
            .is_ok()
        );
    }
}
