//! TestState: run one state on an input and report its output, next state and
//! (at DEBUG/TRACE) each data-flow step, as AWS's TestState API does.
//!
//! The state runs on the real engine inside a small wrapper machine: its
//! transition targets become `Pass` stubs, so the first state entered after it
//! names `nextState` and carries its output (also for a caught error). Retry is
//! left out of the run: an error a retrier matches answers `RETRIABLE`, as AWS.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use stepbox_asl::State;
use stepbox_engine::{Details, EventType, ExecutionOptions, ExecutionStatus, HistoryEvent, HistorySink};
use stepbox_types::ExecutionArn;
use tokio::sync::watch;

use super::{ApiError, ApiResult, Params, parse_definition, read_input};

mod flow;
mod mock;
mod nested;
mod schema;
use crate::AppState;

/// The name the tested state runs under when the request gives none.
const DEFAULT_NAME: &str = "TestState";

pub(crate) async fn test_state(state: &AppState, p: Params<'_>) -> ApiResult {
    let definition = p.str("definition")?;
    let level = match p.opt_str("inspectionLevel")?.unwrap_or("INFO") {
        l @ ("INFO" | "DEBUG" | "TRACE") => l,
        other => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'inspectionLevel' failed to satisfy constraint: \
                 Member must satisfy enum value set: [INFO, DEBUG, TRACE]"
            )));
        }
    };
    let (input_text, input) = read_input(p)?;
    let variables = read_variables(p)?;
    let role_arn = p.opt_str("roleArn")?.map(str::to_string);
    let picked = pick_state(definition, p.opt_str("stateName")?)?;
    let (name, raw_state) = (picked.name.clone(), picked.raw.clone());
    let mut testing = mock::read(p, &name, &raw_state)?;
    let context = run_context(&testing, &picked, &input);
    let flow = matches!(raw_state.get("Type").and_then(Value::as_str), Some("Map" | "Parallel"));
    let (wrapper, targets) = wrap(&name, &raw_state, picked.query_language.as_ref());
    let machine = Arc::new(parse_definition(&wrapper.to_string())?);
    let options = |abort| ExecutionOptions {
        name: "TestState".into(),
        execution_arn: Some(ExecutionArn::new(&state.config.identity, "TestState", &stepbox_asl::uuid_v4()).to_string()),
        state_machine_name: "TestState".into(),
        role_arn: role_arn.clone(),
        abort,
        variables: variables.clone(),
        mocks: None,
        context: context.clone(),
        ..Default::default()
    };
    // What the inspection's paths see of `$$`: the context given, if any.
    let context = Value::Object(context.clone().unwrap_or_default());
    let mut map_data = None;
    if raw_state.get("Type").and_then(Value::as_str) == Some("Map") {
        let probe = flow::Probe { state, name: &name, query_language: picked.query_language.as_ref(), input: &input, options: options(None) };
        let items = match probe.items(&raw_state, &testing).await {
            Ok(items) => items,
            Err((error, cause)) => return Ok(failed_before(&error, &cause, level, &input_text)),
        };
        if let Some(failures) = testing.config.map_failures {
            flow::check_failures(failures, items.items.len())?;
            let handled = raw_state.contains_key("Catch") || raw_state.contains_key("Retry");
            if handled && probe.exceeds(&raw_state, &testing, failures).await {
                testing.response = Some(flow::threshold_error());
            }
        }
        let parsed = flow::parse_map(&name, &raw_state, picked.query_language.as_ref())?;
        let after_input = stepbox_asl::io::select(&machine.state(machine.index_of(&name).expect("the wrapper starts at the tested state")).input_path, &input, &context, variables.as_ref()).map(|c| c.into_owned());
        let scope_input = after_input.unwrap_or(Value::Null);
        let scope = stepbox_asl::Scope { input: &scope_input, context: &context, variables: variables.as_ref() };
        map_data = Some(flow::inspection(&parsed, &name, &items, scope));
    }
    // A Map or Parallel runs as a Task whose call its mock answers.
    let machine = match flow {
        false => machine,
        true => {
            let (wrapper, _) = wrap(&name, &flow::as_task(&raw_state), picked.query_language.as_ref());
            Arc::new(parse_definition(&wrapper.to_string())?)
        }
    };
    let tested = machine.state(machine.index_of(&name).expect("the wrapper starts at the tested state")).clone();

    let (abort_tx, abort_rx) = watch::channel(None);
    let mut exits = targets;
    exits.push(name.clone());
    let sink = Arc::new(FirstTransition { exits, events: Mutex::default(), abort: abort_tx });
    let options = ExecutionOptions { mocks: testing.mocks(&name), ..options(Some(abort_rx)) };
    let outcome = state.engine.start(machine, input.clone(), options, sink.clone()).await;
    let events = std::mem::take(&mut *sink.events.lock().unwrap_or_else(|e| e.into_inner()));

    let failure = events.iter().find(|e| is_failure(e.event_type)).map(error_and_cause);
    let mut out = Map::new();
    let mut error_details = Map::new();
    let mut after_entry = events.iter().skip_while(|e| !is_entry(e)).skip(1);
    if let Some((next, output)) = after_entry.find_map(|e| sink.transition(e)) {
        out.insert("nextState".into(), json!(next));
        out.insert("output".into(), json!(output));
        match &failure {
            Some((error, cause)) => {
                out.insert("status".into(), json!("CAUGHT_ERROR"));
                put_error(&mut out, error, cause);
                if let Some(i) = matching(&raw_state, "Catch", error) {
                    error_details.insert("catchIndex".into(), json!(i));
                }
            }
            None => {
                out.insert("status".into(), json!("SUCCEEDED"));
            }
        }
    } else if outcome.status == ExecutionStatus::Succeeded {
        out.insert("status".into(), json!("SUCCEEDED"));
        if let Some(o) = &outcome.output {
            out.insert("output".into(), json!(o.to_string()));
        }
    } else {
        let error = outcome.error.clone().unwrap_or_default();
        let cause = outcome.cause.clone().unwrap_or_default();
        let retry = retry(&raw_state, &error, testing.config.retries);
        out.insert("status".into(), json!(if retry.is_some() { "RETRIABLE" } else { "FAILED" }));
        if let Some((index, backoff)) = retry {
            error_details.insert("retryIndex".into(), json!(index));
            error_details.insert("retryBackoffIntervalSeconds".into(), json!(backoff));
        }
        put_error(&mut out, &error, &cause);
    }
    if level != "INFO" {
        let mut data = inspection(&tested, &input_text, &input, &context, variables.as_ref(), &events);
        if let Some(map) = map_data {
            // A Map has no Parameters of a Task's kind: its items show instead.
            data.remove("afterParameters");
            data.remove("afterArguments");
            data.extend(map);
        }
        if let Some(after) = variables_after(&name, variables, &events) {
            data.insert("variables".into(), json!(Value::Object(after).to_string()));
        }
        if !error_details.is_empty() {
            data.insert("errorDetails".into(), Value::Object(error_details));
        }
        out.insert("inspectionData".into(), Value::Object(data));
    }
    Ok(Value::Object(out))
}

/// `variables`: a JSON object as text, the variables in scope for the state.
fn read_variables(p: Params<'_>) -> Result<Option<Map<String, Value>>, ApiError> {
    let Some(text) = p.opt_str("variables")? else { return Ok(None) };
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        _ => Err(ApiError::validation("TestState 'variables' must be a JSON object of variable names to values")),
    }
}

/// The variables once the tested state ran: those given plus what it (or
/// its catcher) assigned; `None` when there are none of either.
fn variables_after(name: &str, given: Option<Map<String, Value>>, events: &[HistoryEvent]) -> Option<Map<String, Value>> {
    let assigned = events.iter().find_map(|e| match &e.details {
        Details::StateExited { name: n, assigned, .. } if n == name => assigned.clone(),
        _ => None,
    });
    match (given, assigned) {
        (None, None) => None,
        (given, assigned) => {
            let mut all = given.unwrap_or_default();
            all.extend(assigned.unwrap_or_default());
            Some(all)
        }
    }
}

/// The state to test and where it sits.
struct Picked {
    name: String,
    raw: Map<String, Value>,
    within: nested::Within,
    /// The definition's QueryLanguage, which the state inherits.
    query_language: Option<Value>,
}

/// The state to test: the definition itself, or `stateName` of a whole state
/// machine (a state inside a Map or Parallel too).
fn pick_state(definition: &str, state_name: Option<&str>) -> Result<Picked, ApiError> {
    let invalid = |m: String| ApiError::new("InvalidDefinition", format!("Invalid State Machine Definition: '{m}'"));
    let value: Value = serde_json::from_str(definition)
        .map_err(|e| invalid(format!("INVALID_JSON_DESCRIPTION: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(invalid("SCHEMA_VALIDATION_FAILED: the definition must be a JSON object at /".into()));
    };
    if let Some(states) = obj.get("States").and_then(Value::as_object) {
        let name = state_name
            .or_else(|| obj.get("StartAt").and_then(Value::as_str))
            .ok_or_else(|| invalid("SCHEMA_VALIDATION_FAILED: stateName is required for a state machine definition".into()))?;
        let Some((raw, within)) = nested::find(states, name) else {
            return Err(ApiError::validation(format!("State '{name}' does not exist in the definition")));
        };
        let query_language = obj.get("QueryLanguage").cloned();
        return Ok(Picked { name: name.to_string(), raw: raw.clone(), within, query_language });
    }
    Ok(Picked { name: state_name.unwrap_or(DEFAULT_NAME).to_string(), raw: obj, within: nested::Within::Top, query_language: None })
}

/// The context object the run starts from: the one given; for a state
/// inside a Map without one, the first iteration's (`Map.Item` of index 0
/// and the input as its value), as AWS fills it in; `State.RetryCount` from
/// `retrierRetryCount` unless the context gives it.
fn run_context(testing: &mock::Testing, picked: &Picked, input: &Value) -> Option<Map<String, Value>> {
    let mut context = testing.context.clone();
    if context.is_none() && picked.within == nested::Within::Map {
        context = Some(Map::from_iter([("Map".to_string(), json!({"Item": {"Index": 0, "Value": input}}))]));
    }
    let retries = testing.config.retries;
    if retries > 0 {
        let c = context.get_or_insert_with(Map::new);
        let state = c.entry("State").or_insert_with(|| json!({}));
        if let Value::Object(s) = state {
            s.entry("RetryCount").or_insert(json!(retries));
        }
    }
    context
}

/// The answer for a Map whose items could not be worked out: it fails
/// before any iteration, with that error.
fn failed_before(error: &str, cause: &str, level: &str, input_text: &str) -> Value {
    let mut out = Map::new();
    out.insert("status".into(), json!("FAILED"));
    put_error(&mut out, error, cause);
    if level != "INFO" {
        out.insert("inspectionData".into(), json!({"input": input_text}));
    }
    Value::Object(out)
}

/// A machine that starts at the tested state (without Retry) and ends in a `Pass`
/// stub at each of its transition targets (also returned). The state keeps
/// the definition's QueryLanguage (`query_language`) unless it sets its own.
fn wrap(name: &str, raw: &Map<String, Value>, query_language: Option<&Value>) -> (Value, Vec<String>) {
    let mut tested = raw.clone();
    tested.remove("Retry");
    let mut targets = Vec::new();
    let mut add = |v: Option<&Value>| {
        if let Some(t) = v.and_then(Value::as_str)
            && t != name
            && !targets.iter().any(|x: &String| x == t)
        {
            targets.push(t.to_string());
        }
    };
    add(raw.get("Next"));
    add(raw.get("Default"));
    for list in ["Choices", "Catch"] {
        for item in raw.get(list).and_then(Value::as_array).into_iter().flatten() {
            add(item.get("Next"));
        }
    }
    let mut states = Map::new();
    states.insert(name.to_string(), Value::Object(tested));
    for t in &targets {
        states.insert(t.clone(), json!({"Type": "Pass", "End": true}));
    }
    let mut machine = json!({"StartAt": name, "States": states});
    if let Some(q) = raw.get("QueryLanguage").or(query_language) {
        machine["QueryLanguage"] = q.clone();
    }
    (machine, targets)
}

/// Collects the events and stops the run once the tested state has transitioned
/// (a stub, or the tested state again, is entered).
struct FirstTransition {
    exits: Vec<String>,
    events: Mutex<Vec<HistoryEvent>>,
    abort: watch::Sender<Option<stepbox_engine::StopRequest>>,
}

impl FirstTransition {
    /// (state name, input) when `event` enters one of the exits.
    fn transition(&self, event: &HistoryEvent) -> Option<(String, String)> {
        match &event.details {
            Details::StateEntered { name, input } if self.exits.contains(name) => Some((name.clone(), input.clone())),
            _ => None,
        }
    }
}

impl HistorySink for FirstTransition {
    fn record(&self, event: HistoryEvent) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let transitioned = events.iter().any(is_entry) && self.transition(&event).is_some();
        events.push(event);
        if transitioned {
            let _ = self.abort.send(Some(Default::default()));
        }
    }
}

fn is_entry(event: &HistoryEvent) -> bool {
    matches!(event.details, Details::StateEntered { .. })
}

fn is_failure(kind: EventType) -> bool {
    let name = kind.as_str();
    !name.starts_with("Execution") && (name.ends_with("Failed") || name.ends_with("TimedOut"))
}

/// `error` and `cause` of an event's details.
fn error_and_cause(event: &HistoryEvent) -> (String, String) {
    let details = event.details.to_json().unwrap_or_default();
    let text = |k: &str| details.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    (text("error"), text("cause"))
}

fn put_error(out: &mut Map<String, Value>, error: &str, cause: &str) {
    if !error.is_empty() {
        out.insert("error".into(), json!(error));
    }
    if !cause.is_empty() {
        out.insert("cause".into(), json!(cause));
    }
}

/// The index of the first of the state's `Retry` or `Catch` entries whose
/// ErrorEquals matches `error`.
fn matching(raw: &Map<String, Value>, list: &str, error: &str) -> Option<usize> {
    raw.get(list).and_then(Value::as_array).into_iter().flatten().position(|r| {
        let errors: Vec<String> =
            r.get("ErrorEquals").and_then(Value::as_array).into_iter().flatten().filter_map(|e| e.as_str().map(str::to_string)).collect();
        stepbox_asl::error_matches(&errors, error)
    })
}

/// The retrier that would retry `error` after `retries` retries, and its
/// back-off in whole seconds; none when it matches nothing or is used up.
fn retry(raw: &Map<String, Value>, error: &str, retries: u32) -> Option<(usize, u64)> {
    let index = matching(raw, "Retry", error)?;
    let r = &raw.get("Retry")?.as_array()?[index];
    let number = |k: &str, default: f64| r.get(k).and_then(Value::as_f64).unwrap_or(default);
    if number("MaxAttempts", 3.0) <= f64::from(retries) {
        return None;
    }
    let mut backoff = number("IntervalSeconds", 1.0) * number("BackoffRate", 2.0).powi(retries as i32);
    if let Some(max) = r.get("MaxDelaySeconds").and_then(Value::as_f64) {
        backoff = backoff.min(max);
    }
    Some((index, backoff.clamp(0.0, 1.0e9) as u64))
}

/// The DEBUG data-flow steps: `input`, `afterInputPath`, `afterParameters`, `result`,
/// `afterResultSelector`, `afterResultPath` (each a JSON text), as far as the state has them;
/// a JSONata state's are `input`, `afterArguments` and `result`.
fn inspection(
    tested: &State,
    input_text: &str,
    input: &Value,
    context: &Value,
    vars: Option<&Map<String, Value>>,
    events: &[HistoryEvent],
) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("input".into(), json!(input_text));
    let jsonata = tested.jsonata.is_some();
    if !jsonata {
        let Ok(after_input) = stepbox_asl::io::select(&tested.input_path, input, context, vars).map(|c| c.into_owned()) else {
            return data;
        };
        data.insert("afterInputPath".into(), json!(after_input.to_string()));
    }
    let kind = state_type(events);
    if !matches!(kind.as_deref(), Some("Task" | "Pass" | "Map" | "Parallel")) {
        return data;
    }
    // A JSONata state's Arguments are evaluated by the engine: its call shows them.
    let effective = match jsonata {
        true => scheduled_input(events).or_else(|| tested.effective_input(input, context, vars).ok()),
        false => tested.effective_input(input, context, vars).ok(),
    };
    if let Some(e) = &effective {
        let key = if jsonata { "afterArguments" } else { "afterParameters" };
        data.insert(key.into(), json!(e.to_string()));
    }
    let result = match kind.as_deref() {
        Some("Task") => task_result(events),
        Some("Pass") => pass_result(tested, effective.clone()),
        _ => None,
    };
    let Some(result) = result else { return data };
    data.insert("result".into(), json!(result.to_string()));
    if jsonata {
        return data;
    }
    let Ok(selected) = tested.select_result(result, context, vars) else { return data };
    data.insert("afterResultSelector".into(), json!(selected.to_string()));
    if let Ok(combined) = stepbox_asl::io::apply_result_path(&tested.result_path, input.clone(), selected) {
        data.insert("afterResultPath".into(), json!(combined.to_string()));
    }
    data
}

/// What the task was called with: its TaskScheduled event's parameters
/// (a Lambda function resource's LambdaFunctionScheduled input).
fn scheduled_input(events: &[HistoryEvent]) -> Option<Value> {
    let scheduled = events
        .iter()
        .find(|e| matches!(e.event_type, EventType::TaskScheduled | EventType::LambdaFunctionScheduled))?;
    let details = scheduled.details.to_json()?;
    let text = details.get("parameters").or_else(|| details.get("input"))?.as_str()?;
    serde_json::from_str(text).ok()
}

/// The tested state's type (`Task`, `Pass`, …) from its first event.
fn state_type(events: &[HistoryEvent]) -> Option<String> {
    let first = events.iter().find(|e| matches!(e.details, Details::StateEntered { .. }))?;
    first.event_type.as_str().strip_suffix("StateEntered").map(str::to_string)
}

/// The raw result of the task: the output of its Succeeded event.
fn task_result(events: &[HistoryEvent]) -> Option<Value> {
    let done = events
        .iter()
        .find(|e| matches!(e.event_type, EventType::TaskSucceeded | EventType::LambdaFunctionSucceeded))?;
    let details = done.details.to_json()?;
    serde_json::from_str(details.get("output")?.as_str()?).ok()
}

/// A Pass state's result: its `Result`, else its effective input.
fn pass_result(tested: &State, effective: Option<Value>) -> Option<Value> {
    match &tested.kind {
        stepbox_asl::StateKind::Pass { result: Some(r), .. } => Some(r.clone()),
        _ => effective,
    }
}
