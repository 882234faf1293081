//! What the store keeps, as plain serde records (stored as JSON).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use stepbox_types::ExecutionStatus;

/// A state machine as CreateStateMachine/UpdateStateMachine left it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateMachineRecord {
    pub arn: String,
    pub name: String,
    pub definition: String,
    pub role_arn: String,
    /// `STANDARD` or `EXPRESS`.
    pub kind: String,
    pub description: String,
    pub creation_date: DateTime<Utc>,
    pub revision_id: String,
    /// Members the API keeps that this record has no field for yet
    /// (logging configuration, …): kept verbatim.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// A published state machine version (`STATE_MACHINE_ARN:N`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub arn: String,
    pub state_machine_arn: String,
    /// Assigned by [`Store::publish_version`](crate::Store::publish_version): never reused.
    pub number: u64,
    pub definition: String,
    pub role_arn: String,
    pub description: String,
    pub creation_date: DateTime<Utc>,
    /// The state machine revision it snapshots (empty: the initial one).
    pub revision_id: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// An alias (`STATE_MACHINE_ARN:NAME`) routing to versions by weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasRecord {
    pub arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub description: String,
    pub routing: Vec<Route>,
    pub creation_date: DateTime<Utc>,
    pub update_date: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// One entry of an alias's routing configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub version_arn: String,
    /// Percentage of executions started through the alias.
    pub weight: u32,
}

/// A function (the wasm bytes are stored separately, see
/// [`Store::function_code`](crate::Store::function_code)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub name: String,
    pub arn: String,
    /// Hex SHA-256 of the wasm bytes.
    pub sha256: String,
    /// The configuration the function API shows (GetFunctionConfiguration's shape).
    pub configuration: Value,
    pub last_modified: DateTime<Utc>,
}

/// One execution: its request, status and (once closed) result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub arn: String,
    pub name: String,
    pub state_machine_arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
    pub status: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_date: DateTime<Utc>,
    pub stop_date: Option<DateTime<Utc>>,
    /// Express executions are never resumed after a restart.
    #[serde(default)]
    pub express: bool,
    /// Suspended in a long Wait until then (a timer, not a task).
    #[serde(default)]
    pub wake_at: Option<DateTime<Utc>>,
    /// The definition the execution runs (the state machine may change or go).
    pub definition: String,
    /// The state machine revision it started from (empty: the initial one).
    #[serde(default)]
    pub revision_id: String,
    /// Set when started through a version ARN or an alias.
    #[serde(default)]
    pub state_machine_version_arn: Option<String>,
    #[serde(default)]
    pub state_machine_alias_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

impl ExecutionRecord {
    /// A Standard execution started now: RUNNING, with its input and the
    /// definition it runs, nothing else set.
    pub fn started(arn: String, name: String, state_machine_arn: String, input: String, definition: String) -> Self {
        ExecutionRecord {
            arn,
            name,
            state_machine_arn,
            status: ExecutionStatus::Running.as_str().into(),
            input,
            output: None,
            error: None,
            cause: None,
            start_date: Utc::now(),
            stop_date: None,
            express: false,
            wake_at: None,
            definition,
            revision_id: String::new(),
            state_machine_version_arn: None,
            state_machine_alias_arn: None,
            extra: Map::new(),
        }
    }

    /// Whether `status` (kept as AWS's string) is RUNNING.
    pub fn is_running(&self) -> bool {
        ExecutionStatus::Running.is(&self.status)
    }

    /// Whether its last checkpoint is kept: while it runs, and after a
    /// Standard execution failed, timed out or was aborted (RedriveExecution
    /// continues it from there).
    pub fn keeps_checkpoint(&self) -> bool {
        self.is_running()
            || (!self.express
                && [ExecutionStatus::Failed, ExecutionStatus::TimedOut, ExecutionStatus::Aborted]
                    .iter()
                    .any(|s| s.is(&self.status)))
    }
}

/// A task token handed out by a `.waitForTaskToken` Task or an activity,
/// until SendTaskSuccess/Failure (or the execution's end) consumes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskTokenRecord {
    pub token: String,
    pub execution_arn: String,
    pub state_name: String,
    /// The `…StateEntered` event of the waiting state.
    pub entered_event_id: u64,
    pub created: DateTime<Utc>,
    /// Anything else the owner needs (activity ARN, heartbeat deadline, …).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub extra: Value,
}

/// A distributed Map's map run as last recorded: what DescribeMapRun and
/// ListMapRuns answer once the server that ran it has restarted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRunRecord {
    pub arn: String,
    /// The execution that started it.
    pub execution_arn: String,
    /// Its children's state machine (`stateMachine:MACHINE/LABEL`).
    pub state_machine_arn: String,
    pub start_date: DateTime<Utc>,
    pub stop_date: Option<DateTime<Utc>>,
    /// `RUNNING`, `SUCCEEDED`, `FAILED` or `ABORTED`.
    pub status: String,
    pub redrive_count: u32,
    pub redrive_date: Option<DateTime<Utc>>,
    /// The rest of DescribeMapRun's answer (limits, item and execution counts).
    pub described: Value,
}

/// An activity (CreateActivity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityRecord {
    pub arn: String,
    pub name: String,
    pub creation_date: DateTime<Utc>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
