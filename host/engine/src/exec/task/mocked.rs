//! A mocked attempt: the test case's response replaces the call, and the
//! history records it as the integration would (LambdaFunction*, Task* or
//! Activity* events; a `.sync` or `.waitForTaskToken` Task its
//! TaskSubmitted, then answers at once).

use super::attempt::Attempt;
use super::integration::Kind;
use super::plan::Plan;
use crate::exec::failure::Failure;
use crate::exec::running::Frame;
use crate::exec::step::Step;
use crate::history::EventType;
use crate::mock::MockedResponse;
use serde_json::json;
use stepbox_asl::resource::Pattern;
use stepbox_asl::{RuntimeError, compact};

/// The attempt's end from the mock's answer; a state mocked without a
/// response for this attempt fails at once with `States.Runtime`.
pub(super) fn answer(
    s: &Step<'_>,
    plan: &Plan<'_>,
    frame: &mut Frame,
    response: Result<MockedResponse, String>,
) -> Result<Attempt, Failure> {
    let response = response.map_err(|why| s.rt(RuntimeError::runtime(why)))?;
    if plan.kind == Kind::Activity {
        activity_events(s, plan, frame);
    }
    Ok(match response {
        MockedResponse::Return(v) => {
            if submits(plan.kind) {
                let r = &plan.resource;
                s.ex.emit(frame, EventType::TaskSubmitted, || {
                    Some(json!({"resourceType": r.service, "resource": r.action, "output": compact(&v), "outputDetails": {"truncated": false}}))
                });
            }
            Ok(v)
        }
        MockedResponse::Throw { error, cause } => Err((Failure::new(error, cause), false)),
    })
}

/// Integration patterns that record TaskSubmitted before their answer.
fn submits(kind: Kind) -> bool {
    matches!(kind, Kind::WaitForTaskToken | Kind::StartExecution(Pattern::Sync | Pattern::Sync2 | Pattern::WaitForTaskToken))
}

/// ActivityScheduled and ActivityStarted, as when a worker takes the task at once.
fn activity_events(s: &Step<'_>, plan: &Plan<'_>, frame: &mut Frame) {
    let (timeout_s, heartbeat_s) = (plan.limits.timeout_s, plan.limits.heartbeat_s);
    s.ex.emit(frame, EventType::ActivityScheduled, || {
        let mut d = json!({"resource": plan.resource.arn, "input": compact(&plan.payload), "inputDetails": {"truncated": false}});
        if let Some(t) = timeout_s {
            d["timeoutInSeconds"] = json!(t);
        }
        if let Some(h) = heartbeat_s {
            d["heartbeatInSeconds"] = json!(h);
        }
        Some(d)
    });
    s.ex.emit(frame, EventType::ActivityStarted, || Some(json!({})));
}
