//! Error types shared by the whole crate.

use std::fmt;

/// A data-flow failure at run time (`States.Runtime`, `States.IntrinsicFailure`,
/// `States.NoChoiceMatched`, ...). `cause` is the message without the
/// "An error occurred while executing the state ..." prefix (the engine adds it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct RuntimeError {
    pub error: String,
    pub cause: String,
}

impl RuntimeError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        RuntimeError {
            error: error.into(),
            cause: cause.into(),
        }
    }
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(errors::RUNTIME, cause)
    }
    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new(errors::INTRINSIC_FAILURE, cause)
    }
}

/// Predefined error names.
pub mod errors {
    pub const ALL: &str = "States.ALL";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    pub const RUNTIME: &str = "States.Runtime";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
}

/// A definition diagnostic, shaped like ValidateStateMachineDefinition's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    /// JSON pointer-ish location, e.g. `/States/Foo/Next`.
    pub location: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl Diagnostic {
    pub fn error(
        code: &'static str,
        message: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            location: location.into(),
        }
    }
    pub fn warning(
        code: &'static str,
        message: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            code,
            message: message.into(),
            location: location.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() && self.code == codes::MISSING_END_STATE {
            // AWS's InvalidDefinition message prints its missing place
            // (floci-io/floci issue 2735).
            write!(f, "{}: {} at null", self.code, self.message)
        } else if self.location.is_empty() {
            write!(f, "{}: {}", self.code, self.message)
        } else {
            write!(f, "{}: {} at {}", self.code, self.message, self.location)
        }
    }
}

impl Diagnostic {
    /// As ValidateStateMachineDefinition lists it; `location` is left out
    /// when the diagnostic has none, as AWS leaves it out of
    /// MISSING_END_STATE (recorded in floci-io/floci pull request 2786).
    pub fn to_json(&self) -> serde_json::Value {
        let mut d = serde_json::json!({
            "severity": match self.severity { Severity::Error => "ERROR", Severity::Warning => "WARNING" },
            "code": self.code,
            "message": self.message,
        });
        if !self.location.is_empty() {
            d["location"] = self.location.clone().into();
        }
        d
    }
}

/// Formats diagnostics like CreateStateMachine's InvalidDefinition message:
/// `Invalid State Machine Definition: 'CODE: message at /loc, CODE: ...'`.
pub fn invalid_definition_message(diags: &[Diagnostic]) -> String {
    let parts: Vec<String> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect();
    format!("Invalid State Machine Definition: '{}'", parts.join(", "))
}

/// Diagnostic codes.
pub mod codes {
    pub const INVALID_JSON_DESCRIPTION: &str = "INVALID_JSON_DESCRIPTION";
    pub const SCHEMA_VALIDATION_FAILED: &str = "SCHEMA_VALIDATION_FAILED";
    pub const MISSING_TRANSITION_TARGET: &str = "MISSING_TRANSITION_TARGET";
    pub const UNREACHABLE_STATE: &str = "UNREACHABLE_STATE";
    pub const DUPLICATE_STATE_NAME: &str = "DUPLICATE_STATE_NAME";
    pub const INVALID_JSON_PATH: &str = "INVALID_JSON_PATH";
    pub const INVALID_REFERENCE_PATH: &str = "INVALID_REFERENCE_PATH";
    pub const INVALID_INTRINSIC_FUNCTION: &str = "INVALID_INTRINSIC_FUNCTION";
    pub const MISSING_END_STATE: &str = "MISSING_END_STATE";
    pub const NO_TERMINAL_STATE: &str = "NO_TERMINAL_STATE";
    pub const DUPLICATE_JSON_KEY: &str = "DUPLICATE_JSON_KEY";
}
