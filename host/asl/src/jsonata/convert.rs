//! serde_json values to and from the JSONata engine's values.

use jsonata_core::value::JValue;
use serde_json::{Map, Number, Value};

pub fn to_jvalue(v: &Value) -> JValue {
    match v {
        Value::Null => JValue::Null,
        Value::Bool(b) => JValue::Bool(*b),
        Value::Number(n) => JValue::Number(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JValue::string(s.as_str()),
        Value::Array(a) => JValue::array(a.iter().map(to_jvalue).collect()),
        Value::Object(o) => JValue::object(o.iter().map(|(k, v)| (k.clone(), to_jvalue(v))).collect()),
    }
}

/// `Ok(None)` for `undefined`; `Err` for functions, regexes and other
/// values JSON cannot hold. Undefined members of arrays are dropped and of
/// objects omitted, as JSON.stringify does.
pub fn from_jvalue(v: &JValue) -> Result<Option<Value>, ()> {
    Ok(Some(match v {
        JValue::Undefined => return Ok(None),
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => number(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                if let Some(v) = from_jvalue(item)? {
                    out.push(v);
                }
            }
            Value::Array(out)
        }
        JValue::Object(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, item) in m.iter() {
                if let Some(v) = from_jvalue(item)? {
                    out.insert(k.clone(), v);
                }
            }
            Value::Object(out)
        }
        _ => return Err(()),
    }))
}

/// Whole numbers as integers (`3`, not `3.0`), as JavaScript prints them.
/// JSON has no infinities nor NaN: AWS's writer (Jackson) gives them as the
/// strings `"Infinity"`, `"-Infinity"` and `"NaN"` (`1/0`, `0/0`).
pub fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        Value::Number(Number::from(n as i64))
    } else if n.is_nan() {
        Value::from("NaN")
    } else if n.is_infinite() {
        Value::from(if n > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null)
    }
}
