//! Domain → wire: what diagd answers, built from the domain types.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

use crate::api::pb;
use crate::domain::{DebugMode, ErrorType, LogEntry, LogFilter, Severity, Stats, TimeBucket};
use crate::store::StoredReport;

use super::json::json_to_struct;

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
        group_id: entry.group_id.unwrap_or(0),
        fingerprint: entry.fingerprint.unwrap_or_default(),
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
        group_ids: filter.group_ids.clone(),
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
        buckets: Vec::new(),
        standby: None,
    }
}

/// The standby's status on the wire.
pub fn standby_status(status: crate::store::StandbyStatus) -> pb::StandbyStatus {
    use crate::store::StandbyState;
    pb::StandbyStatus {
        state: match status.state {
            StandbyState::Unchecked => pb::StandbyState::Unspecified,
            StandbyState::Streaming => pb::StandbyState::Streaming,
            StandbyState::Lagging => pb::StandbyState::Lagging,
            StandbyState::Down => pb::StandbyState::Down,
        } as i32,
        lag: Some(super::runs::duration_to_proto(status.lag)),
        max_lag: Some(super::runs::duration_to_proto(status.max_lag)),
        checked_at: status.checked_at.map(timestamp_to_proto),
        error: status.error.unwrap_or_default(),
        reads_on_standby: status.reads_on_standby,
        reads_on_primary: status.reads_on_primary,
    }
}

/// A GetStats time bucket on the wire.
pub fn time_bucket(bucket: TimeBucket) -> pb::TimeBucket {
    pb::TimeBucket {
        start: Some(timestamp_to_proto(bucket.start)),
        total: bucket.total(),
        by_severity: Severity::ALL
            .into_iter()
            .zip(bucket.by_severity)
            .map(|(s, count)| pb::SeverityCount {
                severity: severity_to_proto(s) as i32,
                count,
            })
            .collect(),
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

/// A severity as the wire enum.
pub fn severity_to_proto(s: Severity) -> pb::Severity {
    match s {
        Severity::Critical => pb::Severity::Critical,
        Severity::High => pb::Severity::High,
        Severity::Medium => pb::Severity::Medium,
        Severity::Low => pb::Severity::Low,
    }
}

/// An error type as the wire enum.
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
