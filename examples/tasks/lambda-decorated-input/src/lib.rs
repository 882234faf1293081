//! lambda-decorated-input: the conformance corpus Lambda `return_decorated_input.py`.
//!
//! ```python
//! def handler(event, context):
//!     return f"input-event-{event}"
//! ```
//!
//! Returns the JSON string `"input-event-"` followed by Python's `str()` of the
//! parsed input: a string input appears as-is, anything else in Python `repr`
//! form, e.g. `["a", 1.0, true, null, {"k": 2}]` →
//! `input-event-['a', 1.0, True, None, {'k': 2}]`.
use stepbox_guest::{Context, TaskError, Value};

fn handle(input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    Ok(Value::String(format!("input-event-{}", python_str(&input))))
}

/// Python `str(value)` of a value `json.loads` produced.
fn python_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => {
            let mut out = String::new();
            python_repr(other, &mut out);
            out
        }
    }
}

/// Python `repr(value)` of a value `json.loads` produced (dict, list, str, int,
/// float, True/False, None).
fn python_repr(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string())
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string())
            } else {
                out.push_str(&python_float_repr(n.as_f64().unwrap_or(f64::NAN)))
            }
        }
        Value::String(s) => python_str_repr(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                python_str_repr(k, out);
                out.push_str(": ");
                python_repr(item, out);
            }
            out.push('}');
        }
    }
}

/// Python `repr(str)`: single quotes unless the text has a `'` and no `"`.
fn python_str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// Python `repr(float)`: the shortest round-tripping digits, in positional
/// notation when the decimal exponent is in -4..16, else `d.ddde+XX`.
fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // `{:e}` gives the shortest round-trip digits: "-1.2345e-7", "1e16".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp < 0 {
            format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
        } else if exp + 1 >= n {
            format!("{}{}.0", digits, "0".repeat((exp + 1 - n) as usize))
        } else {
            let (int, frac) = digits.split_at((exp + 1) as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() { first.to_string() } else { format!("{first}.{rest}") };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{esign}{:02}", exp.abs())
    }
}

stepbox_guest::export_task!(handle);

#[cfg(test)]
mod tests {
    use super::*;
    use stepbox_guest::json;

    #[test]
    fn floats_like_python() {
        for (f, want) in [
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-2.5, "-2.5"),
            (123.456, "123.456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (1.2345e20, "1.2345e+20"),
            (0.1, "0.1"),
        ] {
            assert_eq!(python_float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn values_like_python() {
        let v = json!({"a": [1, 1.0, true, false, null], "it's": "say \"hi\"", "q": "it's", "n": "a\nb\\"});
        assert_eq!(
            python_str(&v),
            r#"{'a': [1, 1.0, True, False, None], "it's": 'say "hi"', 'q': "it's", 'n': 'a\nb\\'}"#
        );
        assert_eq!(python_str(&json!("plain")), "plain");
        assert_eq!(python_str(&json!(["string-literal"])), "['string-literal']");
        assert_eq!(python_str(&json!({})), "{}");
    }
}
