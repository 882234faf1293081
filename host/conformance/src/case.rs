//! The corpus case model (one JSON file per execution) and loading/filtering.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Where the corpus lives unless `STEPBOX_CONFORMANCE_DIR` says otherwise:
/// the copy vendored in the repository (`tests/conformance`).
pub const DEFAULT_CORPUS_DIR: &str = stepbox_corpus::VENDORED_DIR;

/// The corpus root, `$STEPBOX_CONFORMANCE_DIR` else [`DEFAULT_CORPUS_DIR`]
/// (`corpus_dir`), and one of its case directories, `cases/` or
/// `cases_other_services/`, checked to exist (`cases_dir`).
pub use stepbox_corpus::{cases_dir, corpus_dir};

/// One execution: a state machine, its input and what AWS produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Case {
    /// `<dir>.<module>.<Class>.<test>[<param id>]#exec<N>`
    pub name: String,
    pub source: Source,
    /// The ASL document as sent to CreateStateMachine.
    pub definition: Value,
    /// The execution input (pass it JSON-serialised as StartExecution.input).
    pub input: Value,
    pub expected: Expected,
    /// Feature tags, e.g. `State:Map`, `QueryLanguage:JSONata`, `Variables:Assign`.
    #[serde(default)]
    pub features: Vec<String>,
    /// External services: `[]` or `["lambda"]` (others in `cases_other_services`).
    #[serde(default)]
    pub needs: Vec<String>,
    /// Lambda functions the definition calls, by function name.
    #[serde(default)]
    pub lambdas: BTreeMap<String, Lambda>,
    pub state_machine: StateMachine,
    pub execution_name: String,
    pub comparison: Comparison,
    /// `match`, `mismatch` or `not-recorded`: whether the rebuilt input matched the snapshot's.
    #[serde(default)]
    pub input_check: Option<String>,
    #[serde(default)]
    pub history_event_types: Vec<String>,
    #[serde(default)]
    pub snapshot_transformers: Vec<Value>,
    #[serde(default)]
    pub caveats: Vec<String>,
    #[serde(default)]
    pub localstack_skip_reason: Vec<String>,
    #[serde(default)]
    pub s3_objects: Vec<Value>,
    /// The file the case was loaded from (not part of the JSON).
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    #[serde(default)]
    pub repo: String,
    #[serde(default)]
    pub commit: String,
    #[serde(default)]
    pub license: String,
    #[serde(default)]
    pub test_file: String,
    #[serde(default)]
    pub test_id: String,
    #[serde(default)]
    pub snapshot_file: String,
    #[serde(default)]
    pub snapshot_path: String,
    #[serde(default)]
    pub recorded_date: Option<String>,
    #[serde(default)]
    pub last_validated_date: Option<String>,
    #[serde(default)]
    pub templates: Value,
}

/// What AWS recorded. `None` means the field was absent (do not compare it);
/// `Some(Value::Null)` means it was recorded as `null`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Expected {
    /// `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
    pub status: String,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// A string, or the parsed object when the cause was a JSON object text.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub cause: Option<Value>,
}

/// Distinguishes a present `null` from an absent field.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lambda {
    #[serde(default)]
    pub func_name: Option<String>,
    /// Path of the Python handler in the LocalStack repository.
    pub handler_file: String,
    #[serde(default)]
    pub runtime: String,
    /// The Python source.
    #[serde(default)]
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateMachine {
    pub name: String,
    /// `STANDARD` or `EXPRESS`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// How LocalStack rewrote the recorded values (README "Comparing results").
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Comparison {
    #[serde(default)]
    pub replacements: Vec<Replacement>,
    #[serde(default)]
    pub wildcards: Vec<String>,
    #[serde(default)]
    pub ignore_paths: Vec<String>,
}

/// A Python regex and its `re.sub` replacement template.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Replacement {
    pub pattern: String,
    pub replacement: String,
}

impl Case {
    /// Parse one case file.
    pub fn load(path: &Path) -> Result<Case> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut case: Case =
            serde_json::from_str(&text).with_context(|| format!("parsing case {}", path.display()))?;
        case.path = path.to_path_buf();
        Ok(case)
    }

    /// Whether any feature tag matches `pattern`: an exact tag
    /// (`QueryLanguage:JSONata`), or a prefix ending in `*` (`Variables:*`, `State:*`).
    pub fn has_feature(&self, pattern: &str) -> bool {
        self.features.iter().any(|f| feature_matches(pattern, f))
    }

    /// Whether every service the case needs is in `allowed` (`&[]` = needs nothing).
    pub fn needs_only(&self, allowed: &[&str]) -> bool {
        self.needs.iter().all(|n| allowed.contains(&n.as_str()))
    }

    /// The definition as JSON text, ready for CreateStateMachine.
    pub fn definition_json(&self) -> String {
        self.definition.to_string()
    }

    /// The input as JSON text, ready for StartExecution.
    pub fn input_json(&self) -> String {
        self.input.to_string()
    }

    /// `EXPRESS` state machines.
    pub fn is_express(&self) -> bool {
        self.state_machine.kind.eq_ignore_ascii_case("EXPRESS")
    }
}

/// `pattern` is a tag, or a tag prefix ending in `*`.
pub fn feature_matches(pattern: &str, feature: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => feature.starts_with(prefix),
        None => feature == pattern,
    }
}

/// Load every `*.json` case in `dir` (not recursive), sorted by file name.
pub fn load_dir(dir: &Path) -> Result<Vec<Case>> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    paths.iter().map(|p| Case::load(p)).collect()
}

/// Which cases to keep. Empty lists mean "no constraint".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Keep cases whose `needs` are all in this list (`Some(vec![])` = needs nothing).
    pub needs_only: Option<Vec<String>>,
    /// Keep cases having at least one of these features (patterns, see [`Case::has_feature`]).
    pub any_feature: Vec<String>,
    /// Drop cases having any of these features.
    pub no_feature: Vec<String>,
    /// Keep cases whose name contains this text.
    pub name_contains: Option<String>,
}

impl Filter {
    pub fn accepts(&self, case: &Case) -> bool {
        if let Some(allowed) = &self.needs_only {
            let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
            if !case.needs_only(&allowed) {
                return false;
            }
        }
        if !self.any_feature.is_empty() && !self.any_feature.iter().any(|p| case.has_feature(p)) {
            return false;
        }
        if self.no_feature.iter().any(|p| case.has_feature(p)) {
            return false;
        }
        if let Some(text) = &self.name_contains
            && !case.name.contains(text.as_str())
        {
            return false;
        }
        true
    }

    pub fn apply<'a>(&self, cases: &'a [Case]) -> Vec<&'a Case> {
        cases.iter().filter(|c| self.accepts(c)).collect()
    }
}

/// Cases that need no external service at all.
pub fn needing_nothing(cases: &[Case]) -> Vec<&Case> {
    cases.iter().filter(|c| c.needs.is_empty()).collect()
}

/// Cases having a feature matching `pattern` (see [`Case::has_feature`]).
pub fn with_feature<'a>(cases: &'a [Case], pattern: &str) -> Vec<&'a Case> {
    cases.iter().filter(|c| c.has_feature(pattern)).collect()
}
