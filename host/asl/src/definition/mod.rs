//! Typed model of a state machine, built (and validated) from JSON.
//!
//! This module holds the model the engine reads. [`StateMachine::from_value`]
//! builds it with a `Builder` (builder.rs: the machine and its states' graph;
//! state.rs: what every state shares; kinds.rs and map.rs: one function per
//! state type; retry_catch.rs: Retry and Catch; values.rs: single fields),
//! which collects AWS-style diagnostics (diagnostics.rs: the warnings).

mod builder;
mod diagnostics;
mod fields;
mod kinds;
mod map;
mod retry_catch;
mod state;
#[cfg(test)]
mod tests;
mod values;

use crate::choice::ChoiceRule;
use crate::error::{Diagnostic, codes};
use crate::intrinsics::Intrinsic;
use crate::path::JsonPath;
use crate::template::Template;
use chrono::{DateTime, FixedOffset};
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryLanguage {
    #[default]
    JsonPath,
    Jsonata,
}

/// InputPath / OutputPath.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum IoPath {
    /// Field absent: `$`.
    #[default]
    Default,
    /// `null`: `{}`.
    Null,
    Path(JsonPath),
}

/// ResultPath.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ResultPath {
    /// Absent or `$`: the result replaces the input.
    #[default]
    Default,
    /// `null`: discard the result, keep the input.
    Null,
    Path(JsonPath),
}

/// A value given inline or through a path (`TimeoutSeconds`/`TimeoutSecondsPath`).
#[derive(Debug, Clone, PartialEq)]
pub enum NumSpec {
    Value(f64),
    Path(JsonPath),
    /// A JSONata expression string.
    Raw(Value),
}

/// A string given inline or computed from a path/intrinsic (Fail's Error/Cause).
#[derive(Debug, Clone, PartialEq)]
pub enum StrSpec {
    Value(String),
    Path(JsonPath),
    Call(Intrinsic),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    #[default]
    None,
    Full,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: f64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
    pub jitter: Jitter,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: usize,
    pub next_name: String,
    pub result_path: ResultPath,
    pub assign: Option<Value>,
    /// `Assign` compiled as a payload template (JSONPath mode).
    pub assign_template: Option<Template>,
    pub output: Option<Value>,
}

/// Whether an `ErrorEquals` list matches an error name.
pub fn error_matches(list: &[String], error: &str) -> bool {
    list.iter().any(|e| {
        e == error
            || (e == "States.ALL" && error != "States.Runtime")
            || (e == "States.TaskFailed"
                && !matches!(
                    error,
                    "States.Timeout" | "States.Runtime" | "States.HeartbeatTimeout"
                ))
    })
}

#[derive(Debug, Clone, PartialEq)]
pub enum WaitSpec {
    Seconds(f64),
    Timestamp(DateTime<FixedOffset>),
    SecondsPath(JsonPath),
    TimestampPath(JsonPath),
    Raw(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapMode {
    #[default]
    Inline,
    Distributed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MapSpec {
    pub processor: std::sync::Arc<StateMachine>,
    pub mode: MapMode,
    pub execution_type: Option<String>,
    /// A DISTRIBUTED Map's ItemProcessor as a state machine definition of
    /// its own (JSON text, without ProcessorConfig, with the QueryLanguage
    /// it inherits): what its child executions record and resume from.
    pub processor_definition: Option<std::sync::Arc<str>>,
    /// ItemsPath (JSONPath mode); `None` = `$`.
    pub items_path: Option<JsonPath>,
    /// ItemSelector or legacy Parameters.
    pub item_selector: Option<Template>,
    pub max_concurrency: NumSpec,
    pub tolerated_failure_count: Option<NumSpec>,
    pub tolerated_failure_percentage: Option<NumSpec>,
    /// `Items` (JSONata), raw.
    pub items: Option<Value>,
    pub item_reader: Option<Value>,
    pub item_batcher: Option<Value>,
    pub result_writer: Option<Value>,
    pub label: Option<String>,
    /// Legacy `Iterator` form (affects history event names only).
    pub legacy_iterator: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StateKind {
    Pass {
        result: Option<Value>,
    },
    Task {
        /// Parsed when the definition loads.
        resource: std::sync::Arc<crate::resource::Resource>,
        timeout: Option<NumSpec>,
        heartbeat: Option<NumSpec>,
        credentials: Option<Value>,
    },
    Choice {
        choices: Vec<(ChoiceRule, usize)>,
        default: Option<usize>,
    },
    Wait(WaitSpec),
    Succeed,
    Fail {
        error: Option<StrSpec>,
        cause: Option<StrSpec>,
    },
    Parallel {
        branches: Vec<std::sync::Arc<StateMachine>>,
    },
    Map(Box<MapSpec>),
}

impl StateKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            StateKind::Pass { .. } => "Pass",
            StateKind::Task { .. } => "Task",
            StateKind::Choice { .. } => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail { .. } => "Fail",
            StateKind::Parallel { .. } => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub name: String,
    pub comment: Option<String>,
    pub kind: StateKind,
    pub query_language: QueryLanguage,
    pub input_path: IoPath,
    pub output_path: IoPath,
    pub result_path: ResultPath,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    /// Index of the next state in the same (sub-)machine; None = End or terminal.
    pub next: Option<usize>,
    pub next_name: Option<String>,
    pub end: bool,
    /// Raw JSONata / Variables fields.
    pub assign: Option<Value>,
    /// `Assign` compiled as a payload template (JSONPath mode).
    pub assign_template: Option<Template>,
    pub arguments: Option<Value>,
    pub output: Option<Value>,
    /// The compiled `{% … %}` fields of a JSONata state (None in JSONPath).
    pub jsonata: Option<Box<crate::jsonata::JsonataFields>>,
    /// Whether any compiled template/path of this state refers to `$$`.
    pub uses_context: bool,
}

/// A (sub-)state machine: top level, a Parallel branch or a Map processor.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachine {
    pub comment: Option<String>,
    pub start_at: usize,
    pub states: Vec<State>,
    pub timeout_seconds: Option<u64>,
    pub version: Option<String>,
    pub query_language: QueryLanguage,
    /// Non-fatal diagnostics (NO_DOLLAR, NO_PATH, PASS_RESULT_IS_STATIC); top level only.
    pub warnings: Vec<Diagnostic>,
    names: HashMap<String, usize>,
    uses_context: bool,
}

impl StateMachine {
    /// Parses and validates a definition; on failure returns AWS-style diagnostics.
    pub fn parse(json: &str) -> Result<StateMachine, Vec<Diagnostic>> {
        if json.trim().is_empty() || json.trim() == "null" {
            return Err(vec![Diagnostic::error(
                "MISSING_DESCRIPTION",
                "Received a null or empty workflow input",
                "",
            )]);
        }
        let v: Value = serde_json::from_str(json).map_err(|e| {
            vec![Diagnostic::error(
                codes::INVALID_JSON_DESCRIPTION,
                format!("Invalid JSON description: {e}"),
                "",
            )]
        })?;
        Self::from_value(&v)
    }

    /// Builds from an already-parsed JSON document.
    pub fn from_value(v: &Value) -> Result<StateMachine, Vec<Diagnostic>> {
        builder::build(v)
    }

    /// Like ValidateStateMachineDefinition: every error and warning.
    pub fn validate(json: &str) -> Vec<Diagnostic> {
        match Self::parse(json) {
            Ok(sm) => sm.warnings,
            Err(d) => d,
        }
    }

    pub fn state(&self, i: usize) -> &State {
        &self.states[i]
    }
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.get(name).copied()
    }
    pub fn start(&self) -> &State {
        &self.states[self.start_at]
    }
    /// Whether any state (including nested branches/processors) reads `$$`.
    pub fn uses_context(&self) -> bool {
        self.uses_context
    }
}
