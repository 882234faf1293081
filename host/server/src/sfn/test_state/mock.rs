//! TestState's 2025 members: `mock` (a result or `errorOutput`, with
//! `fieldValidationMode`), `context` and `stateConfiguration`, read and
//! checked as AWS checks them before anything runs.

use std::sync::Arc;

use serde_json::{Map, Value};
use stepbox_engine::mock::OneState;
use stepbox_engine::{MockedResponse, Mocks};

use super::super::{ApiError, Params};
use super::schema;

/// What the 2025 members ask of a TestState run.
#[derive(Default)]
pub(super) struct Testing {
    /// The mocked response, as given.
    pub response: Option<MockedResponse>,
    pub context: Option<Map<String, Value>>,
    pub config: StateConfiguration,
}

impl Testing {
    /// The engine's mocks: `response` for the state named `name`.
    pub fn mocks(&self, name: &str) -> Option<Mocks> {
        let response = self.response.clone()?;
        Some(Mocks(Arc::new(OneState { state: name.to_string(), response })))
    }
}

/// `stateConfiguration`.
#[derive(Default)]
pub(super) struct StateConfiguration {
    /// Retries the state's retrier had already made (`retrierRetryCount`).
    pub retries: u32,
    /// The state inside a Map or Parallel the mocked error comes from.
    pub error_caused_by: Option<String>,
    /// Iterations of the Map that failed (`mapIterationFailureCount`).
    pub map_failures: Option<u64>,
    /// What a distributed Map's ItemReader reads (`mapItemReaderData`).
    pub reader_data: Option<String>,
}

/// Reads `mock`, `context` and `stateConfiguration` for state `name` (`raw`).
pub(super) fn read(p: Params<'_>, name: &str, raw: &Map<String, Value>) -> Result<Testing, ApiError> {
    let kind = raw.get("Type").and_then(Value::as_str).unwrap_or_default();
    let mock = p.0.get("mock").filter(|v| !v.is_null());
    if mock.is_none() && matches!(kind, "Map" | "Parallel") {
        return Err(ApiError::new(
            "InvalidDefinition",
            "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]",
        ));
    }
    let mut t = Testing { config: state_configuration(p, name, raw)?, ..Testing::default() };
    if let Some(m) = mock {
        if p.opt_bool("revealSecrets")? == Some(true) {
            return Err(ApiError::validation("TestState does not support RevealSecrets when a mock is specified."));
        }
        if !matches!(kind, "Task" | "Map" | "Parallel") {
            return Err(ApiError::validation(format!("State type '{kind}' is not supported when a mock is specified")));
        }
        t.response = Some(mocked_response(m, raw)?);
    }
    if let Some(text) = p.opt_str("context")? {
        if t.response.is_none() {
            return Err(ApiError::validation("TestState 'context' may only be specified with a 'mock'"));
        }
        t.context = Some(context(text)?);
    }
    Ok(t)
}

fn mocked_response(m: &Value, raw: &Map<String, Value>) -> Result<MockedResponse, ApiError> {
    let Some(m) = m.as_object() else {
        return Err(ApiError::validation("TestState 'mock' must be an object"));
    };
    match (m.get("result").filter(|v| !v.is_null()), m.get("errorOutput").filter(|v| !v.is_null())) {
        (Some(_), Some(_)) => Err(ApiError::validation("A test mock should have only one of the following fields: [result, errorOutput].")),
        (None, None) => Err(ApiError::validation("A test mock should have one of the following fields: [result, errorOutput].")),
        (Some(r), None) => {
            let text = r.as_str().ok_or_else(|| ApiError::validation("Mocked result must be a JSON string."))?;
            let value: Value = serde_json::from_str(text).map_err(|_| ApiError::validation("Mocked result must be valid JSON"))?;
            match raw.get("Type").and_then(Value::as_str) {
                Some("Map") => map_result(raw, &value)?,
                Some("Parallel") => parallel_result(raw, &value)?,
                _ => {
                    let mode = m.get("fieldValidationMode").and_then(Value::as_str).unwrap_or("STRICT");
                    let resource = raw.get("Resource").and_then(Value::as_str).unwrap_or_default();
                    schema::check(resource, &value, mode)?;
                }
            }
            Ok(MockedResponse::Return(value))
        }
        (None, Some(e)) => {
            let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
            let error = text("error").ok_or_else(|| ApiError::validation("A mocked errorOutput requires 'error'."))?;
            Ok(MockedResponse::Throw { error, cause: text("cause").unwrap_or_default() })
        }
    }
}

/// A Map's mocked result is the whole state's result: an array, or (with a
/// ResultWriter) the object AWS's writer answers with.
fn map_result(raw: &Map<String, Value>, value: &Value) -> Result<(), ApiError> {
    match (raw.contains_key("ResultWriter"), value) {
        (true, Value::Object(_)) | (false, Value::Array(_)) => Ok(()),
        (true, _) => Err(ApiError::validation("Mocked result must be a JSON object.")),
        (false, _) => Err(ApiError::validation("Mocked result must be an array.")),
    }
}

/// A Parallel's mocked result: one element per branch, in their order.
fn parallel_result(raw: &Map<String, Value>, value: &Value) -> Result<(), ApiError> {
    let branches = raw.get("Branches").and_then(Value::as_array).map_or(0, Vec::len);
    match value {
        Value::Array(a) if a.len() == branches => Ok(()),
        Value::Array(a) => Err(ApiError::validation(format!(
            "Mocked result must be an array with one element for each of the Parallel state's {branches} branches, not {}.",
            a.len()
        ))),
        _ => Err(ApiError::validation("Mocked result must be an array.")),
    }
}

/// `context`: a context object as JSON text. Its `Execution`, `StateMachine`,
/// `State`, `Task` and `Map` members replace those of `$$`.
fn context(text: &str) -> Result<Map<String, Value>, ApiError> {
    let Ok(Value::Object(c)) = serde_json::from_str::<Value>(text) else {
        return Err(ApiError::validation("TestState 'context' must be a JSON object (a context object)"));
    };
    for (k, v) in &c {
        if !matches!(k.as_str(), "Execution" | "StateMachine" | "State" | "Task" | "Map") {
            return Err(ApiError::validation(format!(
                "TestState 'context' has an unknown member '{k}': a context object has Execution, StateMachine, State, Task and Map"
            )));
        }
        if !v.is_object() {
            return Err(ApiError::validation(format!("TestState 'context' member '{k}' must be an object")));
        }
    }
    Ok(c)
}

/// `stateConfiguration`, checked against the tested state `raw`.
fn state_configuration(p: Params<'_>, name: &str, raw: &Map<String, Value>) -> Result<StateConfiguration, ApiError> {
    let Some(c) = p.0.get("stateConfiguration").filter(|v| !v.is_null()) else {
        return Ok(StateConfiguration::default());
    };
    let Some(c) = c.as_object() else {
        return Err(ApiError::validation("TestState 'stateConfiguration' must be an object"));
    };
    let count = |member: &str| -> Result<Option<u64>, ApiError> {
        match c.get(member) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().filter(|n| *n <= i32::MAX as u64).map(Some).ok_or_else(|| {
                ApiError::validation(format!("stateConfiguration.{member} must be a whole number of 0 or more"))
            }),
        }
    };
    let text = |member: &str| -> Result<Option<String>, ApiError> {
        match c.get(member) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::validation(format!("stateConfiguration.{member} must be a string"))),
        }
    };
    let kind = raw.get("Type").and_then(Value::as_str).unwrap_or_default();
    let config = StateConfiguration {
        retries: count("retrierRetryCount")?.unwrap_or(0) as u32,
        error_caused_by: text("errorCausedByState")?,
        map_failures: count("mapIterationFailureCount")?,
        reader_data: text("mapItemReaderData")?,
    };
    if let Some(cause) = &config.error_caused_by {
        if !matches!(kind, "Map" | "Parallel") {
            return Err(ApiError::validation("stateConfiguration.errorCausedByState applies to Map and Parallel states only"));
        }
        if cause != name && !super::nested::contains(raw, cause) {
            return Err(ApiError::validation(format!(
                "stateConfiguration.errorCausedByState '{cause}' is not a state of the tested {kind} state '{name}'"
            )));
        }
    }
    if kind != "Map" {
        for (member, given) in [("mapIterationFailureCount", config.map_failures.is_some()), ("mapItemReaderData", config.reader_data.is_some())] {
            if given {
                return Err(ApiError::validation(format!("stateConfiguration.{member} applies to Map states only")));
            }
        }
    }
    if config.reader_data.is_some() && !raw.contains_key("ItemReader") {
        return Err(ApiError::validation("stateConfiguration.mapItemReaderData needs a Map state with an ItemReader"));
    }
    Ok(config)
}
