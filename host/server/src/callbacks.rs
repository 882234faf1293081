//! Task tokens and activities over the Step Functions API:
//! SendTaskSuccess/SendTaskFailure/SendTaskHeartbeat and
//! Create/Describe/Delete/ListActivities and GetActivityTask (a long poll).

use std::time::Duration;

use chrono::Utc;
use serde_json::{Map, Value, json};
use stepbox_engine::{CallbackError, Signal, TaskToken};
use stepbox_types::Arn;

use crate::sfn::{ApiError, check_name};
use crate::{AppState, epoch};

/// How long GetActivityTask waits for a task before answering empty (AWS: 60 s).
pub const ACTIVITY_POLL: Duration = Duration::from_secs(60);

/// The operations this module serves.
pub(crate) fn handles(op: &str) -> bool {
    matches!(
        op,
        "SendTaskSuccess"
            | "SendTaskFailure"
            | "SendTaskHeartbeat"
            | "CreateActivity"
            | "DescribeActivity"
            | "DeleteActivity"
            | "ListActivities"
            | "GetActivityTask"
    )
}

pub(crate) async fn handle(state: &AppState, op: &str, p: &Map<String, Value>) -> Result<Value, ApiError> {
    if op.contains("Activit") {
        adopt_stored_activities(state).await?;
    }
    match op {
        "SendTaskSuccess" => {
            let token = token(p)?;
            let output = required(p, "output")?;
            let value: Value = serde_json::from_str(output)
                .map_err(|e| ApiError::new("InvalidOutput", format!("Invalid Output: '{e}'")))?;
            signal(state, token, Signal::Succeeded(value)).await
        }
        "SendTaskFailure" => {
            let token = token(p)?;
            let error = optional(p, "error")?.map(str::to_string);
            let cause = optional(p, "cause")?.map(str::to_string);
            signal(state, token, Signal::Failed { error, cause }).await
        }
        "SendTaskHeartbeat" => signal(state, token(p)?, Signal::Heartbeat).await,
        "CreateActivity" => {
            let name = required(p, "name")?;
            check_name(name, 80)?;
            let arn = Arn::new("states", &state.config.identity, &format!("activity:{name}")).to_string();
            let r = state.activities.create(&arn, name, Utc::now());
            if state.store.persistent() {
                let record = stepbox_store::ActivityRecord {
                    arn: r.arn.clone(),
                    name: r.name.clone(),
                    creation_date: r.creation_date,
                    extra: Default::default(),
                };
                state.store.put_activity(&record).await.map_err(ApiError::store_failure)?;
            }
            Ok(json!({"activityArn": r.arn, "creationDate": epoch(r.creation_date)}))
        }
        "DescribeActivity" => {
            let arn = activity_arn(p)?;
            let r = state
                .activities
                .describe(arn)
                .ok_or_else(|| ApiError::new("ActivityDoesNotExist", format!("Activity Does Not Exist: '{arn}'")))?;
            Ok(json!({"activityArn": r.arn, "name": r.name, "creationDate": epoch(r.creation_date)}))
        }
        "DeleteActivity" => {
            let arn = activity_arn(p)?;
            state.activities.delete(arn);
            if state.store.persistent() {
                state.store.delete_activity(arn).await.map_err(ApiError::store_failure)?;
            }
            Ok(json!({}))
        }
        "ListActivities" => list_activities(state, p),
        "GetActivityTask" => {
            let arn = activity_arn(p)?;
            let worker = optional(p, "workerName")?.map(str::to_string);
            if state.activities.describe(arn).is_none() {
                return Err(ApiError::new("ActivityDoesNotExist", format!("Activity Does Not Exist: '{arn}'")));
            }
            if state.store.shared() {
                return crate::activity_tasks::get(state, arn, worker).await;
            }
            // A task whose state already ended (its token closed) is skipped.
            let deadline = tokio::time::Instant::now() + state.activity_poll;
            loop {
                let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
                let Some(task) = state.activities.poll(arn, wait).await else {
                    return Ok(json!({}));
                };
                let started = Signal::Started { worker_name: worker.clone() };
                if state.engine.services().callbacks.signal(&task.token, started).is_ok() {
                    return Ok(json!({"taskToken": task.token, "input": task.input}));
                }
            }
        }
        _ => Err(ApiError::new("UnknownOperationException", format!("unknown operation '{op}'"))),
    }
}

/// On a database several hosts share, the activities are the stored ones:
/// one another host created is adopted here (so workers poll it here, and
/// this host's executions schedule its tasks), one it deleted goes.
async fn adopt_stored_activities(state: &AppState) -> Result<(), ApiError> {
    if !state.store.shared() {
        return Ok(());
    }
    let stored = state.store.list_activities().await.map_err(ApiError::store_unreadable)?;
    for a in &stored {
        state.activities.create(&a.arn, &a.name, a.creation_date);
    }
    for a in state.activities.list() {
        if !stored.iter().any(|s| s.arn == a.arn) {
            state.activities.delete(&a.arn);
        }
    }
    Ok(())
}

pub(crate) async fn signal(state: &AppState, token: &str, s: Signal) -> Result<Value, ApiError> {
    // A database several hosts share: the host owning the execution answers.
    if state.store.shared()
        && let Some((arn, _)) = TaskToken::parse(token)
        && let Some(answered) = crate::routing::signal_shared(state, token, &arn, s.clone()).await
    {
        return answered.map(|_| json!({}));
    }
    let signalled = state.engine.services().callbacks.signal(token, s.clone());
    match signalled {
        Ok(()) => Ok(json!({})),
        // After a restart, before the resumed task waits on its token again:
        // kept for it (a durable store's running execution whose last
        // checkpoint waits on this token), as AWS accepts a valid token.
        Err(CallbackError::TaskDoesNotExist) if crate::routing::awaited_on_resume(state, token).await? => state
            .durability
            .answers
            .deliver_or_keep(&state.callbacks, token, s, true)
            .map(|()| json!({}))
            .map_err(|e| ApiError::new(e.api_name(), e.to_string())),
        Err(CallbackError::TaskDoesNotExist) if execution_closed(state, token).await? => {
            let e = CallbackError::TaskTimedOut;
            Err(ApiError::new(e.api_name(), e.to_string()))
        }
        Err(e) => Err(ApiError::new(e.api_name(), e.to_string())),
    }
}

/// Whether `token` is one of ours for an execution that has ended. The token
/// registry remembers ended tasks only for a while and not across a restart;
/// for those AWS answers TaskTimedOut, as for any task that is over. (A token
/// of an execution still RUNNING keeps TaskDoesNotExist: after a restart its
/// task may be about to wait again.)
async fn execution_closed(state: &AppState, token: &str) -> Result<bool, ApiError> {
    let Some((arn, _state)) = TaskToken::parse(token) else { return Ok(false) };
    let record = state.store.get_execution(&arn).await.map_err(ApiError::store_unreadable)?;
    Ok(record.is_some_and(|record| !record.is_running()))
}

fn optional<'a>(p: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ApiError> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::new("SerializationException", format!("member '{key}' must be a string"))),
    }
}

fn required<'a>(p: &'a Map<String, Value>, key: &str) -> Result<&'a str, ApiError> {
    optional(p, key)?.ok_or_else(|| {
        ApiError::new(
            "ValidationException",
            format!("1 validation error detected: Value null at '{key}' failed to satisfy constraint: Member must not be null"),
        )
    })
}

fn token<'a>(p: &'a Map<String, Value>) -> Result<&'a str, ApiError> {
    let t = required(p, "taskToken")?;
    if t.is_empty() || t.len() > 2048 {
        let e = CallbackError::InvalidToken("Invalid token".into());
        return Err(ApiError::new(e.api_name(), e.to_string()));
    }
    Ok(t)
}

fn activity_arn<'a>(p: &'a Map<String, Value>) -> Result<&'a str, ApiError> {
    let arn = required(p, "activityArn")?;
    if Arn::parse(arn).is_ok_and(|a| a.is_states("activity") && a.resource_fields().count() == 1) {
        Ok(arn)
    } else {
        Err(ApiError::new("InvalidArn", format!("Invalid Arn: 'Resource type not valid in this context: {arn}'")))
    }
}

fn list_activities(state: &AppState, p: &Map<String, Value>) -> Result<Value, ApiError> {
    let max = match p.get("maxResults") {
        None | Some(Value::Null) => 100,
        Some(v) => match v.as_u64() {
            Some(0) => 100,
            Some(n) if n <= 1000 => n as usize,
            _ => return Err(ApiError::new("ValidationException", "maxResults must be between 0 and 1000")),
        },
    };
    let mut all = state.activities.list();
    if let Some(account) = state.scope_account() {
        all.retain(|r| crate::tenants::scope::in_account(&r.arn, account));
    }
    // The next token is the index of the next page's first activity.
    let start = match optional(p, "nextToken")? {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|i| *i <= all.len())
            .ok_or_else(|| ApiError::new("InvalidToken", format!("Invalid Token: '{t}'")))?,
    };
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(max)
        .map(|r| json!({"activityArn": r.arn, "name": r.name, "creationDate": epoch(r.creation_date)}))
        .collect();
    let mut out = json!({"activities": page});
    if start + max < all.len() {
        out["nextToken"] = json!((start + max).to_string());
    }
    Ok(out)
}
