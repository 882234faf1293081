//! The Task state: what its resource asks for ([`plan`]), its attempts,
//! each under TimeoutSeconds and HeartbeatSeconds, with their retries and
//! a durable run's checkpoints ([`attempt`]), and the service integrations
//! an attempt runs through ([`integration`]).

mod attempt;
pub(super) mod integration;
mod lambda;
mod mocked;
mod plan;
mod timeouts;

use super::running::Exec;
use super::running::Frame;
use super::io::{finish_state, state_input};
use super::step::{StateResult, Step};
use super::variables::Variables;
use crate::durable::{Checkpoint, StateProgress};
use attempt::Attempts;
use plan::Plan;
use serde_json::Value;
use std::sync::Arc;
use stepbox_asl::{NumSpec, Resource};

/// The fields of a Task state its run reads.
pub(super) struct TaskSpec<'a> {
    pub(super) resource: &'a Arc<Resource>,
    pub(super) timeout: &'a Option<NumSpec>,
    pub(super) heartbeat: &'a Option<NumSpec>,
}

pub(super) async fn run_task(
    s: &Step<'_>,
    spec: TaskSpec<'_>,
    input: Value,
    frame: &mut Frame,
    vars: &mut Variables,
) -> StateResult {
    let st = s.st;
    let rt = |e| s.rt(e);
    let mut ctx_slot = Value::Null;
    let ctx = s.ctx(0, &mut ctx_slot);
    let eff = state_input(st, &input, ctx, vars).map_err(rt)?;
    let limits = timeouts::resolve(s, &spec, &input, ctx, vars)?;
    let plan = Plan::new(spec.resource, eff, limits);
    let mut attempts = Attempts::new(s, &plan, &input, vars);
    loop {
        match attempts.run(frame).await? {
            Ok(v) => {
                plan.record_succeeded(s.ex, frame, &v);
                let ctx = s.ctx(attempts.retry_count(), &mut ctx_slot);
                let res = st.select_result(v, ctx, Some(vars.values())).map_err(rt)?;
                let out = finish_state(st, input, res, ctx, vars).map_err(rt)?;
                return Ok((out, st.next));
            }
            Err((f, timed_out)) => {
                plan.record_failed(s.ex, frame, &f, timed_out);
                attempts.retry(f).await?;
            }
        }
    }
}

/// Where a Task of a durable run checkpoints its progress (a retry's
/// back-off, a task handed out, a sign of life); nowhere in other runs.
pub(super) struct ProgressLog<'a> {
    ex: &'a Exec,
    /// The state's checkpoint, which each save updates with the progress.
    base: Option<Checkpoint>,
}

impl ProgressLog<'_> {
    pub(super) fn is_on(&self) -> bool {
        self.base.is_some()
    }

    pub(super) fn save(&self, p: &StateProgress) {
        if let Some(b) = &self.base {
            let mut cp = b.clone();
            cp.progress = p.clone();
            self.ex.sink.checkpoint(&cp);
        }
    }
}
