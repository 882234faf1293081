//! Running a state machine (the top level, a Parallel branch or a Map
//! iteration) state after state: where a resumed run starts, checkpoints
//! and entry events, the state itself, and Catch.

use super::running::{Exec, Frame, NULL};
use super::failure::Failure;
use super::io::{apply_assign, eval_assign};
use super::jsonata;
use super::state::run_state;
use super::step::{Entry, StateResult, Step, ctx_for};
use super::task::integration;
use super::variables::Variables;
use crate::clock::BoxFuture;
use crate::durable::{Checkpoint, Part, StateProgress};
use crate::history::{Details, EventType};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use stepbox_asl::{RuntimeError, State, StateKind, StateMachine, compact, error_matches, errors, io};

/// Runs `sm` on `input` to its end; returns its result and the frame it ended in.
pub(super) fn run_machine(
    ex: Arc<Exec>,
    sm: Arc<StateMachine>,
    input: Value,
    frame: Frame,
) -> BoxFuture<'static, (Result<Value, Failure>, Frame)> {
    Box::pin(async move {
        let top = Arc::ptr_eq(&sm, &ex.root);
        Walk { ex, sm, top }.run(input, frame).await
    })
}

/// One run through a state machine.
struct Walk {
    ex: Arc<Exec>,
    sm: Arc<StateMachine>,
    /// The execution's own machine: its states are checkpointed in a durable run.
    top: bool,
}

/// Where a state's entry stands: fresh, checkpointed now, or found
/// recorded after a restart.
#[derive(Default)]
struct Reentry {
    /// When the state was entered, if a checkpoint holds it.
    at: Option<DateTime<Utc>>,
    /// Its `…StateEntered` event, when already recorded.
    recorded: Option<u64>,
    /// What the state had done before the restart.
    progress: Option<StateProgress>,
    /// A Map/Parallel's recorded `…StateStarted` event.
    started: Option<u64>,
    /// A Map's or Parallel's finished iterations or branches of that entry.
    parts: Vec<Part>,
}

impl Walk {
    async fn run(&self, input: Value, mut frame: Frame) -> (Result<Value, Failure>, Frame) {
        let (mut idx, mut input, mut resumed) = self.resume_point(input, &mut frame);
        // Set after a state whose successor needs its own checkpoint.
        let mut after_effect = false;
        loop {
            let st = self.sm.state(idx);
            let entry = self.enter(st, &input, &mut frame, resumed.take(), after_effect);
            // (Only durable runs look: in memory this is the hot path.)
            after_effect = self.top && self.ex.checkpoints && checkpoint_after(st);
            let raw = if st.catch.is_empty() {
                None
            } else {
                Some(input.clone())
            };
            let result = match self.step(st, input, &mut frame, &entry).await {
                Err(fail) => self.catch(st, fail, raw, &mut frame, &entry).map(|(out, next)| (out, Some(next))),
                done => done,
            };
            match result {
                Ok((out, next)) => {
                    self.ex.emit_exited(&mut frame, events_for(&st.kind).1, st, &out);
                    match next {
                        Some(n) => {
                            idx = n;
                            input = out;
                        }
                        None => return (Ok(out), frame),
                    }
                }
                Err(fail) => return (Err(fail), frame),
            }
        }
    }

    /// The first state, its input and the checkpoint a resumed top-level run
    /// starts from (whose variables the frame takes).
    fn resume_point(&self, input: Value, frame: &mut Frame) -> (usize, Value, Option<Checkpoint>) {
        let resumed = if self.top {
            self.ex.resume_from.lock().expect("resume").take()
        } else {
            None
        };
        if let Some(cp) = &resumed
            && let Some(i) = self.sm.index_of(&cp.state)
        {
            frame.vars = Variables::restore(cp.variables.clone(), self.ex.var_budget.clone());
            let input = cp.input.clone();
            return (i, input, resumed);
        }
        (self.sm.start_at, input, None)
    }

    /// Enters `st`: its checkpoint (durable runs), its `…StateEntered` event
    /// (unless a restart found it recorded) and its [`Entry`].
    fn enter(&self, st: &State, input: &Value, frame: &mut Frame, resumed: Option<Checkpoint>, after_effect: bool) -> Entry {
        let ex = &self.ex;
        if let Some(t) = &ex.transitions {
            t.fetch_add(1, Ordering::Relaxed);
        }
        let re = self.reentry(st, input, frame, resumed, after_effect);
        let id = match re.recorded {
            Some(id) => id,
            None => ex.emit_with(frame, events_for(&st.kind).0, || Details::StateEntered {
                name: st.name.clone(),
                input: compact(input),
            }),
        };
        Entry {
            id,
            at: match re.at {
                Some(at) => at,
                None if st.uses_context => ex.clock.now(),
                None => DateTime::<Utc>::MIN_UTC,
            },
            checkpointed: re.at.is_some(),
            top: self.top && ex.checkpoints && !frame.silent && re.at.is_some(),
            token: task_token(ex, st, re.progress.as_ref()),
            resumed: re.progress,
            started: re.started,
            parts: re.parts,
        }
    }

    /// What a restart left of `st`'s entry, or the checkpoint taken before it.
    fn reentry(&self, st: &State, input: &Value, frame: &Frame, resumed: Option<Checkpoint>, after_effect: bool) -> Reentry {
        let ex = &self.ex;
        let last_recorded = ex.next_id.load(Ordering::Relaxed);
        match resumed {
            // A state that cannot wait re-runs whole after a restart; its
            // entry event is reused only when nothing after it was recorded.
            Some(cp) if !can_wait(st) => {
                if cp.entered_event_id == last_recorded {
                    Reentry { at: Some(cp.entered_at), recorded: Some(cp.entered_event_id), ..Reentry::default() }
                } else {
                    Reentry { at: Some(ex.clock.now()), ..Reentry::default() }
                }
            }
            // The entry event made it to the history: don't repeat it.
            Some(cp) if cp.entered_event_id <= last_recorded => Reentry {
                at: Some(cp.entered_at),
                recorded: Some(cp.entered_event_id),
                // A Map or Parallel records its …StateStarted right after entering.
                started: (matches!(st.kind, StateKind::Map(_) | StateKind::Parallel { .. })
                    && cp.entered_event_id < last_recorded)
                    .then_some(cp.entered_event_id + 1),
                parts: cp.parts.into_iter().filter(|p| p.entered_event_id == cp.entered_event_id).collect(),
                progress: Some(cp.progress),
            },
            // Not recorded yet, or entered anew (a redrive): what progress
            // the checkpoint keeps (a redriven Map's map run) goes on.
            // A redriven Map or Parallel keeps the iterations or branches
            // that succeeded (`Checkpoint::redriven`).
            Some(cp) => Reentry {
                at: Some(cp.entered_at),
                parts: cp.parts.into_iter().filter(|p| p.entered_event_id == cp.entered_event_id).collect(),
                progress: Some(cp.progress),
                ..Reentry::default()
            },
            // Only before a state that can wait, or right after one or a
            // Task: a chain of Pass and Choice states re-runs from the last
            // checkpoint after a restart; a Task in flight re-runs too
            // (at-least-once, as AWS runs Tasks), a finished one never.
            None if self.top && ex.checkpoints && !frame.silent && (after_effect || can_wait(st)) => {
                let at = ex.clock.now();
                ex.sink.checkpoint(&Checkpoint::entered(&st.name, input, frame.vars.values().clone(), last_recorded + 1, at));
                Reentry { at: Some(at), ..Reentry::default() }
            }
            None => Reentry::default(),
        }
    }

    /// Runs `st` (or fails it for a feature this engine lacks), recording
    /// `EvaluationFailed` for a JSONata evaluation error.
    async fn step(&self, st: &State, input: Value, frame: &mut Frame, entry: &Entry) -> StateResult {
        let ex = &self.ex;
        let result = match unsupported(st) {
            Some(what) => Err(ex.runtime(
                st,
                entry.id,
                RuntimeError::new(errors::QUERY_EVALUATION_ERROR, what),
            )),
            None => {
                let mut vars = std::mem::replace(&mut frame.vars, Variables::new(ex.var_budget.clone()));
                let r = run_state(&Step { ex, st, entry }, input, frame, &mut vars).await;
                frame.vars = vars;
                r
            }
        };
        if let Err(f) = &result
            && f.error.as_deref() == Some(errors::QUERY_EVALUATION_ERROR)
        {
            ex.emit(frame, EventType::EvaluationFailed, || {
                let mut d = f.as_output_lower();
                d["state"] = json!(st.name);
                Some(d)
            });
        }
        result
    }

    /// The first Catch of `st` matching `fail`: the catcher's output (its
    /// Assign and Output in JSONata, Assign and ResultPath in JSONPath) and
    /// its Next. Without one, the failure stands.
    fn catch(
        &self,
        st: &State,
        fail: Failure,
        raw: Option<Value>,
        frame: &mut Frame,
        entry: &Entry,
    ) -> Result<(Value, usize), Failure> {
        let ex = &self.ex;
        // A failed state assigns nothing; a catcher may.
        frame.vars.clear_assigned();
        let caught = st
            .catch
            .iter()
            .position(|c| error_matches(&c.error_equals, fail.error_name()));
        let jsonata_catch = caught.and_then(|i| Some(&st.jsonata.as_deref()?.catchers[i]));
        let (Some(c), Some(raw)) = (caught.map(|i| &st.catch[i]), raw) else {
            return Err(fail);
        };
        let err_out = fail.as_output();
        let out = match jsonata_catch {
            Some(k) => {
                let mut ctx_slot = Value::Null;
                let ctx = ctx_for(ex, st, entry, 0, &mut ctx_slot);
                let res = err_out.clone();
                let end = jsonata::Ending { assign: k.assign.as_ref(), output: k.output.as_ref() };
                jsonata::finish(end, &raw, res, jsonata::Seen::ErrorOutput(&err_out), ctx, &mut frame.vars)
            }
            None => eval_assign(&c.assign_template, &err_out, &NULL, &frame.vars)
                .and_then(|p| apply_assign(&mut frame.vars, p))
                .and_then(|()| io::apply_result_path(&c.result_path, raw, err_out)),
        };
        match out {
            Ok(out) => Ok((out, c.next)),
            Err(e) => Err(ex.runtime(st, entry.id, e)),
        }
    }
}

/// The task token of a `.waitForTaskToken` or `.sync` Task (`.sync` tasks
/// have one too: SendTaskSuccess/Failure with it ends the Task before its
/// job does, as AWS does); a resumed Task keeps the token it handed out.
fn task_token(ex: &Exec, st: &State, progress: Option<&StateProgress>) -> Option<String> {
    match &st.kind {
        StateKind::Task { resource, .. } if resource.has_token() => {
            Some(
                progress
                    .and_then(|p| p.token.clone())
                    .unwrap_or_else(|| crate::callback::TaskToken::new(&ex.arn, &st.name)),
            )
        }
        _ => None,
    }
}

/// A state's `…StateEntered` and (when it has one) `…StateExited` events.
fn events_for(kind: &StateKind) -> (EventType, Option<EventType>) {
    match kind {
        StateKind::Pass { .. } => (
            EventType::PassStateEntered,
            Some(EventType::PassStateExited),
        ),
        StateKind::Task { .. } => (
            EventType::TaskStateEntered,
            Some(EventType::TaskStateExited),
        ),
        StateKind::Choice { .. } => (
            EventType::ChoiceStateEntered,
            Some(EventType::ChoiceStateExited),
        ),
        StateKind::Wait(_) => (
            EventType::WaitStateEntered,
            Some(EventType::WaitStateExited),
        ),
        StateKind::Succeed => (
            EventType::SucceedStateEntered,
            Some(EventType::SucceedStateExited),
        ),
        StateKind::Fail { .. } => (EventType::FailStateEntered, None),
        StateKind::Parallel { .. } => (
            EventType::ParallelStateEntered,
            Some(EventType::ParallelStateExited),
        ),
        StateKind::Map(_) => (EventType::MapStateEntered, Some(EventType::MapStateExited)),
    }
}

/// Whether a top-level state can wait (on a timer, the outside world, a
/// retry's back-off, or branches and iterations): a durable run checkpoints
/// before such states, and before the state after one of them or a Task.
pub(super) fn can_wait(st: &State) -> bool {
    match &st.kind {
        StateKind::Wait(_) | StateKind::Map(_) | StateKind::Parallel { .. } => true,
        StateKind::Task { resource, .. } => {
            !st.retry.is_empty() || integration::Kind::of(resource).waits_outside()
        }
        _ => false,
    }
}

/// Whether the state after this one needs a checkpoint: a restart must not
/// wait (or hand out a token) again, nor run again a Task that has finished.
/// Only states without effects (Pass, Choice) re-run after a restart.
fn checkpoint_after(st: &State) -> bool {
    can_wait(st) || matches!(st.kind, StateKind::Task { .. })
}

/// Features the definition may carry that this engine does not evaluate yet:
/// failing loudly beats silently ignoring them.
fn unsupported(st: &State) -> Option<&'static str> {
    if st.jsonata.is_some() {
        return None;
    }
    if st.assign.is_some() && st.assign_template.is_none() {
        return Some("JSONata Assign is not supported by this engine yet.");
    }
    if st.query_language == stepbox_asl::QueryLanguage::Jsonata
        && (st.output.is_some() || st.arguments.is_some())
    {
        return Some("JSONata expressions are not supported by this engine yet.");
    }
    None
}
