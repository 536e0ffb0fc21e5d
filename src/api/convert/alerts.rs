//! Alert rules and deliveries, both ways: a rule from the wire validated
//! into the domain's `AlertRule` (every field bounded, the URL parsed, the
//! error naming the field), UpdateAlertRule's mask applied to a stored rule,
//! and rules (URL up to its host, no secret) and deliveries back.

use std::time::Duration;

use chrono::Utc;
use uuid::Uuid;

use super::{
    from_wire::{error_type, severity, text},
    runs::{duration, duration_to_proto, run_state, run_state_to_proto},
    to_wire::timestamp_to_proto,
};
use crate::api::{error::FieldError, limits::MAX_SOURCE_FIELD_BYTES, pb};
use crate::domain::alert::{
    AlertFilter, AlertRule, DEFAULT_THROTTLE, DestinationKind, MAX_THROTTLE, Trigger, WINDOW_RANGE,
    redact_url,
};
use crate::store::{Delivery, DeliveryState};

/// Bytes of a rule's name at most.
pub const MAX_NAME_BYTES: usize = 200;
/// Bytes of a destination URL at most.
pub const MAX_URL_BYTES: usize = 2048;
/// Bytes of a signing secret at most.
pub const MAX_SECRET_BYTES: usize = 256;
/// Largest EVENT_RATE threshold.
pub const MAX_THRESHOLD: u32 = 1_000_000;

/// A trigger from the wire.
fn trigger(value: i32) -> Result<Trigger, FieldError> {
    match pb::AlertTrigger::try_from(value) {
        Ok(pb::AlertTrigger::NewGroup) => Ok(Trigger::NewGroup),
        Ok(pb::AlertTrigger::Regression) => Ok(Trigger::Regression),
        Ok(pb::AlertTrigger::CriticalLog) => Ok(Trigger::CriticalLog),
        Ok(pb::AlertTrigger::EventRate) => Ok(Trigger::EventRate),
        Ok(pb::AlertTrigger::RunState) => Ok(Trigger::RunState),
        Ok(pb::AlertTrigger::Unspecified) => Err(FieldError::new("rule.trigger", "required")),
        Err(_) => Err(FieldError::new(
            "rule.trigger",
            format!("unknown trigger {value}"),
        )),
    }
}

/// A trigger on the wire.
fn trigger_to_proto(trigger: Trigger) -> pb::AlertTrigger {
    match trigger {
        Trigger::NewGroup => pb::AlertTrigger::NewGroup,
        Trigger::Regression => pb::AlertTrigger::Regression,
        Trigger::CriticalLog => pb::AlertTrigger::CriticalLog,
        Trigger::EventRate => pb::AlertTrigger::EventRate,
        Trigger::RunState => pb::AlertTrigger::RunState,
    }
}

fn kind(value: i32) -> Result<DestinationKind, FieldError> {
    match pb::AlertDestinationKind::try_from(value) {
        Ok(pb::AlertDestinationKind::Webhook) => Ok(DestinationKind::Webhook),
        Ok(pb::AlertDestinationKind::Slack) => Ok(DestinationKind::Slack),
        Ok(pb::AlertDestinationKind::Unspecified) => {
            Err(FieldError::new("rule.destination_kind", "required"))
        }
        Err(_) => Err(FieldError::new(
            "rule.destination_kind",
            format!("unknown destination kind {value}"),
        )),
    }
}

fn kind_to_proto(kind: DestinationKind) -> pb::AlertDestinationKind {
    match kind {
        DestinationKind::Webhook => pb::AlertDestinationKind::Webhook,
        DestinationKind::Slack => pb::AlertDestinationKind::Slack,
    }
}

fn name(value: &str) -> Result<String, FieldError> {
    text("rule.name", value, MAX_NAME_BYTES)?;
    if value.trim().is_empty() {
        return Err(FieldError::new("rule.name", "required"));
    }
    Ok(value.trim().to_string())
}

/// An http(s) URL with a host.
fn url(value: &str) -> Result<String, FieldError> {
    const FIELD: &str = "rule.url";
    text(FIELD, value, MAX_URL_BYTES)?;
    if value.is_empty() {
        return Err(FieldError::new(FIELD, "required"));
    }
    // The URL is not quoted back: its path may be a secret.
    let parsed = reqwest::Url::parse(value)
        .map_err(|e| FieldError::new(FIELD, format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(FieldError::new(
            FIELD,
            format!("scheme {:?} is not http or https", parsed.scheme()),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(FieldError::new(FIELD, "has no host"));
    }
    if value.contains('…') {
        return Err(FieldError::new(
            FIELD,
            "looks like a URL as diagd shows it (up to its host, then …): give the whole URL",
        ));
    }
    // Stored as parsed (normalised: a `\` in the path is a `/`), so that
    // what is shown up to the host hides the whole path.
    Ok(parsed.as_str().to_string())
}

fn secret(value: &str) -> Result<String, FieldError> {
    text("rule.secret", value, MAX_SECRET_BYTES)?;
    Ok(value.to_string())
}

fn filter(value: Option<pb::AlertFilter>) -> Result<AlertFilter, FieldError> {
    let value = value.unwrap_or_default();
    let mut out = AlertFilter::default();
    for (i, s) in value.severities.iter().enumerate() {
        let field = format!("rule.filter.severities[{i}]");
        match severity(&field, *s)? {
            Some(s) if out.severities.iter().any(|o| o == s.as_str()) => {}
            Some(s) => out.severities.push(s.as_str().to_string()),
            None => return Err(FieldError::new(field, "unspecified is not a severity")),
        }
    }
    for (i, t) in value.error_types.iter().enumerate() {
        let field = format!("rule.filter.error_types[{i}]");
        match error_type(&field, *t)? {
            Some(t) if out.error_types.iter().any(|o| o == t.as_str()) => {}
            Some(t) => out.error_types.push(t.as_str().to_string()),
            None => return Err(FieldError::new(field, "unspecified is not an error type")),
        }
    }
    text("rule.filter.host", &value.host, MAX_SOURCE_FIELD_BYTES)?;
    text("rule.filter.run_id", &value.run_id, MAX_SOURCE_FIELD_BYTES)?;
    text(
        "rule.filter.component",
        &value.component,
        MAX_SOURCE_FIELD_BYTES,
    )?;
    if value.group_id < 0 {
        return Err(FieldError::new(
            "rule.filter.group_id",
            "must not be negative",
        ));
    }
    out.host = value.host;
    out.run_id = value.run_id;
    out.component = value.component;
    out.group_id = (value.group_id > 0).then_some(value.group_id);
    Ok(out)
}

fn throttle(value: Option<prost_types::Duration>) -> Result<Duration, FieldError> {
    Ok(duration("rule.throttle", value, Duration::ZERO, MAX_THROTTLE)?.unwrap_or(DEFAULT_THROTTLE))
}

fn window(value: Option<prost_types::Duration>) -> Result<Duration, FieldError> {
    duration("rule.window", value, WINDOW_RANGE.0, WINDOW_RANGE.1).map(|w| w.unwrap_or_default())
}

fn run_states(values: &[i32]) -> Result<Vec<crate::domain::run::RunState>, FieldError> {
    let mut states = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let field = format!("rule.run_states[{i}]");
        match run_state(&field, *value)? {
            Some(state) if !states.contains(&state) => states.push(state),
            Some(_) => {}
            None => return Err(FieldError::new(field, "unspecified is not a state")),
        }
    }
    Ok(states)
}

/// The checks that span fields, on a whole rule.
fn consistent(rule: AlertRule) -> Result<AlertRule, FieldError> {
    if rule.trigger == Trigger::EventRate {
        if rule.threshold == 0 || rule.threshold > MAX_THRESHOLD {
            return Err(FieldError::new(
                "rule.threshold",
                format!("{} is outside 1 to {MAX_THRESHOLD}", rule.threshold),
            ));
        }
        if rule.window.is_zero() {
            return Err(FieldError::new(
                "rule.window",
                "required with ALERT_TRIGGER_EVENT_RATE",
            ));
        }
    }
    if rule.trigger != Trigger::RunState && !rule.run_states.is_empty() {
        return Err(FieldError::new(
            "rule.run_states",
            "only with ALERT_TRIGGER_RUN_STATE",
        ));
    }
    Ok(rule)
}

/// CreateAlertRule's rule.
pub fn new_rule(rule: Option<pb::AlertRule>) -> Result<AlertRule, FieldError> {
    let rule = rule.ok_or_else(|| FieldError::new("rule", "required"))?;
    let now = Utc::now();
    consistent(AlertRule {
        id: Uuid::now_v7(),
        name: name(&rule.name)?,
        trigger: trigger(rule.trigger)?,
        filter: filter(rule.filter)?,
        threshold: rule.threshold,
        window: window(rule.window)?,
        per_group: rule.per_group,
        run_states: run_states(&rule.run_states)?,
        throttle: throttle(rule.throttle)?,
        kind: kind(rule.destination_kind)?,
        url: url(&rule.url)?,
        secret: secret(&rule.secret)?,
        enabled: !rule.disabled,
        created_at: now,
        updated_at: now,
    })
}

/// The paths UpdateAlertRule's mask may name.
const UPDATABLE: [&str; 11] = [
    "name",
    "filter",
    "threshold",
    "window",
    "per_group",
    "run_states",
    "throttle",
    "destination_kind",
    "url",
    "secret",
    "disabled",
];

/// Checks UpdateAlertRule's mask: its paths, at least one.
pub fn update_mask(mask: Option<&prost_types::FieldMask>) -> Result<Vec<String>, FieldError> {
    let paths = mask.map(|m| m.paths.clone()).unwrap_or_default();
    if paths.is_empty() {
        return Err(FieldError::new(
            "update_mask",
            "required: name the fields to change",
        ));
    }
    for (i, path) in paths.iter().enumerate() {
        if path == "trigger" {
            return Err(FieldError::new(
                format!("update_mask.paths[{i}]"),
                "a rule's trigger cannot change: create another rule",
            ));
        }
        if !UPDATABLE.contains(&path.as_str()) {
            return Err(FieldError::new(
                format!("update_mask.paths[{i}]"),
                format!("{path:?} is not one of {}", UPDATABLE.join(", ")),
            ));
        }
    }
    Ok(paths)
}

/// `stored` with the fields of `paths` taken from `update`, validated.
pub fn apply_update(
    mut stored: AlertRule,
    update: &pb::AlertRule,
    paths: &[String],
) -> Result<AlertRule, FieldError> {
    for path in paths {
        match path.as_str() {
            "name" => stored.name = name(&update.name)?,
            "filter" => stored.filter = filter(update.filter.clone())?,
            "threshold" => stored.threshold = update.threshold,
            "window" => stored.window = window(update.window)?,
            "per_group" => stored.per_group = update.per_group,
            "run_states" => stored.run_states = run_states(&update.run_states)?,
            "throttle" => stored.throttle = throttle(update.throttle)?,
            "destination_kind" => stored.kind = kind(update.destination_kind)?,
            "url" => stored.url = url(&update.url)?,
            "secret" => stored.secret = secret(&update.secret)?,
            "disabled" => stored.enabled = !update.disabled,
            _ => {}
        }
    }
    consistent(stored)
}

/// A rule id from the wire.
pub fn rule_id(field: &str, value: &str) -> Result<Uuid, FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(field, "required"));
    }
    Uuid::parse_str(value)
        .map_err(|_| FieldError::new(field, format!("{value:?} is not a rule id")))
}

/// A rule on the wire: the URL up to its host, the secret never.
pub fn rule(rule: AlertRule) -> pb::AlertRule {
    use crate::api::convert::to_wire::{error_type_to_proto, severity_to_proto};
    pb::AlertRule {
        id: rule.id.to_string(),
        name: rule.name,
        trigger: trigger_to_proto(rule.trigger) as i32,
        filter: Some(pb::AlertFilter {
            severities: rule
                .filter
                .severities
                .iter()
                .filter_map(|s| crate::domain::Severity::parse(s))
                .map(|s| severity_to_proto(s) as i32)
                .collect(),
            error_types: rule
                .filter
                .error_types
                .iter()
                .filter_map(|t| crate::domain::ErrorType::parse(t))
                .map(|t| error_type_to_proto(t) as i32)
                .collect(),
            host: rule.filter.host,
            run_id: rule.filter.run_id,
            component: rule.filter.component,
            group_id: rule.filter.group_id.unwrap_or(0),
        }),
        threshold: rule.threshold,
        window: (!rule.window.is_zero()).then(|| duration_to_proto(rule.window)),
        per_group: rule.per_group,
        run_states: rule
            .run_states
            .iter()
            .map(|s| run_state_to_proto(*s) as i32)
            .collect(),
        throttle: Some(duration_to_proto(rule.throttle)),
        destination_kind: kind_to_proto(rule.kind) as i32,
        url: redact_url(&rule.url),
        secret: String::new(),
        has_secret: !rule.secret.is_empty(),
        disabled: !rule.enabled,
        created_at: Some(timestamp_to_proto(rule.created_at)),
        updated_at: Some(timestamp_to_proto(rule.updated_at)),
    }
}

/// A delivery state from the wire (`None`: any).
pub fn delivery_state(value: i32) -> Result<Option<DeliveryState>, FieldError> {
    match pb::AlertDeliveryState::try_from(value) {
        Ok(pb::AlertDeliveryState::Unspecified) => Ok(None),
        Ok(pb::AlertDeliveryState::Pending) => Ok(Some(DeliveryState::Pending)),
        Ok(pb::AlertDeliveryState::Delivered) => Ok(Some(DeliveryState::Delivered)),
        Ok(pb::AlertDeliveryState::Failed) => Ok(Some(DeliveryState::Failed)),
        Err(_) => Err(FieldError::new(
            "state",
            format!("unknown delivery state {value}"),
        )),
    }
}

/// A delivery on the wire.
pub fn delivery(d: Delivery) -> pb::AlertDelivery {
    pb::AlertDelivery {
        id: d.id.to_string(),
        rule_id: d.rule_id.map(|r| r.to_string()).unwrap_or_default(),
        rule_name: d.rule_name,
        trigger: trigger_to_proto(d.trigger) as i32,
        summary: d.summary,
        group_id: d.group_id.unwrap_or(0),
        run_id: d.run_id,
        state: match d.state {
            DeliveryState::Pending => pb::AlertDeliveryState::Pending,
            DeliveryState::Delivered => pb::AlertDeliveryState::Delivered,
            DeliveryState::Failed => pb::AlertDeliveryState::Failed,
        } as i32,
        attempts: d
            .attempts
            .into_iter()
            .map(|a| pb::AlertAttempt {
                at: Some(timestamp_to_proto(a.at)),
                status_code: a.status as i32,
                error: a.error,
                duration: Some(duration_to_proto(Duration::from_millis(a.millis))),
            })
            .collect(),
        created_at: Some(timestamp_to_proto(d.created_at)),
        delivered_at: d.delivered_at.map(timestamp_to_proto),
        next_attempt_at: (d.state == DeliveryState::Pending)
            .then(|| timestamp_to_proto(d.next_attempt_at)),
        destination: redact_url(&d.url),
    }
}
