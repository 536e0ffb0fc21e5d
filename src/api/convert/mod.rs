//! Conversions between the wire types (`pb`) and the domain types, one
//! direction per module: `from_wire` validates and converts what clients
//! send, `to_wire` builds what diagd answers, and `json` converts
//! `google.protobuf.Struct` to JSON and back; `groups` does both directions
//! for error groups; `otlp` turns OpenTelemetry log records into diagd's
//! own `NewLog`; `runs` validates heartbeats and answers runs; `alerts`
//! validates alert rules and answers rules and deliveries. The limits they
//! check are in `api::limits`.

pub mod alerts;
pub mod from_wire;
pub mod groups;
mod json;
pub mod otlp;
pub mod runs;
pub mod to_wire;

pub use json::json_to_struct;

#[cfg(test)]
mod tests {
    use prost_types::{Struct, Timestamp, value::Kind};
    use serde_json::Value;

    use super::{from_wire::*, json::*, to_wire::*};
    use crate::{api::limits::*, domain::*};

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
            group_ids: vec![7, 9],
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
