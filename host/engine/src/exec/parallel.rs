//! The Parallel state: its branches run side by side as tokio tasks; the
//! first failure aborts the others.

use super::running::Frame;
use super::failure::Failure;
use super::io::{finish_state, state_input};
use super::machine::run_machine;
use super::step::{StateResult, Step};
use super::variables::Variables;
use crate::history::EventType;
use serde_json::Value;
use std::sync::Arc;
use stepbox_asl::StateMachine;

pub(super) async fn run_parallel(
    s: &Step<'_>,
    branches: &[Arc<StateMachine>],
    input: Value,
    frame: &mut Frame,
    vars: &mut Variables,
) -> StateResult {
    let (ex, st) = (s.ex, s.st);
    let rt = |e| s.rt(e);
    let mut ctx_slot = Value::Null;
    let ctx = s.ctx(0, &mut ctx_slot);
    let eff = state_input(st, &input, ctx, vars).map_err(rt)?;
    let mut counts = vec![0u32; st.retry.len()];
    let mut recorded = s.entry.started;
    loop {
        let started = s.state_started(frame, &mut recorded, EventType::ParallelStateStarted, || None);
        match run_branches(s, branches, &eff, started, frame, vars).await {
            Ok(results) => {
                // AWS records no ParallelStateSucceeded event.
                let ctx = s.ctx(0, &mut ctx_slot);
                let res = st.select_result(Value::Array(results), ctx, Some(vars.values())).map_err(rt)?;
                let out = finish_state(st, input, res, ctx, vars).map_err(rt)?;
                return Ok((out, st.next));
            }
            Err(f) => match ex.retry_delay(st, &f, &mut counts) {
                // Only the final failure is recorded.
                Some(d) => ex.clock.sleep(d).await,
                None => {
                    ex.emit(frame, EventType::ParallelStateFailed, || None);
                    return Err(f);
                }
            },
        }
    }
}

/// One attempt: every branch on `eff`, each in a scope inside the state's;
/// their results in branch order, or the first failure.
async fn run_branches(
    s: &Step<'_>,
    branches: &[Arc<StateMachine>],
    eff: &Value,
    started: u64,
    frame: &mut Frame,
    vars: &Variables,
) -> Result<Vec<Value>, Failure> {
    let mut set = tokio::task::JoinSet::new();
    for (i, b) in branches.iter().enumerate() {
        let f = Frame {
            prev: started,
            silent: frame.silent,
            vars: vars.inner(),
        };
        let fut = run_machine(s.ex.clone(), b.clone(), eff.clone(), f);
        set.spawn(async move { (i, fut.await) });
    }
    let mut results: Vec<Option<Value>> = vec![None; branches.len()];
    let mut failure: Option<Failure> = None;
    let mut last_prev = started;
    while let Some(j) = set.join_next().await {
        let (i, (r, f)) = match j {
            Ok(x) => x,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => continue,
        };
        last_prev = last_prev.max(f.prev);
        match r {
            Ok(v) => results[i] = Some(v),
            Err(e) => {
                failure = Some(e);
                set.abort_all();
                break;
            }
        }
    }
    frame.prev = last_prev.max(frame.prev);
    match failure {
        None => Ok(results.into_iter().map(|v| v.unwrap_or(Value::Null)).collect()),
        Some(f) => Err(f),
    }
}
