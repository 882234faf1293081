//! The Parallel state: its branches run side by side as tokio tasks; the
//! first failure aborts the others. In a durable run, a top-level
//! Parallel's finished branches are recorded ([`super::parts`]): a resume
//! runs only the others, and its Retry counters continue.

use super::running::Frame;
use super::failure::Failure;
use super::fan_progress::FanProgress;
use super::fanout::Span;
use super::io::{finish_state, state_input};
use super::machine::run_machine;
use super::parts::{self, PartLog};
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
    let mut progress = FanProgress::new(s, &input, vars, false);
    let mut resumed = parts::Resumed::new(s);
    let mut recorded = s.entry.started;
    loop {
        progress.resumed_back_off().await;
        let started = s.state_started(frame, &mut recorded, EventType::ParallelStateStarted, || None);
        let attempt = progress.attempt();
        let done = resumed.take(attempt, branches.len());
        let log = PartLog::of(s, attempt);
        match run_branches(s, branches, &eff, started, frame, vars, done, log).await {
            Ok(results) => {
                // AWS records no ParallelStateSucceeded event.
                let ctx = s.ctx(0, &mut ctx_slot);
                let res = st.select_result(Value::Array(results), ctx, Some(vars.values())).map_err(rt)?;
                let out = finish_state(st, input, res, ctx, vars).map_err(rt)?;
                return Ok((out, st.next));
            }
            Err(f) => match ex.retry_delay(st, &f, &mut progress.counts) {
                // Only the final failure is recorded.
                Some(d) => {
                    progress.back_off(d).await;
                }
                None => {
                    ex.emit(frame, EventType::ParallelStateFailed, || None);
                    return Err(f);
                }
            },
        }
    }
}

/// One attempt: every branch on `eff`, each in a scope inside the state's
/// (those of `done`, finished before a restart, as recorded); their results
/// in branch order, or the first failure.
#[allow(clippy::too_many_arguments)]
async fn run_branches(
    s: &Step<'_>,
    branches: &[Arc<StateMachine>],
    eff: &Value,
    started: u64,
    frame: &mut Frame,
    vars: &Variables,
    mut done: parts::Finished,
    log: Option<PartLog>,
) -> Result<Vec<Value>, Failure> {
    let mut results: Vec<Option<Value>> = vec![None; branches.len()];
    let mut set = tokio::task::JoinSet::new();
    for (i, b) in branches.iter().enumerate() {
        if let Some(p) = done.remove(&i)
            && let (Ok(v), _) = parts::outcome(p)
        {
            results[i] = Some(v);
            continue;
        }
        let f = Frame {
            prev: started,
            silent: frame.silent,
            vars: vars.inner(),
        };
        let (ex, log) = (s.ex.clone(), log.clone());
        let fut = run_machine(ex.clone(), b.clone(), eff.clone(), f);
        set.spawn(async move {
            let start = ex.clock.now();
            let (r, f) = fut.await;
            if let (Some(log), Ok(v)) = (&log, &r) {
                log.record(i, Ok(v), Span { start, stop: ex.clock.now() });
            }
            (i, (r, f))
        });
    }
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
