//! `google.protobuf.Struct` ↔ JSON, both ways (bounded in depth on the way
//! in).

use prost_types::{ListValue, Struct, value::Kind};
use serde_json::{Map, Number, Value};

use crate::api::limits::MAX_JSON_DEPTH;

pub(super) fn struct_to_json(value: Struct, depth: usize) -> Result<Map<String, Value>, String> {
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

pub(super) fn value_to_json(value: prost_types::Value, depth: usize) -> Result<Value, String> {
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
pub(super) fn number_to_json(n: f64) -> Result<Value, String> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if n.fract() == 0.0 && n.abs() <= EXACT {
        return Ok(Value::Number(Number::from(n as i64)));
    }
    Number::from_f64(n)
        .map(Value::Number)
        .ok_or_else(|| format!("{n} is not a finite number, which JSON cannot hold"))
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

pub(super) fn json_to_value(value: Value) -> prost_types::Value {
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
