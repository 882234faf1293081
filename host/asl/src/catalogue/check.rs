//! The rules that tell which kind of bad value a value is, per field; the
//! errors come from the table ([`super::fail`]), so a kind AWS accepts
//! passes (truncated or as it is).

use super::{Bad, Facts, Field, error, fail};
use crate::error::RuntimeError;
use crate::path::JsonPath;
use chrono::{DateTime, FixedOffset};
use serde_json::Value;

/// The kind of a value that is not a number (nor a numeric string).
pub fn not_number(v: &Value) -> Bad {
    match v {
        Value::Null => Bad::Null,
        Value::Array(a) if a.is_empty() => Bad::EmptyArray,
        Value::Object(m) if m.is_empty() => Bad::EmptyObject,
        _ => Bad::WrongType,
    }
}

/// `v` as a Java long, or the kind of bad value it is: a double (even a
/// whole one) is not a long; an integer past 2^63 - 1 is too large.
pub fn long(v: &Value) -> Result<i64, Bad> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(i),
            None if n.is_u64() => Err(Bad::TooLargeForLong),
            None => match n.as_f64() {
                Some(x) if x.fract() == 0.0 && x.abs() >= 9.223_372_036_854_776e18 => Err(Bad::TooLargeForLong),
                _ => Err(Bad::Fractional),
            },
        },
        other => Err(not_number(other)),
    }
}

/// A number given in the definition (kept as a double when parsed) as the
/// JSON value it was written as: a whole number as an integer.
pub fn given(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 { Value::from(x as i64) } else { Value::from(x) }
}

/// A long, or a string holding one (AWS parses `"1"` where a count is wanted).
fn long_or_text(v: &Value) -> Result<i64, Bad> {
    match v {
        Value::String(s) => s.trim().parse::<i64>().map_err(|_| Bad::WrongType),
        other => long(other),
    }
}

/// The error for `bad` unless AWS accepts it.
fn reject(field: Field, bad: Bad, facts: Facts<'_>) -> Result<(), RuntimeError> {
    match fail(field, bad, facts) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// What a path selected, or the field's error for a path that selects nothing.
fn found<'v>(field: Field, path: &JsonPath, v: Option<&'v Value>, input: &Value) -> Result<&'v Value, RuntimeError> {
    v.ok_or_else(|| missing(field, path, input))
}

/// A Wait's SecondsPath: a non-negative long no larger than a wait may be.
pub fn seconds_path(path: &JsonPath, v: Option<&Value>, input: &Value) -> Result<i64, RuntimeError> {
    let v = found(Field::SecondsPath, path, v, input)?;
    let facts = Facts::path(path).value(v);
    let n = long(v).map_err(|bad| error(Field::SecondsPath, bad, facts))?;
    if n < 0 {
        return Err(error(Field::SecondsPath, Bad::Negative, facts));
    }
    if n > i32::MAX as i64 {
        return Err(too_long(Field::SecondsPath));
    }
    Ok(n)
}

/// A Wait's TimestampPath: an ISO-8601 date-time string.
pub fn timestamp_path(path: &JsonPath, v: Option<&Value>, input: &Value) -> Result<DateTime<FixedOffset>, RuntimeError> {
    let v = found(Field::TimestampPath, path, v, input)?;
    let bad = match v {
        Value::String(s) => match crate::parse_timestamp(s) {
            Some(t) => return Ok(t),
            None => Bad::MalformedTimestamp,
        },
        other => not_number(other),
    };
    Err(error(Field::TimestampPath, bad, Facts::path(path).value(v)))
}

/// A Wait whose end is further off than AWS waits.
pub fn too_long(field: Field) -> RuntimeError {
    error(field, Bad::OutOfRange, Facts::default())
}

/// A JSONata Wait's `Seconds`: a non-negative integer within a wait's limit.
pub fn seconds(expr: &str, v: &Value) -> Result<i64, RuntimeError> {
    let facts = Facts { expr: Some(expr), value: Some(v), ..Facts::default() };
    let x = v.as_f64().ok_or_else(|| error(Field::Seconds, not_number(v), facts))?;
    let bad = if x < 0.0 {
        Bad::Negative
    } else if x.fract() != 0.0 {
        Bad::Fractional
    } else if x > i32::MAX as f64 {
        Bad::OutOfRange
    } else {
        return Ok(x as i64);
    };
    Err(error(Field::Seconds, bad, facts))
}

/// A JSONata Wait's `Timestamp`.
pub fn timestamp(expr: &str, v: &Value) -> Result<DateTime<FixedOffset>, RuntimeError> {
    let bad = match v {
        Value::String(s) => match crate::parse_timestamp(s) {
            Some(t) => return Ok(t),
            None => Bad::MalformedTimestamp,
        },
        other => not_number(other),
    };
    Err(error(Field::Timestamp, bad, Facts { expr: Some(expr), value: Some(v), ..Facts::default() }))
}

/// A Task's TimeoutSecondsPath or HeartbeatSecondsPath: a positive number
/// of seconds (a fraction is dropped).
pub fn task_seconds_path(field: Field, path: &JsonPath, v: Option<&Value>, input: &Value) -> Result<u64, RuntimeError> {
    let v = found(field, path, v, input)?;
    task_seconds_value(field, Facts::path(path).value(v), v)
}

/// A Task's TimeoutSeconds or HeartbeatSeconds: given (JSONPath) or an
/// expression's result (JSONata, `expr` set).
pub fn task_seconds_value(field: Field, facts: Facts<'_>, v: &Value) -> Result<u64, RuntimeError> {
    let Some(x) = v.as_f64() else {
        return Err(error(field, not_number(v), facts));
    };
    let bad = if x < 0.0 {
        Bad::Negative
    } else if x < 1.0 && x.fract() == 0.0 {
        Bad::OutOfRange
    } else if x >= 9.223_372_036_854_776e18 {
        Bad::TooLargeForLong
    } else if x.fract() != 0.0 {
        Bad::Fractional
    } else {
        return Ok(x as u64);
    };
    reject(field, bad, facts)?;
    if x < 1.0 {
        // A fraction below one second accepted as is still waits no time.
        return Err(error(field, Bad::OutOfRange, facts));
    }
    // Accepted past a long: as good as never (and no overflow in deadlines).
    Ok((x as u64).min(i32::MAX as u64))
}

/// A Map's MaxConcurrencyPath, ToleratedFailureCountPath or
/// ToleratedFailurePercentagePath, or ItemBatcher's limits (`…Path`), read
/// from the effective input.
pub fn map_limit_path(field: Field, path: &JsonPath, v: Option<&Value>, input: &Value) -> Result<f64, RuntimeError> {
    let v = found(field, path, v, input)?;
    map_limit(field, Facts::path(path).value(v).input(input), v)
}

/// A Map limit's value (JSONPath path or JSONata expression): a number of
/// the field's kind and range.
pub fn map_limit(field: Field, facts: Facts<'_>, v: &Value) -> Result<f64, RuntimeError> {
    let percentage = matches!(field, Field::ToleratedFailurePercentagePath | Field::ToleratedFailurePercentage);
    let n = if field.is_jsonata() { long(v) } else { long_or_text(v) };
    let x = match (n, v.as_f64()) {
        (Ok(n), _) => n as f64,
        (Err(Bad::Fractional | Bad::TooLargeForLong), Some(x)) => {
            // A double is not a long (a whole one either), unless past a long's range.
            let bad = if x.fract() == 0.0 && x.abs() >= 9.223_372_036_854_776e18 { Bad::TooLargeForLong } else { Bad::Fractional };
            if !(percentage && x > 100.0) {
                reject(field, bad, facts)?;
            }
            x
        }
        (Err(bad), _) => return Err(error(field, bad, facts)),
    };
    if x < 0.0 {
        reject(field, Bad::Negative, facts)?;
    }
    if percentage && x > 100.0 {
        reject(field, Bad::OutOfRange, facts)?;
    }
    Ok(x)
}

/// The error for a path that selects nothing.
pub fn missing(field: Field, path: &JsonPath, input: &Value) -> RuntimeError {
    error(field, Bad::Missing, Facts::path(path).input(input))
}

/// A Map's items (what ItemsPath selects, or the input): an array.
pub fn items(v: &Value) -> Result<&[Value], RuntimeError> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(not_an_array(other)),
    }
}

/// The error for Map items that are not an array.
pub fn not_an_array(v: &Value) -> RuntimeError {
    error(Field::ItemsPath, not_number(v), Facts { value: Some(v), ..Facts::default() })
}

/// A JSONata expression's result where `field` wants `expected` (Items: an
/// array; Condition: a boolean; Fail's Error and Cause: a string).
pub fn expression_type(field: Field, expr: &str, v: &Value) -> Result<(), RuntimeError> {
    let ok = match field {
        Field::Items => v.is_array(),
        Field::Condition => v.is_boolean(),
        Field::Error | Field::Cause => v.is_string(),
        _ => true,
    };
    if ok { Ok(()) } else { Err(wrong_type(field, expr, v)) }
}

/// The error for an expression's result of the wrong type for `field`.
pub fn wrong_type(field: Field, expr: &str, v: &Value) -> RuntimeError {
    let facts = Facts { expr: Some(expr), value: Some(v), ..Facts::default() };
    let bad = match v {
        Value::Number(n) if n.as_f64().is_some_and(|x| x < 0.0) => Bad::Negative,
        Value::Number(n) if n.is_f64() => Bad::Fractional,
        other => not_number(other),
    };
    error(field, bad, facts)
}
