//! AWS-shaped execution history events.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use std::sync::Mutex;

use crate::durable::{Checkpoint, Part};

macro_rules! event_types {
    ($($name:ident => $key:expr),* $(,)?) => {
        /// History event types, named as in GetExecutionHistory.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType { $($name),* }
        impl EventType {
            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$name => stringify!($name)),* }
            }
            /// The type named `s` (as [`as_str`](Self::as_str) spells it).
            pub fn parse(s: &str) -> Option<EventType> {
                match s { $(stringify!($name) => Some(EventType::$name),)* _ => None }
            }
            /// The key of the details object in GetExecutionHistory output.
            pub fn details_key(self) -> Option<&'static str> {
                match self { $(EventType::$name => $key),* }
            }
        }
    };
}

event_types! {
    ExecutionStarted => Some("executionStartedEventDetails"),
    ExecutionSucceeded => Some("executionSucceededEventDetails"),
    ExecutionFailed => Some("executionFailedEventDetails"),
    ExecutionTimedOut => Some("executionTimedOutEventDetails"),
    ExecutionAborted => Some("executionAbortedEventDetails"),
    ExecutionRedriven => Some("executionRedrivenEventDetails"),
    TaskStateEntered => Some("stateEnteredEventDetails"),
    TaskStateExited => Some("stateExitedEventDetails"),
    TaskStateAborted => None,
    PassStateEntered => Some("stateEnteredEventDetails"),
    PassStateExited => Some("stateExitedEventDetails"),
    ChoiceStateEntered => Some("stateEnteredEventDetails"),
    ChoiceStateExited => Some("stateExitedEventDetails"),
    WaitStateEntered => Some("stateEnteredEventDetails"),
    WaitStateExited => Some("stateExitedEventDetails"),
    WaitStateAborted => None,
    SucceedStateEntered => Some("stateEnteredEventDetails"),
    SucceedStateExited => Some("stateExitedEventDetails"),
    FailStateEntered => Some("stateEnteredEventDetails"),
    ParallelStateEntered => Some("stateEnteredEventDetails"),
    ParallelStateExited => Some("stateExitedEventDetails"),
    ParallelStateStarted => None,
    ParallelStateSucceeded => None,
    ParallelStateFailed => None,
    ParallelStateAborted => None,
    MapStateEntered => Some("stateEnteredEventDetails"),
    MapStateExited => Some("stateExitedEventDetails"),
    MapStateStarted => Some("mapStateStartedEventDetails"),
    MapStateSucceeded => None,
    MapStateFailed => None,
    MapStateAborted => None,
    MapIterationStarted => Some("mapIterationStartedEventDetails"),
    MapIterationSucceeded => Some("mapIterationSucceededEventDetails"),
    MapIterationFailed => Some("mapIterationFailedEventDetails"),
    MapIterationAborted => Some("mapIterationAbortedEventDetails"),
    MapRunStarted => Some("mapRunStartedEventDetails"),
    MapRunSucceeded => None,
    MapRunFailed => Some("mapRunFailedEventDetails"),
    MapRunRedriven => Some("mapRunRedrivenEventDetails"),
    TaskScheduled => Some("taskScheduledEventDetails"),
    TaskStarted => Some("taskStartedEventDetails"),
    TaskSucceeded => Some("taskSucceededEventDetails"),
    TaskFailed => Some("taskFailedEventDetails"),
    TaskTimedOut => Some("taskTimedOutEventDetails"),
    TaskSubmitted => Some("taskSubmittedEventDetails"),
    ActivityScheduled => Some("activityScheduledEventDetails"),
    ActivityScheduleFailed => Some("activityScheduleFailedEventDetails"),
    ActivityStarted => Some("activityStartedEventDetails"),
    ActivitySucceeded => Some("activitySucceededEventDetails"),
    ActivityFailed => Some("activityFailedEventDetails"),
    ActivityTimedOut => Some("activityTimedOutEventDetails"),
    LambdaFunctionScheduled => Some("lambdaFunctionScheduledEventDetails"),
    LambdaFunctionStarted => None,
    LambdaFunctionSucceeded => Some("lambdaFunctionSucceededEventDetails"),
    LambdaFunctionFailed => Some("lambdaFunctionFailedEventDetails"),
    LambdaFunctionTimedOut => Some("lambdaFunctionTimedOutEventDetails"),
    EvaluationFailed => Some("evaluationFailedEventDetails"),
}

/// Event details, kept cheap to record and rendered on demand.
#[derive(Debug, Clone, PartialEq)]
pub enum Details {
    None,
    Json(Value),
    /// `stateEnteredEventDetails`: input is JSON text.
    StateEntered {
        name: String,
        input: String,
    },
    /// `stateExitedEventDetails`: output is JSON text; `assigned`, the
    /// variables the state (or its catcher) assigned, shown as AWS does:
    /// `assignedVariables` maps each name to its value as JSON text.
    StateExited {
        name: String,
        output: String,
        assigned: Option<Map<String, Value>>,
    },
}

impl Details {
    /// The AWS-shaped details object.
    pub fn to_json(&self) -> Option<Value> {
        match self {
            Details::None => None,
            Details::Json(v) => Some(v.clone()),
            Details::StateEntered { name, input } => Some(
                serde_json::json!({"name": name, "input": input, "inputDetails": {"truncated": false}}),
            ),
            Details::StateExited { name, output, assigned } => {
                let mut d = serde_json::json!({"name": name, "output": output, "outputDetails": {"truncated": false}});
                if let Some(vars) = assigned {
                    let texts = vars.iter().map(|(k, v)| (k.clone(), Value::String(stepbox_asl::compact(v)))).collect();
                    d["assignedVariables"] = Value::Object(texts);
                    d["assignedVariablesDetails"] = serde_json::json!({"truncated": false});
                }
                Some(d)
            }
        }
    }
}

/// One history event.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    pub timestamp: DateTime<Utc>,
    pub event_type: EventType,
    /// Details (only filled when the sink asks for details).
    pub details: Details,
}

impl HistoryEvent {
    /// The details object as AWS shows it.
    pub fn details_json(&self) -> Option<Value> {
        self.details.to_json()
    }

    /// GetExecutionHistory's JSON shape.
    pub fn to_aws_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), Value::from(self.id));
        m.insert(
            "previousEventId".into(),
            Value::from(self.previous_event_id),
        );
        m.insert(
            "timestamp".into(),
            Value::String(self.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        m.insert(
            "type".into(),
            Value::String(self.event_type.as_str().into()),
        );
        if let (Some(k), Some(d)) = (self.event_type.details_key(), self.details.to_json()) {
            m.insert(k.into(), d);
        }
        Value::Object(m)
    }
}

/// Receives history events as they happen.
pub trait HistorySink: Send + Sync {
    fn record(&self, event: HistoryEvent);
    /// Whether events are wanted at all (event ids are still allocated).
    fn wants_events(&self) -> bool {
        true
    }
    /// Whether details objects (inputs/outputs rendered as JSON text) are
    /// wanted; a sink that returns false makes recording nearly free.
    fn wants_details(&self) -> bool {
        true
    }
    /// Whether the sink keeps [`Checkpoint`]s (a durable store does).
    fn wants_checkpoints(&self) -> bool {
        false
    }
    /// A top-level state is about to be entered; called before its
    /// `…StateEntered` event is recorded.
    fn checkpoint(&self, _checkpoint: &Checkpoint) {}
    /// An iteration of a checkpointed top-level Map, or a branch of such a
    /// Parallel, finished; called after its last event is recorded. A
    /// durable store keeps it with the checkpoint (see [`Checkpoint::parts`])
    /// until the execution ends or its checkpoint moves to another state.
    fn part(&self, _part: &Part) {}
}

/// Keeps every event in memory.
#[derive(Default)]
pub struct VecSink {
    events: Mutex<Vec<HistoryEvent>>,
    details: bool,
}

impl VecSink {
    pub fn new() -> Self {
        VecSink {
            events: Mutex::new(Vec::new()),
            details: true,
        }
    }
    /// Records events without details.
    pub fn without_details() -> Self {
        VecSink {
            events: Mutex::new(Vec::new()),
            details: false,
        }
    }
    pub fn events(&self) -> Vec<HistoryEvent> {
        let mut v = self.events.lock().expect("sink").clone();
        v.sort_by_key(|e| e.id);
        v
    }
    pub fn types(&self) -> Vec<&'static str> {
        self.events()
            .iter()
            .map(|e| e.event_type.as_str())
            .collect()
    }
}

impl HistorySink for VecSink {
    fn record(&self, event: HistoryEvent) {
        self.events.lock().expect("sink").push(event);
    }
    fn wants_details(&self) -> bool {
        self.details
    }
}

/// Discards events.
#[derive(Default, Clone, Copy)]
pub struct NullSink;

impl HistorySink for NullSink {
    fn record(&self, _event: HistoryEvent) {}
    fn wants_events(&self) -> bool {
        false
    }
    fn wants_details(&self) -> bool {
        false
    }
}
