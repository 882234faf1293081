//! How a state fails: an error name and cause, as Catch, the history and
//! the execution's outcome show them.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Failure {
    pub(super) error: Option<String>,
    pub(super) cause: Option<String>,
    /// A Catch result shows absent fields as `null` (a SendTaskFailure
    /// without error or cause) instead of leaving them out.
    pub(super) nulls: bool,
}

impl Failure {
    pub(super) fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Failure {
            error: Some(error.into()),
            cause: Some(cause.into()),
            nulls: false,
        }
    }

    pub(super) fn error_name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }

    /// `{"Error", "Cause"}` as a Catch result carries it.
    pub(super) fn as_output(&self) -> Value {
        let mut v = self.to_object("Error", "Cause");
        if self.nulls {
            for k in ["Error", "Cause"] {
                v.as_object_mut().map(|m| m.entry(k).or_insert(Value::Null));
            }
        }
        v
    }

    /// The failure an [`as_output`](Self::as_output) value shows.
    pub(super) fn from_output(v: &Value) -> Self {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Failure { error: text("Error"), cause: text("Cause"), nulls: false }
    }

    /// `{"error", "cause"}` as history details carry it.
    pub(super) fn as_output_lower(&self) -> Value {
        self.to_object("error", "cause")
    }

    fn to_object(&self, error_key: &str, cause_key: &str) -> Value {
        let mut m = Map::new();
        if let Some(e) = &self.error {
            m.insert(error_key.into(), Value::String(e.clone()));
        }
        if let Some(c) = &self.cause {
            m.insert(cause_key.into(), Value::String(c.clone()));
        }
        Value::Object(m)
    }
}
