//! The Step Functions API (awsJson1_0).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use stepbox_asl::{Severity, StateMachine};
use stepbox_engine::{ExecutionOptions, ExecutionOutcome, HistoryEvent, HistorySink};
use tokio::sync::watch;

use crate::store::{ExecutionRecord, StateMachineRecord};
use crate::{AppState, Body, BodyError, epoch, json_response, read_body};

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const MAX_INPUT: usize = 256 * 1024;

/// An AWS error: `{"__type", "message"}` with an HTTP status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, kind, message: message.into() }
    }
    fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }
    fn response(&self) -> Response<Body> {
        let mut r = json_response(self.status, CONTENT_TYPE, &json!({"__type": self.kind, "message": self.message}));
        if let Ok(v) = hyper::header::HeaderValue::from_str(self.kind) {
            r.headers_mut().insert("x-amzn-errortype", v);
        }
        r
    }
}

type ApiResult = Result<Value, ApiError>;

/// Abort switches of running executions.
#[derive(Default)]
pub struct Running {
    aborts: Mutex<HashMap<String, watch::Sender<bool>>>,
}

impl Running {
    fn insert(&self, arn: &str, tx: watch::Sender<bool>) {
        self.aborts.lock().unwrap_or_else(|e| e.into_inner()).insert(arn.to_string(), tx);
    }
    fn remove(&self, arn: &str) {
        self.aborts.lock().unwrap_or_else(|e| e.into_inner()).remove(arn);
    }
    fn abort(&self, arn: &str) -> bool {
        match self.aborts.lock().unwrap_or_else(|e| e.into_inner()).get(arn) {
            Some(tx) => tx.send(true).is_ok(),
            None => false,
        }
    }
    pub(crate) fn abort_all(&self) {
        for tx in self.aborts.lock().unwrap_or_else(|e| e.into_inner()).values() {
            let _ = tx.send(true);
        }
    }
}

pub(crate) async fn handle(state: AppState, req: Request<Incoming>) -> Response<Body> {
    let target = crate::header(&req, "x-amz-target").unwrap_or_default();
    let Some(op) = target.strip_prefix("AWSStepFunctions.").map(str::to_string) else {
        return ApiError::new("UnknownOperationException", format!("unknown operation target '{target}'")).response();
    };
    let body = match read_body(req, crate::SFN_BODY_LIMIT).await {
        Ok(b) => b,
        Err(BodyError::TooLarge(limit)) => {
            let mut e = ApiError::validation(format!("request body exceeds the limit of {limit} bytes"));
            e.status = StatusCode::PAYLOAD_TOO_LARGE;
            return e.response();
        }
        Err(BodyError::Io(e)) => return ApiError::new("SerializationException", e).response(),
    };
    let text = if body.is_empty() { "{}".as_bytes() } else { &body[..] };
    let input: Map<String, Value> = match serde_json::from_slice::<Value>(text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return ApiError::new("SerializationException", "the request body must be a JSON object").response(),
        Err(e) => return ApiError::new("SerializationException", format!("malformed JSON request body: {e}")).response(),
    };
    let p = Params(&input);
    let result = match op.as_str() {
        "CreateStateMachine" => create_state_machine(&state, p),
        "DescribeStateMachine" => describe_state_machine(&state, p),
        "ListStateMachines" => list_state_machines(&state, p),
        "UpdateStateMachine" => update_state_machine(&state, p),
        "DeleteStateMachine" => delete_state_machine(&state, p),
        "ValidateStateMachineDefinition" => validate_definition(p),
        "StartExecution" => start_execution(&state, p),
        "StartSyncExecution" => start_sync_execution(&state, p).await,
        "DescribeExecution" => describe_execution(&state, p),
        "DescribeStateMachineForExecution" => describe_state_machine_for_execution(&state, p),
        "StopExecution" => stop_execution(&state, p),
        "ListExecutions" => list_executions(&state, p),
        "GetExecutionHistory" => get_execution_history(&state, p),
        "TagResource" => tag_resource(&state, p),
        "UntagResource" => untag_resource(&state, p),
        "ListTagsForResource" => list_tags(&state, p),
        _ => Err(ApiError::new("UnknownOperationException", format!("unknown operation '{op}'"))),
    };
    match result {
        Ok(v) => json_response(StatusCode::OK, CONTENT_TYPE, &v),
        Err(e) => {
            tracing::debug!(op, kind = e.kind, message = %e.message, "request failed");
            e.response()
        }
    }
}

/// Typed access to request members, with AWS's validation messages.
#[derive(Clone, Copy)]
struct Params<'a>(&'a Map<String, Value>);

impl Params<'_> {
    fn opt_str(&self, key: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::new("SerializationException", format!("member '{key}' must be a string"))),
        }
    }
    fn str(&self, key: &str) -> Result<&str, ApiError> {
        self.opt_str(key)?.ok_or_else(|| {
            ApiError::validation(format!(
                "1 validation error detected: Value null at '{key}' failed to satisfy constraint: Member must not be null"
            ))
        })
    }
    fn opt_bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::new("SerializationException", format!("member '{key}' must be a boolean"))),
        }
    }
    fn max_results(&self) -> Result<usize, ApiError> {
        match self.0.get("maxResults") {
            None | Some(Value::Null) => Ok(100),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(0) => Ok(100),
                Some(n) if n <= 1000 => Ok(n as usize),
                _ => Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: \
                     Member must have value less than or equal to 1000"
                ))),
            },
            Some(_) => Err(ApiError::new("SerializationException", "member 'maxResults' must be an integer")),
        }
    }
}

/// AWS's naming rule for state machines and executions.
pub fn check_name(name: &str, max: usize) -> Result<(), ApiError> {
    let bad = name.is_empty()
        || name.chars().count() > max
        || name.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c)
                || ('\u{7f}'..='\u{9f}').contains(&c)
        });
    if bad { Err(ApiError::new("InvalidName", format!("Invalid Name: '{name}'"))) } else { Ok(()) }
}

fn sm_arn(state: &AppState, name: &str) -> String {
    format!("arn:aws:states:{}:{}:stateMachine:{name}", state.config.region, state.config.account)
}

fn check_arn(arn: &str, kind: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = parts.len() >= 7 && parts[0] == "arn" && parts[2] == "states" && parts[5] == kind;
    if ok { Ok(()) } else { Err(ApiError::new("InvalidArn", format!("Invalid Arn: 'Resource type not valid in this context: {arn}'"))) }
}

fn get_sm(state: &AppState, arn: &str) -> Result<StateMachineRecord, ApiError> {
    check_arn(arn, "stateMachine")?;
    state
        .store
        .get_state_machine(arn)
        .ok_or_else(|| ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'")))
}

fn get_exec(state: &AppState, arn: &str) -> Result<ExecutionRecord, ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    if !(parts.len() >= 8 && parts[0] == "arn" && parts[2] == "states" && (parts[5] == "execution" || parts[5] == "express")) {
        return Err(ApiError::new("InvalidArn", format!("Invalid Arn: 'Resource type not valid in this context: {arn}'")));
    }
    state
        .store
        .get_execution(arn)
        .ok_or_else(|| ApiError::new("ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'")))
}

fn parse_definition(definition: &str) -> Result<StateMachine, ApiError> {
    StateMachine::parse(definition)
        .map_err(|d| ApiError::new("InvalidDefinition", stepbox_asl::invalid_definition_message(&d)))
}

fn machine_type(p: Params<'_>) -> Result<String, ApiError> {
    match p.opt_str("type")? {
        None => Ok("STANDARD".into()),
        Some(t @ ("STANDARD" | "EXPRESS")) => Ok(t.into()),
        Some(t) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{t}' at 'type' failed to satisfy constraint: \
             Member must satisfy enum value set: [STANDARD, EXPRESS]"
        ))),
    }
}

fn create_state_machine(state: &AppState, p: Params<'_>) -> ApiResult {
    let name = p.str("name")?;
    let definition = p.str("definition")?;
    let role_arn = p.str("roleArn")?;
    let kind = machine_type(p)?;
    check_name(name, 80)?;
    parse_definition(definition)?;
    let record = StateMachineRecord {
        arn: sm_arn(state, name),
        name: name.into(),
        definition: definition.into(),
        role_arn: role_arn.into(),
        kind,
        description: p.opt_str("description")?.unwrap_or_default().into(),
        creation_date: Utc::now(),
        revision_id: stepbox_asl::uuid_v4(),
    };
    let tags = read_tags(p)?;
    match state.store.insert_state_machine(record.clone()) {
        Ok(()) => {
            state.store.tag(&record.arn, &tags);
            Ok(json!({"stateMachineArn": record.arn, "creationDate": epoch(record.creation_date)}))
        }
        // Idempotent for an identical request.
        Err(existing)
            if existing.definition == record.definition
                && existing.role_arn == record.role_arn
                && existing.kind == record.kind =>
        {
            Ok(json!({"stateMachineArn": existing.arn, "creationDate": epoch(existing.creation_date)}))
        }
        Err(existing) => Err(ApiError::new(
            "StateMachineAlreadyExists",
            format!("State Machine Already Exists: '{}'", existing.arn),
        )),
    }
}

fn describe_sm_json(sm: &StateMachineRecord) -> Value {
    json!({
        "stateMachineArn": sm.arn,
        "name": sm.name,
        "status": "ACTIVE",
        "definition": sm.definition,
        "roleArn": sm.role_arn,
        "type": sm.kind,
        "description": sm.description,
        "creationDate": epoch(sm.creation_date),
        "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
        "tracingConfiguration": {"enabled": false},
        "revisionId": sm.revision_id,
    })
}

fn describe_state_machine(state: &AppState, p: Params<'_>) -> ApiResult {
    Ok(describe_sm_json(&get_sm(state, p.str("stateMachineArn")?)?))
}

fn describe_state_machine_for_execution(state: &AppState, p: Params<'_>) -> ApiResult {
    let exec = get_exec(state, p.str("executionArn")?)?;
    let sm = get_sm(state, &exec.state_machine_arn)?;
    let mut v = describe_sm_json(&sm);
    if let Value::Object(m) = &mut v {
        m.remove("status");
        m.remove("type");
        m.remove("creationDate");
        m.remove("description");
        m.insert("updateDate".into(), epoch(sm.creation_date));
    }
    Ok(v)
}

/// Offset-based page tokens: `stepbox:<what>:<offset>`, base64.
fn page<T>(items: Vec<T>, p: Params<'_>, what: &str) -> Result<(Vec<T>, Option<String>), ApiError> {
    let max = p.max_results()?;
    let start = match p.opt_str("nextToken")? {
        None => 0,
        Some(token) => stepbox_asl::base64::decode(token)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix(&format!("stepbox:{what}:")).and_then(|n| n.parse::<usize>().ok()))
            .filter(|n| *n <= items.len())
            .ok_or_else(|| ApiError::new("InvalidToken", format!("Invalid Token: '{token}'")))?,
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| stepbox_asl::base64::encode(format!("stepbox:{what}:{end}").as_bytes()));
    Ok((items.into_iter().skip(start).take(end - start).collect(), next))
}

fn list_state_machines(state: &AppState, p: Params<'_>) -> ApiResult {
    let (items, next) = page(state.store.list_state_machines(), p, "sm")?;
    let list: Vec<Value> = items
        .iter()
        .map(|s| json!({"stateMachineArn": s.arn, "name": s.name, "type": s.kind, "creationDate": epoch(s.creation_date)}))
        .collect();
    let mut out = json!({"stateMachines": list});
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}

fn update_state_machine(state: &AppState, p: Params<'_>) -> ApiResult {
    let mut sm = get_sm(state, p.str("stateMachineArn")?)?;
    let definition = p.opt_str("definition")?;
    let role = p.opt_str("roleArn")?;
    if definition.is_none() && role.is_none() && p.0.get("loggingConfiguration").is_none() && p.0.get("tracingConfiguration").is_none() {
        return Err(ApiError::new(
            "MissingRequiredParameter",
            "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
        ));
    }
    if let Some(d) = definition {
        parse_definition(d)?;
        sm.definition = d.into();
    }
    if let Some(r) = role {
        sm.role_arn = r.into();
    }
    if let Some(d) = p.opt_str("description")? {
        sm.description = d.into();
    }
    sm.revision_id = stepbox_asl::uuid_v4();
    let now = Utc::now();
    if !state.store.update_state_machine(sm.clone()) {
        return Err(ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{}'", sm.arn)));
    }
    Ok(json!({"updateDate": epoch(now), "revisionId": sm.revision_id}))
}

fn delete_state_machine(state: &AppState, p: Params<'_>) -> ApiResult {
    let arn = p.str("stateMachineArn")?;
    check_arn(arn, "stateMachine")?;
    // Running executions keep their parsed definition and finish normally.
    state.store.delete_state_machine(arn);
    Ok(json!({}))
}

fn validate_definition(p: Params<'_>) -> ApiResult {
    let definition = p.str("definition")?;
    machine_type(p)?;
    let min_severity = p.opt_str("severity")?.unwrap_or("ERROR");
    let max = p.max_results()?;
    let diagnostics: Vec<_> = StateMachine::validate(definition)
        .into_iter()
        .filter(|d| min_severity == "WARNING" || d.severity == Severity::Error)
        .collect();
    let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
    let truncated = diagnostics.len() > max;
    let list: Vec<Value> = diagnostics
        .iter()
        .take(max)
        .map(|d| {
            json!({
                "severity": match d.severity { Severity::Error => "ERROR", Severity::Warning => "WARNING" },
                "code": d.code,
                "message": d.message,
                "location": d.location,
            })
        })
        .collect();
    Ok(json!({"result": if failed { "FAIL" } else { "OK" }, "diagnostics": list, "truncated": truncated}))
}

fn read_input(p: Params<'_>) -> Result<(String, Value), ApiError> {
    let text = p.opt_str("input")?.unwrap_or("{}");
    if text.len() > MAX_INPUT {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'input' failed to satisfy constraint: \
             Member must have length less than or equal to {MAX_INPUT}"
        )));
    }
    let value = serde_json::from_str(text)
        .map_err(|e| ApiError::new("InvalidExecutionInput", format!("Invalid State Machine Execution Input: '{e}'")))?;
    Ok((text.to_string(), value))
}

/// Records an execution's history into the store.
struct StoreSink {
    store: Arc<dyn crate::Store>,
    arn: String,
}

impl HistorySink for StoreSink {
    fn record(&self, event: HistoryEvent) {
        self.store.append_event(&self.arn, event);
    }
}

fn finish(record: &mut ExecutionRecord, outcome: &ExecutionOutcome) {
    if record.status != "RUNNING" {
        return; // stopped by StopExecution meanwhile
    }
    record.status = outcome.status.as_str().into();
    record.output = outcome.output.as_ref().map(|o| o.to_string());
    record.error = outcome.error.clone();
    record.cause = outcome.cause.clone();
    record.stop_date = Some(outcome.stop_date);
}

fn start_execution(state: &AppState, p: Params<'_>) -> ApiResult {
    let sm_arn = p.str("stateMachineArn")?;
    let sm = get_sm(state, sm_arn)?;
    let name = match p.opt_str("name")? {
        Some(n) => n.to_string(),
        None => stepbox_asl::uuid_v4(),
    };
    check_name(&name, 80)?;
    let (input_text, input) = read_input(p)?;
    let definition = Arc::new(parse_definition(&sm.definition)?);
    let segment = if sm.kind == "EXPRESS" { "express" } else { "execution" };
    let arn = format!("arn:aws:states:{}:{}:{segment}:{}:{name}", state.config.region, state.config.account, sm.name);
    let record = ExecutionRecord {
        arn: arn.clone(),
        name: name.clone(),
        state_machine_arn: sm.arn.clone(),
        status: "RUNNING".into(),
        input: input_text.clone(),
        output: None,
        error: None,
        cause: None,
        start_date: Utc::now(),
        stop_date: None,
    };
    if let Err(existing) = state.store.insert_execution(record.clone()) {
        // Standard executions are idempotent while running with the same input.
        if sm.kind == "STANDARD" && existing.status == "RUNNING" && existing.input == input_text {
            return Ok(json!({"executionArn": existing.arn, "startDate": epoch(existing.start_date)}));
        }
        return Err(ApiError::new("ExecutionAlreadyExists", format!("Execution Already Exists: '{arn}'")));
    }
    let (tx, rx) = watch::channel(false);
    state.running.insert(&arn, tx);
    let options = ExecutionOptions {
        name,
        execution_arn: Some(arn.clone()),
        state_machine_name: sm.name.clone(),
        state_machine_arn: Some(sm.arn.clone()),
        role_arn: Some(sm.role_arn.clone()),
        abort: Some(rx),
        ..Default::default()
    };
    let sink = Arc::new(StoreSink { store: state.store.clone(), arn: arn.clone() });
    let st = state.clone();
    let exec_arn = arn.clone();
    tokio::spawn(async move {
        let outcome = st.engine.start(definition, input, options, sink).await;
        tracing::info!(execution = %exec_arn, status = outcome.status.as_str(), "execution finished");
        st.store.update_execution(&exec_arn, &mut |r| finish(r, &outcome));
        st.running.remove(&exec_arn);
    });
    Ok(json!({"executionArn": arn, "startDate": epoch(record.start_date)}))
}

async fn start_sync_execution(state: &AppState, p: Params<'_>) -> ApiResult {
    let sm = get_sm(state, p.str("stateMachineArn")?)?;
    if sm.kind != "EXPRESS" {
        return Err(ApiError::new(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        ));
    }
    let name = match p.opt_str("name")? {
        Some(n) => n.to_string(),
        None => stepbox_asl::uuid_v4(),
    };
    check_name(&name, 80)?;
    let (input_text, input) = read_input(p)?;
    let definition = Arc::new(parse_definition(&sm.definition)?);
    let arn = format!(
        "arn:aws:states:{}:{}:express:{}:{name}:{}",
        state.config.region,
        state.config.account,
        sm.name,
        stepbox_asl::uuid_v4()
    );
    let options = ExecutionOptions {
        name: name.clone(),
        execution_arn: Some(arn.clone()),
        state_machine_name: sm.name.clone(),
        state_machine_arn: Some(sm.arn.clone()),
        role_arn: Some(sm.role_arn.clone()),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let outcome = state.engine.start(definition, input, options, Arc::new(stepbox_engine::NullSink)).await;
    let mut out = json!({
        "executionArn": arn,
        "stateMachineArn": sm.arn,
        "name": name,
        "startDate": epoch(outcome.start_date),
        "stopDate": epoch(outcome.stop_date),
        "status": if outcome.status == stepbox_engine::ExecutionStatus::Aborted { "FAILED" } else { outcome.status.as_str() },
        "input": input_text,
        "inputDetails": {"included": true},
        "billingDetails": {
            "billedMemoryUsedInMB": 64,
            "billedDurationInMilliseconds": (started.elapsed().as_millis() as u64).max(1).div_ceil(100) * 100,
        },
    });
    let output = outcome.output.as_ref().map(|o| o.to_string());
    put_result(&mut out, output.as_deref(), outcome.error.as_deref(), outcome.cause.as_deref());
    Ok(out)
}

/// The result members DescribeExecution and StartSyncExecution share.
fn put_result(out: &mut Value, output: Option<&str>, error: Option<&str>, cause: Option<&str>) {
    if let Some(o) = output {
        out["output"] = json!(o);
        out["outputDetails"] = json!({"included": true});
    }
    if let Some(e) = error {
        out["error"] = json!(e);
    }
    if let Some(c) = cause {
        out["cause"] = json!(c);
    }
}

fn describe_execution(state: &AppState, p: Params<'_>) -> ApiResult {
    let e = get_exec(state, p.str("executionArn")?)?;
    let mut out = json!({
        "executionArn": e.arn,
        "stateMachineArn": e.state_machine_arn,
        "name": e.name,
        "status": e.status,
        "startDate": epoch(e.start_date),
        "input": e.input,
        "inputDetails": {"included": true},
        "redriveCount": 0,
        "redriveStatus": "NOT_REDRIVABLE",
    });
    if let Some(d) = e.stop_date {
        out["stopDate"] = epoch(d);
    }
    put_result(&mut out, e.output.as_deref(), e.error.as_deref(), e.cause.as_deref());
    Ok(out)
}

fn stop_execution(state: &AppState, p: Params<'_>) -> ApiResult {
    let e = get_exec(state, p.str("executionArn")?)?;
    let error = p.opt_str("error")?.map(str::to_string);
    let cause = p.opt_str("cause")?.map(str::to_string);
    let now = Utc::now();
    let mut stop_date = e.stop_date.unwrap_or(now);
    state.store.update_execution(&e.arn, &mut |r| {
        if r.status == "RUNNING" {
            r.status = "ABORTED".into();
            r.error = error.clone();
            r.cause = cause.clone();
            r.stop_date = Some(now);
            stop_date = now;
        }
    });
    state.running.abort(&e.arn);
    Ok(json!({"stopDate": epoch(stop_date)}))
}

fn list_executions(state: &AppState, p: Params<'_>) -> ApiResult {
    let sm = get_sm(state, p.str("stateMachineArn")?)?;
    let filter = p.opt_str("statusFilter")?;
    if let Some(f) = filter
        && !["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"].contains(&f)
    {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{f}' at 'statusFilter' failed to satisfy constraint: \
             Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]"
        )));
    }
    let all: Vec<_> =
        state.store.list_executions(&sm.arn).into_iter().filter(|e| filter.is_none_or(|f| e.status == f)).collect();
    let (items, next) = page(all, p, &format!("exec{}", filter.unwrap_or("")))?;
    let list: Vec<Value> = items
        .iter()
        .map(|e| {
            let mut v = json!({
                "executionArn": e.arn,
                "stateMachineArn": e.state_machine_arn,
                "name": e.name,
                "status": e.status,
                "startDate": epoch(e.start_date),
            });
            if let Some(d) = e.stop_date {
                v["stopDate"] = epoch(d);
            }
            v
        })
        .collect();
    let mut out = json!({"executions": list});
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}

/// One history event as GetExecutionHistory returns it over awsJson1_0.
fn event_json(event: &HistoryEvent, include_data: bool) -> Value {
    let mut v = event.to_aws_json();
    if let Value::Object(m) = &mut v {
        m.insert("timestamp".into(), epoch(event.timestamp));
        if !include_data {
            for (key, details) in m.iter_mut() {
                if key.ends_with("EventDetails")
                    && let Value::Object(d) = details
                {
                    for k in ["input", "output", "inputDetails", "outputDetails"] {
                        d.remove(k);
                    }
                }
            }
        }
    }
    v
}

fn get_execution_history(state: &AppState, p: Params<'_>) -> ApiResult {
    let e = get_exec(state, p.str("executionArn")?)?;
    let include = p.opt_bool("includeExecutionData")?.unwrap_or(true);
    let reverse = p.opt_bool("reverseOrder")?.unwrap_or(false);
    let mut events = state.store.history(&e.arn);
    if reverse {
        events.reverse();
    }
    let (items, next) = page(events, p, if reverse { "hr" } else { "h" })?;
    let list: Vec<Value> = items.iter().map(|ev| event_json(ev, include)).collect();
    let mut out = json!({"events": list});
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}

fn read_tags(p: Params<'_>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(list) = p.0.get("tags").filter(|v| !v.is_null()) else { return Ok(Vec::new()) };
    let bad = || ApiError::new("SerializationException", "member 'tags' must be a list of {\"key\", \"value\"} objects");
    let mut tags = Vec::new();
    for tag in list.as_array().ok_or_else(bad)? {
        let key = tag.get("key").and_then(Value::as_str).ok_or_else(bad)?;
        let value = tag.get("value").and_then(Value::as_str).unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(ApiError::validation(format!(
                "1 validation error detected: tag '{key}' must have a key of 1 to 128 and a value of at most 256 characters"
            )));
        }
        tags.push((key.to_string(), value.to_string()));
    }
    if tags.len() > 50 {
        return Err(ApiError::new("TooManyTags", "Too many tags: a resource has at most 50 tags"));
    }
    Ok(tags)
}

/// The tagged resource (a state machine) must exist.
fn tagged_resource<'a>(state: &AppState, p: &Params<'a>) -> Result<&'a str, ApiError> {
    let arn = match p.0.get("resourceArn") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(ApiError::new("SerializationException", "member 'resourceArn' must be a string")),
        None => p.str("resourceArn").map(|_| "")?,
    };
    check_arn(arn, "stateMachine")?;
    if state.store.get_state_machine(arn).is_none() {
        return Err(ApiError::new("ResourceNotFound", format!("Resource not found: '{arn}'")));
    }
    Ok(arn)
}

fn tag_resource(state: &AppState, p: Params<'_>) -> ApiResult {
    let arn = tagged_resource(state, &p)?;
    let tags = read_tags(p)?;
    let mut merged = state.store.tags(arn);
    merged.retain(|(k, _)| !tags.iter().any(|(n, _)| n == k));
    if merged.len() + tags.len() > 50 {
        return Err(ApiError::new("TooManyTags", format!("Too many tags: '{arn}' would have more than 50 tags")));
    }
    state.store.tag(arn, &tags);
    Ok(json!({}))
}

fn untag_resource(state: &AppState, p: Params<'_>) -> ApiResult {
    let arn = tagged_resource(state, &p)?;
    let keys: Vec<String> = match p.0.get("tagKeys") {
        Some(Value::Array(a)) => a.iter().filter_map(|k| k.as_str().map(str::to_string)).collect(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err(ApiError::new("SerializationException", "member 'tagKeys' must be a list of strings")),
    };
    state.store.untag(arn, &keys);
    Ok(json!({}))
}

fn list_tags(state: &AppState, p: Params<'_>) -> ApiResult {
    let arn = tagged_resource(state, &p)?;
    let tags: Vec<Value> = state.store.tags(arn).into_iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
    Ok(json!({"tags": tags}))
}
