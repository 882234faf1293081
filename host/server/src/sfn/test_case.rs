//! Step Functions Local's test cases: StartExecution or StartSyncExecution
//! on `…:stateMachine:NAME#CASE` runs the execution with test case CASE of
//! NAME in the server's mock configuration (`serve --mock-config`). The
//! execution's ARN and its `stateMachineArn` leave the `#CASE` out, as in
//! Step Functions Local; a durable execution keeps the case's name in its
//! record, so a restart resumes it with the same mocks.

use serde_json::{Map, Value, json};
use stepbox_asl::StateMachine;
use stepbox_engine::Mocks;

use super::ApiError;
use crate::AppState;

/// The record member that keeps an execution's test case.
const RECORD_MEMBER: &str = "mockTestCase";

/// `ARN#CASE` as the ARN and the case, if any.
pub(crate) fn split(arn: &str) -> (&str, Option<&str>) {
    match arn.split_once('#') {
        Some((arn, case)) => (arn, Some(case)),
        None => (arn, None),
    }
}

/// The mocks of test case `case` of state machine `machine` (definition `sm`).
pub(crate) fn mocks(state: &AppState, machine: &str, case: Option<&str>, sm: &StateMachine) -> Result<Option<Mocks>, ApiError> {
    let Some(case) = case else { return Ok(None) };
    let Some(config) = &state.config.mock_config else {
        return Err(ApiError::validation(format!(
            "The state machine ARN names test case '{case}', but the server has no mock configuration \
             (start it with --mock-config FILE or SFN_MOCK_CONFIG=FILE)"
        )));
    };
    match config.test_case(machine, case, sm) {
        Ok(tc) => Ok(Some(tc.mocks())),
        Err(e) => Err(ApiError::validation(e.to_string())),
    }
}

/// Notes the test case in an execution record's extra members.
pub(crate) fn remember(extra: &mut Map<String, Value>, case: Option<&str>) {
    if let Some(c) = case {
        extra.insert(RECORD_MEMBER.into(), json!(c));
    }
}

/// The test case a recorded execution ran with.
pub(crate) fn recorded(extra: &Map<String, Value>) -> Option<&str> {
    extra.get(RECORD_MEMBER).and_then(Value::as_str)
}
