//! Judging an engine's result against a case, following the corpus README
//! ("Comparing results"): rewrite the actual result the way LocalStack's
//! snapshot library rewrote the recorded one, then compare as JSON values with
//! wildcards and ignored paths.
//!
//! The actual result is put in a document `{"output": …, "error": …, "cause": …}`
//! (only the fields the case recorded), normalised as a whole, and compared
//! with the same document built from `expected`.

mod compare;
mod normalize;
#[cfg(test)]
mod tests;

use std::fmt;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::case::Case;

pub use compare::{IgnorePath, Matcher, Seg};
pub use normalize::{Normalizer, expand_python_template, replace_quoted_json};

/// What an engine produced for one execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActualResult {
    /// `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
    pub status: String,
    /// The execution output as JSON text (SUCCEEDED).
    #[serde(default)]
    pub output: Option<String>,
    /// The execution error name (otherwise).
    #[serde(default)]
    pub error: Option<String>,
    /// The execution cause text (otherwise).
    #[serde(default)]
    pub cause: Option<String>,
}

impl ActualResult {
    pub fn succeeded(output_json: impl Into<String>) -> Self {
        ActualResult { status: "SUCCEEDED".into(), output: Some(output_json.into()), error: None, cause: None }
    }

    pub fn failed(error: Option<String>, cause: Option<String>) -> Self {
        ActualResult { status: "FAILED".into(), output: None, error, cause }
    }

    pub fn with_status(status: &str, error: Option<String>, cause: Option<String>) -> Self {
        ActualResult { status: status.into(), output: None, error, cause }
    }

    /// The expected result of `case` serialised the way an engine reports it:
    /// the output as JSON text, the error as text, a cause object as JSON text.
    pub fn from_expected(case: &Case) -> Self {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let e = &case.expected;
        ActualResult {
            status: e.status.clone(),
            output: e.output.as_ref().map(Value::to_string),
            error: e.error.as_ref().map(text),
            cause: e.cause.as_ref().map(text),
        }
    }
}

/// Pass or fail, with a short reason (path, expected vs actual) on failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub pass: bool,
    pub reason: Option<String>,
}

impl Verdict {
    pub fn pass() -> Self {
        Verdict { pass: true, reason: None }
    }
    pub fn fail(reason: impl Into<String>) -> Self {
        Verdict { pass: false, reason: Some(reason.into()) }
    }
}

/// The engine's account and region, rewritten like the snapshot did
/// (`<account>` → `111111111111`, `<region>` → `<region>`).
#[derive(Debug, Clone)]
pub struct JudgeOptions {
    pub account: String,
    pub region: String,
    /// Not in the README: drop Lambda `stackTrace` entries (in cause objects and
    /// in `{…"stackTrace":[…]…}` cause texts) on both sides before comparing.
    /// The recorded ones are Python tracebacks a component cannot reproduce.
    /// Off by default (strict).
    pub ignore_stack_traces: bool,
}

impl Default for JudgeOptions {
    /// The account and region the corpus definitions use; strict comparison.
    fn default() -> Self {
        JudgeOptions { account: "111111111111".into(), region: "us-east-1".into(), ignore_stack_traces: false }
    }
}

/// Judge `actual` against `case.expected` with the default account/region.
pub fn judge(case: &Case, actual: &ActualResult) -> Verdict {
    judge_with(case, actual, &JudgeOptions::default())
}

/// Judge `actual` against `case.expected`.
pub fn judge_with(case: &Case, actual: &ActualResult, opts: &JudgeOptions) -> Verdict {
    let expected = &case.expected;
    if !actual.status.eq_ignore_ascii_case(&expected.status) {
        let mut reason = format!("status: expected {}, actual {}", expected.status, actual.status);
        if let Some(e) = &actual.error {
            reason.push_str(&format!(" (error {})", short(&Value::String(e.clone()))));
        }
        if let Some(c) = &actual.cause {
            reason.push_str(&format!(" (cause {})", short(&Value::String(c.clone()))));
        }
        return Verdict::fail(reason);
    }

    // Build both documents with the fields the case recorded.
    let mut exp_doc = Map::new();
    let mut act_doc = Map::new();
    if let Some(out) = &expected.output {
        exp_doc.insert("output".into(), out.clone());
        let Some(text) = &actual.output else {
            return Verdict::fail("$.output: expected an output, actual none");
        };
        match serde_json::from_str::<Value>(text) {
            Ok(v) => act_doc.insert("output".into(), v),
            Err(e) => return Verdict::fail(format!("$.output: not JSON ({e}): {}", truncate(text, 80))),
        };
    }
    if let Some(err) = &expected.error {
        exp_doc.insert("error".into(), err.clone());
        let Some(text) = &actual.error else {
            return Verdict::fail(format!("$.error: expected {}, actual none", short(err)));
        };
        act_doc.insert("error".into(), Value::String(text.clone()));
    }
    if let Some(cause) = &expected.cause {
        exp_doc.insert("cause".into(), cause.clone());
        let Some(text) = &actual.cause else {
            return Verdict::fail(format!("$.cause: expected {}, actual none", short(cause)));
        };
        act_doc.insert("cause".into(), parse_cause(text));
    }

    let normalizer = Normalizer::new(&case.comparison, opts).with_transformers(&case.snapshot_transformers);
    let mut act_doc = normalizer.normalize(Value::Object(act_doc));
    let mut exp_doc = Value::Object(exp_doc);
    if opts.ignore_stack_traces {
        strip_stack_traces(&mut exp_doc);
        strip_stack_traces(&mut act_doc);
    }
    let matcher = Matcher::new(&case.comparison);
    match matcher.compare(&exp_doc, &act_doc) {
        None => Verdict::pass(),
        Some(diff) => Verdict::fail(diff),
    }
}

fn stack_trace_re() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    // `"stackTrace": [ … ]` with its leading comma; the list holds strings
    // (which may contain brackets and escaped quotes).
    RE.get_or_init(|| Regex::new(r#",?\s*"stackTrace"\s*:\s*\[(?:[^\["\]]|"(?:[^"\\]|\\.)*")*\]"#).unwrap())
}

/// Remove `stackTrace` keys, and `"stackTrace":[…]` members inside JSON texts.
pub fn strip_stack_traces(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("stackTrace");
            map.values_mut().for_each(strip_stack_traces);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_stack_traces),
        Value::String(s) if s.contains("\"stackTrace\"") => {
            *s = stack_trace_re().replace_all(s, "").into_owned();
        }
        _ => {}
    }
}

/// A cause that is a JSON object text is compared as that object (the snapshot
/// library stored such causes parsed); anything else is compared as text.
pub fn parse_cause(text: &str) -> Value {
    if text.trim_start().starts_with('{')
        && let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(text)
    {
        return v;
    }
    Value::String(text.to_string())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let t: String = s.chars().take(max).collect();
        format!("{t}…")
    }
}

/// A value in a reason, shortened.
fn short(v: &Value) -> String {
    truncate(&v.to_string(), 100)
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.pass, &self.reason) {
            (true, _) => write!(f, "pass"),
            (false, Some(r)) => write!(f, "fail: {r}"),
            (false, None) => write!(f, "fail"),
        }
    }
}
