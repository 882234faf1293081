//! The size of one string an expression may build. AWS bounds the memory an
//! expression holds, and a string is where one call turns a few bytes into
//! gigabytes: `$pad('', 2e9)` made jsonata-core build two strings of 2^31
//! bytes in one uninterruptible loop (the evaluation's time bound is checked
//! between steps, not inside a built-in), a tenant's way to take the
//! server's memory. AWS, asked (TestState causes recorded in floci-io/floci
//! issue 2737), accepts a string of 2^22 characters and refuses one of 2^23
//! with its memory refusal; stepbox refuses strings from 2^23 characters on,
//! with the same words ([`messages::reword`](super::messages::reword)'s D2015):
//! `$pad` before it builds anything, and any result holding such a string.

use jsonata_core::evaluator::EvaluatorError;
use jsonata_core::value::JValue;
use serde_json::Value;

/// The number of characters from which a string is refused.
pub const MAX_STRING_LENGTH: usize = 1 << 23;

/// jsonata-core's sequence refusal, which [`super::messages::reword`] words
/// as AWS's memory refusal.
fn memory_refusal() -> EvaluatorError {
    EvaluatorError::EvaluationError("D2015: a string of 2^23 characters or more".into())
}

/// Whether `v` holds a string of [`MAX_STRING_LENGTH`] characters or more.
pub fn too_long(v: &Value) -> bool {
    match v {
        Value::String(s) => s.len() >= MAX_STRING_LENGTH && s.chars().count() >= MAX_STRING_LENGTH,
        Value::Array(items) => items.iter().any(too_long),
        Value::Object(m) => m.values().any(too_long),
        _ => false,
    }
}

/// The error a result holding too long a string fails with, as jsonata-core
/// reports its own (`CODE: text`).
pub fn refusal_message() -> String {
    memory_refusal().message().to_string()
}

/// Whether every `$pad` in `source` (its strings stripped) is a call with at
/// least two arguments: a host function is not handed the context value a
/// one-argument call pads, so only then may [`pad`] replace jsonata-core's.
pub fn pads_with_width(stripped: &str) -> bool {
    stripped.match_indices("$pad").all(|(at, _)| {
        let rest = &stripped[at + 4..];
        if rest.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
            return true; // another name (`$padding`)
        }
        match rest.trim_start().strip_prefix('(') {
            Some(args) => has_top_level_comma(args),
            None => false,
        }
    })
}

/// Whether the argument list starting after `(` has a comma outside any
/// nested bracket before its closing `)`.
fn has_top_level_comma(args: &str) -> bool {
    let mut depth = 0usize;
    for c in args.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => return false,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => return true,
            _ => {}
        }
    }
    false
}

/// `$pad(str, width, char)` as jsonata-core answers it (its signature
/// `<s-ns?:s>`, checked as JSONata checks it: T0410), refused before
/// anything is built when the result would reach [`MAX_STRING_LENGTH`].
pub fn pad(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let defined = |i: usize| args.get(i).filter(|v| !v.is_undefined());
    if args.len() > 3 {
        return Err(super::functions::signature("pad", 4));
    }
    let text = match defined(0) {
        None => return Ok(JValue::Undefined),
        Some(JValue::String(s)) => s.clone(),
        // A number matches the signature's width once the context takes the
        // text's place (`-`): JSONata then finds the second argument wrong.
        Some(JValue::Number(_)) => return Err(super::functions::signature("pad", 2)),
        Some(_) => return Err(super::functions::signature("pad", 1)),
    };
    let width = match defined(1) {
        // jsonata-js pads by NaN: nothing.
        None => return Ok(JValue::String(text)),
        Some(JValue::Number(n)) => *n as i32,
        Some(_) => return Err(super::functions::signature("pad", 2)),
    };
    let fill: Vec<char> = match defined(2) {
        None => vec![' '],
        Some(JValue::String(s)) if s.is_empty() => vec![' '],
        Some(JValue::String(s)) => s.chars().collect(),
        Some(_) => return Err(super::functions::signature("pad", 3)),
    };
    let (wanted, has) = (width.unsigned_abs() as usize, text.chars().count());
    if wanted <= has {
        return Ok(JValue::String(text));
    }
    if wanted >= MAX_STRING_LENGTH {
        return Err(memory_refusal());
    }
    let padding: String = fill.iter().cycle().take(wanted - has).collect();
    Ok(JValue::from(if width < 0 { format!("{padding}{text}") } else { format!("{text}{padding}") }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_calls_with_a_width_are_taken_over() {
        for (source, taken) in [
            ("$pad(x, 5)", true),
            ("$pad($substring(a, 1, 2), -5, '#') & $pad ( b , 3)", true),
            ("$pad([1, 2][0], 3)", true),
            ("x.$pad(5)", false),
            ("$pad($f(a, b))", false),
            ("$map(xs, $pad)", false),
            ("$pad(x, 5) & y.$pad(3)", false),
            ("no pad here", true),
            ("($padding := 2; $pad(x, $padding))", true),
        ] {
            assert_eq!(pads_with_width(source), taken, "{source}");
        }
    }

    fn padded(args: &[JValue]) -> Result<JValue, String> {
        pad(args).map_err(|e| e.message().to_string())
    }

    #[test]
    fn pad_answers_as_jsonata_core_and_refuses_what_would_reach_the_bound() {
        let s = |t: &str| JValue::from(t.to_string());
        let n = |x: f64| JValue::Number(x);
        assert_eq!(padded(&[s("ab"), n(5.0)]), Ok(s("ab   ")));
        assert_eq!(padded(&[s("ab"), n(-5.9), s("xy")]), Ok(s("xyxab")));
        assert_eq!(padded(&[s("é"), n(3.0), s("")]), Ok(s("é  ")));
        assert_eq!(padded(&[s("abc"), n(2.0)]), Ok(s("abc")));
        assert_eq!(padded(&[s("abc"), JValue::Undefined, s("-")]), Ok(s("abc")));
        assert_eq!(padded(&[JValue::Undefined, n(3.0)]), Ok(JValue::Undefined));
        assert!(padded(&[n(1.0), n(3.0)]).unwrap_err().starts_with("T0410: Argument 2 "), "as jsonata-js and jsonata-core");
        assert!(padded(&[JValue::Bool(true), n(3.0)]).unwrap_err().starts_with("T0410: Argument 1 "));
        assert!(padded(&[s("a"), s("3")]).unwrap_err().starts_with("T0410"));
        assert!(padded(&[s("a"), n(3.0), n(1.0)]).unwrap_err().starts_with("T0410"));
        let big = (MAX_STRING_LENGTH - 1) as f64;
        assert_eq!(padded(&[s(""), n(big)]).map(|v| v.as_str().map(|t| t.len())), Ok(Some(MAX_STRING_LENGTH - 1)));
        for width in [MAX_STRING_LENGTH as f64, 2e9, -1e300] {
            assert!(padded(&[s(""), n(width)]).unwrap_err().starts_with("D2015"), "{width}");
        }
    }

    #[test]
    fn a_result_is_too_long_from_the_bound_on_counted_in_characters() {
        let at = |n: usize, c: &str| json!({"a": [1, c.repeat(n)]});
        assert!(!too_long(&at(MAX_STRING_LENGTH - 1, "x")));
        assert!(too_long(&at(MAX_STRING_LENGTH, "x")));
        assert!(!too_long(&at(MAX_STRING_LENGTH / 2, "é")), "2^22 two-byte characters");
    }
}
