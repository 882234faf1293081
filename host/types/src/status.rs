//! Execution statuses and state machine types, as AWS spells them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A string that names no variant of the type it was parsed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what}: '{value}'")]
pub struct UnknownValue {
    /// What was parsed: `execution status`, `state machine type`.
    pub what: &'static str,
    pub value: String,
}

/// An execution's status (DescribeExecution's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    PendingRedrive,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 6] = [
        ExecutionStatus::Running,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Aborted,
        ExecutionStatus::PendingRedrive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
            ExecutionStatus::PendingRedrive => "PENDING_REDRIVE",
        }
    }

    /// Whether `s` is this status's string (for records that keep it as text).
    pub fn is(self, s: &str) -> bool {
        s == self.as_str()
    }

    /// Whether the execution has ended: neither running nor pending a redrive.
    pub fn is_closed(self) -> bool {
        !matches!(
            self,
            ExecutionStatus::Running | ExecutionStatus::PendingRedrive
        )
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExecutionStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|st| st.is(s))
            .ok_or_else(|| UnknownValue {
                what: "execution status",
                value: s.to_string(),
            })
    }
}

/// A state machine's type (CreateStateMachine's `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MachineType {
    #[default]
    Standard,
    Express,
}

impl MachineType {
    pub fn as_str(self) -> &'static str {
        match self {
            MachineType::Standard => "STANDARD",
            MachineType::Express => "EXPRESS",
        }
    }

    /// Whether `s` is this type's string (for records that keep it as text).
    pub fn is(self, s: &str) -> bool {
        s == self.as_str()
    }
}

impl fmt::Display for MachineType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MachineType {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [MachineType::Standard, MachineType::Express]
            .into_iter()
            .find(|t| t.is(s))
            .ok_or_else(|| UnknownValue {
                what: "state machine type",
                value: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_as_aws_strings() {
        let names = [
            "RUNNING",
            "SUCCEEDED",
            "FAILED",
            "TIMED_OUT",
            "ABORTED",
            "PENDING_REDRIVE",
        ];
        for (st, name) in ExecutionStatus::ALL.into_iter().zip(names) {
            assert_eq!(st.as_str(), name);
            assert_eq!(st.to_string(), name);
            assert_eq!(name.parse::<ExecutionStatus>(), Ok(st));
            assert_eq!(serde_json::to_string(&st).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<ExecutionStatus>(&format!("\"{name}\"")).unwrap(),
                st
            );
            assert!(st.is(name));
        }
        let closed: Vec<_> = ExecutionStatus::ALL
            .into_iter()
            .filter(|s| s.is_closed())
            .collect();
        use ExecutionStatus::*;
        assert_eq!(closed, [Succeeded, Failed, TimedOut, Aborted]);
        let err = "running".parse::<ExecutionStatus>().unwrap_err();
        assert_eq!(err.to_string(), "unknown execution status: 'running'");
        assert!(!ExecutionStatus::Running.is("SUCCEEDED"));
    }

    #[test]
    fn machine_types_round_trip_as_aws_strings() {
        assert_eq!(MachineType::default(), MachineType::Standard);
        for (t, name) in [
            (MachineType::Standard, "STANDARD"),
            (MachineType::Express, "EXPRESS"),
        ] {
            assert_eq!(t.as_str(), name);
            assert_eq!(name.parse::<MachineType>(), Ok(t));
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::json!(name));
            assert!(t.is(name));
        }
        assert!("Express".parse::<MachineType>().is_err());
        assert!(serde_json::from_str::<MachineType>("\"express\"").is_err());
    }
}
