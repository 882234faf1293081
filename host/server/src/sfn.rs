//! The Step Functions API (awsJson1_0).

mod express;
pub(crate) mod test_case;
mod map_runs;
mod members;
mod redrive;
pub(crate) use redrive::{redrive, redrive_count};
mod tags;
use tags::{list_tags, read_tags, tag_resource, untag_resource};
mod test_state;
mod versions;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use stepbox_asl::{Severity, StateMachine};
use stepbox_engine::{ExecutionOptions, HistoryEvent, StopRequest};
use tokio::sync::watch;

use stepbox_store::{ExecutionRecord, StateMachineRecord, StoreError};
use stepbox_types::{Arn, ExecutionArn, ExecutionStatus, MachineType, StateMachineArn};
use crate::tenants::quota::Admitted;
use crate::{AppState, Body, BodyError, ReqBody, epoch, json_response, read_body};

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
const MAX_INPUT: usize = 256 * 1024;
/// AWS's limit on a definition's length.
const MAX_DEFINITION: usize = 1024 * 1024;

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
    /// The store could not record a change: the client may retry.
    pub(crate) fn store_failure(e: StoreError) -> Self {
        Self::internal(format!("the store could not record the change: {e}"))
    }
    /// The store could not be read: the client may retry.
    pub(crate) fn store_unreadable(e: StoreError) -> Self {
        Self::internal(format!("the store could not be read: {e}"))
    }
    pub(crate) fn internal(message: String) -> Self {
        tracing::error!(error = %message, "store");
        ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, kind: "InternalServerError", message }
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
    aborts: Mutex<HashMap<String, watch::Sender<Option<StopRequest>>>>,
    /// Who waits for an execution of this server to finish (a map run's children).
    watchers: Mutex<HashMap<String, Vec<tokio::sync::oneshot::Sender<stepbox_engine::ExecutionOutcome>>>>,
}

impl Running {
    pub(crate) fn insert(&self, arn: &str, tx: watch::Sender<Option<StopRequest>>) {
        self.aborts.lock().unwrap_or_else(|e| e.into_inner()).insert(arn.to_string(), tx);
    }
    pub(crate) fn contains(&self, arn: &str) -> bool {
        self.aborts.lock().unwrap_or_else(|e| e.into_inner()).contains_key(arn)
    }
    pub(crate) fn remove(&self, arn: &str) {
        self.aborts.lock().unwrap_or_else(|e| e.into_inner()).remove(arn);
    }
    /// Resolves with the outcome of execution `arn` when a run of it on this
    /// server finishes (not when it is stopped while suspended: look at its record too).
    pub(crate) fn watch(&self, arn: &str) -> tokio::sync::oneshot::Receiver<stepbox_engine::ExecutionOutcome> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.watchers.lock().unwrap_or_else(|e| e.into_inner()).entry(arn.to_string()).or_default().push(tx);
        rx
    }
    /// Tells execution `arn`'s watchers how it ended.
    pub(crate) fn finished(&self, arn: &str, outcome: &stepbox_engine::ExecutionOutcome) {
        let watchers = self.watchers.lock().unwrap_or_else(|e| e.into_inner()).remove(arn);
        for tx in watchers.into_iter().flatten() {
            let _ = tx.send(outcome.clone());
        }
    }
    /// Stops watching execution `arn`.
    pub(crate) fn unwatch(&self, arn: &str) {
        self.watchers.lock().unwrap_or_else(|e| e.into_inner()).remove(arn);
    }
    pub(crate) fn abort(&self, arn: &str, stop: StopRequest) -> bool {
        match self.aborts.lock().unwrap_or_else(|e| e.into_inner()).get(arn) {
            Some(tx) => tx.send(Some(stop)).is_ok(),
            None => false,
        }
    }
    pub(crate) fn abort_all(&self) {
        for tx in self.aborts.lock().unwrap_or_else(|e| e.into_inner()).values() {
            let _ = tx.send(Some(StopRequest::default()));
        }
    }
}

/// A request body that could not be read, as Step Functions answers it.
pub(crate) fn body_error_response(e: BodyError) -> Response<Body> {
    match e {
        BodyError::TimedOut(t) => {
            let mut e = ApiError::new("RequestTimeoutException", crate::body_timeout_message(t));
            e.status = StatusCode::REQUEST_TIMEOUT;
            e.response()
        }
        BodyError::TooLarge(limit) => {
            let mut e = ApiError::validation(format!("request body exceeds the limit of {limit} bytes"));
            e.status = StatusCode::PAYLOAD_TOO_LARGE;
            e.response()
        }
        BodyError::Io(e) => ApiError::new("SerializationException", e).response(),
    }
}

pub(crate) async fn handle(state: AppState, req: Request<ReqBody>) -> Response<Body> {
    let target = crate::header(&req, "x-amz-target").unwrap_or_default();
    let Some(op) = target.strip_prefix("AWSStepFunctions.").map(str::to_string) else {
        return ApiError::new("UnknownOperationException", format!("unknown operation target '{target}'")).response();
    };
    let caller = req.extensions().get::<crate::tenants::Caller>().cloned().unwrap_or(crate::tenants::Caller::Anyone);
    let body = match read_body(req, crate::SFN_BODY_LIMIT, state.config.connections.body_read_timeout).await {
        Ok(b) => b,
        Err(e) => return body_error_response(e),
    };
    let text = if body.is_empty() { "{}".as_bytes() } else { &body[..] };
    let input: Map<String, Value> = match serde_json::from_slice::<Value>(text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return ApiError::new("SerializationException", "the request body must be a JSON object").response(),
        Err(e) => return ApiError::new("SerializationException", format!("malformed JSON request body: {e}")).response(),
    };
    if let Err(e) = members::of(&op).map_or(Ok(()), |shape| crate::shape::check_members(&input, shape)) {
        return match e {
            crate::shape::ShapeError::Type(m) => ApiError::new("SerializationException", m),
            crate::shape::ShapeError::Enum(m) => ApiError::validation(m),
        }
        .response();
    }
    if let Err(e) = crate::tenants::scope::check_sfn(&caller, &op, &input) {
        return e.response();
    }
    if matches!(op.as_str(), "StartExecution" | "StartSyncExecution")
        && let Some(tenant) = state.tenant()
        && !state.accounts.start_rates.take(&tenant.account, tenant.quotas.start_rate, state.clock.now())
    {
        state.accounts.metrics.throttled(&tenant.account, "start_rate");
        return ApiError::new("ThrottlingException", "Rate exceeded").response();
    }
    let p = Params(&input);
    let result = match op.as_str() {
        "CreateStateMachine" => create_state_machine(&state, p).await,
        "DescribeStateMachine" => describe_state_machine(&state, p).await,
        "ListStateMachines" => list_state_machines(&state, p).await,
        "UpdateStateMachine" => update_state_machine(&state, p).await,
        "DeleteStateMachine" => delete_state_machine(&state, p).await,
        "ValidateStateMachineDefinition" => validate_definition(p),
        "StartExecution" => start_execution(&state, p).await,
        "StartSyncExecution" => start_sync_execution(&state, p).await,
        "TestState" => test_state::test_state(&state, p).await,
        "DescribeExecution" => describe_execution(&state, p).await,
        "DescribeStateMachineForExecution" => describe_state_machine_for_execution(&state, p).await,
        "StopExecution" => stop_execution(&state, p).await,
        "RedriveExecution" => redrive::redrive_execution(&state, p).await,
        "ListExecutions" => list_executions(&state, p).await,
        "DescribeMapRun" => map_runs::describe_map_run(&state, p).await,
        "ListMapRuns" => map_runs::list_map_runs(&state, p).await,
        "UpdateMapRun" => map_runs::update_map_run(&state, p).await,
        "GetExecutionHistory" => get_execution_history(&state, p).await,
        "TagResource" => tag_resource(&state, p).await,
        "UntagResource" => untag_resource(&state, p).await,
        "ListTagsForResource" => list_tags(&state, p).await,
        "PublishStateMachineVersion" => versions::publish_state_machine_version(&state, p).await,
        "ListStateMachineVersions" => versions::list_state_machine_versions(&state, p).await,
        "DeleteStateMachineVersion" => versions::delete_state_machine_version(&state, p).await,
        "CreateStateMachineAlias" => versions::create_state_machine_alias(&state, p).await,
        "DescribeStateMachineAlias" => versions::describe_state_machine_alias(&state, p).await,
        "UpdateStateMachineAlias" => versions::update_state_machine_alias(&state, p).await,
        "DeleteStateMachineAlias" => versions::delete_state_machine_alias(&state, p).await,
        "ListStateMachineAliases" => versions::list_state_machine_aliases(&state, p).await,
        op if crate::callbacks::handles(op) => crate::callbacks::handle(&state, op, &input).await,
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

impl<'a> Params<'a> {
    fn opt_str(&self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::new("SerializationException", format!("member '{key}' must be a string"))),
        }
    }
    fn str(&self, key: &str) -> Result<&'a str, ApiError> {
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
    StateMachineArn::new(&state.config.identity, name).into()
}

/// A Step Functions ARN of resource type `kind` with a name after it.
fn states_arn_of(arn: &str, kind: &str, min_fields: usize) -> bool {
    Arn::parse(arn).is_ok_and(|a| a.is_states(kind) && a.resource_fields().count() >= min_fields)
}

fn check_arn(arn: &str, kind: &str) -> Result<(), ApiError> {
    if states_arn_of(arn, kind, 1) { Ok(()) } else { Err(ApiError::new("InvalidArn", format!("Invalid Arn: 'Resource type not valid in this context: {arn}'"))) }
}

async fn get_sm(state: &AppState, arn: &str) -> Result<StateMachineRecord, ApiError> {
    check_arn(arn, "stateMachine")?;
    match state.store.get_state_machine(arn).await {
        Ok(Some(record)) => Ok(record),
        Ok(None) => Err(ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'"))),
        Err(e) => Err(ApiError::store_unreadable(e)),
    }
}

async fn get_exec(state: &AppState, arn: &str) -> Result<ExecutionRecord, ApiError> {
    if states_arn_of(arn, "express", 2) {
        // AWS keeps no record of Express executions: only their logs would have them.
        return Err(ApiError::new("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: express'"));
    }
    if !states_arn_of(arn, "execution", 2) {
        return Err(ApiError::new("InvalidArn", format!("Invalid Arn: 'Resource type not valid in this context: {arn}'")));
    }
    match state.store.get_execution(arn).await {
        Ok(Some(record)) => Ok(record),
        Ok(None) => Err(ApiError::new("ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'"))),
        // Not "does not exist": the store could not be read (a full disk).
        Err(e) => Err(ApiError::store_unreadable(e)),
    }
}

/// Parsed definitions by their text, so starting an execution does not parse
/// its state machine again (bounded: emptied when it reaches its capacity).
#[derive(Default)]
pub struct Definitions {
    parsed: Mutex<HashMap<String, Arc<StateMachine>>>,
}

impl Definitions {
    const CAPACITY: usize = 256;

    fn get(&self, text: &str) -> Result<Arc<StateMachine>, ApiError> {
        if let Some(sm) = self.parsed.lock().unwrap_or_else(|e| e.into_inner()).get(text) {
            return Ok(sm.clone());
        }
        let sm = Arc::new(parse_definition(text)?);
        let mut parsed = self.parsed.lock().unwrap_or_else(|e| e.into_inner());
        if parsed.len() >= Self::CAPACITY {
            parsed.clear();
        }
        parsed.insert(text.to_string(), sm.clone());
        Ok(sm)
    }
}

fn parse_definition(definition: &str) -> Result<StateMachine, ApiError> {
    if definition.len() > MAX_DEFINITION {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'definition' failed to satisfy constraint: \
             Member must have length less than or equal to {MAX_DEFINITION}"
        )));
    }
    StateMachine::parse(definition)
        .map_err(|d| ApiError::new("InvalidDefinition", stepbox_asl::invalid_definition_message(&d)))
}

fn machine_type(p: Params<'_>) -> Result<MachineType, ApiError> {
    match p.opt_str("type")? {
        None => Ok(MachineType::Standard),
        Some(t) => t.parse().map_err(|_| {
            ApiError::validation(format!(
                "1 validation error detected: Value '{t}' at 'type' failed to satisfy constraint: \
                 Member must satisfy enum value set: [STANDARD, EXPRESS]"
            ))
        }),
    }
}

async fn create_state_machine(state: &AppState, p: Params<'_>) -> ApiResult {
    let name = p.str("name")?;
    let definition = p.str("definition")?;
    let role_arn = p.str("roleArn")?;
    let kind = machine_type(p)?;
    check_name(name, 80)?;
    parse_definition(definition)?;
    if kind == MachineType::Express {
        express::check_definition(definition)?;
    }
    let (publish, version_description) = versions::version_description(p)?;
    let record = StateMachineRecord {
        arn: sm_arn(state, name),
        name: name.into(),
        definition: definition.into(),
        role_arn: role_arn.into(),
        kind: kind.as_str().into(),
        description: p.opt_str("description")?.unwrap_or_default().into(),
        creation_date: Utc::now(),
        revision_id: String::new(),
        extra: Default::default(),
    };
    let tags = read_tags(p)?;
    let created = async |sm: &StateMachineRecord| -> ApiResult {
        let mut out = json!({"stateMachineArn": sm.arn, "creationDate": epoch(sm.creation_date)});
        if publish {
            out["stateMachineVersionArn"] = json!(versions::publish(state, sm, version_description).await?.arn);
        }
        Ok(out)
    };
    match state.store.insert_state_machine(record.clone()).await.map_err(ApiError::store_failure)? {
        Ok(()) => {
            state.store.tag(&record.arn, &tags).await.map_err(ApiError::store_failure)?;
            created(&record).await
        }
        // Idempotent for an identical request.
        Err(existing)
            if existing.definition == record.definition
                && existing.role_arn == record.role_arn
                && existing.kind == record.kind =>
        {
            created(&existing).await
        }
        Err(existing) => Err(ApiError::new(
            "StateMachineAlreadyExists",
            format!("State Machine Already Exists: '{}'", existing.arn),
        )),
    }
}

/// DescribeStateMachine's answer; `description` and `revisionId` only when set, as AWS.
fn describe_sm_json(sm: &StateMachineRecord) -> Value {
    let mut out = json!({
        "stateMachineArn": sm.arn,
        "name": sm.name,
        "status": "ACTIVE",
        "definition": sm.definition,
        "roleArn": sm.role_arn,
        "type": sm.kind,
        "creationDate": epoch(sm.creation_date),
        "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
        "tracingConfiguration": {"enabled": false},
    });
    if !sm.description.is_empty() {
        out["description"] = json!(sm.description);
    }
    if !sm.revision_id.is_empty() {
        out["revisionId"] = json!(sm.revision_id);
    }
    out
}

async fn describe_state_machine(state: &AppState, p: Params<'_>) -> ApiResult {
    let arn = p.str("stateMachineArn")?;
    match versions::split_qualifier(arn)? {
        (_, None) => Ok(describe_sm_json(&get_sm(state, arn).await?)),
        (base, Some(_)) => {
            let machine = get_sm(state, base).await.map_err(|e| match e.kind {
                "StateMachineDoesNotExist" => {
                    ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'"))
                }
                _ => e,
            })?;
            versions::describe_version(state, &machine, arn).await
        }
    }
}

/// The definition the execution ran with (its version's, or the revision it started from).
async fn describe_state_machine_for_execution(state: &AppState, p: Params<'_>) -> ApiResult {
    let exec = get_exec(state, p.str("executionArn")?).await?;
    if let Some(run) = map_runs::map_run_of(&exec) {
        return Ok(map_runs::child_state_machine(&exec, run));
    }
    let sm = get_sm(state, &exec.state_machine_arn).await?;
    let mut out = json!({
        "stateMachineArn": sm.arn,
        "name": sm.name,
        "definition": exec.definition,
        "roleArn": sm.role_arn,
        "updateDate": epoch(sm.creation_date),
        "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
        "tracingConfiguration": {"enabled": false},
    });
    if !exec.revision_id.is_empty() {
        out["revisionId"] = json!(exec.revision_id);
    }
    Ok(out)
}

/// A page token: `stepbox:<what>:<number>`, base64; `what` names the list
/// (and its filter), so a token of another list is InvalidToken.
fn page_token(what: &str, number: u64) -> String {
    stepbox_asl::base64::encode(format!("stepbox:{what}:{number}").as_bytes())
}

/// The number in the request's `nextToken` (None: the first page).
fn token_number(p: Params<'_>, what: &str) -> Result<Option<u64>, ApiError> {
    let Some(token) = p.opt_str("nextToken")? else { return Ok(None) };
    stepbox_asl::base64::decode(token)
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix(&format!("stepbox:{what}:")).and_then(|n| n.parse::<u64>().ok()))
        .map(Some)
        .ok_or_else(|| ApiError::new("InvalidToken", format!("Invalid Token: '{token}'")))
}

/// Offset-based pages of a list held whole. A filtered list can shrink
/// between pages (RUNNING executions finish), so an offset past the end is
/// a valid token for an empty last page, not InvalidToken.
fn page<T>(items: Vec<T>, p: Params<'_>, what: &str) -> Result<(Vec<T>, Option<String>), ApiError> {
    let max = p.max_results()?;
    let start = token_number(p, what)?.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX).min(items.len()));
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| page_token(what, end as u64));
    Ok((items.into_iter().skip(start).take(end - start).collect(), next))
}

async fn list_state_machines(state: &AppState, p: Params<'_>) -> ApiResult {
    let machines = match state.scope_account() {
        Some(account) => state.store.list_state_machines_in(account).await,
        None => state.store.list_state_machines().await,
    }
    .map_err(ApiError::store_unreadable)?;
    let (items, next) = page(machines, p, "sm")?;
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

async fn update_state_machine(state: &AppState, p: Params<'_>) -> ApiResult {
    let mut sm = get_sm(state, p.str("stateMachineArn")?).await?;
    let definition = p.opt_str("definition")?;
    let role = p.opt_str("roleArn")?;
    if definition.is_none() && role.is_none() && p.0.get("loggingConfiguration").is_none() && p.0.get("tracingConfiguration").is_none() {
        return Err(ApiError::new(
            "MissingRequiredParameter",
            "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
        ));
    }
    let (publish, version_description) = versions::version_description(p)?;
    let before = sm.clone();
    if let Some(d) = definition {
        parse_definition(d)?;
        if MachineType::Express.is(&sm.kind) {
            express::check_definition(d)?;
        }
        sm.definition = d.into();
    }
    if let Some(r) = role {
        sm.role_arn = r.into();
    }
    if let Some(d) = p.opt_str("description")? {
        sm.description = d.into();
    }
    // A new revision only when what executions run changes (so publishing twice is idempotent).
    let changed = sm.definition != before.definition || sm.role_arn != before.role_arn;
    if changed {
        sm.revision_id = stepbox_asl::uuid_v4();
    }
    let now = Utc::now();
    if !state.store.update_state_machine(sm.clone()).await.map_err(ApiError::store_failure)? {
        return Err(ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{}'", sm.arn)));
    }
    let mut out = json!({"updateDate": epoch(now)});
    if !sm.revision_id.is_empty() {
        out["revisionId"] = json!(sm.revision_id);
    }
    if publish {
        out["stateMachineVersionArn"] = json!(versions::publish(state, &sm, version_description).await?.arn);
    }
    Ok(out)
}

async fn delete_state_machine(state: &AppState, p: Params<'_>) -> ApiResult {
    let arn = p.str("stateMachineArn")?;
    check_arn(arn, "stateMachine")?;
    // Running executions keep their parsed definition and finish normally.
    state.store.delete_state_machine(arn).await.map_err(ApiError::store_failure)?;
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
        .map(|d| d.to_json())
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

/// StartExecution with request members `m` (nested executions use it).
pub(crate) async fn start_execution_request(state: &AppState, m: &Map<String, Value>) -> ApiResult {
    start_execution(state, Params(m)).await
}

fn execution_name(p: Params<'_>) -> Result<String, ApiError> {
    let name = match p.opt_str("name")? {
        Some(n) => n.to_string(),
        None => stepbox_asl::uuid_v4(),
    };
    check_name(&name, 80)?;
    Ok(name)
}

/// How a StartExecution goes on once its request is checked.
enum Start {
    /// Answered at once (Express).
    Answered(ApiResult),
    /// A durable Standard execution, answered once its record is durable
    /// (counted open as `Admitted` says).
    Recording(stepbox_store::Commit<Result<(), ExecutionRecord>>, StartAnswer, Admitted),
}

/// StartExecution's answer for a new Standard execution.
struct StartAnswer {
    arn: String,
    input_text: String,
    started: Value,
}

impl StartAnswer {
    /// Idempotent while running with the same input (AWS: "same name and input").
    fn taken(self, existing: ExecutionRecord) -> ApiResult {
        if existing.is_running() && existing.input == self.input_text {
            return Ok(json!({"executionArn": existing.arn, "startDate": epoch(existing.start_date)}));
        }
        Err(ApiError::new("ExecutionAlreadyExists", format!("Execution Already Exists: '{}'", self.arn)))
    }

    fn of(self, recorded: Result<Result<(), ExecutionRecord>, stepbox_store::StoreError>) -> ApiResult {
        match recorded {
            Ok(Ok(())) => Ok(self.started),
            Ok(Err(existing)) => self.taken(existing),
            Err(e) => Err(ApiError::store_failure(e)),
        }
    }
}

/// StartExecution: a Standard execution is answered once its record is durable.
async fn start_execution(state: &AppState, p: Params<'_>) -> ApiResult {
    match begin_start(state, p).await? {
        Start::Answered(result) => result,
        Start::Recording(recording, answer, admitted) => {
            let recorded = recording.await;
            if matches!(recorded, Ok(Ok(()))) {
                state.accounts.metrics.started(&answer.arn, "STANDARD");
            } else if admitted == Admitted::New {
                state.accounts.open_executions.close(&answer.arn);
            }
            answer.of(recorded)
        }
    }
}

async fn begin_start(state: &AppState, p: Params<'_>) -> Result<Start, ApiError> {
    let (sm_arn, case) = test_case::split(p.str("stateMachineArn")?);
    let target = versions::resolve(state, sm_arn).await?;
    let name = execution_name(p)?;
    let (input_text, input) = read_input(p)?;
    let definition = state.definitions.get(&target.definition)?;
    let sm = &target.machine;
    let mocks = test_case::mocks(state, &sm.name, case, &definition)?;
    if MachineType::Express.is(&sm.kind) {
        return Ok(Start::Answered(express::start(state, &target, name, input, definition, mocks)));
    }
    let arn = ExecutionArn::new(&state.config.identity, &sm.name, &name).to_string();
    let admitted = admit_open(state, &arn)?;
    let mut record = ExecutionRecord {
        revision_id: target.revision_id.clone(),
        state_machine_version_arn: target.version_arn.clone(),
        state_machine_alias_arn: target.alias_arn.clone(),
        ..ExecutionRecord::started(arn.clone(), name.clone(), sm.arn.clone(), input_text.clone(), target.definition.clone())
    };
    test_case::remember(&mut record.extra, case);
    let answer = StartAnswer {
        arn: arn.clone(),
        input_text,
        started: json!({"executionArn": arn, "startDate": epoch(record.start_date)}),
    };
    let options = ExecutionOptions { mocks, ..target.execution_options(name, &arn) };
    let recording = crate::durable::start(state, &state.durability, definition, input, options, record);
    Ok(Start::Recording(recording, answer, admitted))
}

/// AWS's ExecutionLimitExceeded message.
const EXECUTION_LIMIT: &str = "The maximum number of running executions has been reached. Running executions must \
                               end or be stopped before a new execution can be started.";

/// Counts Standard execution `arn` open, or ExecutionLimitExceeded when its
/// tenant has `open_executions` open already.
pub(crate) fn admit_open(state: &AppState, arn: &str) -> Result<Admitted, ApiError> {
    let limit = state.tenant().map(|t| t.quotas.open_executions);
    match state.accounts.open_executions.admit(arn, limit) {
        Admitted::Refused => {
            state.accounts.metrics.throttled(&state.config.identity.account, "open_executions");
            Err(ApiError::new("ExecutionLimitExceeded", EXECUTION_LIMIT))
        }
        admitted => Ok(admitted),
    }
}

async fn start_sync_execution(state: &AppState, p: Params<'_>) -> ApiResult {
    let (sm_arn, case) = test_case::split(p.str("stateMachineArn")?);
    let target = versions::resolve(state, sm_arn).await?;
    if !MachineType::Express.is(&target.machine.kind) {
        return Err(ApiError::new(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        ));
    }
    let name = execution_name(p)?;
    let (input_text, input) = read_input(p)?;
    let definition = state.definitions.get(&target.definition)?;
    let sm = &target.machine;
    let mocks = test_case::mocks(state, &sm.name, case, &definition)?;
    let arn = express::execution_arn(state, &sm.name, &name);
    let transitions = Some(state.accounts.metrics.transitions(&state.config.identity.account));
    let options = ExecutionOptions { mocks, transitions, ..target.execution_options(name.clone(), &arn) };
    let started = std::time::Instant::now();
    state.accounts.metrics.started(&arn, "EXPRESS");
    let outcome = state.engine.start(definition, input, options, Arc::new(stepbox_engine::NullSink)).await;
    state.accounts.metrics.closed(&arn, outcome.status.as_str());
    let mut out = json!({
        "executionArn": arn,
        "stateMachineArn": sm.arn,
        "name": name,
        "startDate": epoch(outcome.start_date),
        "stopDate": epoch(outcome.stop_date),
        "status": if outcome.status == ExecutionStatus::Aborted { ExecutionStatus::Failed } else { outcome.status }.as_str(),
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

async fn describe_execution(state: &AppState, p: Params<'_>) -> ApiResult {
    let e = get_exec(state, p.str("executionArn")?).await?;
    let mut out = json!({
        "executionArn": e.arn,
        "stateMachineArn": e.state_machine_arn,
        "name": e.name,
        "status": e.status,
        "startDate": epoch(e.start_date),
        "input": e.input,
        "inputDetails": {"included": true},
    });
    redrive::put_redrive(&mut out, &e);
    if let Some(run) = map_runs::map_run_of(&e) {
        out["mapRunArn"] = json!(run);
    }
    if let Some(d) = e.stop_date {
        out["stopDate"] = epoch(d);
    }
    put_qualifiers(&mut out, &e);
    put_result(&mut out, e.output.as_deref(), e.error.as_deref(), e.cause.as_deref());
    Ok(out)
}

async fn stop_execution(state: &AppState, p: Params<'_>) -> ApiResult {
    let arn = p.str("executionArn")?;
    let error = p.opt_str("error")?;
    let cause = p.opt_str("cause")?;
    // Running on another host (a database several hosts share): stopped there.
    let request = crate::routing::stop_request(arn, error, cause);
    if let Some(answer) = state.store.route(arn, &request).await.map_err(ApiError::store_unreadable)? {
        return crate::routing::answer_of(&answer);
    }
    stop_here(state, arn, error, cause).await
}

/// StopExecution of an execution this host runs (or that runs nowhere).
pub(crate) async fn stop_here(state: &AppState, arn: &str, error: Option<&str>, cause: Option<&str>) -> ApiResult {
    let e = get_exec(state, arn).await?;
    let (error, cause) = (error.map(str::to_string), cause.map(str::to_string));
    let now = Utc::now();
    let (stop_error, stop_cause) = (error.clone(), cause.clone());
    let stopped = state
        .store
        .update_execution(
            &e.arn,
            Box::new(move |r| {
                if r.is_running() {
                    r.status = ExecutionStatus::Aborted.as_str().into();
                    r.error = stop_error;
                    r.cause = stop_cause;
                    r.stop_date = Some(now);
                }
            }),
        )
        .await
        .map_err(ApiError::store_failure)?;
    if stopped.as_ref().is_some_and(|r| !r.is_running()) {
        crate::durable::closed(state, &e.arn, ExecutionStatus::Aborted.as_str());
    }
    let stop_date = stopped.as_ref().and_then(|r| r.stop_date).or(e.stop_date).unwrap_or(now);
    let stop = StopRequest { error, cause };
    if !state.running.abort(&e.arn, stop.clone()) && e.is_running() {
        crate::durable::abort_suspended(&state.durability, &e.arn, &stop).await.map_err(ApiError::store_failure)?;
    }
    Ok(json!({"stopDate": epoch(stop_date)}))
}

/// `stateMachineVersionArn` and `stateMachineAliasArn` of an execution started through them.
fn put_qualifiers(out: &mut Value, e: &ExecutionRecord) {
    if let Some(v) = &e.state_machine_version_arn {
        out["stateMachineVersionArn"] = json!(v);
    }
    if let Some(a) = &e.state_machine_alias_arn {
        out["stateMachineAliasArn"] = json!(a);
    }
}

/// Executions of a state machine, or of one version or alias of it.
async fn list_executions(state: &AppState, p: Params<'_>) -> ApiResult {
    let (listed, qualifier, map_run) = match (p.opt_str("stateMachineArn")?, p.opt_str("mapRunArn")?) {
        (Some(arn), None) => {
            let (base, qualifier) = versions::split_qualifier(arn)?;
            let sm = get_sm(state, base).await?;
            if MachineType::Express.is(&sm.kind) {
                return Err(ApiError::new(
                    "StateMachineTypeNotSupported",
                    "This operation is not supported by this type of state machine",
                ));
            }
            (sm.arn, qualifier.map(|q| (q, arn)), None)
        }
        (None, Some(run)) => (map_runs::listed_machine(state, run).await?, None, Some(run)),
        _ => return Err(ApiError::validation("Must specify exactly one of stateMachineArn or mapRunArn")),
    };
    let through = |e: &ExecutionRecord| match qualifier {
        None => true,
        Some((_, arn)) => e.state_machine_version_arn.as_deref() == Some(arn) || e.state_machine_alias_arn.as_deref() == Some(arn),
    };
    let of_run = |e: &ExecutionRecord| map_run.is_none_or(|r| map_runs::map_run_of(e) == Some(r));
    let filter = p.opt_str("statusFilter")?;
    let redriven = p.opt_str("redriveFilter")?;
    if let Some(f) = filter
        && f.parse::<ExecutionStatus>().is_err()
    {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{f}' at 'statusFilter' failed to satisfy constraint: \
             Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]"
        )));
    }
    // A cursor, not an offset: executions started between two pages (listed
    // newest first) would shift an offset.
    let what = format!(
        "exec{}{}{}{}",
        filter.unwrap_or(""),
        qualifier.map_or("", |(q, _)| q.as_str()),
        redriven.unwrap_or(""),
        map_run.map_or("", |r| r.rsplit(':').next().unwrap_or(""))
    );
    let before = token_number(p, &what)?;
    let (items, next) = state
        .store
        .list_executions_page(&listed, before, p.max_results()?, &mut |e| {
            filter.is_none_or(|f| e.status == f) && through(e) && of_run(e) && redrive::redrive_filter(redriven, e)
        })
        .await
        .map_err(ApiError::store_unreadable)?;
    let next = next.map(|cursor| page_token(&what, cursor));
    let list: Vec<Value> = items
        .iter()
        .map(|e| {
            let mut v = json!({
                "executionArn": e.arn,
                "stateMachineArn": e.state_machine_arn,
                "name": e.name,
                "status": e.status,
                "startDate": epoch(e.start_date),
                "redriveCount": redrive::redrive_count(e),
            });
            if let Some(d) = e.extra.get("redriveDate").and_then(Value::as_str).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) {
                v["redriveDate"] = epoch(d.with_timezone(&Utc));
            }
            if let Some(d) = e.stop_date {
                v["stopDate"] = epoch(d);
            }
            put_qualifiers(&mut v, e);
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
                    for k in ["input", "output", "inputDetails", "outputDetails", "assignedVariables", "assignedVariablesDetails"] {
                        d.remove(k);
                    }
                }
            }
        }
    }
    v
}

async fn get_execution_history(state: &AppState, p: Params<'_>) -> ApiResult {
    let e = get_exec(state, p.str("executionArn")?).await?;
    let include = p.opt_bool("includeExecutionData")?.unwrap_or(true);
    let reverse = p.opt_bool("reverseOrder")?.unwrap_or(false);
    let mut events = state.store.history(&e.arn).await.map_err(ApiError::store_unreadable)?;
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

#[cfg(test)]
mod page_tests {
    use super::*;

    fn page_of(items: Vec<u32>, token: Option<&str>) -> Result<(Vec<u32>, Option<String>), ApiError> {
        let mut params = Map::new();
        params.insert("maxResults".into(), json!(2));
        if let Some(t) = token {
            params.insert("nextToken".into(), json!(t));
        }
        page(items, Params(&params), "exec")
    }

    #[test]
    fn a_list_that_shrank_below_the_token_gives_an_empty_last_page() {
        let (first, next) = page_of(vec![1, 2, 3, 4, 5], None).unwrap();
        assert_eq!(first, [1, 2]);
        let next = next.expect("more pages");
        // Three of the five finished before the next page was asked for.
        let (rest, after) = page_of(vec![4, 5], Some(&next)).unwrap();
        assert_eq!(rest, Vec::<u32>::new());
        assert_eq!(after, None);
        assert!(page_of(vec![1], Some("garbage")).is_err(), "a foreign token stays InvalidToken");
    }
}
