//! Step Functions Local's mock configuration file (`MockConfigFile.json`):
//!
//! ```json
//! {"StateMachines": {"NAME": {"TestCases": {"CASE": {"STATE": "RESPONSE"}}}},
//!  "MockedResponses": {"RESPONSE": {"0": {"Throw": {"Error": "E", "Cause": "C"}},
//!                                   "1-2": {"Return": {"any": "result"}}}}}
//! ```
//!
//! [`MockConfig::parse`] checks the whole file (an error names its JSON path);
//! [`MockConfig::test_case`] picks the case an execution of `NAME#CASE`
//! runs with, checked against the machine's Task states. A [`TestCase`] is
//! the engine's [`TaskMocks`]: attempt `n` of a mocked state (its
//! `$$.State.RetryCount`) gets the response whose key covers `n`.

mod parse;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use stepbox_asl::{StateKind, StateMachine};
use stepbox_engine::{MockedResponse, Mocks, TaskMocks};

/// A mock configuration file, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MockConfig {
    /// State machine name -> test case name -> the case.
    machines: BTreeMap<String, BTreeMap<String, Arc<TestCase>>>,
}

/// Where a mock configuration is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MockConfigError {
    #[error("cannot read {file}: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("not JSON: {0}")]
    NotJson(String),
    /// `path` is where in the file, e.g. `$.MockedResponses.R['1-2'].Throw.Error`.
    #[error("at {path}: {message}")]
    Invalid { path: String, message: String },
}

/// Why an execution cannot run with a test case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestCaseError {
    #[error("the mock configuration has no state machine '{machine}' (it has: {known})")]
    NoMachine { machine: String, known: String },
    #[error("the mock configuration has no test case '{case}' for state machine '{machine}' (it has: {known})")]
    NoCase { machine: String, case: String, known: String },
    #[error("test case '{case}' of state machine '{machine}' mocks states the definition has no Task state named: {missing}")]
    UnknownStates { machine: String, case: String, missing: String },
}

/// One test case: the mocked responses of its states.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    pub name: String,
    /// State name -> its responses.
    states: BTreeMap<String, Responses>,
}

/// A named entry of `MockedResponses`: one response per attempt range.
#[derive(Debug, Clone, PartialEq)]
struct Responses {
    name: String,
    /// Inclusive attempt ranges, consecutive from 0.
    ranges: Vec<(u32, u32, MockedResponse)>,
}

impl MockConfig {
    /// Parses and checks a mock configuration's text.
    pub fn parse(text: &str) -> Result<MockConfig, MockConfigError> {
        let v: Value = serde_json::from_str(text).map_err(|e| MockConfigError::NotJson(e.to_string()))?;
        parse::config(&v)
    }

    /// Reads and checks the mock configuration in `file`.
    pub fn load(file: &Path) -> Result<MockConfig, MockConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| MockConfigError::Unreadable {
            file: file.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text)
    }

    /// The state machines the file has test cases for.
    pub fn machine_names(&self) -> Vec<&str> {
        self.machines.keys().map(String::as_str).collect()
    }

    /// Test case `case` of state machine `machine`, whose definition is `sm`:
    /// every state it mocks must be a Task state of `sm` (at any depth).
    pub fn test_case(&self, machine: &str, case: &str, sm: &StateMachine) -> Result<Arc<TestCase>, TestCaseError> {
        let cases = self.machines.get(machine).ok_or_else(|| TestCaseError::NoMachine {
            machine: machine.into(),
            known: list(self.machines.keys()),
        })?;
        let tc = cases.get(case).ok_or_else(|| TestCaseError::NoCase {
            machine: machine.into(),
            case: case.into(),
            known: list(cases.keys()),
        })?;
        let mut tasks = Vec::new();
        task_names(sm, &mut tasks);
        let missing: Vec<&String> = tc.states.keys().filter(|s| !tasks.contains(&s.as_str())).collect();
        if !missing.is_empty() {
            return Err(TestCaseError::UnknownStates { machine: machine.into(), case: case.into(), missing: list(missing) });
        }
        Ok(tc.clone())
    }
}

impl TestCase {
    /// The engine's handle on this case.
    pub fn mocks(self: &Arc<Self>) -> Mocks {
        Mocks(self.clone())
    }
}

impl TaskMocks for TestCase {
    fn response(&self, state: &str, attempt: u32) -> Option<Result<MockedResponse, String>> {
        let r = self.states.get(state)?;
        let found = r.ranges.iter().find(|(from, to, _)| (*from..=*to).contains(&attempt));
        Some(match found {
            Some((_, _, response)) => Ok(response.clone()),
            None => Err(format!(
                "No mocked response for attempt {attempt} of state '{state}': mocked response '{}' of test case '{}' covers attempts 0-{}",
                r.name,
                self.name,
                r.ranges.last().map_or(0, |(_, to, _)| *to)
            )),
        })
    }
}

/// The names of `sm`'s Task states, in Parallel branches and Map processors too.
fn task_names<'a>(sm: &'a StateMachine, out: &mut Vec<&'a str>) {
    for st in &sm.states {
        match &st.kind {
            StateKind::Task { .. } => out.push(&st.name),
            StateKind::Parallel { branches } => branches.iter().for_each(|b| task_names(b, out)),
            StateKind::Map(spec) => task_names(&spec.processor, out),
            _ => {}
        }
    }
}

fn list<T: AsRef<str>>(items: impl IntoIterator<Item = T>) -> String {
    let names: Vec<String> = items.into_iter().map(|s| format!("'{}'", s.as_ref())).collect();
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

#[cfg(test)]
mod tests;
