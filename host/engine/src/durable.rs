//! What a durable store needs to continue an execution after a restart.
//!
//! The engine writes a [`Checkpoint`] (through [`HistorySink::checkpoint`])
//! when a top-level state that can wait is entered (a Wait, a Map or
//! Parallel, a Task with Retry or one that waits on the outside world: token,
//! activity, child execution), and when the state after such a state is
//! entered, *before* that state's `…StateEntered` event; so is the state
//! after any Task. Other states (Pass, Choice, Succeed, Fail, a plain Task)
//! get none, so a short execution writes few. [`Engine::resume`] restarts the
//! state of the latest checkpoint (or `StartAt` when there is none) with its
//! recorded input and variables, and runs on from there: the Pass and Choice
//! states after it that had run already run again with new events, and so
//! does a Task in flight (at-least-once, as AWS documents for Lambda), never
//! a Task that finished; a top-level
//! Map or Parallel runs again only the iterations or branches that had not
//! finished (each finished one is a [`Part`], recorded through
//! [`HistorySink::part`] when it finishes, after its events, and read back
//! with the checkpoint: [`Checkpoint::parts`]; a distributed Map run by a
//! [`MapRuns`](crate::map_runs::MapRuns) service continues its map run
//! instead: [`StateProgress::map_run`]), Retry counters continue, and a Wait keeps
//! its original due time (computed from the checkpoint's entry time). Event
//! ids continue after the last recorded one.
//!
//! [`HistorySink::checkpoint`]: crate::HistorySink::checkpoint
//! [`HistorySink::part`]: crate::HistorySink::part
//! [`Engine::resume`]: crate::Engine::resume

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::execution::ExecutionOutcome;

/// The resumable position of an execution: a top-level state about to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub state: String,
    /// The state's raw input.
    pub input: Value,
    /// Workflow variables visible on entry.
    pub variables: Map<String, Value>,
    /// The id its `…StateEntered` event gets.
    pub entered_event_id: u64,
    pub entered_at: DateTime<Utc>,
    /// How far the state had got (empty on entry).
    pub progress: StateProgress,
    /// The state's finished iterations or branches, recorded apart (a store
    /// reads them back with the checkpoint; never in [`Checkpoint::to_json`]).
    pub parts: Vec<Part>,
}

/// A finished iteration of a top-level Map, or branch of a top-level
/// Parallel, of a durable run: a resume of that state does not run it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// The id of its state's `…StateEntered` event (the state's entry).
    pub entered_event_id: u64,
    /// The state's attempt it belongs to (its retries before it).
    pub attempt: u32,
    /// The iteration's or branch's index.
    pub index: u32,
    /// Its output, or its failure's `{"Error", "Cause"}` (an iteration of a
    /// Map that tolerates failures).
    pub outcome: Result<Value, Value>,
    pub started_at: DateTime<Utc>,
    pub stopped_at: DateTime<Utc>,
}

impl Part {
    pub fn to_json(&self) -> Value {
        let (key, v) = match &self.outcome {
            Ok(v) => ("output", v),
            Err(v) => ("failure", v),
        };
        let mut out = json!({
            "enteredEventId": self.entered_event_id,
            "attempt": self.attempt,
            "index": self.index,
            "startedAt": self.started_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
            "stoppedAt": self.stopped_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
        });
        out[key] = v.clone();
        out
    }

    pub fn from_json(v: &Value) -> Option<Part> {
        let outcome = match (v.get("output"), v.get("failure")) {
            (Some(o), _) => Ok(o.clone()),
            (None, Some(f)) => Err(f.clone()),
            (None, None) => return None,
        };
        Some(Part {
            entered_event_id: v.get("enteredEventId")?.as_u64()?,
            attempt: u32::try_from(v.get("attempt")?.as_u64()?).ok()?,
            index: u32::try_from(v.get("index")?.as_u64()?).ok()?,
            outcome,
            started_at: time_from(v.get("startedAt"))?,
            stopped_at: time_from(v.get("stoppedAt"))?,
        })
    }
}

/// How far a top-level Task had got when last checkpointed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateProgress {
    /// Attempts used per retrier, in `Retry` order.
    pub retry_counts: Vec<u32>,
    /// Retries so far (`$$.State.RetryCount`).
    pub retries: u32,
    /// The next attempt waits for its back-off until then.
    pub retry_at: Option<DateTime<Utc>>,
    /// When the current attempt was scheduled: TimeoutSeconds runs from here.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// The current attempt's task token.
    pub token: Option<String>,
    /// The current attempt's child execution name (`states:startExecution`);
    /// starting it again with the same name re-attaches to it.
    pub child_name: Option<String>,
    /// The current attempt was handed out (TaskSubmitted / ActivityScheduled
    /// recorded): a resume waits for its answer instead of running it again.
    pub submitted: Option<Value>,
    /// An activity worker took the task (ActivityStarted recorded).
    pub picked_up: bool,
    /// The last sign of life (hand-out, pick-up, heartbeat): HeartbeatSeconds runs from here.
    pub alive_at: Option<DateTime<Utc>>,
    /// A distributed Map's map run in progress (its ARN): a resume continues
    /// it, its finished children are not run again.
    pub map_run: Option<String>,
    /// The execution's redrive count when that map run started or was last
    /// redriven: a resume with a higher count redrives it.
    pub map_run_redrives: u32,
}

fn time_json(t: &Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| json!(t.to_rfc3339_opts(SecondsFormat::Nanos, true)))
}

fn time_from(v: Option<&Value>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v?.as_str()?).ok().map(|t| t.with_timezone(&Utc))
}

impl StateProgress {
    pub fn is_empty(&self) -> bool {
        *self == StateProgress::default()
    }

    fn to_json(&self) -> Value {
        json!({
            "retryCounts": self.retry_counts,
            "retries": self.retries,
            "retryAt": time_json(&self.retry_at),
            "scheduledAt": time_json(&self.scheduled_at),
            "token": self.token,
            "childName": self.child_name,
            "submitted": self.submitted,
            "pickedUp": self.picked_up,
            "aliveAt": time_json(&self.alive_at),
            "mapRun": self.map_run,
            "mapRunRedrives": self.map_run_redrives,
        })
    }

    fn from_json(v: &Value) -> StateProgress {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        StateProgress {
            retry_counts: v
                .get("retryCounts")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|n| n.as_u64().unwrap_or(0) as u32).collect())
                .unwrap_or_default(),
            retries: v.get("retries").and_then(Value::as_u64).unwrap_or(0) as u32,
            retry_at: time_from(v.get("retryAt")),
            scheduled_at: time_from(v.get("scheduledAt")),
            token: text("token"),
            child_name: text("childName"),
            submitted: v.get("submitted").filter(|s| !s.is_null()).cloned(),
            picked_up: v.get("pickedUp").and_then(Value::as_bool).unwrap_or(false),
            alive_at: time_from(v.get("aliveAt")),
            map_run: text("mapRun"),
            map_run_redrives: v.get("mapRunRedrives").and_then(Value::as_u64).unwrap_or(0) as u32,
        }
    }
}

impl Checkpoint {
    /// Entering `state` (as event `entered_event_id`, at `entered_at`) with
    /// `input` and `variables`: nothing of it has run yet.
    pub fn entered(
        state: &str,
        input: &Value,
        variables: Map<String, Value>,
        entered_event_id: u64,
        entered_at: DateTime<Utc>,
    ) -> Self {
        Checkpoint {
            state: state.to_string(),
            input: input.clone(),
            variables,
            entered_event_id,
            entered_at,
            progress: StateProgress::default(),
            parts: Vec::new(),
        }
    }

    /// The checkpoint a redrive (RedriveExecution) continues from: the
    /// state is entered anew as event `entered_event_id` at `at`, its Retry
    /// counters start over while a distributed Map's map run goes on, and
    /// of its last attempt's finished iterations or branches the succeeded
    /// ones are kept (as the new entry's first attempt's): AWS redrives only
    /// the iterations and branches that failed or were aborted.
    pub fn redriven(self, entered_event_id: u64, at: DateTime<Utc>) -> Checkpoint {
        let last_attempt = self.progress.retries;
        let parts = self
            .parts
            .into_iter()
            .filter(|p| p.entered_event_id == self.entered_event_id && p.attempt == last_attempt && p.outcome.is_ok())
            .map(|p| Part { entered_event_id, attempt: 0, ..p })
            .collect();
        Checkpoint {
            entered_event_id,
            entered_at: at,
            progress: StateProgress {
                map_run: self.progress.map_run,
                map_run_redrives: self.progress.map_run_redrives,
                ..StateProgress::default()
            },
            parts,
            ..self
        }
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "state": self.state,
            "input": self.input,
            "variables": self.variables,
            "enteredEventId": self.entered_event_id,
            "enteredAt": self.entered_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
        });
        if !self.progress.is_empty() {
            v["progress"] = self.progress.to_json();
        }
        v
    }

    pub fn from_json(v: &Value) -> Option<Checkpoint> {
        Some(Checkpoint {
            state: v.get("state")?.as_str()?.to_string(),
            input: v.get("input")?.clone(),
            variables: v.get("variables")?.as_object()?.clone(),
            entered_event_id: v.get("enteredEventId")?.as_u64()?,
            entered_at: DateTime::parse_from_rfc3339(v.get("enteredAt")?.as_str()?)
                .ok()?
                .with_timezone(&Utc),
            progress: v.get("progress").map(StateProgress::from_json).unwrap_or_default(),
            parts: Vec::new(),
        })
    }
}

/// Everything [`Engine::resume`](crate::Engine::resume) needs besides the
/// definition and the [`ExecutionOptions`](crate::ExecutionOptions).
#[derive(Debug, Clone)]
pub struct Resume {
    /// The execution's original input (`$$.Execution.Input`).
    pub input: Value,
    pub start_date: DateTime<Utc>,
    /// The latest checkpoint; `None` when the execution died before its first
    /// state was checkpointed (it then starts at `StartAt`).
    pub checkpoint: Option<Checkpoint>,
    /// The largest event id recorded so far (new events continue after it).
    pub last_event_id: u64,
}

/// Where a durable run stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Finished(ExecutionOutcome),
    /// A long top-level Wait: the caller persists nothing more (the checkpoint
    /// is recorded) and calls [`Engine::resume`](crate::Engine::resume) at `until`.
    Suspended {
        until: DateTime<Utc>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trips_through_json() {
        let cp = Checkpoint {
            state: "Wait here".into(),
            input: json!({"a": [1, 2.5, "x"]}),
            variables: json!({"v": {"n": null}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            entered_event_id: 7,
            entered_at: DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456789Z")
                .map(|t| t.with_timezone(&Utc))
                .expect("time"),
            progress: StateProgress::default(),
            parts: Vec::new(),
        };
        assert_eq!(Checkpoint::from_json(&cp.to_json()), Some(cp.clone()));
        let mut with_progress = cp;
        with_progress.progress = StateProgress {
            retry_counts: vec![2, 0],
            retries: 2,
            retry_at: Some(with_progress.entered_at),
            scheduled_at: Some(with_progress.entered_at),
            token: Some("tok".into()),
            child_name: Some("child".into()),
            submitted: Some(json!({"ExecutionArn": "x"})),
            picked_up: true,
            alive_at: Some(with_progress.entered_at),
            map_run: Some("arn:aws:states:us-east-1:1:mapRun:m/Each:id".into()),
            map_run_redrives: 1,
        };
        assert_eq!(Checkpoint::from_json(&with_progress.to_json()), Some(with_progress));
        assert_eq!(Checkpoint::from_json(&json!({"state": "x"})), None);
    }

    #[test]
    fn a_redriven_checkpoint_keeps_the_last_attempts_succeeded_parts() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").map(|t| t.with_timezone(&Utc)).expect("time");
        let part = |entered, attempt, index, ok: bool| Part {
            entered_event_id: entered,
            attempt,
            index,
            outcome: if ok { Ok(json!(index)) } else { Err(json!({"Error": "Boom"})) },
            started_at: at,
            stopped_at: at,
        };
        let mut cp = Checkpoint::entered("Each", &json!({}), Map::new(), 5, at);
        cp.progress = StateProgress {
            retry_counts: vec![1],
            retries: 1,
            map_run: Some("run".into()),
            map_run_redrives: 0,
            ..StateProgress::default()
        };
        cp.parts = vec![part(5, 0, 0, true), part(5, 1, 0, true), part(5, 1, 1, false), part(5, 1, 2, true)];
        let later = at + chrono::Duration::seconds(9);
        let r = cp.redriven(40, later);
        assert_eq!((r.entered_event_id, r.entered_at), (40, later));
        assert_eq!(r.progress, StateProgress { map_run: Some("run".into()), ..StateProgress::default() });
        assert_eq!(r.parts, [part(40, 0, 0, true), part(40, 0, 2, true)], "the last attempt's succeeded ones");
    }

    #[test]
    fn parts_round_trip_through_json() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456789Z").map(|t| t.with_timezone(&Utc)).expect("time");
        for outcome in [Ok(json!({"n": 1})), Ok(Value::Null), Err(json!({"Error": "Boom", "Cause": "x"}))] {
            let part = Part { entered_event_id: 5, attempt: 2, index: 7, outcome, started_at: at, stopped_at: at };
            assert_eq!(Part::from_json(&part.to_json()), Some(part));
        }
        assert_eq!(Part::from_json(&json!({"enteredEventId": 5, "attempt": 0, "index": 1})), None, "no outcome");
    }
}
