//! Values as AWS prints them inside causes: JSON as Jackson writes it (a
//! double through Java's `Double.toString`: `1.0`, `1.0E20`, `1.0E-5`), and
//! a string on its own without quotes where a cause quotes the raw value.

use serde_json::{Number, Value};
use std::fmt::Write;

/// `v` as compact JSON with Java's rendering of doubles.
pub fn json(v: &Value) -> String {
    let mut out = String::new();
    write_json(v, &mut out);
    out
}

/// `v` as a cause shows a referenced value: a string as its text, anything
/// else as [`json`].
pub fn raw(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => json(other),
    }
}

/// A number as Jackson prints it: integers as they are, doubles as Java's
/// `Double.toString` does.
pub fn number(n: &Number) -> String {
    if n.is_f64() {
        n.as_f64().map(java_double).unwrap_or_else(|| n.to_string())
    } else {
        n.to_string()
    }
}

/// Java's `Double.toString`: plain between 10^-3 and 10^7 (always with a
/// fraction digit), computerised scientific notation (`1.0E20`) outside.
pub fn java_double(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let a = x.abs();
    if (1e-3..1e7).contains(&a) {
        let s = format!("{x}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    // Shortest round-trip digits, then Java's layout: d.dddE±n.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let mantissa = if mantissa.contains('.') { mantissa.to_string() } else { format!("{mantissa}.0") };
    format!("{mantissa}E{exp}")
}

fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Number(n) => out.push_str(&number(n)),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", Value::String(k.clone()));
                write_json(x, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn doubles_print_as_java_does() {
        for (x, s) in [
            (1.0, "1.0"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1234567.0, "1234567.0"),
            (12345678.0, "1.2345678E7"),
            (1e20, "1.0E20"),
            (-1.5e-7, "-1.5E-7"),
            (9.223372036854776e18, "9.223372036854776E18"),
        ] {
            assert_eq!(java_double(x), s, "{x}");
        }
    }

    #[test]
    fn json_keeps_integers_and_quotes_strings_and_keys() {
        let v = json!({"a": [1, 1.0, 1e20, "x\"y", null, true], "b\"": 18446744073709551615u64});
        assert_eq!(json(&v), r#"{"a":[1,1.0,1.0E20,"x\"y",null,true],"b\"":18446744073709551615}"#);
        assert_eq!(raw(&json!("plain")), "plain");
        assert_eq!(raw(&json!(-1)), "-1");
    }
}
