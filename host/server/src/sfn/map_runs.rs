//! DescribeMapRun, ListMapRuns and UpdateMapRun over the server's map runs
//! ([`crate::map_runs`]), and the map run members of the execution
//! operations (ListExecutions `mapRunArn`, DescribeExecution's `mapRunArn`,
//! DescribeStateMachineForExecution of a child).

use serde_json::{Value, json};
use stepbox_engine::MapRunStatus;
use stepbox_store::ExecutionRecord;

use super::{ApiError, ApiResult, Params, get_exec, page, states_arn_of};
use crate::map_runs::Entry;
use crate::{AppState, epoch};
use std::sync::Arc;

/// The map run `arn` names.
fn map_run(state: &AppState, arn: &str) -> Result<Arc<Entry>, ApiError> {
    if !states_arn_of(arn, "mapRun", 2) {
        return Err(ApiError::new("InvalidArn", format!("Invalid Arn: 'Resource type not valid in this context: {arn}'")));
    }
    state.map_runs.get(arn).ok_or_else(|| ApiError::new("ResourceNotFound", format!("Resource not found: '{arn}'")))
}

/// The map run a child execution belongs to.
pub(crate) fn map_run_of(e: &ExecutionRecord) -> Option<&str> {
    e.extra.get("mapRunArn").and_then(Value::as_str)
}

pub(crate) async fn describe_map_run(state: &AppState, p: Params<'_>) -> ApiResult {
    let run = map_run(state, p.str("mapRunArn")?)?;
    let limits = *run.limits.borrow();
    let progress = run.progress();
    let mut out = json!({
        "mapRunArn": run.arn,
        "executionArn": run.execution_arn,
        "status": progress.status.as_str(),
        "startDate": epoch(run.start_date),
        "maxConcurrency": limits.max_concurrency,
        "toleratedFailurePercentage": limits.tolerated_failure_percentage.unwrap_or(0.0),
        "toleratedFailureCount": limits.tolerated_failure_count.unwrap_or(0.0) as u64,
        "itemCounts": progress.items.to_json(),
        "executionCounts": progress.executions.to_json(),
        "redriveCount": run.redrive_count,
    });
    if let Some(d) = run.redrive_date {
        out["redriveDate"] = epoch(d);
    }
    if let Some(d) = progress.stop_date {
        out["stopDate"] = epoch(d);
    }
    Ok(out)
}

pub(crate) async fn list_map_runs(state: &AppState, p: Params<'_>) -> ApiResult {
    let e = get_exec(state, p.str("executionArn")?).await?;
    let runs = state.map_runs.of_execution(&e.arn);
    let (items, next) = page(runs, p, "maprun")?;
    let list: Vec<Value> = items
        .iter()
        .map(|r| {
            let mut v = json!({
                "executionArn": r.execution_arn,
                "mapRunArn": r.arn,
                "stateMachineArn": r.child_state_machine_arn,
                "startDate": epoch(r.start_date),
            });
            if let Some(d) = r.progress().stop_date {
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
    let run = map_run(state, p.str("mapRunArn")?)?;
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
pub(crate) fn listed_machine(state: &AppState, map_run_arn: &str) -> Result<String, ApiError> {
    Ok(map_run(state, map_run_arn)?.child_state_machine_arn.clone())
}
