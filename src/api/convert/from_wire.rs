//! Wire → domain: the validation of everything a client sends. Each
//! validation error names the offending field relative to the message being
//! converted; callers prefix it with where that message sits in the request.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use prost_types::{Struct, Timestamp};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::api::limits::{
    MAX_ACTION_BYTES, MAX_ACTION_DETAILS_BYTES, MAX_CONTEXT_BYTES, MAX_FILTER_GROUPS,
    MAX_FILTER_TEXT_BYTES, MAX_FINGERPRINT_ENTRIES, MAX_FINGERPRINT_ENTRY_BYTES, MAX_FUTURE,
    MAX_GPUS, MAX_LABEL_KEY_BYTES, MAX_LABEL_VALUE_BYTES, MAX_LABELS, MAX_MESSAGE_BYTES, MAX_PAST,
    MAX_RECENT_ACTIONS, MAX_SECONDS, MAX_SOURCE_FIELD_BYTES, MAX_STACK_TRACE_BYTES, MIN_SECONDS,
};
use crate::api::{error::FieldError, pb};
use crate::domain::{
    ErrorType, GpuState, LogFilter, NewAction, NewLog, RecentAction, Severity, Source, SystemState,
};

use super::json::struct_to_json;

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
    if occurred_at < now - MAX_PAST {
        return Err(FieldError::new(
            "occurred_at",
            format!(
                "{occurred_at} is more than {} days in the past (server time {now}); diagd keeps \
                 logs by day and accepts the last {} days",
                MAX_PAST.num_days(),
                MAX_PAST.num_days()
            ),
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
    fingerprint_entries(&log.fingerprint)?;
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
        fingerprint: log.fingerprint,
    })
}

/// Checks a client-given fingerprint: a few short, non-empty entries.
fn fingerprint_entries(entries: &[String]) -> Result<(), FieldError> {
    if entries.len() > MAX_FINGERPRINT_ENTRIES {
        return Err(FieldError::new(
            "fingerprint",
            format!(
                "{} entries is over the limit of {MAX_FINGERPRINT_ENTRIES}",
                entries.len()
            ),
        ));
    }
    for (i, entry) in entries.iter().enumerate() {
        let field = format!("fingerprint[{i}]");
        if entry.trim().is_empty() {
            return Err(FieldError::new(field, "empty"));
        }
        text(&field, entry, MAX_FINGERPRINT_ENTRY_BYTES)?;
    }
    Ok(())
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
    if filter.group_ids.len() > MAX_FILTER_GROUPS {
        return Err(FieldError::new(
            "group_ids",
            format!(
                "{} groups is over the limit of {MAX_FILTER_GROUPS}",
                filter.group_ids.len()
            ),
        ));
    }
    let mut group_ids = Vec::new();
    for (i, &id) in filter.group_ids.iter().enumerate() {
        if id <= 0 {
            return Err(FieldError::new(
                format!("group_ids[{i}]"),
                format!("{id} is not a group id (ids are positive)"),
            ));
        }
        if !group_ids.contains(&id) {
            group_ids.push(id);
        }
    }
    Ok(LogFilter {
        severities,
        error_types,
        since,
        until,
        source,
        message_contains: filter.message_contains,
        group_ids,
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
pub(crate) fn severity(field: &str, value: i32) -> Result<Option<Severity>, FieldError> {
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
pub(crate) fn error_type(field: &str, value: i32) -> Result<Option<ErrorType>, FieldError> {
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
pub(super) fn optional_uuid(field: &str, value: &str) -> Result<Option<Uuid>, FieldError> {
    if value.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(value)
        .map(Some)
        .map_err(|_| FieldError::new(field, format!("{value:?} is not a UUID")))
}

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
pub(crate) fn text(field: &str, value: &str, max_bytes: usize) -> Result<(), FieldError> {
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
pub(super) fn json_object(
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

pub(super) fn percent(field: &str, value: Option<f64>) -> Result<Option<f64>, FieldError> {
    match value {
        Some(p) if !(0.0..=100.0).contains(&p) => Err(FieldError::new(
            field,
            format!("{p} is not between 0 and 100"),
        )),
        other => Ok(other),
    }
}

pub(super) fn used_within_total(used_field: &str, used: u64, total: u64) -> Result<(), FieldError> {
    if total > 0 && used > total {
        return Err(FieldError::new(
            used_field,
            format!("{used} is more than the total {total}"),
        ));
    }
    Ok(())
}

pub(super) fn system_state(state: pb::SystemState) -> Result<SystemState, FieldError> {
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

pub(super) fn recent_action(action: pb::RecentAction) -> Result<RecentAction, FieldError> {
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

pub(super) fn source(source: pb::Source) -> Result<Source, FieldError> {
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
