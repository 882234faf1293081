//! TestState on a Map or Parallel state. AWS runs neither's iterations nor
//! branches: the mocked result stands for the whole state's result (its
//! mocked error for the failure of an iteration or branch), and the state's
//! own input and output processing, Retry and Catch apply around it.
//!
//! stepbox runs the state as a Task with the same processing, Retry and
//! Catch, whose call the mock answers. A Map's items are worked out first by
//! running the Map itself with a processor that hands back each iteration's
//! input: ItemsPath (or Items), ItemSelector and ItemBatcher as the engine
//! runs them, an ItemReader on `mapItemReaderData`; and, for
//! `mapIterationFailureCount`, with a processor whose first iterations fail,
//! so the Map's own tolerated-failure rule decides.

use std::io::BufRead;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use stepbox_asl::{NumSpec, Scope, StateKind, StateMachine};
use stepbox_engine::{Engine, ExecutionOptions, ExecutionStatus, MockedResponse, NullSink, ObjectFailure, ObjectInfo, Objects};

use super::mock::Testing;
use super::{ApiError, parse_definition};
use crate::AppState;

/// What AWS's TestState answers when the mocked failures exceed the Map's tolerance.
const EXCEEDED: (&str, &str) = ("States.ExceedToleratedFailureThreshold", "The specified tolerated failure threshold was exceeded");

/// The tested Map or Parallel as a Task state with its processing, Retry and Catch.
pub(super) fn as_task(raw: &Map<String, Value>) -> Map<String, Value> {
    let mut keep = vec!["Comment", "InputPath", "ResultSelector", "ResultPath", "OutputPath", "Output", "Assign"];
    keep.extend(["Retry", "Catch", "Next", "End", "QueryLanguage"]);
    if raw.get("Type").and_then(Value::as_str) == Some("Parallel") {
        // A Parallel's Parameters/Arguments make its branches' input, as a Task's make its call's.
        keep.extend(["Parameters", "Arguments"]);
    }
    let mut task: Map<String, Value> = raw.iter().filter(|(k, _)| keep.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    task.insert("Type".into(), json!("Task"));
    task.insert("Resource".into(), json!("arn:aws:states:::stepbox:testState"));
    task
}

/// A Map's items at each step, for the DEBUG inspection data.
pub(super) struct Items {
    /// After ItemsPath (or Items, or the ItemReader).
    pub items: Vec<Value>,
    /// After ItemSelector, when the Map has one.
    pub selected: Option<Vec<Value>>,
    /// After ItemBatcher, when the Map has one.
    pub batched: Option<Vec<Value>>,
}

/// How the probe runs go: the engine, machine name and run options.
pub(super) struct Probe<'a> {
    pub state: &'a AppState,
    pub name: &'a str,
    pub query_language: Option<&'a Value>,
    pub input: &'a Value,
    pub options: ExecutionOptions,
}

impl Probe<'_> {
    /// The Map's items; `Err((error, cause))` when working them out fails
    /// (the Map would fail the same way before any iteration ran).
    pub async fn items(&self, raw: &Map<String, Value>, testing: &Testing) -> Result<Items, (String, String)> {
        let engine = self.engine(testing);
        let items = self.run(&engine, &probe_map(raw, false, false, None)).await?;
        let selected = match raw.contains_key("ItemSelector") || raw.contains_key("Parameters") {
            true => Some(self.run(&engine, &probe_map(raw, true, false, None)).await?),
            false => None,
        };
        let batched = match raw.contains_key("ItemBatcher") {
            true => Some(self.run(&engine, &probe_map(raw, true, true, None)).await?),
            false => None,
        };
        Ok(Items { items, selected, batched })
    }

    /// Whether `failures` failed iterations exceed the Map's tolerance.
    pub async fn exceeds(&self, raw: &Map<String, Value>, testing: &Testing, failures: u64) -> bool {
        let engine = self.engine(testing);
        self.run(&engine, &probe_map(raw, false, false, Some(failures))).await.is_err()
    }

    /// The server's engine, or one whose ItemReader reads `mapItemReaderData`.
    fn engine(&self, testing: &Testing) -> Engine {
        let engine = (*self.state.engine).clone();
        match &testing.config.reader_data {
            None => engine,
            Some(data) => {
                let mut services = engine.services().clone();
                services.objects = Some(Arc::new(ReaderData(data.clone().into_bytes())));
                engine.with_services(services)
            }
        }
    }

    /// Runs the probe Map `map` and answers its output (one element per iteration).
    async fn run(&self, engine: &Engine, map: &Map<String, Value>) -> Result<Vec<Value>, (String, String)> {
        let mut machine = json!({"StartAt": self.name, "States": {self.name: map}});
        if let Some(q) = self.query_language {
            machine["QueryLanguage"] = q.clone();
        }
        let sm = StateMachine::parse(&machine.to_string()).map_err(|d| ("States.Runtime".to_string(), stepbox_asl::invalid_definition_message(&d)))?;
        let outcome = engine.start(Arc::new(sm), self.input.clone(), self.options.clone(), Arc::new(NullSink)).await;
        match (outcome.status, outcome.output) {
            (ExecutionStatus::Succeeded, Some(Value::Array(items))) => Ok(items),
            _ => Err((outcome.error.unwrap_or_default(), outcome.cause.unwrap_or_default())),
        }
    }
}

/// The Map `raw` ending at once, with a processor that hands back each
/// iteration's input (without ItemSelector and ItemBatcher unless kept), or
/// whose first `failing` iterations fail.
fn probe_map(raw: &Map<String, Value>, selector: bool, batcher: bool, failing: Option<u64>) -> Map<String, Value> {
    let mut map = raw.clone();
    for k in ["Retry", "Catch", "ResultSelector", "ResultPath", "OutputPath", "Output", "Assign", "ResultWriter", "Next", "Iterator"] {
        map.remove(k);
    }
    map.insert("End".into(), json!(true));
    if !selector {
        map.remove("ItemSelector");
        map.remove("Parameters");
    }
    if !batcher {
        map.remove("ItemBatcher");
    }
    let jsonata = raw.get("QueryLanguage").and_then(Value::as_str) == Some("JSONata");
    let processor = match failing {
        None => json!({"StartAt": "Item", "States": {"Item": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}}),
        Some(n) => {
            // Each iteration gets its index; the first `n` fail.
            map.remove("ItemBatcher");
            let index = match jsonata {
                true => json!("{% $states.context.Map.Item.Index %}"),
                false => json!({"index.$": "$$.Map.Item.Index"}),
            };
            map.insert("ItemSelector".into(), if jsonata { json!({"index": index}) } else { index });
            json!({"StartAt": "Check", "States": {
                "Check": {"Type": "Choice", "QueryLanguage": "JSONPath",
                    "Choices": [{"Variable": "$.index", "NumericLessThan": n, "Next": "Fail"}], "Default": "Item"},
                "Fail": {"Type": "Fail", "QueryLanguage": "JSONPath", "Error": "TestState.MockedIterationFailure"},
                "Item": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}})
        }
    };
    let mut processor = processor;
    processor["ProcessorConfig"] = json!({"Mode": "INLINE"});
    map.insert("ItemProcessor".into(), processor);
    map
}

/// What replaces the mocked response when the Map's failures exceed its
/// tolerance: AWS's threshold error (only for a Map with Retry or Catch,
/// as AWS's TestState applies `mapIterationFailureCount`).
pub(super) fn threshold_error() -> MockedResponse {
    MockedResponse::Throw { error: EXCEEDED.0.into(), cause: EXCEEDED.1.into() }
}

/// Whether a Map with `failures` failed iterations out of `items` may be tested.
pub(super) fn check_failures(failures: u64, items: usize) -> Result<(), ApiError> {
    if failures > items as u64 {
        return Err(ApiError::validation(format!(
            "stateConfiguration.mapIterationFailureCount ({failures}) cannot exceed the number of items of the Map state ({items})"
        )));
    }
    Ok(())
}

/// The Map's DEBUG inspection members: its items at each step, its
/// tolerated failures and its MaxConcurrency.
pub(super) fn inspection(map: &StateMachine, name: &str, items: &Items, scope: Scope<'_>) -> Map<String, Value> {
    // Each a JSON text, as the API's model has them (strings).
    let texts = |v: &[Value]| json!(Value::Array(v.to_vec()).to_string());
    let mut data = Map::new();
    data.insert("afterItemsPath".into(), json!(Value::Array(items.items.clone()).to_string()));
    if let Some(s) = &items.selected {
        data.insert("afterItemSelector".into(), texts(s));
    }
    if let Some(b) = &items.batched {
        data.insert("afterItemBatcher".into(), texts(b));
    }
    let Some(StateKind::Map(spec)) = map.index_of(name).map(|i| &map.state(i).kind) else { return data };
    let number = |n: &NumSpec| match n {
        NumSpec::Value(v) => Some(json!(v)),
        NumSpec::Path(p) => scope.resolve(p).map(|c| c.into_owned()),
        NumSpec::Raw(_) => None,
    };
    let whole = |v: Value| v.as_f64().filter(|f| f.fract() == 0.0).map_or(v, |f| json!(f as i64));
    if let Some(v) = spec.tolerated_failure_count.as_ref().and_then(number) {
        data.insert("toleratedFailureCount".into(), whole(v));
    }
    if let Some(v) = spec.tolerated_failure_percentage.as_ref().and_then(number) {
        data.insert("toleratedFailurePercentage".into(), v);
    }
    data.insert("maxConcurrency".into(), number(&spec.max_concurrency).map_or(json!(0), whole));
    data
}

/// One object, whatever bucket and key: `mapItemReaderData`.
struct ReaderData(Vec<u8>);

impl Objects for ReaderData {
    fn open(&self, _bucket: &str, _key: &str) -> Result<Box<dyn BufRead + Send>, ObjectFailure> {
        Ok(Box::new(std::io::Cursor::new(self.0.clone())))
    }
    fn list(&self, _bucket: &str, _prefix: &str) -> Result<Vec<ObjectInfo>, ObjectFailure> {
        Err(ObjectFailure::new("NotImplemented", "stepbox's TestState reads mapItemReaderData as an object (s3:getObject), not a listing"))
    }
    fn put(&self, _bucket: &str, _key: &str, _bytes: &[u8]) -> Result<(), ObjectFailure> {
        Err(ObjectFailure::new("NotImplemented", "TestState writes no objects"))
    }
}

/// Parses the Map `raw` (as a one-state machine) for its MapSpec.
pub(super) fn parse_map(name: &str, raw: &Map<String, Value>, query_language: Option<&Value>) -> Result<StateMachine, ApiError> {
    let mut machine = json!({"StartAt": name, "States": {name: probe_map(raw, true, true, None)}});
    if let Some(q) = query_language {
        machine["QueryLanguage"] = q.clone();
    }
    parse_definition(&machine.to_string())
}
