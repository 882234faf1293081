//! Express state machines as AWS runs them: StartExecution returns at once and
//! keeps no record (DescribeExecution, StopExecution and GetExecutionHistory
//! answer `InvalidArn` for `express` ARNs, ListExecutions
//! `StateMachineTypeNotSupported`), and definitions may not wait for callbacks,
//! `.sync` jobs or activities.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use stepbox_asl::StateMachine;
use stepbox_engine::{ExecutionOptions, Mocks};
use stepbox_types::{Arn, ExecutionArn};
use tokio::sync::watch;

use super::versions::Target;
use super::{ApiError, ApiResult};
use crate::{AppState, epoch};

/// `arn:aws:states:R:A:express:MACHINE:NAME:UUID` (the UUID keeps names reusable).
pub(crate) fn execution_arn(state: &AppState, machine: &str, name: &str) -> String {
    ExecutionArn::express(&state.config.identity, machine, name, &stepbox_asl::uuid_v4()).into()
}

/// Start an asynchronous Express execution: run it in the background, record nothing.
pub(crate) fn start(
    state: &AppState,
    target: &Target,
    name: String,
    input: Value,
    definition: Arc<StateMachine>,
    mocks: Option<Mocks>,
) -> ApiResult {
    let sm = &target.machine;
    let arn = execution_arn(state, &sm.name, &name);
    let start_date = Utc::now();
    let (tx, rx) = watch::channel(None);
    state.running.insert(&arn, tx);
    let transitions = Some(state.accounts.metrics.transitions(&state.config.identity.account));
    let options = ExecutionOptions { abort: Some(rx), mocks, transitions, ..target.execution_options(name, &arn) };
    state.accounts.metrics.started(&arn, "EXPRESS");
    let st = state.clone();
    let exec_arn = arn.clone();
    tokio::spawn(async move {
        let outcome = st.engine.start(definition, input, options, Arc::new(stepbox_engine::NullSink)).await;
        tracing::info!(
            execution = %exec_arn, status = outcome.status.as_str(),
            error = outcome.error.as_deref().unwrap_or(""), "express execution finished"
        );
        st.running.remove(&exec_arn);
        st.accounts.metrics.closed(&exec_arn, outcome.status.as_str());
    });
    Ok(json!({"executionArn": arn, "startDate": epoch(start_date)}))
}

/// Refuse what an Express state machine cannot run, with AWS's messages.
pub(crate) fn check_definition(definition: &str) -> Result<(), ApiError> {
    let Ok(root) = serde_json::from_str::<Value>(definition) else { return Ok(()) };
    match first_unsupported(&root, "") {
        Some(reason) => Err(ApiError::new(
            "InvalidDefinition",
            format!("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: {reason}'"),
        )),
        None => Ok(()),
    }
}

/// Walk `States` of a machine or branch (and nested Parallel/Map branches).
fn first_unsupported(machine: &Value, prefix: &str) -> Option<String> {
    let states = machine.get("States")?.as_object()?;
    for (name, st) in states {
        let here = format!("{prefix}/States/{name}");
        if let Some(resource) = st.get("Resource").and_then(Value::as_str)
            && st.get("Type").and_then(Value::as_str) == Some("Task")
        {
            let at = format!("{here}/Resource");
            if resource.ends_with(".waitForTaskToken") {
                // AWS's message has two spaces before "at".
                return Some(format!("Express state machine does not support '.waitForTaskToken' service integration  at {at}"));
            }
            if resource.ends_with(".sync") || resource.ends_with(".sync:2") {
                return Some(format!("Express state machine does not support '.sync' service integration at {at}"));
            }
            if Arn::parse(resource).is_ok_and(|a| a.resource_type() == "activity") {
                return Some(format!("Express state machine does not support Activity ARN at {at}"));
            }
        }
        if let Some(branches) = st.get("Branches").and_then(Value::as_array) {
            for (i, b) in branches.iter().enumerate() {
                if let Some(r) = first_unsupported(b, &format!("{here}/Branches/{i}")) {
                    return Some(r);
                }
            }
        }
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(inner) = st.get(key)
                && let Some(r) = first_unsupported(inner, &format!("{here}/{key}"))
            {
                return Some(r);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(resource: &str) -> String {
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": true}}}
        ]}}})
        .to_string()
    }

    #[test]
    fn callbacks_sync_jobs_and_activities_are_refused_where_they_are() {
        let err = check_definition(&machine("arn:aws:states:::sqs:sendMessage.waitForTaskToken")).unwrap_err();
        assert_eq!(err.kind, "InvalidDefinition");
        assert!(err.message.contains("'.waitForTaskToken' service integration  at /States/P/Branches/0/States/T/Resource"), "{}", err.message);
        let err = check_definition(&machine("arn:aws:states:::states:startExecution.sync:2")).unwrap_err();
        assert!(err.message.contains("'.sync' service integration at /States/P/Branches/0/States/T/Resource"), "{}", err.message);
        let err = check_definition(&machine("arn:aws:states:us-east-1:111111111111:activity:work")).unwrap_err();
        assert!(err.message.contains("Activity ARN at"), "{}", err.message);
        assert!(check_definition(&machine("arn:aws:lambda:us-east-1:111111111111:function:f")).is_ok());
        assert!(check_definition(&machine("arn:aws:states:::lambda:invoke")).is_ok());
    }
}
