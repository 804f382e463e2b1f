//! Helpers over resource JSON: case-insensitive attribute keys (RFC 7643 §2.1:
//! attribute names are case-insensitive), presence, and typed comparisons shared by
//! filtering, PATCH and sorting.

use roster_lowercase::Lowercase as _;
use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

use super::datetime;
use super::schema::{AttrType, Attribute};

/// The value under `name`, preferring an exact key, else any case-insensitive match.
pub fn get_ci<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The key matching `name` case-insensitively, exact match preferred.
fn key_ci(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// A mutable reference to the value under `name` (case-insensitive).
pub(crate) fn get_ci_mut<'a>(map: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    let key = key_ci(map, name)?;
    map.get_mut(&key)
}

/// Removes every key matching `name` case-insensitively; returns the value of the
/// exact match if any, else of the first match.
pub(crate) fn remove_ci(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let exact = map.remove(name);
    let others: Vec<String> = map
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .collect();
    let mut first = None;
    for k in others {
        let v = map.remove(&k);
        if first.is_none() {
            first = v;
        }
    }
    exact.or(first)
}

/// Sets `name` (the canonical spelling) to `value`, dropping other spellings.
pub(crate) fn set_ci(map: &mut Map<String, Value>, name: &str, value: Value) {
    remove_ci(map, name);
    map.insert(name.to_owned(), value);
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

/// `true`/`false` spelled in any case (Entra ID sends `"False"` for booleans).
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
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

/// Whether two values of attribute `def` are equal under its type and case rules
/// (dateTimes chronologically, numbers numerically, strings per caseExact, complex
/// values key by key).
pub(crate) fn values_equal(def: &Attribute, a: &Value, b: &Value) -> bool {
    match (def.kind, a, b) {
        (AttrType::String | AttrType::Reference, Value::String(x), Value::String(y)) => {
            if def.case_exact {
                x == y
            } else {
                x == y || x.lowercase() == y.lowercase()
            }
        }
        (AttrType::DateTime, Value::String(x), Value::String(y)) => {
            match (datetime::parse(x), datetime::parse(y)) {
                (Some(p), Some(q)) => p == q,
                _ => x == y,
            }
        }
        (AttrType::Integer | AttrType::Decimal, Value::Number(x), Value::Number(y)) => {
            cmp_numbers(x, y) == Some(Ordering::Equal)
        }
        (_, Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(def, p, q))
        }
        (AttrType::Boolean, Value::Bool(x), Value::String(y))
        | (AttrType::Boolean, Value::String(y), Value::Bool(x)) => parse_bool(y) == Some(*x),
        (AttrType::Complex, Value::Object(x), Value::Object(y)) => {
            let same_in = |p: &Map<String, Value>, q: &Map<String, Value>| {
                p.iter().all(|(k, v)| {
                    let other = get_ci(q, k).unwrap_or(&Value::Null);
                    match def
                        .sub_attributes
                        .iter()
                        .find(|s| s.name.eq_ignore_ascii_case(k))
                    {
                        Some(_) if v.is_null() || other.is_null() => v.is_null() == other.is_null(),
                        Some(sub) => values_equal(sub, v, other),
                        None => v == other,
                    }
                })
            };
            same_in(x, y) && same_in(y, x)
        }
        _ => a == b,
    }
}
