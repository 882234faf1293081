//! DescribeMapRun, ListMapRuns and UpdateMapRun over the server's map runs
//! ([`crate::map_runs`]), and the map run members of the execution
//! operations (ListExecutions `mapRunArn`, DescribeExecution's `mapRunArn`,
//! DescribeStateMachineForExecution of a child).

use serde_json::{Value, json};
use stepbox_engine::MapRunStatus;
use stepbox_store::{ExecutionRecord, MapRunRecord};

use super::{ApiError, ApiResult, Params, get_exec, page, states_arn_of};
use crate::map_runs::Entry;
use crate::{AppState, epoch};
use std::sync::Arc;

fn checked(arn: &str) -> Result<(), ApiError> {
    if !states_arn_of(arn, "mapRun", 2) {
        return Err(ApiError::new("InvalidArn", format!("Invalid Arn: 'Resource type not valid in this context: {arn}'")));
    }
    Ok(())
}

fn not_found(arn: &str) -> ApiError {
    ApiError::new("ResourceNotFound", format!("Resource not found: '{arn}'"))
}

/// The map run `arn` names, running or kept in this server's memory.
fn map_run(state: &AppState, arn: &str) -> Result<Arc<Entry>, ApiError> {
    checked(arn)?;
    state.map_runs.get(arn).ok_or_else(|| not_found(arn))
}

/// The map run `arn` names as it is now: in memory, else as the store kept it.
async fn recorded(state: &AppState, arn: &str) -> Result<MapRunRecord, ApiError> {
    checked(arn)?;
    if let Some(e) = state.map_runs.get(arn) {
        return Ok(e.record());
    }
    state.store.get_map_run(arn).await.map_err(ApiError::store_unreadable)?.ok_or_else(|| not_found(arn))
}

/// The map run a child execution belongs to.
pub(crate) fn map_run_of(e: &ExecutionRecord) -> Option<&str> {
    e.extra.get("mapRunArn").and_then(Value::as_str)
}

pub(crate) async fn describe_map_run(state: &AppState, p: Params<'_>) -> ApiResult {
    let run = recorded(state, p.str("mapRunArn")?).await?;
    let mut out = json!({
        "mapRunArn": run.arn,
        "executionArn": run.execution_arn,
        "status": run.status,
        "startDate": epoch(run.start_date),
        "redriveCount": run.redrive_count,
    });
    if let (Some(o), Some(d)) = (out.as_object_mut(), run.described.as_object()) {
        o.extend(d.clone());
    }
    if let Some(d) = run.redrive_date {
        out["redriveDate"] = epoch(d);
    }
    if let Some(d) = run.stop_date {
        out["stopDate"] = epoch(d);
    }
    Ok(out)
}

pub(crate) async fn list_map_runs(state: &AppState, p: Params<'_>) -> ApiResult {
    let e = get_exec(state, p.str("executionArn")?).await?;
    let mut runs: Vec<MapRunRecord> = state.map_runs.of_execution(&e.arn).iter().map(|r| r.record()).collect();
    for stored in state.store.map_runs_of(&e.arn).await.map_err(ApiError::store_unreadable)? {
        if !runs.iter().any(|r| r.arn == stored.arn) {
            runs.push(stored);
        }
    }
    runs.sort_by_key(|r| r.start_date);
    let (items, next) = page(runs, p, "maprun")?;
    let list: Vec<Value> = items
        .iter()
        .map(|r| {
            let mut v = json!({
                "executionArn": r.execution_arn,
                "mapRunArn": r.arn,
                "stateMachineArn": r.state_machine_arn,
                "startDate": epoch(r.start_date),
            });
            if let Some(d) = r.stop_date {
                v["stopDate"] = epoch(d);
            }
            v
        })
        .collect();
    let mut out = json!({"mapRuns": list});
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}

fn invalid(member: &str, value: impl std::fmt::Display, constraint: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    ))
}

pub(crate) async fn update_map_run(state: &AppState, p: Params<'_>) -> ApiResult {
    let arn = p.str("mapRunArn")?;
    let run = match map_run(state, arn) {
        Ok(run) => run,
        // Kept in the store only: it ended before the restart.
        Err(e) => match recorded(state, arn).await {
            Ok(r) if r.status != MapRunStatus::Running.as_str() => {
                return Err(ApiError::validation("Cannot update a completed map run"));
            }
            _ => return Err(e),
        },
    };
    let number = |k: &str| p.0.get(k).and_then(Value::as_f64);
    let max = number("maxConcurrency");
    let count = number("toleratedFailureCount");
    let pct = number("toleratedFailurePercentage");
    if let Some(m) = max.filter(|m| *m < 0.0) {
        return Err(invalid("maxConcurrency", m, "Member must have value greater than or equal to 0"));
    }
    if let Some(c) = count.filter(|c| *c < 0.0) {
        return Err(invalid("toleratedFailureCount", c, "Member must have value greater than or equal to 0"));
    }
    if let Some(x) = pct.filter(|x| !(0.0..=100.0).contains(x)) {
        return Err(invalid("toleratedFailurePercentage", x, "Member must have value between 0 and 100"));
    }
    if run.progress().status != MapRunStatus::Running {
        return Err(ApiError::validation("Cannot update a completed map run"));
    }
    run.limits.send_modify(|l| {
        if let Some(m) = max {
            l.max_concurrency = m as u32;
        }
        if count.is_some() {
            l.tolerated_failure_count = count;
        }
        if pct.is_some() {
            l.tolerated_failure_percentage = pct;
        }
    });
    run.persist();
    Ok(json!({}))
}

/// DescribeStateMachineForExecution of a map run's child: the map run's
/// state machine (the ItemProcessor) and the run.
pub(crate) fn child_state_machine(e: &ExecutionRecord, map_run_arn: &str) -> Value {
    let name = e.state_machine_arn.split_once(":stateMachine:").map_or("", |(_, n)| n);
    json!({
        "stateMachineArn": e.state_machine_arn,
        "name": name,
        "definition": e.definition,
        "roleArn": "",
        "updateDate": epoch(e.start_date),
        "mapRunArn": map_run_arn,
        "label": name.rsplit_once('/').map_or(name, |(_, l)| l),
        "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
        "tracingConfiguration": {"enabled": false},
    })
}

/// The state machine whose executions ListExecutions `mapRunArn` lists:
/// `arn:…:stateMachine:MACHINE/LABEL` of `arn:…:mapRun:MACHINE/LABEL:ID`.
pub(crate) async fn listed_machine(state: &AppState, map_run_arn: &str) -> Result<String, ApiError> {
    Ok(recorded(state, map_run_arn).await?.state_machine_arn)
}
