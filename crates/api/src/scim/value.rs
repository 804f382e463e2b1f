//! Helpers over resource JSON: case-insensitive attribute keys (RFC 7643 §2.1:
//! attribute names are case-insensitive), presence, and number comparison.

use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

/// The value under `name`, preferring an exact key, else any case-insensitive match.
pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// Whether `v` counts as present for `pr` (RFC 7644 §3.4.2.2): not null, not an
/// empty string, array or object, and (for arrays and objects) holding something
/// present.
pub(crate) fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(present),
        Value::Object(o) => o.values().any(present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Compares two JSON numbers exactly when both are integers, else as `f64`.
pub(crate) fn cmp_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}
