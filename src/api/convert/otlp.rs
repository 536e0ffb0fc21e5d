//! OTLP → diagd: one OpenTelemetry log record (with its resource and scope)
//! becomes the `pb::NewLog` a diagd client would have sent, which then goes
//! through the same validation (`from_wire::new_log`) as every other log.
//! The mapping, also the README's table:
//!
//! | OTLP | diagd |
//! | --- | --- |
//! | `exception.type` + `exception.message` attributes | message `Type: message` |
//! | `body` (string; anything else as JSON) | message when there is no exception, else context `body` |
//! | `exception.stacktrace` | stack trace (fingerprinted and grouped) |
//! | `severity_number` 21–24 / 17–20 / 13–16 / 9–12 | CRITICAL / HIGH / MEDIUM / LOW; without a number, `severity_text` (FATAL, ERROR, WARN, INFO) |
//! | below the threshold (default WARN) or no severity | not stored while debug mode is off; while it is on, stored with its own severity (LOW below WARN and without one) |
//! | `time_unix_nano`, else `observed_time_unix_nano`, else receipt | occurred_at |
//! | resource `host.name` | source.host |
//! | resource `service.name` | source.component |
//! | `diagd.run_id` (record, then resource), else resource `service.instance.id` | source.run_id |
//! | resource `service.namespace`, `service.version`, `service.instance.id`, `process.pid`, `k8s.*`, `container.id`, `deployment.environment(.name)`, `cloud.region` | source.labels |
//! | other resource attributes | context `resource` |
//! | other record attributes, `trace_id`, `span_id`, `severity_text`, scope name/version, `event_name` | context |
//! | `diagd.fingerprint` (a string or an array of strings) | the client fingerprint |
//! | exception type, message and frames | error type, by `domain::classify` |
//! | resource + scope + record bytes | event_id (idempotency key, see [`event_id`]) |

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::{
    common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value::Value as Any},
    logs::v1::LogRecord,
    resource::v1::Resource,
};
use prost::Message;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::api::limits::{MAX_LABEL_VALUE_BYTES, MAX_MESSAGE_BYTES, MAX_SOURCE_FIELD_BYTES};
use crate::api::pb;
use crate::domain::{Severity, classify::classify};

use super::to_wire::{error_type_to_proto, severity_to_proto};

/// The OTLP severity number from which records are stored while debug mode
/// is off (13: WARN), unless `--otlp-min-severity` says otherwise.
pub const DEFAULT_MIN_SEVERITY: i32 = 13;

/// Resource attributes that become source labels (the rest go to context).
const LABEL_ATTRIBUTES: &[&str] = &[
    "service.namespace",
    "service.version",
    "service.instance.id",
    "process.pid",
    "process.executable.name",
    "k8s.pod.name",
    "k8s.namespace.name",
    "k8s.node.name",
    "k8s.container.name",
    "k8s.job.name",
    "container.id",
    "container.name",
    "deployment.environment",
    "deployment.environment.name",
    "cloud.region",
];

/// Record attributes that are mapped to fields and not kept in context.
const MAPPED_ATTRIBUTES: &[&str] = &[
    "exception.type",
    "exception.message",
    "exception.stacktrace",
    "diagd.run_id",
    "diagd.fingerprint",
];

/// Why a record is not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Below the severity threshold while debug mode is off.
    BelowThreshold,
    /// Nothing to store: no body and no exception.
    Empty,
}

/// What a record's severity means for diagd.
fn severity(record: &LogRecord) -> Option<(Severity, i32)> {
    let number = match record.severity_number {
        1..=24 => record.severity_number,
        _ => match record.severity_text.trim().to_ascii_uppercase().as_str() {
            "FATAL" | "CRITICAL" | "EMERGENCY" | "ALERT" | "PANIC" => 21,
            "ERROR" | "ERR" | "SEVERE" => 17,
            "WARN" | "WARNING" => 13,
            "INFO" | "NOTICE" | "INFORMATION" => 9,
            "DEBUG" | "FINE" => 5,
            "TRACE" | "FINEST" => 1,
            _ => return None,
        },
    };
    let severity = match number {
        21.. => Severity::Critical,
        17..=20 => Severity::High,
        13..=16 => Severity::Medium,
        _ => Severity::Low,
    };
    Some((severity, number))
}

/// A record as the `pb::NewLog` diagd stores, or why it is not stored.
/// `min_severity`: the OTLP severity number from which records are stored
/// while debug mode is off; `debug`: whether debug mode is on (then
/// records below it are stored as LOW).
pub fn record_to_log(
    resource: Option<&Resource>,
    scope: Option<&InstrumentationScope>,
    record: &LogRecord,
    min_severity: i32,
    debug: bool,
) -> Result<pb::NewLog, Refusal> {
    let severity = match severity(record) {
        Some((severity, number)) if number >= min_severity || debug => severity,
        None if debug => Severity::Low,
        _ => return Err(Refusal::BelowThreshold),
    };
    let attribute = |key: &str| {
        record
            .attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
    };
    let resource_attributes: &[KeyValue] = resource.map_or(&[], |r| &r.attributes);
    let resource_attribute = |key: &str| {
        resource_attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
    };
    let exception_type = attribute("exception.type").map(text).unwrap_or_default();
    let exception_message = attribute("exception.message").map(text).unwrap_or_default();
    let stack_trace = attribute("exception.stacktrace")
        .map(text)
        .unwrap_or_default();
    let body = record.body.as_ref().map(text).unwrap_or_default();
    let has_exception = !exception_type.trim().is_empty() || !exception_message.trim().is_empty();
    let mut context = Map::new();
    let message = if has_exception {
        if !body.trim().is_empty() {
            context.insert("body".into(), Value::String(body));
        }
        match (exception_type.trim(), exception_message.trim()) {
            ("", message) => message.to_string(),
            (kind, "") => kind.to_string(),
            (kind, message) => format!("{kind}: {message}"),
        }
    } else {
        body
    };
    if message.trim().is_empty() {
        return Err(Refusal::Empty);
    }
    let message = truncate(&message, MAX_MESSAGE_BYTES);
    let error_type = classify(&exception_type, &message, &stack_trace);

    for kv in &record.attributes {
        if !MAPPED_ATTRIBUTES.contains(&kv.key.as_str()) {
            context.insert(kv.key.clone(), kv.value.as_ref().map_or(Value::Null, json));
        }
    }
    if !record.trace_id.is_empty() && record.trace_id.iter().any(|b| *b != 0) {
        context.insert("trace_id".into(), Value::String(hex(&record.trace_id)));
    }
    if !record.span_id.is_empty() && record.span_id.iter().any(|b| *b != 0) {
        context.insert("span_id".into(), Value::String(hex(&record.span_id)));
    }
    if !record.severity_text.is_empty() {
        context.insert(
            "severity_text".into(),
            Value::String(record.severity_text.clone()),
        );
    }
    if !record.event_name.is_empty() {
        context.insert(
            "event_name".into(),
            Value::String(record.event_name.clone()),
        );
    }
    if let Some(scope) = scope.filter(|s| !s.name.is_empty()) {
        let mut value = Map::new();
        value.insert("name".into(), Value::String(scope.name.clone()));
        if !scope.version.is_empty() {
            value.insert("version".into(), Value::String(scope.version.clone()));
        }
        context.insert("otel_scope".into(), Value::Object(value));
    }

    let mut labels = BTreeMap::new();
    let mut rest = Map::new();
    for kv in resource_attributes {
        let key = kv.key.as_str();
        let value = kv.value.as_ref();
        if matches!(key, "host.name" | "service.name") {
            continue;
        }
        if LABEL_ATTRIBUTES.contains(&key) {
            let value = value.map(text).unwrap_or_default();
            if !value.is_empty() {
                labels.insert(key.to_string(), truncate(&value, MAX_LABEL_VALUE_BYTES));
            }
        } else if !key.starts_with("telemetry.sdk.") {
            rest.insert(key.to_string(), value.map_or(Value::Null, json));
        }
    }
    if !rest.is_empty() {
        context.insert("resource".into(), Value::Object(rest));
    }
    let source_field = |value: Option<&AnyValue>| {
        truncate(&value.map(text).unwrap_or_default(), MAX_SOURCE_FIELD_BYTES)
    };
    let run_id = attribute("diagd.run_id")
        .or_else(|| resource_attribute("diagd.run_id"))
        .or_else(|| resource_attribute("service.instance.id"));
    let source = pb::Source {
        host: source_field(resource_attribute("host.name")),
        run_id: source_field(run_id),
        component: source_field(resource_attribute("service.name")),
        labels: labels.into_iter().collect(),
    };

    let fingerprint = match attribute("diagd.fingerprint").and_then(|v| v.value.as_ref()) {
        Some(Any::StringValue(entry)) => vec![entry.clone()],
        Some(Any::ArrayValue(array)) => array.values.iter().map(text).collect(),
        _ => Vec::new(),
    };
    let nanos = match (record.time_unix_nano, record.observed_time_unix_nano) {
        (0, 0) => None,
        (0, observed) => Some(observed),
        (time, _) => Some(time),
    };
    Ok(pb::NewLog {
        event_id: event_id(resource, scope, record),
        occurred_at: nanos.map(|n| prost_types::Timestamp {
            seconds: (n / 1_000_000_000) as i64,
            nanos: (n % 1_000_000_000) as i32,
        }),
        severity: severity_to_proto(severity) as i32,
        error_type: error_type_to_proto(error_type) as i32,
        message,
        stack_trace,
        context: Some(super::json_to_struct(context)),
        system_state: None,
        recent_actions: Vec::new(),
        source: Some(source),
        fingerprint,
    })
}

/// The idempotency key of a record: a UUID (version 8) from the SHA-256 of
/// its resource, its scope and the record itself, as protobuf bytes. A
/// retried Export (the same bytes) is stored once. Limits: two records equal
/// in every field, time included, from the same resource count as one; a
/// retry whose resource or record was changed on the way (a Collector that
/// adds an attribute between attempts) is stored again.
pub fn event_id(
    resource: Option<&Resource>,
    scope: Option<&InstrumentationScope>,
    record: &LogRecord,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"diagd-otlp-record-v1\0");
    for part in [
        resource.map(Message::encode_to_vec).unwrap_or_default(),
        scope.map(Message::encode_to_vec).unwrap_or_default(),
        record.encode_to_vec(),
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(&part);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::new_v8(bytes).to_string()
}

/// A value as text: strings as they are, everything else as JSON.
fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(Any::StringValue(s)) => s.clone(),
        None => String::new(),
        Some(_) => json(value).to_string(),
    }
}

/// A value as JSON (bytes as hex).
fn json(value: &AnyValue) -> Value {
    match &value.value {
        Some(Any::StringValue(s)) => Value::String(s.clone()),
        Some(Any::BoolValue(b)) => Value::Bool(*b),
        Some(Any::IntValue(i)) => Value::from(*i),
        Some(Any::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(d.to_string())),
        Some(Any::ArrayValue(array)) => Value::Array(array.values.iter().map(json).collect()),
        Some(Any::KvlistValue(list)) => Value::Object(
            list.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(Value::Null, json)))
                .collect(),
        ),
        Some(Any::BytesValue(bytes)) => Value::String(hex(bytes)),
        Some(_) | None => Value::Null,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `text` cut to at most `max` bytes on a character boundary.
fn truncate(text: &str, max: usize) -> String {
    crate::domain::fingerprint::head(text, max).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorType;
    use opentelemetry_proto::tonic::common::v1::ArrayValue;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(Any::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    fn record(number: i32, attributes: Vec<KeyValue>, body: &str) -> LogRecord {
        LogRecord {
            time_unix_nano: 1_700_000_000_123_456_789,
            severity_number: number,
            body: Some(AnyValue {
                value: Some(Any::StringValue(body.into())),
            }),
            attributes,
            ..Default::default()
        }
    }

    #[test]
    fn severities_map_and_the_threshold_follows_debug_mode() {
        let cases = [
            (24, Severity::Critical),
            (21, Severity::Critical),
            (20, Severity::High),
            (17, Severity::High),
            (16, Severity::Medium),
            (13, Severity::Medium),
        ];
        for (number, expected) in cases {
            let log = record_to_log(None, None, &record(number, vec![], "x"), 13, false).unwrap();
            assert_eq!(log.severity, severity_to_proto(expected) as i32, "{number}");
        }
        for number in [0, 1, 5, 9, 12] {
            assert_eq!(
                record_to_log(None, None, &record(number, vec![], "x"), 13, false),
                Err(Refusal::BelowThreshold),
                "{number}"
            );
            let log = record_to_log(None, None, &record(number, vec![], "x"), 13, true).unwrap();
            assert_eq!(log.severity, severity_to_proto(Severity::Low) as i32);
        }
        // A higher threshold keeps WARN out while debug mode is off, and
        // stores it as MEDIUM (its own severity) while it is on.
        assert_eq!(
            record_to_log(None, None, &record(13, vec![], "x"), 17, false),
            Err(Refusal::BelowThreshold)
        );
        let log = record_to_log(None, None, &record(13, vec![], "x"), 17, true).unwrap();
        assert_eq!(log.severity, severity_to_proto(Severity::Medium) as i32);
        // A lower threshold stores INFO while debug mode is off.
        let log = record_to_log(None, None, &record(9, vec![], "x"), 9, false).unwrap();
        assert_eq!(log.severity, severity_to_proto(Severity::Low) as i32);
        // No number: the text decides.
        let mut by_text = record(0, vec![], "x");
        by_text.severity_text = "Error".into();
        let log = record_to_log(None, None, &by_text, 13, false).unwrap();
        assert_eq!(log.severity, severity_to_proto(Severity::High) as i32);
    }

    #[test]
    fn exceptions_resource_and_attributes_map_to_their_fields() {
        let trace = "Traceback (most recent call last):\n  File \"/w/train.py\", line 3, in step\n    loss.backward()\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB";
        let mut rec = record(
            17,
            vec![
                kv("exception.type", "torch.OutOfMemoryError"),
                kv(
                    "exception.message",
                    "CUDA out of memory. Tried to allocate 2.00 GiB",
                ),
                kv("exception.stacktrace", trace),
                kv("code.function", "step"),
                kv("diagd.run_id", "run-7"),
            ],
            "training step failed",
        );
        rec.trace_id = vec![1; 16];
        rec.span_id = vec![2; 8];
        let resource = Resource {
            attributes: vec![
                kv("host.name", "gpu-node-3"),
                kv("service.name", "trainer"),
                kv("service.instance.id", "abc"),
                kv("k8s.pod.name", "trainer-0"),
                kv("cloud.provider", "gcp"),
                kv("telemetry.sdk.name", "opentelemetry"),
            ],
            ..Default::default()
        };
        let log = record_to_log(Some(&resource), None, &rec, 13, false).unwrap();
        assert_eq!(
            log.message,
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
        );
        assert_eq!(log.stack_trace, trace);
        assert_eq!(log.error_type, error_type_to_proto(ErrorType::Oom) as i32);
        assert_eq!(log.severity, severity_to_proto(Severity::High) as i32);
        let source = log.source.unwrap();
        assert_eq!(source.host, "gpu-node-3");
        assert_eq!(source.component, "trainer");
        assert_eq!(source.run_id, "run-7");
        assert_eq!(source.labels["k8s.pod.name"], "trainer-0");
        assert_eq!(source.labels["service.instance.id"], "abc");
        let context = super::super::json::struct_to_json(log.context.unwrap(), 0).unwrap();
        assert_eq!(context["body"], "training step failed");
        assert_eq!(context["code.function"], "step");
        assert_eq!(context["trace_id"], "01".repeat(16));
        assert_eq!(context["span_id"], "02".repeat(8));
        assert_eq!(context["resource"]["cloud.provider"], "gcp");
        assert!(context.get("exception.stacktrace").is_none());
        assert!(context["resource"].get("telemetry.sdk.name").is_none());
        assert_eq!(log.occurred_at.unwrap().nanos, 123_456_789);
    }

    #[test]
    fn bodies_without_exceptions_run_ids_and_fingerprints() {
        let resource = Resource {
            attributes: vec![kv("service.instance.id", "instance-9")],
            ..Default::default()
        };
        let mut rec = record(13, vec![], "");
        rec.body = Some(AnyValue {
            value: Some(Any::KvlistValue(
                opentelemetry_proto::tonic::common::v1::KeyValueList {
                    values: vec![kv("event", "slow step")],
                },
            )),
        });
        rec.attributes.push(KeyValue {
            key: "diagd.fingerprint".into(),
            value: Some(AnyValue {
                value: Some(Any::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(Any::StringValue("slow-step".into())),
                    }],
                })),
            }),
            ..Default::default()
        });
        let log = record_to_log(Some(&resource), None, &rec, 13, false).unwrap();
        assert_eq!(log.message, r#"{"event":"slow step"}"#);
        assert_eq!(log.source.unwrap().run_id, "instance-9");
        assert_eq!(log.fingerprint, vec!["slow-step".to_string()]);
        assert_eq!(
            record_to_log(None, None, &record(17, vec![], "  "), 13, false),
            Err(Refusal::Empty)
        );
    }

    #[test]
    fn the_same_record_has_the_same_event_id_and_another_does_not() {
        let a = record(17, vec![kv("k", "v")], "boom");
        let mut b = a.clone();
        assert_eq!(event_id(None, None, &a), event_id(None, None, &b));
        b.time_unix_nano += 1;
        assert_ne!(event_id(None, None, &a), event_id(None, None, &b));
        let resource = Resource {
            attributes: vec![kv("host.name", "h")],
            ..Default::default()
        };
        assert_ne!(
            event_id(Some(&resource), None, &a),
            event_id(None, None, &a)
        );
        assert!(uuid::Uuid::parse_str(&event_id(None, None, &a)).is_ok());
    }
}
