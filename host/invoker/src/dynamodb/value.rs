//! DynamoDB attribute values in their JSON form (`{"S": "x"}`, `{"N": "1"}`,
//! `{"M": {…}}`, …): checking them, comparing them, numbers, and the bytes a
//! key is stored under.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::error::DynamoError;

/// The type descriptors an attribute value may have.
pub const TYPES: [&str; 10] = ["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"];

/// The one type descriptor of `v` (`"S"`, `"N"`, …), if it is a well-formed value.
pub fn type_of(v: &Value) -> Option<&str> {
    let o = v.as_object()?;
    if o.len() != 1 {
        return None;
    }
    let (t, _) = o.iter().next()?;
    TYPES.contains(&t.as_str()).then_some(t.as_str())
}

/// Checks an attribute value (recursively for M and L).
pub fn check(v: &Value) -> Result<(), DynamoError> {
    let empty = || DynamoError::validation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
    let Some(t) = type_of(v) else { return Err(empty()) };
    let inner = &v[t];
    let ok = match t {
        "S" | "B" => inner.is_string(),
        "N" => inner.as_str().is_some_and(|n| parse_number(n).is_some()),
        "BOOL" => inner.is_boolean(),
        "NULL" => inner == &Value::Bool(true),
        "M" => match inner.as_object() {
            Some(m) => {
                m.values().try_for_each(check)?;
                true
            }
            None => false,
        },
        "L" => match inner.as_array() {
            Some(l) => {
                l.iter().try_for_each(check)?;
                true
            }
            None => false,
        },
        _ => set_members(inner, t).is_some_and(|m| !m.is_empty()),
    };
    if !ok {
        return Err(DynamoError::validation(format!(
            "One or more parameter values were invalid: An AttributeValue may not contain an empty set or a malformed {t}"
        )));
    }
    if t == "N" || t == "NS" {
        let bad = set_members(inner, t).unwrap_or_default().into_iter().find(|n| parse_number(n).is_none());
        if let Some(n) = bad {
            return Err(DynamoError::validation(format!("The parameter cannot be converted to a numeric value: {n}")));
        }
    }
    Ok(())
}

/// The members of a set (or of an N as one member), as strings.
fn set_members<'a>(inner: &'a Value, t: &str) -> Option<Vec<&'a str>> {
    match t {
        "N" => inner.as_str().map(|s| vec![s]),
        _ => inner.as_array()?.iter().map(Value::as_str).collect(),
    }
}

/// Checks an item (a map of attribute names to values).
pub fn check_item(item: &Map<String, Value>) -> Result<(), DynamoError> {
    item.values().try_for_each(check)
}

/// A DynamoDB number: exact when it is an integer that fits, else a double.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i128),
    Float(f64),
}

pub fn parse_number(text: &str) -> Option<Number> {
    let t = text.trim();
    if let Ok(i) = t.parse::<i128>() {
        return Some(Number::Int(i));
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite()).map(Number::Float)
}

impl Number {
    fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }

    pub fn add(self, other: Number) -> Number {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a.checked_add(b).map_or(Number::Float(a as f64 + b as f64), Number::Int),
            (a, b) => Number::Float(a.as_f64() + b.as_f64()),
        }
    }

    pub fn negate(self) -> Number {
        match self {
            Number::Int(i) => Number::Int(-i),
            Number::Float(f) => Number::Float(-f),
        }
    }

    pub fn cmp(self, other: Number) -> Ordering {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a.cmp(&b),
            (a, b) => a.as_f64().total_cmp(&b.as_f64()),
        }
    }

    /// The text DynamoDB answers for the number (no exponent, no trailing zeros).
    pub fn render(self) -> String {
        match self {
            Number::Int(i) => i.to_string(),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 1e38 => format!("{f:.0}"),
            Number::Float(f) => {
                let s = format!("{f}");
                if s.contains('e') { format!("{f:.40}").trim_end_matches('0').to_string() } else { s }
            }
        }
    }
}

/// Compares two values of one scalar type (S, N or B); None for other
/// types or a type mismatch (DynamoDB's comparisons are then false).
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    let (ta, tb) = (type_of(a)?, type_of(b)?);
    if ta != tb {
        return None;
    }
    match ta {
        "S" | "B" => Some(a[ta].as_str()?.as_bytes().cmp(b[tb].as_str()?.as_bytes())),
        "N" => Some(parse_number(a["N"].as_str()?)?.cmp(parse_number(b["N"].as_str()?)?)),
        _ => None,
    }
}

/// Whether two values are equal as DynamoDB compares them (numbers by
/// value, sets without order).
pub fn equal(a: &Value, b: &Value) -> bool {
    match (type_of(a), type_of(b)) {
        (Some(ta), Some(tb)) if ta == tb => match ta {
            "S" | "B" | "N" => compare(a, b) == Some(Ordering::Equal),
            "SS" | "BS" | "NS" => {
                let (x, y) = (set_of(a), set_of(b));
                x.len() == y.len() && x.iter().all(|m| y.iter().any(|n| member_eq(ta, m, n)))
            }
            "M" => {
                let (x, y) = (a["M"].as_object(), b["M"].as_object());
                match (x, y) {
                    (Some(x), Some(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w))),
                    _ => false,
                }
            }
            "L" => {
                let (x, y) = (a["L"].as_array(), b["L"].as_array());
                match (x, y) {
                    (Some(x), Some(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| equal(v, w)),
                    _ => false,
                }
            }
            _ => a == b,
        },
        _ => false,
    }
}

/// The members of a set value, as strings.
pub fn set_of(v: &Value) -> Vec<String> {
    type_of(v)
        .and_then(|t| v[t].as_array())
        .map(|a| a.iter().filter_map(|m| m.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Whether two members of a set of type `t` are the same member.
pub fn member_eq(t: &str, a: &str, b: &str) -> bool {
    match (t, parse_number(a), parse_number(b)) {
        ("NS", Some(x), Some(y)) => x.cmp(y) == Ordering::Equal,
        _ => a == b,
    }
}

/// The bytes a key attribute is stored under: its type letter, then its
/// text; numbers in canonical form, so `1.0` and `1` are one key.
pub fn key_bytes(v: &Value) -> Option<Vec<u8>> {
    let t = type_of(v)?;
    let text = match t {
        "S" | "B" => v[t].as_str()?.to_string(),
        "N" => parse_number(v["N"].as_str()?)?.render(),
        _ => return None,
    };
    let mut out = Vec::with_capacity(text.len() + 3);
    out.extend_from_slice(t.as_bytes());
    out.push(0);
    // Length-prefixed, so a hash key is never a prefix of a longer one.
    out.extend_from_slice(&(text.len() as u32).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    Some(out)
}

/// The size of a value as `size()` measures it: characters of a string,
/// bytes of a binary, members of a set, list or map.
pub fn size(v: &Value) -> Option<usize> {
    let t = type_of(v)?;
    match t {
        "S" => Some(v["S"].as_str()?.chars().count()),
        "B" => Some(v["B"].as_str()?.len() * 3 / 4),
        "M" => Some(v["M"].as_object()?.len()),
        "L" | "SS" | "NS" | "BS" => Some(v[t].as_array()?.len()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_checked() {
        assert!(check(&json!({"S": "x"})).is_ok());
        assert!(check(&json!({"M": {"a": {"N": "1.5"}, "b": {"L": [{"BOOL": true}]}}})).is_ok());
        assert!(check(&json!({"S": "x", "N": "1"})).is_err());
        assert!(check(&json!({"N": "one"})).is_err());
        assert!(check(&json!({"SS": []})).is_err());
        assert!(check(&json!("x")).is_err());
    }

    #[test]
    fn numbers_compare_and_add_by_value() {
        assert!(equal(&json!({"N": "1.0"}), &json!({"N": "1"})));
        assert_eq!(compare(&json!({"N": "10"}), &json!({"N": "9"})), Some(Ordering::Greater));
        assert_eq!(compare(&json!({"S": "10"}), &json!({"S": "9"})), Some(Ordering::Less));
        assert_eq!(parse_number("2").unwrap().add(parse_number("0.5").unwrap()).render(), "2.5");
        assert_eq!(parse_number("7").unwrap().add(parse_number("-9").unwrap()).render(), "-2");
        assert_eq!(key_bytes(&json!({"N": "1.0"})), key_bytes(&json!({"N": "1"})));
    }

    #[test]
    fn sets_are_equal_without_order() {
        assert!(equal(&json!({"SS": ["a", "b"]}), &json!({"SS": ["b", "a"]})));
        assert!(!equal(&json!({"SS": ["a"]}), &json!({"NS": ["1"]})));
    }
}
