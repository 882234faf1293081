//! On a database several hosts share, requests for an execution another
//! host runs (a task token's answer, StopExecution) go to that host through
//! the database (`Stores::route`); each host applies the ones sent to it
//! and answers. Activity workers' answers are task tokens too.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use stepbox_engine::{CallbackError, Signal, TaskToken};
use stepbox_store::StoreError;

use crate::AppState;
use crate::durable::Durability;
use crate::sfn::ApiError;

/// How often a heartbeat for a task resuming here tries again.
const POLL: Duration = Duration::from_millis(50);
/// How long an owner waits for a resumed run to ask for a token again
/// before it answers a heartbeat TaskDoesNotExist (an execution just taken
/// over is still resuming).
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

/// Applies the requests other hosts send this one, until the server stops:
/// woken by their notifications (LISTEN/NOTIFY), and looking anyway at the
/// store's slow fallback. A request for an execution this host no longer
/// owns is left unanswered: its sender sends it to the new owner.
pub(crate) async fn serve_requests(state: AppState, durability: Arc<Durability>) {
    let Some(wake) = durability.store.wakeups() else { return };
    let busy: Arc<Mutex<HashSet<i64>>> = Arc::default();
    loop {
        tokio::select! {
            _ = wake.requests_sent() => {}
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
                if let Some(answer) = apply(&state, &request).await.map(answer_from)
                    && let Err(e) = durability.store.answer_request(id, &answer).await
                {
                    tracing::warn!(error = %e, "cannot answer a request of another host");
                }
                busy.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            });
        }
    }
}

/// A request's answer (None: the execution is not this host's).
async fn apply(state: &AppState, request: &str) -> Option<Result<Value, ApiError>> {
    let v: Value = match serde_json::from_str(request) {
        Ok(v) => v,
        Err(e) => return Some(Err(ApiError::internal(format!("an unreadable request: {e}")))),
    };
    if let Some(arn) = v.get("stop").and_then(Value::as_str) {
        if !state.store.holds(arn) {
            return None;
        }
        let text = |k: &str| v.get(k).and_then(Value::as_str);
        return Some(crate::sfn::stop_here(state, arn, text("error"), text("cause")).await);
    }
    let token = v.get("token").and_then(Value::as_str).unwrap_or_default();
    let Some(signal) = v.get("signal").and_then(signal_of) else {
        return Some(Err(ApiError::internal("an unreadable request".into())));
    };
    let (arn, _) = TaskToken::parse(token)?;
    if !state.store.holds(&arn) {
        return None;
    }
    signal_owned(state, token, &arn, signal).await
}

/// How long a signal follows its execution from host to host before giving up.
const FOLLOW: Duration = Duration::from_secs(30);

/// SendTaskSuccess/Failure/Heartbeat of a token of execution `arn`, on a
/// database several hosts share: applied by the host that owns the
/// execution (this one, or another through the database), following it as
/// it moves. None: the execution runs nowhere (closed, or its token is not
/// of a running one): the caller answers as one host does.
pub(crate) async fn signal_shared(state: &AppState, token: &str, arn: &str, signal: Signal) -> Option<Result<Value, ApiError>> {
    let request = signal_request(token, &signal);
    let deadline = tokio::time::Instant::now() + FOLLOW;
    while tokio::time::Instant::now() < deadline {
        if !state.store.holds(arn) {
            match state.store.route(arn, &request).await {
                Ok(Some(answer)) => return Some(answer_of(&answer)),
                Ok(None) if state.store.holds(arn) => {}
                // Running, yet neither another host's nor held here: this
                // host is taking it over (its lease is this host's already).
                Ok(None) => match state.store.get_execution(arn).await {
                    Ok(Some(e)) if e.is_running() => {
                        tokio::time::sleep(POLL).await;
                        continue;
                    }
                    Ok(_) => return None,
                    Err(e) => return Some(Err(ApiError::store_unreadable(e))),
                },
                Err(e) => return Some(Err(ApiError::store_unreadable(e))),
            }
        }
        if let Some(answered) = signal_owned(state, token, arn, signal.clone()).await {
            return Some(answered);
        }
    }
    Some(Err(ApiError::internal(format!("execution {arn} kept moving between hosts while its task was answered"))))
}

/// A signal for an execution this host owns. A task's answer (success or
/// failure) is recorded in the database under the lease first, so once it is
/// acknowledged no host's death loses it; then handed to the task, or kept
/// for it while it resumes (see [`crate::answers`]). None: this host lost
/// the lease meanwhile.
async fn signal_owned(state: &AppState, token: &str, arn: &str, signal: Signal) -> Option<Result<Value, ApiError>> {
    if !matches!(signal, Signal::Succeeded(_) | Signal::Failed { .. }) {
        return Some(signal_here(state, token, signal).await);
    }
    match state.store.record_answer(arn, token, &signal_request(token, &signal)).await {
        Ok(()) => {}
        Err(StoreError::NotOwner(_)) => return None,
        Err(e) => return Some(Err(ApiError::store_failure(e))),
    }
    let answers = &state.durability.answers;
    let api_error = |e: CallbackError| ApiError::new(e.api_name(), e.to_string());
    let delivered = match answers.deliver_or_keep(&state.callbacks, token, signal.clone(), false) {
        // No task here waits on it: kept only for the task the execution's
        // resumed run waits on again, else answered as AWS answers.
        Err(e @ (CallbackError::TaskDoesNotExist | CallbackError::TaskTimedOut)) => {
            match awaited_on_resume_of(state, arn, token).await {
                Ok(true) => answers.deliver_or_keep(&state.callbacks, token, signal, true).map_err(api_error),
                Ok(false) => Err(api_error(e)),
                Err(e) => Err(ApiError::store_unreadable(e)),
            }
        }
        other => other.map_err(api_error),
    };
    match delivered {
        Ok(()) => Some(Ok(json!({}))),
        Err(e) => {
            if let Err(forget) = state.store.forget_answer(token).await {
                tracing::warn!(error = %forget, "cannot delete a refused task token answer");
            }
            Some(Err(e))
        }
    }
}

/// Whether execution `arn`'s last checkpoint has its task waiting on
/// `token`: a run resumed from it (after a takeover, or one about to start)
/// waits on that token again. A token of no checkpoint was never handed out
/// by a task a resumed run waits on (AWS: TaskDoesNotExist).
async fn awaited_on_resume_of(state: &AppState, arn: &str, token: &str) -> Result<bool, StoreError> {
    let checkpoint = state.store.checkpoint(arn).await?;
    Ok(checkpoint.is_some_and(|c| c.progress.token.as_deref() == Some(token)))
}

/// On a durable store one host writes: whether `token` is the one its
/// running execution's last checkpoint waits on (its resumed run waits on
/// it again).
pub(crate) async fn awaited_on_resume(state: &AppState, token: &str) -> Result<bool, ApiError> {
    if !state.store.persistent() || state.store.shared() {
        return Ok(false);
    }
    let Some((arn, _)) = TaskToken::parse(token) else { return Ok(false) };
    match state.store.get_execution(&arn).await.map_err(ApiError::store_unreadable)? {
        Some(record) if record.is_running() => awaited_on_resume_of(state, &arn, token).await.map_err(ApiError::store_unreadable),
        _ => Ok(false),
    }
}

/// The answers recorded for execution `arn`, as (token, signal).
pub(crate) async fn recorded_answers(state: &AppState, arn: &str) -> Result<Vec<(String, Signal)>, stepbox_store::StoreError> {
    let recorded = state.store.answers(arn).await?;
    Ok(recorded
        .into_iter()
        .filter_map(|(token, request)| {
            let v: Value = serde_json::from_str(&request).ok()?;
            Some((token, v.get("signal").and_then(signal_of)?))
        })
        .collect())
}

/// A heartbeat for an execution this host owns: a run just resumed here may
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
