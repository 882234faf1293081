//! Retry and Catch: two lists of error handlers that share their shape and checks.

use super::builder::{Builder, Names};
use super::{Catcher, Jitter, QueryLanguage, Retrier};
use serde_json::{Map, Value};

/// What differs between the two handler lists.
struct Handlers {
    /// The state's field: `Retry` or `Catch`.
    field: &'static str,
    /// `retrier` or `catcher`.
    noun: &'static str,
    /// `Retrier` or `Catcher`.
    title: &'static str,
    /// The fields a handler accepts.
    fields: &'static [&'static str],
}

const RETRY: Handlers = Handlers {
    field: "Retry",
    noun: "retrier",
    title: "Retrier",
    fields: &[
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
        "JitterStrategy",
        "Comment",
    ],
};

const CATCH: Handlers = Handlers {
    field: "Catch",
    noun: "catcher",
    title: "Catcher",
    fields: &[
        "ErrorEquals",
        "Next",
        "ResultPath",
        "Comment",
        "Assign",
        "Output",
    ],
};

impl Builder {
    pub(super) fn retriers(&mut self, o: &Map<String, Value>, loc: &str) -> Vec<Retrier> {
        self.handlers(o, loc, &RETRY, |b, ro, rloc, error_equals| {
            Some(b.retrier(ro, rloc, error_equals))
        })
    }

    pub(super) fn catchers(
        &mut self,
        o: &Map<String, Value>,
        loc: &str,
        names: &Names,
        ql: QueryLanguage,
    ) -> Vec<Catcher> {
        self.handlers(o, loc, &CATCH, |b, co, cloc, error_equals| {
            b.catcher(co, cloc, error_equals, names, ql)
        })
    }

    /// The checks Retry and Catch share: an ARRAY of OBJECTs with known
    /// fields, each with an `ErrorEquals` list, where `States.ALL` stands alone
    /// and only in the last handler. `build` makes one handler from an entry
    /// (its object, location and error list) once these checks are done.
    fn handlers<T>(
        &mut self,
        o: &Map<String, Value>,
        loc: &str,
        h: &Handlers,
        mut build: impl FnMut(&mut Builder, &Map<String, Value>, &str, Vec<String>) -> Option<T>,
    ) -> Vec<T> {
        let Some(v) = o.get(h.field) else {
            return Vec::new();
        };
        let Value::Array(a) = v else {
            self.schema(
                format!("The value for the field '{}' must be an ARRAY", h.field),
                format!("{loc}/{}", h.field),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, entry) in a.iter().enumerate() {
            let eloc = format!("{loc}/{}[{i}]", h.field);
            let Value::Object(eo) = entry else {
                self.schema(format!("A {} must be an OBJECT", h.noun), eloc);
                continue;
            };
            self.reject_unknown(eo, |k| h.fields.contains(&k), &eloc);
            let error_equals = self.error_list(eo, &eloc);
            if error_equals.iter().any(|e| e == "States.ALL") && i + 1 != a.len() {
                self.schema(
                    format!("A {} with 'States.ALL' must be the last one", h.title),
                    format!("{eloc}/ErrorEquals"),
                );
            }
            out.extend(build(self, eo, &eloc, error_equals));
        }
        out
    }

    fn error_list(&mut self, o: &Map<String, Value>, loc: &str) -> Vec<String> {
        match o.get("ErrorEquals") {
            Some(Value::Array(a)) if !a.is_empty() => {
                let mut out = Vec::new();
                for (i, e) in a.iter().enumerate() {
                    match e {
                        Value::String(s) => out.push(s.clone()),
                        _ => self.schema(
                            "The values of 'ErrorEquals' must be STRINGs",
                            format!("{loc}/ErrorEquals[{i}]"),
                        ),
                    }
                }
                if out.iter().any(|e| e == "States.ALL") && out.len() > 1 {
                    self.schema(
                        "Error equals on 'States.ALL' must appear alone in the list",
                        format!("{loc}/ErrorEquals"),
                    );
                }
                out
            }
            _ => {
                self.schema("These fields are required: [ErrorEquals]", loc.to_string());
                Vec::new()
            }
        }
    }

    fn retrier(
        &mut self,
        ro: &Map<String, Value>,
        rloc: &str,
        error_equals: Vec<String>,
    ) -> Retrier {
        let int = |k: &str, min: u64, max: u64, b: &mut Builder| -> Option<u64> {
            let v = ro.get(k)?;
            match v.as_u64() {
                Some(n) if n >= min && n <= max => Some(n),
                _ => {
                    b.schema(format!("The value for the field '{k}' must be an INTEGER between {min} and {max}"), format!("{rloc}/{k}"));
                    None
                }
            }
        };
        let interval_seconds = int("IntervalSeconds", 1, 99_999_999, self).unwrap_or(1) as f64;
        let max_attempts = int("MaxAttempts", 0, 99_999_999, self).unwrap_or(3) as u32;
        let max_delay_seconds = int("MaxDelaySeconds", 1, 31_622_400, self).map(|x| x as f64);
        let backoff_rate = match ro.get("BackoffRate") {
            None => 2.0,
            Some(v) => match v.as_f64() {
                Some(x) if x >= 1.0 => x,
                _ => {
                    self.schema(
                        "The value for the field 'BackoffRate' must be a NUMBER >= 1.0",
                        format!("{rloc}/BackoffRate"),
                    );
                    2.0
                }
            },
        };
        let jitter = match ro.get("JitterStrategy") {
            None => Jitter::None,
            Some(Value::String(s)) if s == "FULL" => Jitter::Full,
            Some(Value::String(s)) if s == "NONE" => Jitter::None,
            Some(_) => {
                self.schema(
                    "The value for the field 'JitterStrategy' must be one of [FULL, NONE]",
                    format!("{rloc}/JitterStrategy"),
                );
                Jitter::None
            }
        };
        Retrier {
            error_equals,
            interval_seconds,
            max_attempts,
            backoff_rate,
            max_delay_seconds,
            jitter,
        }
    }

    fn catcher(
        &mut self,
        co: &Map<String, Value>,
        cloc: &str,
        error_equals: Vec<String>,
        names: &Names,
        ql: QueryLanguage,
    ) -> Option<Catcher> {
        let result_path = self.result_path(co, cloc);
        let next_name = match co.get("Next") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                self.schema("These fields are required: [Next]", cloc.to_string());
                return None;
            }
        };
        let next = self.target(&next_name, names, format!("{cloc}/Next"))?;
        let mut uc = false;
        let assign_template = if ql == QueryLanguage::JsonPath {
            self.assign(co, cloc, &mut uc)
        } else {
            None
        };
        Some(Catcher {
            error_equals,
            next,
            next_name,
            result_path,
            assign: co.get("Assign").cloned(),
            assign_template,
            output: co.get("Output").cloned(),
        })
    }
}
