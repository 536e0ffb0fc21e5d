//! Machine-readable output of the client commands (`--json`): messages as
//! canonical protobuf JSON — the JSON `buf curl` and `grpcurl` print, with
//! every field present and 64-bit counts as plain numbers, for jq —
//! and the reverse for `diagd push --file`, which accepts that JSON (with
//! short enum names such as "high" or "oom" allowed too).

use std::sync::OnceLock;

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::Value;

use crate::api::pb;

/// The descriptors of diagd's contract (the reflection descriptor set).
fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET)
            .expect("the compiled descriptor set is valid")
    })
}

/// The descriptor of `diagnostics.v1.<name>`, or of a full name such as
/// `google.protobuf.Struct`.
fn descriptor(name: &str) -> MessageDescriptor {
    let full = if name.contains('.') {
        name.to_string()
    } else {
        format!("diagnostics.v1.{name}")
    };
    pool()
        .get_message_by_name(&full)
        .unwrap_or_else(|| panic!("{full} is in the contract"))
}

/// `message` (of type `diagnostics.v1.<name>`, or a full name) as canonical
/// protobuf JSON.
pub fn to_json<M: Message>(message: &M, name: &str) -> Value {
    let dynamic = DynamicMessage::decode(descriptor(name), message.encode_to_vec().as_slice())
        .expect("a message decodes as its own type");
    let mut json = dynamic
        .serialize_with_options(
            serde_json::value::Serializer,
            &SerializeOptions::new()
                .stringify_64_bit_integers(false)
                // Every field present (a count of 0 too): predictable for jq.
                .skip_default_fields(false),
        )
        .expect("protobuf JSON serialises");
    whole_numbers_as_integers(&mut json);
    json
}

/// Whole numbers as integers: protobuf's `Struct` holds every number as a
/// double, so a context's `"batch_size": 64` would print as `64.0`.
fn whole_numbers_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64()
                && n.is_f64()
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// One line of JSON for `message`.
pub fn line<M: Message>(message: &M, name: &str) -> String {
    to_json(message, name).to_string()
}

/// A `NewLog` from JSON: canonical protobuf JSON (camelCase or the proto
/// field names), where `severity` and `errorType` may also be short names.
pub fn new_log_from_json(mut value: Value) -> Result<pb::NewLog, String> {
    if let Some(object) = value.as_object_mut() {
        for (key, prefix) in [
            ("severity", "SEVERITY_"),
            ("errorType", "ERROR_TYPE_"),
            ("error_type", "ERROR_TYPE_"),
        ] {
            if let Some(Value::String(name)) = object.get_mut(key)
                && !name.to_ascii_uppercase().starts_with(prefix)
            {
                *name = format!("{prefix}{}", name.to_ascii_uppercase().replace('-', "_"));
            }
        }
    }
    let dynamic = DynamicMessage::deserialize(descriptor("NewLog"), value)
        .map_err(|e| format!("not a diagnostics.v1.NewLog in JSON: {e}"))?;
    dynamic
        .transcode_to::<pb::NewLog>()
        .map_err(|e| format!("not a diagnostics.v1.NewLog: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_read_from_json_accept_short_enum_names() {
        let log = new_log_from_json(serde_json::json!({
            "message": "CUDA out of memory",
            "severity": "critical",
            "errorType": "model-loading",
            "context": { "batch_size": 64 },
            "source": { "host": "gpu-7", "runId": "run-42" }
        }))
        .unwrap();
        assert_eq!(log.severity(), pb::Severity::Critical);
        assert_eq!(log.error_type(), pb::ErrorType::ModelLoading);
        assert_eq!(log.source.unwrap().run_id, "run-42");
        let back = to_json(
            &pb::NewLog {
                message: "x".into(),
                severity: pb::Severity::High as i32,
                ..Default::default()
            },
            "NewLog",
        );
        assert_eq!(back["message"], "x");
        assert_eq!(back["severity"], "SEVERITY_HIGH");
        assert_eq!(back["errorType"], "ERROR_TYPE_UNSPECIFIED");
        assert!(new_log_from_json(serde_json::json!({ "severity": "dire" })).is_err());
    }
}
