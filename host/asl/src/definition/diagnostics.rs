//! Warnings (NO_DOLLAR, PASS_RESULT_IS_STATIC, NO_PATH) and diagnostic locations.

use super::builder::Builder;
use crate::error::Diagnostic;
use serde_json::{Map, Value};

fn looks_dynamic(s: &str) -> bool {
    s.starts_with("$.")
        || s.starts_with("$$.")
        || s == "$"
        || (s.starts_with("States.") && s.contains('('))
}

/// NO_DOLLAR warnings for template fields that look like paths but lack `.$`.
fn no_dollar(v: &Value, loc: &str, out: &mut Vec<Diagnostic>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let here = format!("{loc}/{k}");
                match x {
                    Value::String(s) if !k.ends_with(".$") && looks_dynamic(s) => out.push(Diagnostic::warning(
                        "NO_DOLLAR",
                        format!("The value of the field '{k}' looks like a JSONPath or intrinsic function, but the field name does not end with '.$'"),
                        here,
                    )),
                    _ => no_dollar(x, &here, out),
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                no_dollar(x, &format!("{loc}[{i}]"), out)
            }
        }
        _ => {}
    }
}

fn has_dollar_key(v: &Value) -> bool {
    match v {
        Value::Object(o) => o
            .iter()
            .any(|(k, x)| k.ends_with(".$") || has_dollar_key(x)),
        Value::Array(a) => a.iter().any(has_dollar_key),
        _ => false,
    }
}

/// A state name as a JSON-pointer segment of a diagnostic location.
pub(super) fn esc(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

impl Builder {
    /// The warnings of a JSONPath state: fields that look dynamic but are not.
    pub(super) fn static_warnings(&mut self, o: &Map<String, Value>, ty: &str, loc: &str) {
        for k in ["Parameters", "ResultSelector", "ItemSelector"] {
            if let Some(v) = o.get(k) {
                no_dollar(v, &format!("{loc}/{k}"), &mut self.warnings);
            }
        }
        if ty == "Pass" && o.get("Result").is_some_and(has_dollar_key) {
            self.warnings.push(Diagnostic::warning(
                "PASS_RESULT_IS_STATIC",
                "The Result of a Pass state is static: '.$' fields are not evaluated",
                format!("{loc}/Result"),
            ));
        }
        for k in ["Error", "Cause"] {
            if let Some(Value::String(v)) = o.get(k)
                && ty == "Fail"
                && looks_dynamic(v)
            {
                self.warnings.push(Diagnostic::warning("NO_PATH", format!("The value of the field '{k}' looks like a path, but the field name does not end with 'Path'"), format!("{loc}/{k}")));
            }
        }
    }
}
