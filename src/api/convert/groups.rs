//! Error groups between the wire and the domain: ListGroups' filter and
//! order, statuses and bucket widths from the wire; groups, their
//! fingerprints and histograms to it.

use crate::api::{error::FieldError, limits::MAX_GROUP_TEXT_BYTES, pb};
use crate::domain::group::{
    BucketWidth, ErrorGroup, GroupDetail, GroupFilter, GroupOrder, GroupStatus, IgnoreRule,
};

use super::from_wire::{error_type, severity, text, timestamp};
use super::to_wire::{error_type_to_proto, log_entry, severity_to_proto, timestamp_to_proto};

/// A status from the wire: `None` for UNSPECIFIED.
pub fn group_status(field: &str, value: i32) -> Result<Option<GroupStatus>, FieldError> {
    match pb::GroupStatus::try_from(value) {
        Ok(pb::GroupStatus::Unspecified) => Ok(None),
        Ok(pb::GroupStatus::Unresolved) => Ok(Some(GroupStatus::Unresolved)),
        Ok(pb::GroupStatus::Resolved) => Ok(Some(GroupStatus::Resolved)),
        Ok(pb::GroupStatus::Ignored) => Ok(Some(GroupStatus::Ignored)),
        Err(_) => Err(FieldError::new(field, format!("unknown status {value}"))),
    }
}

fn status_to_proto(status: GroupStatus) -> pb::GroupStatus {
    match status {
        GroupStatus::Unresolved => pb::GroupStatus::Unresolved,
        GroupStatus::Resolved => pb::GroupStatus::Resolved,
        GroupStatus::Ignored => pb::GroupStatus::Ignored,
    }
}

/// ListGroups' order.
pub fn group_order(value: i32) -> Result<GroupOrder, FieldError> {
    match pb::GroupOrder::try_from(value) {
        Ok(pb::GroupOrder::Unspecified | pb::GroupOrder::LastSeen) => Ok(GroupOrder::LastSeen),
        Ok(pb::GroupOrder::FirstSeen) => Ok(GroupOrder::FirstSeen),
        Ok(pb::GroupOrder::Count) => Ok(GroupOrder::Count),
        Ok(pb::GroupOrder::Growth) => Ok(GroupOrder::Growth),
        Err(_) => Err(FieldError::new(
            "order_by",
            format!("unknown order {value}"),
        )),
    }
}

/// GetGroup's bucket width (hours or days; days by default).
pub fn bucket_width(value: i32) -> Result<BucketWidth, FieldError> {
    match stats_bucket_width(value)? {
        None => Ok(BucketWidth::Day),
        Some(BucketWidth::Minute) => Err(FieldError::new(
            "bucket_width",
            "a group's histogram has hour or day buckets (minutes: GetStats with filter.group_ids)",
        )),
        Some(width) => Ok(width),
    }
}

/// GetStats' bucket width; `None` for no buckets.
pub fn stats_bucket_width(value: i32) -> Result<Option<BucketWidth>, FieldError> {
    match pb::BucketWidth::try_from(value) {
        Ok(pb::BucketWidth::Unspecified) => Ok(None),
        Ok(pb::BucketWidth::Minute) => Ok(Some(BucketWidth::Minute)),
        Ok(pb::BucketWidth::Hour) => Ok(Some(BucketWidth::Hour)),
        Ok(pb::BucketWidth::Day) => Ok(Some(BucketWidth::Day)),
        Err(_) => Err(FieldError::new(
            "bucket_width",
            format!("unknown bucket width {value}"),
        )),
    }
}

/// ListGroups' filter (each listed value once).
pub fn group_filter(request: &pb::ListGroupsRequest) -> Result<GroupFilter, FieldError> {
    let mut filter = GroupFilter {
        include_empty: request.include_empty,
        ..GroupFilter::default()
    };
    for (i, &value) in request.statuses.iter().enumerate() {
        let field = format!("statuses[{i}]");
        let status = group_status(&field, value)?
            .ok_or_else(|| FieldError::new(&field, "GROUP_STATUS_UNSPECIFIED is not a status"))?;
        if !filter.statuses.contains(&status) {
            filter.statuses.push(status);
        }
    }
    for (i, &value) in request.severities.iter().enumerate() {
        let field = format!("severities[{i}]");
        let s = severity(&field, value)?
            .ok_or_else(|| FieldError::new(&field, "SEVERITY_UNSPECIFIED is not a severity"))?;
        if !filter.severities.contains(&s) {
            filter.severities.push(s);
        }
    }
    for (i, &value) in request.error_types.iter().enumerate() {
        let field = format!("error_types[{i}]");
        let t = error_type(&field, value)?.ok_or_else(|| {
            FieldError::new(&field, "ERROR_TYPE_UNSPECIFIED is not an error type")
        })?;
        if !filter.error_types.contains(&t) {
            filter.error_types.push(t);
        }
    }
    filter.since = request.since.map(|t| timestamp("since", t)).transpose()?;
    filter.until = request.until.map(|t| timestamp("until", t)).transpose()?;
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since > until
    {
        return Err(FieldError::new(
            "until",
            format!("{until} is before since ({since})"),
        ));
    }
    text("host", &request.host, MAX_GROUP_TEXT_BYTES)?;
    text("run_id", &request.run_id, MAX_GROUP_TEXT_BYTES)?;
    text("text", &request.text, MAX_GROUP_TEXT_BYTES)?;
    filter.host = request.host.clone();
    filter.run_id = request.run_id.clone();
    filter.text = request.text.trim().to_string();
    Ok(filter)
}

/// A group on the wire.
pub fn error_group(group: ErrorGroup) -> pb::ErrorGroup {
    let (ignored_until, ignored_events_left) = match group.ignore {
        Some(IgnoreRule::Until(t)) => (Some(timestamp_to_proto(t)), 0),
        Some(IgnoreRule::ForEvents(n)) => (None, n),
        Some(IgnoreRule::Forever) | None => (None, 0),
    };
    pb::ErrorGroup {
        id: group.id,
        title: group.title,
        culprit: group.culprit,
        exception_type: group.exception_type,
        error_type: error_type_to_proto(group.error_type) as i32,
        status: status_to_proto(group.status) as i32,
        status_changed_at: Some(timestamp_to_proto(group.status_changed_at)),
        status_changed_by: group.status_changed_by,
        ignored_until,
        ignored_events_left,
        regressed_at: group.regressed_at.map(timestamp_to_proto),
        note: group.note.map(|n| pb::GroupNote {
            text: n.text,
            author: n.author,
            updated_at: Some(timestamp_to_proto(n.updated_at)),
        }),
        severity: group
            .severity
            .map_or(pb::Severity::Unspecified, severity_to_proto) as i32,
        event_count: group.event_count,
        first_seen: group.first_seen.map(timestamp_to_proto),
        last_seen: group.last_seen.map(timestamp_to_proto),
        window_count: group.window_count.unwrap_or(0),
        hosts: group.hosts,
        runs: group.runs,
        fingerprints: group.fingerprints,
        created_at: Some(timestamp_to_proto(group.created_at)),
    }
}

/// GetGroup's answer; `merged_from` is the asked-for id when it was merged
/// away.
pub fn group_detail(detail: GroupDetail, merged_from: Option<i64>) -> pb::GetGroupResponse {
    pb::GetGroupResponse {
        group: Some(error_group(detail.group)),
        latest_log: detail.latest_log.map(log_entry),
        fingerprints: detail
            .fingerprints
            .into_iter()
            .map(|f| pb::GroupFingerprint {
                explanation: f.components.explain(),
                components_json: serde_json::to_string(&f.components).unwrap_or_default(),
                fingerprint: f.hash,
                version: f.version,
                title: f.title,
                event_count: f.event_count,
                added_at: Some(timestamp_to_proto(f.added_at)),
            })
            .collect(),
        histogram: detail
            .histogram
            .into_iter()
            .map(|b| pb::BucketCount {
                start: Some(timestamp_to_proto(b.start)),
                count: b.count,
            })
            .collect(),
        top_hosts: detail
            .top_hosts
            .into_iter()
            .map(|v| pb::ValueCount {
                value: v.value,
                count: v.count,
            })
            .collect(),
        top_runs: detail
            .top_runs
            .into_iter()
            .map(|v| pb::ValueCount {
                value: v.value,
                count: v.count,
            })
            .collect(),
        merged_from: merged_from.unwrap_or(0),
    }
}
