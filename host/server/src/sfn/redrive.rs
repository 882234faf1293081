//! RedriveExecution: a FAILED, TIMED_OUT or ABORTED Standard execution runs
//! again from its last checkpoint (the state that failed, or the state after
//! the last Task that finished before it), with the same ARN, definition and
//! input; `redriveCount` and `redriveDate` are kept in the record's extra
//! members, so every store backend keeps them.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use stepbox_engine::{Details, EventType, HistoryEvent};
use stepbox_store::ExecutionRecord;
use stepbox_types::ExecutionStatus;

use super::{ApiError, ApiResult, Params, get_exec};
use crate::tenants::quota::Admitted;
use crate::{AppState, epoch};

/// How long after its stop an execution can be redriven (AWS: 14 days).
const REDRIVABLE_FOR_DAYS: i64 = 14;
/// How many times an execution can be redriven (AWS: 1,000).
const MAX_REDRIVES: u64 = 1000;

/// Times the execution was redriven.
pub(crate) fn redrive_count(e: &ExecutionRecord) -> u64 {
    e.extra.get("redriveCount").and_then(Value::as_u64).unwrap_or(0)
}

/// When it was last redriven.
fn redrive_date(e: &ExecutionRecord) -> Option<DateTime<Utc>> {
    let text = e.extra.get("redriveDate")?.as_str()?;
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// Why the execution cannot be redriven now, as DescribeExecution's
/// `redriveStatusReason` says it; none: it can.
fn not_redrivable(e: &ExecutionRecord, now: DateTime<Utc>) -> Option<String> {
    let closed = matches!(
        e.status.parse::<ExecutionStatus>(),
        Ok(ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted)
    );
    if !closed {
        return Some(format!("Execution is {} and cannot be redriven", e.status));
    }
    if e.stop_date.is_some_and(|d| now - d > Duration::days(REDRIVABLE_FOR_DAYS)) {
        return Some("Execution redrivable period exceeded".into());
    }
    if redrive_count(e) >= MAX_REDRIVES {
        return Some("Execution redrive limit exceeded".into());
    }
    None
}

/// DescribeExecution's redrive members.
pub(crate) fn put_redrive(out: &mut Value, e: &ExecutionRecord) {
    out["redriveCount"] = json!(redrive_count(e));
    if let Some(d) = redrive_date(e) {
        out["redriveDate"] = epoch(d);
    }
    match not_redrivable(e, Utc::now()) {
        None => out["redriveStatus"] = json!("REDRIVABLE"),
        Some(reason) => {
            out["redriveStatus"] = json!("NOT_REDRIVABLE");
            if !e.is_running() {
                out["redriveStatusReason"] = json!(reason);
            }
        }
    }
}

/// Whether ListExecutions' `redriveFilter` keeps the execution.
pub(crate) fn redrive_filter(filter: Option<&str>, e: &ExecutionRecord) -> bool {
    match filter {
        Some("REDRIVEN") => redrive_count(e) > 0,
        Some("NOT_REDRIVEN") => redrive_count(e) == 0,
        _ => true,
    }
}

pub(super) async fn redrive_execution(state: &AppState, p: Params<'_>) -> ApiResult {
    let e = get_exec(state, p.str("executionArn")?).await?;
    let now = redrive(state, &e).await?;
    Ok(json!({"redriveDate": epoch(now)}))
}

/// Redrives execution `e` (a map run's failed child too); returns the redrive date.
pub(crate) async fn redrive(state: &AppState, e: &ExecutionRecord) -> Result<DateTime<Utc>, ApiError> {
    let now = Utc::now();
    if let Some(reason) = not_redrivable(e, now) {
        return Err(ApiError::new("ExecutionNotRedrivable", reason));
    }
    let count = redrive_count(e) + 1;
    let admitted = super::admit_open(state, &e.arn)?;
    let reopened = reopen(state, e, count, now).await;
    if admitted == Admitted::New && !matches!(reopened, Ok(true)) {
        state.accounts.open_executions.close(&e.arn);
    }
    if !reopened? {
        return Err(ApiError::new("ExecutionNotRedrivable", "Execution is RUNNING and cannot be redriven"));
    }
    crate::durable::redrive(state, &state.durability, &e.arn, now).await.map_err(ApiError::store_failure)?;
    Ok(now)
}

/// Records the redrive of closed execution `e` (its `count`th) and makes it
/// RUNNING again; false when another redrive did so meanwhile.
async fn reopen(state: &AppState, e: &ExecutionRecord, count: u64, now: DateTime<Utc>) -> Result<bool, ApiError> {
    let store = &state.store;
    let last = store.last_event_id(&e.arn).await.map_err(ApiError::store_unreadable)?;
    let event = HistoryEvent {
        id: last + 1,
        previous_event_id: last,
        timestamp: now,
        event_type: EventType::ExecutionRedriven,
        details: Details::Json(json!({"redriveCount": count})),
    };
    store.append_event(&e.arn, &event).await.map_err(ApiError::store_failure)?;
    let status = e.status.clone();
    let reopened = store
        .update_execution(
            &e.arn,
            Box::new(move |r| {
                // Redriven meanwhile: leave it.
                if r.status != status || redrive_count(r) + 1 != count {
                    return;
                }
                r.status = ExecutionStatus::Running.as_str().into();
                r.stop_date = None;
                r.output = None;
                r.error = None;
                r.cause = None;
                r.extra.insert("redriveCount".into(), json!(count));
                r.extra.insert("redriveDate".into(), json!(now.to_rfc3339()));
            }),
        )
        .await
        .map_err(ApiError::store_failure)?;
    Ok(reopened.is_some_and(|r| r.is_running() && redrive_count(&r) == count))
}
