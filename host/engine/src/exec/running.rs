//! One running execution as its states see it ([`Exec`]), the frame a
//! state runs in ([`Frame`]), and the history events they record.

use super::EngineConfig;
use super::failure::Failure;
use super::variables::{Budget, Variables};
use crate::clock::Clock;
use crate::durable::Checkpoint;
use crate::history::{Details, EventType, HistoryEvent, HistorySink};
use crate::random::Random;
use crate::services::Services;
use crate::task::TaskInvoker;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepbox_asl::{RuntimeError, State, StateKind, StateMachine, compact, errors};

pub(super) struct Exec {
    pub(super) tasks: Arc<dyn TaskInvoker>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) config: Arc<EngineConfig>,
    pub(super) services: Services,
    pub(super) random: Arc<dyn Random>,
    pub(super) sink: Arc<dyn HistorySink>,
    /// Whether the sink wants events at all / with details.
    pub(super) events: bool,
    pub(super) details: bool,
    pub(super) next_id: AtomicU64,
    pub(super) name: String,
    pub(super) arn: String,
    /// The state machine's ARN (a distributed Map's map run ARN is built on it).
    pub(super) sm_arn: String,
    /// `$$.Execution` and `$$.StateMachine`.
    pub(super) ctx_execution: Value,
    pub(super) ctx_state_machine: Value,
    /// The given context object's `State`, `Task` and `Map` members
    /// (TestState's `context`), laid over those the engine makes.
    pub(super) ctx_given: Option<Map<String, Value>>,
    /// The top-level machine: only its states are checkpointed.
    pub(super) root: Arc<StateMachine>,
    pub(super) checkpoints: bool,
    /// Where a resumed run starts (taken by the first top-level state).
    pub(super) resume_from: Mutex<Option<Checkpoint>>,
    pub(super) suspend_over: Option<Duration>,
    /// Counts states entered (see [`ExecutionOptions::transitions`](crate::ExecutionOptions::transitions)).
    pub(super) transitions: Option<Arc<AtomicU64>>,
    /// When the execution times out (`TimeoutSeconds`): a suspended run wakes by then.
    pub(super) deadline: Option<DateTime<Utc>>,
    /// Set by a Wait that suspends the run; `suspend_signal` wakes the driver.
    pub(super) suspended_until: Mutex<Option<DateTime<Utc>>>,
    pub(super) suspend_signal: tokio::sync::Notify,
    /// Bytes of variables the execution's scopes hold (AWS caps it at 10 MiB).
    pub(super) var_budget: Budget,
    /// Mocked responses replacing Task calls (a test run).
    pub(super) mocks: Option<Arc<dyn crate::mock::TaskMocks>>,
}

#[derive(Clone)]
pub(super) struct Frame {
    pub(super) prev: u64,
    /// Workflow variables visible here.
    pub(super) vars: Variables,
    /// Child executions of a distributed Map don't record into this history.
    pub(super) silent: bool,
}

pub(super) static NULL: Value = Value::Null;

/// A timestamp as the context object and the API show it.
pub(super) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Exec {
    pub(super) fn emit(
        &self,
        frame: &mut Frame,
        ty: EventType,
        details: impl FnOnce() -> Option<Value>,
    ) -> u64 {
        self.emit_with(frame, ty, || match details() {
            Some(v) => Details::Json(v),
            None => Details::None,
        })
    }

    /// A state's `…StateExited` (when its type has one), with the variables
    /// it assigned; their record is cleared either way.
    pub(super) fn emit_exited(&self, frame: &mut Frame, exited_ty: Option<EventType>, st: &State, out: &Value) {
        let assigned = frame.vars.take_assigned();
        if let Some(t) = exited_ty {
            self.emit_with(frame, t, || Details::StateExited {
                name: st.name.clone(),
                output: compact(out),
                assigned,
            });
        }
    }

    pub(super) fn emit_with(
        &self,
        frame: &mut Frame,
        ty: EventType,
        details: impl FnOnce() -> Details,
    ) -> u64 {
        if frame.silent {
            return frame.prev;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.events {
            frame.prev = id;
            return id;
        }
        let d = if self.details {
            details()
        } else {
            Details::None
        };
        self.sink.record(HistoryEvent {
            id,
            previous_event_id: frame.prev,
            timestamp: self.clock.now(),
            event_type: ty,
            details: d,
        });
        frame.prev = id;
        id
    }

    /// The context object (`$$`) of state `st`.
    pub(super) fn context(
        &self,
        st: &State,
        entered: &str,
        retry: u32,
        map_item: Option<(usize, &Value)>,
        token: Option<&str>,
    ) -> Value {
        let mut m = Map::with_capacity(5);
        m.insert("Execution".into(), self.ctx_execution.clone());
        if matches!(
            st.kind,
            StateKind::Task { .. } | StateKind::Parallel { .. } | StateKind::Map(_)
        ) {
            m.insert(
                "State".into(),
                json!({"EnteredTime": entered, "Name": st.name, "RetryCount": retry}),
            );
        } else {
            m.insert(
                "State".into(),
                json!({"EnteredTime": entered, "Name": st.name}),
            );
        }
        m.insert("StateMachine".into(), self.ctx_state_machine.clone());
        if let Some(t) = token {
            m.insert("Task".into(), json!({"Token": t}));
        }
        if let Some((i, v)) = map_item {
            m.insert("Map".into(), json!({"Item": {"Index": i, "Value": v}}));
        }
        if let Some(given) = &self.ctx_given {
            overlay(&mut m, given);
        }
        Value::Object(m)
    }

    /// A data-flow error of state `st` with AWS's "An error occurred while
    /// executing the state …" cause.
    pub(super) fn runtime(&self, st: &State, entered_id: u64, e: RuntimeError) -> Failure {
        if e.error == errors::NO_CHOICE_MATCHED || e.error == errors::DATA_LIMIT_EXCEEDED {
            return Failure::new(e.error, e.cause);
        }
        Failure::new(
            e.error,
            format!(
                "An error occurred while executing the state '{}' (entered at the event id #{}). {}",
                st.name, entered_id, e.cause
            ),
        )
    }

    /// Hands the run back to the driver as [`Progress::Suspended`]; never returns
    /// (the driver drops this future).
    ///
    /// [`Progress::Suspended`]: crate::Progress::Suspended
    pub(super) async fn suspend(&self, until: DateTime<Utc>) {
        *self.suspended_until.lock().expect("suspend") = Some(until);
        self.suspend_signal.notify_one();
        std::future::pending::<()>().await
    }
}

/// `given`'s members in `made`: objects merged member by member (one level
/// deep, as `State.RetryCount` replaces only that member), others replaced.
fn overlay(made: &mut Map<String, Value>, given: &Map<String, Value>) {
    for (k, v) in given {
        match (made.get_mut(k), v) {
            (Some(Value::Object(m)), Value::Object(g)) => m.extend(g.iter().map(|(k, v)| (k.clone(), v.clone()))),
            _ => {
                made.insert(k.clone(), v.clone());
            }
        }
    }
}
