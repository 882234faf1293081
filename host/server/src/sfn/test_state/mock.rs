//! TestState's 2025 members: `mock` (a Task's `result` or `errorOutput`,
//! with `fieldValidationMode`), `context` and `stateConfiguration`.

use std::sync::Arc;

use serde_json::{Map, Value};
use stepbox_engine::{MockedResponse, Mocks};
use stepbox_engine::mock::OneState;

use super::super::{ApiError, Params};
use super::schema;

/// What the 2025 members ask of a TestState run.
#[derive(Default)]
pub(super) struct Testing {
    pub mocks: Option<Mocks>,
    pub context: Option<Map<String, Value>>,
    /// Retries the state's retrier had already made (`retrierRetryCount`).
    pub retries: u32,
}

/// Reads `mock`, `context` and `stateConfiguration` for state `name` (`raw`).
pub(super) fn read(p: Params<'_>, name: &str, raw: &Map<String, Value>) -> Result<Testing, ApiError> {
    let mut t = Testing { retries: state_configuration(p)?, ..Testing::default() };
    if let Some(m) = p.0.get("mock").filter(|v| !v.is_null()) {
        if p.opt_bool("revealSecrets")? == Some(true) {
            return Err(ApiError::validation("TestState does not support RevealSecrets when a mock is specified."));
        }
        let kind = raw.get("Type").and_then(Value::as_str).unwrap_or_default();
        if kind != "Task" {
            return Err(ApiError::validation(match kind {
                "Map" | "Parallel" => format!("stepbox's TestState does not mock {kind} states yet (only Task states)"),
                _ => format!("State type '{kind}' is not supported when a mock is specified"),
            }));
        }
        let resource = raw.get("Resource").and_then(Value::as_str).unwrap_or_default();
        let response = mocked_response(m, resource)?;
        t.mocks = Some(Mocks(Arc::new(OneState { state: name.to_string(), response })));
    }
    if let Some(text) = p.opt_str("context")? {
        if t.mocks.is_none() {
            return Err(ApiError::validation("TestState 'context' may only be specified with a 'mock'"));
        }
        t.context = Some(context(text)?);
    }
    Ok(t)
}

fn mocked_response(m: &Value, resource: &str) -> Result<MockedResponse, ApiError> {
    let Some(m) = m.as_object() else {
        return Err(ApiError::validation("TestState 'mock' must be an object"));
    };
    match (m.get("result").filter(|v| !v.is_null()), m.get("errorOutput").filter(|v| !v.is_null())) {
        (Some(_), Some(_)) => Err(ApiError::validation("A test mock should have only one of the following fields: [result, errorOutput].")),
        (None, None) => Err(ApiError::validation("A test mock should have one of the following fields: [result, errorOutput].")),
        (Some(r), None) => {
            let text = r.as_str().ok_or_else(|| ApiError::validation("Mocked result must be a JSON string."))?;
            let value: Value = serde_json::from_str(text).map_err(|e| ApiError::validation(format!("Mocked result is not valid JSON: {e}")))?;
            let mode = m.get("fieldValidationMode").and_then(Value::as_str).unwrap_or("STRICT");
            schema::check(resource, &value, mode)?;
            Ok(MockedResponse::Return(value))
        }
        (None, Some(e)) => {
            let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
            let error = text("error").ok_or_else(|| ApiError::validation("A mocked errorOutput requires 'error'."))?;
            Ok(MockedResponse::Throw { error, cause: text("cause").unwrap_or_default() })
        }
    }
}

/// `context`: a context object as JSON text. Its `Execution` and
/// `StateMachine` are used; what stepbox cannot seed is refused.
fn context(text: &str) -> Result<Map<String, Value>, ApiError> {
    let Ok(Value::Object(c)) = serde_json::from_str::<Value>(text) else {
        return Err(ApiError::validation("TestState 'context' must be a JSON object (a context object)"));
    };
    if let Some(other) = c.keys().find(|k| !matches!(k.as_str(), "Execution" | "StateMachine")) {
        return Err(ApiError::validation(format!(
            "stepbox's TestState takes the context object's Execution and StateMachine only, not '{other}'"
        )));
    }
    Ok(c)
}

/// `stateConfiguration`: `retrierRetryCount` (Task states); the Map and
/// Parallel members are refused until stepbox mocks those states.
fn state_configuration(p: Params<'_>) -> Result<u32, ApiError> {
    let Some(c) = p.0.get("stateConfiguration").filter(|v| !v.is_null()) else { return Ok(0) };
    let Some(c) = c.as_object() else {
        return Err(ApiError::validation("TestState 'stateConfiguration' must be an object"));
    };
    for member in ["errorCausedByState", "mapIterationFailureCount", "mapItemReaderData"] {
        if c.get(member).is_some_and(|v| !v.is_null()) {
            return Err(ApiError::validation(format!(
                "stateConfiguration.{member} applies to Map and Parallel states, which stepbox's TestState does not mock yet"
            )));
        }
    }
    match c.get("retrierRetryCount") {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
            ApiError::validation("stateConfiguration.retrierRetryCount must be a whole number of 0 or more")
        }),
    }
}
