//! On a database several hosts share, requests for an execution another
//! host runs (a task token's answer, StopExecution) go to that host through
//! the database (`Stores::route`); each host applies the ones sent to it
//! and answers. Activity workers' answers are task tokens too.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use stepbox_engine::{CallbackError, Signal, TaskToken};

use crate::AppState;
use crate::durable::Durability;
use crate::sfn::ApiError;

/// How often a host looks for requests sent to it.
const POLL: Duration = Duration::from_millis(50);
/// How long an owner waits for a resumed run to ask for a token again
/// (an execution just taken over is still resuming).
const TOKEN_GRACE: Duration = Duration::from_secs(5);

/// A signal as a request.
pub(crate) fn signal_request(token: &str, s: &Signal) -> String {
    let signal = match s {
        Signal::Heartbeat => json!({"heartbeat": true}),
        Signal::Started { worker_name } => json!({"started": worker_name}),
        Signal::Succeeded(output) => json!({"succeeded": output}),
        Signal::Failed { error, cause } => json!({"failed": {"error": error, "cause": cause}}),
    };
    json!({"token": token, "signal": signal}).to_string()
}

fn signal_of(v: &Value) -> Option<Signal> {
    let text = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    if v.get("heartbeat").is_some() {
        Some(Signal::Heartbeat)
    } else if let Some(w) = v.get("started") {
        Some(Signal::Started { worker_name: w.as_str().map(str::to_string) })
    } else if let Some(output) = v.get("succeeded") {
        Some(Signal::Succeeded(output.clone()))
    } else {
        v.get("failed").map(|f| Signal::Failed { error: text(f, "error"), cause: text(f, "cause") })
    }
}

/// A StopExecution as a request.
pub(crate) fn stop_request(arn: &str, error: Option<&str>, cause: Option<&str>) -> String {
    json!({"stop": arn, "error": error, "cause": cause}).to_string()
}

/// What a request's answer says: success (with the answer), or the API error.
pub(crate) fn answer_of(answer: &str) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_str(answer).map_err(|e| ApiError::internal(format!("an unreadable answer from another host: {e}")))?;
    let message = v.get("message").and_then(Value::as_str).unwrap_or_default().to_string();
    match v.get("error").and_then(Value::as_str) {
        Some(name) => match KINDS.iter().find(|k| **k == name) {
            Some(kind) => Err(ApiError::new(*kind, message)),
            None => Err(ApiError::internal(format!("{name}: {message}"))),
        },
        None => Ok(v.get("ok").cloned().unwrap_or(Value::Null)),
    }
}

/// The errors another host answers a request with (else InternalServerError).
const KINDS: [&str; 6] =
    ["TaskDoesNotExist", "TaskTimedOut", "InvalidToken", "InvalidOutput", "ExecutionDoesNotExist", "ValidationException"];

fn answer_from(r: Result<Value, ApiError>) -> String {
    match r {
        Ok(v) => json!({"ok": v}).to_string(),
        Err(e) => json!({"error": e.kind, "message": e.message}).to_string(),
    }
}

/// Applies the requests other hosts send this one, until the server stops.
pub(crate) async fn serve_requests(state: AppState, durability: Arc<Durability>) {
    let busy: Arc<Mutex<HashSet<i64>>> = Arc::default();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = durability.until_stopped() => return,
        }
        let requests = match durability.store.requests().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the requests sent to this host");
                continue;
            }
        };
        for (id, request) in requests {
            if !busy.lock().unwrap_or_else(|e| e.into_inner()).insert(id) {
                continue;
            }
            let (state, durability, busy) = (state.clone(), durability.clone(), busy.clone());
            tokio::spawn(async move {
                let answer = answer_from(apply(&state, &request).await);
                if let Err(e) = durability.store.answer_request(id, &answer).await {
                    tracing::warn!(error = %e, "cannot answer a request of another host");
                }
                busy.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            });
        }
    }
}

async fn apply(state: &AppState, request: &str) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_str(request).map_err(|e| ApiError::internal(format!("an unreadable request: {e}")))?;
    if let Some(arn) = v.get("stop").and_then(Value::as_str) {
        let text = |k: &str| v.get(k).and_then(Value::as_str);
        return crate::sfn::stop_here(state, arn, text("error"), text("cause")).await;
    }
    let token = v.get("token").and_then(Value::as_str).unwrap_or_default();
    let signal = v.get("signal").and_then(signal_of).ok_or_else(|| ApiError::internal("an unreadable request".into()))?;
    signal_here(state, token, signal).await
}

/// A signal for an execution this host owns: a run just resumed here may
/// not have asked for its token yet, so it is tried again for a while.
pub(crate) async fn signal_here(state: &AppState, token: &str, signal: Signal) -> Result<Value, ApiError> {
    let deadline = tokio::time::Instant::now() + TOKEN_GRACE;
    let owned = TaskToken::parse(token).is_some_and(|(arn, _)| state.store.holds(&arn));
    loop {
        match state.engine.services().callbacks.signal(token, signal.clone()) {
            Ok(()) => return Ok(json!({})),
            Err(CallbackError::TaskDoesNotExist) if owned && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(POLL).await;
            }
            Err(e) => return Err(ApiError::new(e.api_name(), e.to_string())),
        }
    }
}
