//! Typed model of a state machine, built (and validated) from JSON.

use crate::choice::{ChoiceRule, Rule};
use crate::error::{Diagnostic, codes};
use crate::intrinsics::Intrinsic;
use crate::path::JsonPath;
use crate::template::Template;
use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};
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
        resource: String,
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
        let mut b = Builder {
            diags: Vec::new(),
            warnings: Vec::new(),
            all_names: HashMap::new(),
            top_ql: QueryLanguage::JsonPath,
        };
        let sm = b.machine(v, "", true, QueryLanguage::JsonPath);
        if !b.diags.is_empty() || sm.is_none() {
            if b.diags.is_empty() {
                b.diags.push(Diagnostic::error(
                    codes::SCHEMA_VALIDATION_FAILED,
                    "Invalid definition",
                    "",
                ));
            }
            return Err(b.diags);
        }
        let mut sm = sm.expect("machine");
        sm.warnings = b.warnings;
        Ok(sm)
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

struct Builder {
    diags: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// Every state name seen so far, across nested machines (names are global).
    all_names: HashMap<String, String>,
    /// The top-level QueryLanguage: what Map/Parallel children inherit.
    top_ql: QueryLanguage,
}

fn looks_dynamic(s: &str) -> bool {
    s.starts_with("$.")
        || s.starts_with("$$.")
        || s == "$"
        || (s.starts_with("States.") && s.contains('('))
}

/// NO_DOLLAR warnings for template fields that look like paths but lack `.$`.
fn no_dollar(v: &Value, loc: &str, out: &mut Vec<Diagnostic>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let here = format!("{loc}/{k}");
                match x {
                    Value::String(s) if !k.ends_with(".$") && looks_dynamic(s) => out.push(Diagnostic::warning(
                        "NO_DOLLAR",
                        format!("The value of the field '{k}' looks like a JSONPath or intrinsic function, but the field name does not end with '.$'"),
                        here,
                    )),
                    _ => no_dollar(x, &here, out),
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                no_dollar(x, &format!("{loc}[{i}]"), out)
            }
        }
        _ => {}
    }
}

fn has_dollar_key(v: &Value) -> bool {
    match v {
        Value::Object(o) => o
            .iter()
            .any(|(k, x)| k.ends_with(".$") || has_dollar_key(x)),
        Value::Array(a) => a.iter().any(has_dollar_key),
        _ => false,
    }
}

fn esc(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];

fn allowed_fields(ty: &str, ql: QueryLanguage) -> Option<&'static [&'static str]> {
    use QueryLanguage::*;
    Some(match (ty, ql) {
        ("Pass", JsonPath) => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "Result",
            "Assign",
        ],
        ("Pass", Jsonata) => &["Next", "End", "Output", "Assign"],
        ("Task", JsonPath) => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Retry",
            "Catch",
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Assign",
        ],
        ("Task", Jsonata) => &[
            "Next",
            "End",
            "Arguments",
            "Output",
            "Retry",
            "Catch",
            "Resource",
            "TimeoutSeconds",
            "HeartbeatSeconds",
            "Credentials",
            "Assign",
        ],
        ("Choice", JsonPath) => &["Choices", "Default", "InputPath", "OutputPath", "Assign"],
        ("Choice", Jsonata) => &["Choices", "Default", "Output", "Assign"],
        ("Wait", JsonPath) => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Seconds",
            "SecondsPath",
            "Timestamp",
            "TimestampPath",
            "Assign",
        ],
        ("Wait", Jsonata) => &["Next", "End", "Output", "Seconds", "Timestamp", "Assign"],
        ("Succeed", JsonPath) => &["InputPath", "OutputPath"],
        ("Succeed", Jsonata) => &["Output"],
        ("Fail", JsonPath) => &["Error", "ErrorPath", "Cause", "CausePath"],
        ("Fail", Jsonata) => &["Error", "Cause"],
        ("Parallel", JsonPath) => &[
            "Branches",
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Retry",
            "Catch",
            "Assign",
        ],
        ("Parallel", Jsonata) => &[
            "Branches",
            "Next",
            "End",
            "Arguments",
            "Output",
            "Retry",
            "Catch",
            "Assign",
        ],
        ("Map", JsonPath) => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Retry",
            "Catch",
            "Iterator",
            "ItemProcessor",
            "ItemsPath",
            "ItemSelector",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "Label",
            "Assign",
        ],
        ("Map", Jsonata) => &[
            "Next",
            "End",
            "Arguments",
            "Output",
            "Retry",
            "Catch",
            "Iterator",
            "ItemProcessor",
            "Items",
            "ItemSelector",
            "MaxConcurrency",
            "ToleratedFailureCount",
            "ToleratedFailurePercentage",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "Label",
            "Assign",
        ],
        _ => return None,
    })
}

impl Builder {
    fn err(&mut self, code: &'static str, msg: impl Into<String>, loc: impl Into<String>) {
        if self.diags.len() < 100 {
            self.diags.push(Diagnostic::error(code, msg, loc));
        }
    }
    fn schema(&mut self, msg: impl Into<String>, loc: impl Into<String>) {
        self.err(codes::SCHEMA_VALIDATION_FAILED, msg, loc)
    }

    fn machine(
        &mut self,
        v: &Value,
        loc: &str,
        top: bool,
        parent_ql: QueryLanguage,
    ) -> Option<StateMachine> {
        let Value::Object(o) = v else {
            self.schema(
                "The state machine definition must be a JSON object",
                loc.to_string(),
            );
            return None;
        };
        let allowed: &[&str] = if top {
            &[
                "StartAt",
                "States",
                "Comment",
                "TimeoutSeconds",
                "Version",
                "QueryLanguage",
            ]
        } else {
            &[
                "StartAt",
                "States",
                "Comment",
                "ProcessorConfig",
                "QueryLanguage",
            ]
        };
        for k in o.keys() {
            if !allowed.contains(&k.as_str()) {
                self.schema(
                    format!("The field \"{k}\" is not supported by Step Functions"),
                    loc.to_string(),
                );
            }
        }
        let ql = match o.get("QueryLanguage") {
            None => parent_ql,
            Some(Value::String(s)) if s == "JSONPath" => QueryLanguage::JsonPath,
            Some(Value::String(s)) if s == "JSONata" => QueryLanguage::Jsonata,
            Some(_) => {
                self.schema(
                    "The value for the field 'QueryLanguage' must be one of [JSONPath, JSONata]",
                    format!("{loc}/QueryLanguage"),
                );
                parent_ql
            }
        };
        if top {
            self.top_ql = ql;
        }
        let comment = self.opt_string(o, "Comment", loc);
        let version = if top {
            self.opt_string(o, "Version", loc)
        } else {
            None
        };
        let timeout_seconds = match o.get("TimeoutSeconds") {
            None => None,
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 && n <= 99_999_999 => Some(n),
                _ => {
                    self.schema(
                        "The value for the field 'TimeoutSeconds' must be a positive integer",
                        format!("{loc}/TimeoutSeconds"),
                    );
                    None
                }
            },
        };
        let start_name = match o.get("StartAt") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.schema(
                    "The value for the field 'StartAt' must be a STRING",
                    format!("{loc}/StartAt"),
                );
                None
            }
            None => {
                self.schema("These fields are required: [StartAt]", loc.to_string());
                None
            }
        };
        let states_obj = match o.get("States") {
            Some(Value::Object(s)) if !s.is_empty() => Some(s),
            Some(Value::Object(_)) => {
                self.schema(
                    "The field 'States' must contain at least one state",
                    format!("{loc}/States"),
                );
                None
            }
            Some(_) => {
                self.schema(
                    "The value for the field 'States' must be an OBJECT",
                    format!("{loc}/States"),
                );
                None
            }
            None => {
                self.schema("These fields are required: [States]", loc.to_string());
                None
            }
        };
        let states_obj = states_obj?;
        let mut names = HashMap::new();
        for (i, k) in states_obj.keys().enumerate() {
            let sloc = format!("{loc}/States/{}", esc(k));
            if k.is_empty() || k.chars().count() > 80 || k.chars().any(|c| c.is_control()) {
                self.err("INVALID_STATE_NAME", format!("State name \"{k}\" must be 1 to 80 characters long with no control characters"), sloc.clone());
            }
            if self.all_names.contains_key(k) {
                self.err(
                    codes::DUPLICATE_STATE_NAME,
                    format!("Duplicate State name: {k}"),
                    sloc.clone(),
                );
            } else {
                self.all_names.insert(k.clone(), sloc);
            }
            names.insert(k.clone(), i);
        }
        // Build states (transitions as names first).
        let mut states = Vec::with_capacity(states_obj.len());
        for (name, sv) in states_obj {
            let sloc = format!("{loc}/States/{}", esc(name));
            if let Some(s) = self.state(name, sv, &sloc, ql, &names) {
                states.push(s);
            }
        }
        let start_at = match &start_name {
            Some(s) => match names.get(s) {
                Some(i) => Some(*i),
                None => {
                    self.err(
                        codes::MISSING_TRANSITION_TARGET,
                        format!("Missing 'Next' target: {s}"),
                        format!("{loc}/StartAt"),
                    );
                    None
                }
            },
            None => None,
        };
        if states.len() != states_obj.len() {
            return None;
        }
        let start_at = start_at?;
        // Reachability and terminal-state checks.
        let n = states.len();
        let mut seen = vec![false; n];
        let mut stack = vec![start_at];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            for t in successors(&states[i]) {
                if !seen[t] {
                    stack.push(t);
                }
            }
        }
        let has_terminal = states.iter().enumerate().any(|(i, s)| {
            seen[i] && (s.end || matches!(s.kind, StateKind::Succeed | StateKind::Fail { .. }))
        });
        if !has_terminal {
            self.err("MISSING_END_STATE", "Workflow has no terminal state", "");
        } else {
            for (i, s) in states.iter().enumerate() {
                if !seen[i] {
                    self.err(
                        codes::MISSING_TRANSITION_TARGET,
                        format!("State \"{}\" is not reachable.", s.name),
                        format!("{loc}/States/{}", esc(&s.name)),
                    );
                }
            }
        }
        let uses_context = states.iter().any(|s| {
            s.uses_context
                || match &s.kind {
                    StateKind::Parallel { branches } => branches.iter().any(|b| b.uses_context),
                    StateKind::Map(m) => m.processor.uses_context,
                    _ => false,
                }
        });
        Some(StateMachine {
            comment,
            start_at,
            states,
            timeout_seconds,
            version,
            query_language: ql,
            warnings: Vec::new(),
            names,
            uses_context,
        })
    }

    fn opt_string(&mut self, o: &Map<String, Value>, k: &str, loc: &str) -> Option<String> {
        match o.get(k) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.schema(
                    format!("The value for the field '{k}' must be a STRING"),
                    format!("{loc}/{k}"),
                );
                None
            }
        }
    }

    fn target(&mut self, name: &str, names: &HashMap<String, usize>, loc: String) -> Option<usize> {
        match names.get(name) {
            Some(i) => Some(*i),
            None => {
                self.err(
                    codes::MISSING_TRANSITION_TARGET,
                    format!("Missing 'Next' target: {name}"),
                    loc,
                );
                None
            }
        }
    }

    fn io_path(&mut self, o: &Map<String, Value>, k: &str, loc: &str) -> IoPath {
        match o.get(k) {
            None => IoPath::Default,
            Some(Value::Null) => IoPath::Null,
            Some(Value::String(s)) => match JsonPath::parse(s) {
                Ok(p) => IoPath::Path(p),
                Err(_) => {
                    self.schema(
                        format!("The value for the field '{k}' must be a valid JSONPath"),
                        format!("{loc}/{k}"),
                    );
                    IoPath::Default
                }
            },
            Some(_) => {
                self.schema(
                    format!("The value for the field '{k}' must be a STRING"),
                    format!("{loc}/{k}"),
                );
                IoPath::Default
            }
        }
    }

    fn result_path(&mut self, o: &Map<String, Value>, loc: &str) -> ResultPath {
        match o.get("ResultPath") {
            None => ResultPath::Default,
            Some(Value::Null) => ResultPath::Null,
            Some(Value::String(s)) => match JsonPath::parse_reference(s) {
                Ok(p) if matches!(p.root(), crate::path::Root::Input) => {
                    if p.is_root_only() {
                        ResultPath::Default
                    } else {
                        ResultPath::Path(p)
                    }
                }
                _ => {
                    self.schema(
                        "The value for the field 'ResultPath' must be a valid Reference Path",
                        format!("{loc}/ResultPath"),
                    );
                    ResultPath::Default
                }
            },
            Some(_) => {
                self.schema(
                    "The value for the field 'ResultPath' must be a STRING",
                    format!("{loc}/ResultPath"),
                );
                ResultPath::Default
            }
        }
    }

    fn template(
        &mut self,
        o: &Map<String, Value>,
        k: &str,
        loc: &str,
        uc: &mut bool,
    ) -> Option<Template> {
        let v = o.get(k)?;
        match Template::compile(v) {
            Ok(t) => {
                *uc |= t.uses_context();
                Some(t)
            }
            Err(e) => {
                self.schema(e.message, format!("{loc}/{k}{}", e.location));
                None
            }
        }
    }

    fn num_spec(
        &mut self,
        o: &Map<String, Value>,
        k: &str,
        loc: &str,
        ql: QueryLanguage,
        min: f64,
    ) -> Option<NumSpec> {
        let pk = format!("{k}Path");
        match (o.get(k), o.get(&pk)) {
            (Some(_), Some(_)) => {
                self.schema(
                    format!("Only one of '{k}' and '{pk}' may be given"),
                    loc.to_string(),
                );
                None
            }
            (Some(Value::Number(n)), None) => {
                let x = n.as_f64().unwrap_or(0.0);
                if x < min {
                    self.schema(
                        format!("The value for the field '{k}' must be at least {min}"),
                        format!("{loc}/{k}"),
                    );
                }
                Some(NumSpec::Value(x))
            }
            (Some(v @ Value::String(s)), None)
                if ql == QueryLanguage::Jsonata && s.starts_with("{%") =>
            {
                Some(NumSpec::Raw(v.clone()))
            }
            (Some(_), None) => {
                self.schema(
                    format!("The value for the field '{k}' must be a NUMBER"),
                    format!("{loc}/{k}"),
                );
                None
            }
            (None, Some(Value::String(s))) => match JsonPath::parse_reference(s) {
                Ok(p) => Some(NumSpec::Path(p)),
                Err(_) => {
                    self.schema(
                        format!("The value for the field '{pk}' must be a valid Reference Path"),
                        format!("{loc}/{pk}"),
                    );
                    None
                }
            },
            (None, Some(_)) => {
                self.schema(
                    format!("The value for the field '{pk}' must be a STRING"),
                    format!("{loc}/{pk}"),
                );
                None
            }
            (None, None) => None,
        }
    }

    fn error_list(&mut self, o: &Map<String, Value>, loc: &str) -> Vec<String> {
        match o.get("ErrorEquals") {
            Some(Value::Array(a)) if !a.is_empty() => {
                let mut out = Vec::new();
                for (i, e) in a.iter().enumerate() {
                    match e {
                        Value::String(s) => out.push(s.clone()),
                        _ => self.schema(
                            "The values of 'ErrorEquals' must be STRINGs",
                            format!("{loc}/ErrorEquals[{i}]"),
                        ),
                    }
                }
                if out.iter().any(|e| e == "States.ALL") && out.len() > 1 {
                    self.schema(
                        "Error equals on 'States.ALL' must appear alone in the list",
                        format!("{loc}/ErrorEquals"),
                    );
                }
                out
            }
            _ => {
                self.schema("These fields are required: [ErrorEquals]", loc.to_string());
                Vec::new()
            }
        }
    }

    fn retriers(&mut self, o: &Map<String, Value>, loc: &str) -> Vec<Retrier> {
        let Some(v) = o.get("Retry") else {
            return Vec::new();
        };
        let Value::Array(a) = v else {
            self.schema(
                "The value for the field 'Retry' must be an ARRAY",
                format!("{loc}/Retry"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, r) in a.iter().enumerate() {
            let rloc = format!("{loc}/Retry[{i}]");
            let Value::Object(ro) = r else {
                self.schema("A retrier must be an OBJECT", rloc);
                continue;
            };
            for k in ro.keys() {
                if ![
                    "ErrorEquals",
                    "IntervalSeconds",
                    "MaxAttempts",
                    "BackoffRate",
                    "MaxDelaySeconds",
                    "JitterStrategy",
                    "Comment",
                ]
                .contains(&k.as_str())
                {
                    self.schema(
                        format!("The field \"{k}\" is not supported by Step Functions"),
                        rloc.clone(),
                    );
                }
            }
            let error_equals = self.error_list(ro, &rloc);
            if error_equals.iter().any(|e| e == "States.ALL") && i + 1 != a.len() {
                self.schema(
                    "A Retrier with 'States.ALL' must be the last one",
                    format!("{rloc}/ErrorEquals"),
                );
            }
            let int = |k: &str, min: u64, max: u64, b: &mut Builder| -> Option<u64> {
                let v = ro.get(k)?;
                match v.as_u64() {
                    Some(n) if n >= min && n <= max => Some(n),
                    _ => {
                        b.schema(format!("The value for the field '{k}' must be an INTEGER between {min} and {max}"), format!("{rloc}/{k}"));
                        None
                    }
                }
            };
            let interval_seconds = int("IntervalSeconds", 1, 99_999_999, self).unwrap_or(1) as f64;
            let max_attempts = int("MaxAttempts", 0, 99_999_999, self).unwrap_or(3) as u32;
            let max_delay_seconds = int("MaxDelaySeconds", 1, 31_622_400, self).map(|x| x as f64);
            let backoff_rate = match ro.get("BackoffRate") {
                None => 2.0,
                Some(v) => match v.as_f64() {
                    Some(x) if x >= 1.0 => x,
                    _ => {
                        self.schema(
                            "The value for the field 'BackoffRate' must be a NUMBER >= 1.0",
                            format!("{rloc}/BackoffRate"),
                        );
                        2.0
                    }
                },
            };
            let jitter = match ro.get("JitterStrategy") {
                None => Jitter::None,
                Some(Value::String(s)) if s == "FULL" => Jitter::Full,
                Some(Value::String(s)) if s == "NONE" => Jitter::None,
                Some(_) => {
                    self.schema(
                        "The value for the field 'JitterStrategy' must be one of [FULL, NONE]",
                        format!("{rloc}/JitterStrategy"),
                    );
                    Jitter::None
                }
            };
            out.push(Retrier {
                error_equals,
                interval_seconds,
                max_attempts,
                backoff_rate,
                max_delay_seconds,
                jitter,
            });
        }
        out
    }

    /// Compiles `Assign` (JSONPath mode) as a template.
    fn assign(&mut self, o: &Map<String, Value>, loc: &str, uc: &mut bool) -> Option<Template> {
        match o.get("Assign") {
            None => None,
            Some(Value::Object(_)) => self.template(o, "Assign", loc, uc),
            Some(_) => {
                self.schema(
                    "The value for the field 'Assign' must be an OBJECT",
                    format!("{loc}/Assign"),
                );
                None
            }
        }
    }

    fn catchers(
        &mut self,
        o: &Map<String, Value>,
        loc: &str,
        names: &HashMap<String, usize>,
        ql: QueryLanguage,
    ) -> Vec<Catcher> {
        let Some(v) = o.get("Catch") else {
            return Vec::new();
        };
        let Value::Array(a) = v else {
            self.schema(
                "The value for the field 'Catch' must be an ARRAY",
                format!("{loc}/Catch"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, c) in a.iter().enumerate() {
            let cloc = format!("{loc}/Catch[{i}]");
            let Value::Object(co) = c else {
                self.schema("A catcher must be an OBJECT", cloc);
                continue;
            };
            for k in co.keys() {
                if ![
                    "ErrorEquals",
                    "Next",
                    "ResultPath",
                    "Comment",
                    "Assign",
                    "Output",
                ]
                .contains(&k.as_str())
                {
                    self.schema(
                        format!("The field \"{k}\" is not supported by Step Functions"),
                        cloc.clone(),
                    );
                }
            }
            let error_equals = self.error_list(co, &cloc);
            if error_equals.iter().any(|e| e == "States.ALL") && i + 1 != a.len() {
                self.schema(
                    "A Catcher with 'States.ALL' must be the last one",
                    format!("{cloc}/ErrorEquals"),
                );
            }
            let result_path = self.result_path(co, &cloc);
            let next_name = match co.get("Next") {
                Some(Value::String(s)) => s.clone(),
                _ => {
                    self.schema("These fields are required: [Next]", cloc.clone());
                    continue;
                }
            };
            let Some(next) = self.target(&next_name, names, format!("{cloc}/Next")) else {
                continue;
            };
            let mut uc = false;
            let assign_template = if ql == QueryLanguage::JsonPath {
                self.assign(co, &cloc, &mut uc)
            } else {
                None
            };
            out.push(Catcher {
                error_equals,
                next,
                next_name,
                result_path,
                assign: co.get("Assign").cloned(),
                assign_template,
                output: co.get("Output").cloned(),
            });
        }
        out
    }

    fn str_spec(
        &mut self,
        o: &Map<String, Value>,
        k: &str,
        loc: &str,
        uc: &mut bool,
    ) -> Option<StrSpec> {
        let pk = format!("{k}Path");
        match (o.get(k), o.get(&pk)) {
            (Some(_), Some(_)) => {
                self.schema(
                    format!("Only one of '{k}' and '{pk}' may be given"),
                    loc.to_string(),
                );
                None
            }
            (Some(Value::String(s)), None) => Some(StrSpec::Value(s.clone())),
            (Some(_), None) => {
                self.schema(
                    format!("The value for the field '{k}' must be a STRING"),
                    format!("{loc}/{k}"),
                );
                None
            }
            (None, Some(Value::String(s))) => {
                if s.starts_with('$') {
                    match JsonPath::parse(s) {
                        Ok(p) => {
                            *uc |= matches!(p.root(), crate::path::Root::Context);
                            Some(StrSpec::Path(p))
                        }
                        Err(_) => {
                            self.schema(format!("The value for the field '{pk}' must be a valid JSONPath or a valid intrinsic function call"), format!("{loc}/{pk}"));
                            None
                        }
                    }
                } else {
                    match Intrinsic::parse(s) {
                        Ok(c) => {
                            *uc |= c.uses_context();
                            Some(StrSpec::Call(c))
                        }
                        Err(_) => {
                            self.schema(format!("The value for the field '{pk}' must be a valid JSONPath or a valid intrinsic function call"), format!("{loc}/{pk}"));
                            None
                        }
                    }
                }
            }
            (None, Some(_)) => {
                self.schema(
                    format!("The value for the field '{pk}' must be a STRING"),
                    format!("{loc}/{pk}"),
                );
                None
            }
            (None, None) => None,
        }
    }

    fn state(
        &mut self,
        name: &str,
        v: &Value,
        loc: &str,
        parent_ql: QueryLanguage,
        names: &HashMap<String, usize>,
    ) -> Option<State> {
        let Value::Object(o) = v else {
            self.schema("A state must be an OBJECT", loc.to_string());
            return None;
        };
        let ty = match o.get("Type") {
            Some(Value::String(t)) => t.as_str(),
            _ => {
                self.schema("These fields are required: [Type]", loc.to_string());
                return None;
            }
        };
        let ql = match o.get("QueryLanguage") {
            None => parent_ql,
            Some(Value::String(s)) if s == "JSONPath" => {
                if self.top_ql == QueryLanguage::Jsonata {
                    self.schema("A state cannot set QueryLanguage to JSONPath when the state machine uses JSONata", format!("{loc}/QueryLanguage"));
                }
                QueryLanguage::JsonPath
            }
            Some(Value::String(s)) if s == "JSONata" => QueryLanguage::Jsonata,
            Some(_) => {
                self.schema(
                    "The value for the field 'QueryLanguage' must be one of [JSONPath, JSONata]",
                    format!("{loc}/QueryLanguage"),
                );
                parent_ql
            }
        };
        let Some(allowed) = allowed_fields(ty, ql) else {
            self.schema(format!("The value for the field 'Type' must be one of [Task, Pass, Choice, Wait, Succeed, Fail, Parallel, Map], got \"{ty}\""), format!("{loc}/Type"));
            return None;
        };
        let before = self.diags.len();
        for k in o.keys() {
            if !COMMON.contains(&k.as_str()) && !allowed.contains(&k.as_str()) {
                self.schema(
                    format!("The field \"{k}\" is not supported by Step Functions"),
                    loc.to_string(),
                );
            }
        }
        let comment = self.opt_string(o, "Comment", loc);
        if ql == QueryLanguage::JsonPath {
            for k in ["Parameters", "ResultSelector", "ItemSelector"] {
                if let Some(v) = o.get(k) {
                    no_dollar(v, &format!("{loc}/{k}"), &mut self.warnings);
                }
            }
            if ty == "Pass" && o.get("Result").is_some_and(has_dollar_key) {
                self.warnings.push(Diagnostic::warning(
                    "PASS_RESULT_IS_STATIC",
                    "The Result of a Pass state is static: '.$' fields are not evaluated",
                    format!("{loc}/Result"),
                ));
            }
            for k in ["Error", "Cause"] {
                if let Some(Value::String(v)) = o.get(k)
                    && ty == "Fail"
                    && looks_dynamic(v)
                {
                    self.warnings.push(Diagnostic::warning("NO_PATH", format!("The value of the field '{k}' looks like a path, but the field name does not end with 'Path'"), format!("{loc}/{k}")));
                }
            }
        }
        // Transitions.
        let terminal_type = matches!(ty, "Choice" | "Succeed" | "Fail");
        let end = match o.get("End") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.schema(
                    "The value for the field 'End' must be a BOOLEAN",
                    format!("{loc}/End"),
                );
                false
            }
        };
        let next_name = match o.get("Next") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.schema(
                    "The value for the field 'Next' must be a STRING",
                    format!("{loc}/Next"),
                );
                None
            }
        };
        let mut next = None;
        if !terminal_type {
            match (&next_name, end) {
                (Some(_), true) => {
                    self.schema("Only one of 'Next' or 'End' may be given", loc.to_string())
                }
                (None, false) => self.schema(
                    "These fields are required: [Next] or [End]",
                    loc.to_string(),
                ),
                (Some(n), false) => next = self.target(n, names, format!("{loc}/Next")),
                (None, true) => {}
            }
        }
        let mut uc = false;
        let jp = ql == QueryLanguage::JsonPath;
        let input_path = if jp {
            self.io_path(o, "InputPath", loc)
        } else {
            IoPath::Default
        };
        let output_path = if jp {
            self.io_path(o, "OutputPath", loc)
        } else {
            IoPath::Default
        };
        for p in [&input_path, &output_path] {
            if let IoPath::Path(p) = p {
                uc |= matches!(p.root(), crate::path::Root::Context);
            }
        }
        let result_path = if jp {
            self.result_path(o, loc)
        } else {
            ResultPath::Default
        };
        let parameters = if jp && ty != "Map" {
            self.template(o, "Parameters", loc, &mut uc)
        } else {
            None
        };
        let result_selector = if jp {
            self.template(o, "ResultSelector", loc, &mut uc)
        } else {
            None
        };
        let assign_template = if jp {
            self.assign(o, loc, &mut uc)
        } else {
            None
        };
        let retry = self.retriers(o, loc);
        let catch = self.catchers(o, loc, names, ql);
        let jsonata = if jp {
            None
        } else {
            match crate::jsonata::JsonataFields::compile(ty, o, loc) {
                Ok(f) => {
                    uc |= f.reads_context;
                    Some(Box::new(f))
                }
                Err(diags) => {
                    for d in diags {
                        self.err(d.code, d.message, d.location);
                    }
                    None
                }
            }
        };
        let kind = match ty {
            "Pass" => StateKind::Pass {
                result: o.get("Result").cloned(),
            },
            "Succeed" => StateKind::Succeed,
            "Fail" => {
                let error = self.str_spec(o, "Error", loc, &mut uc);
                let cause = self.str_spec(o, "Cause", loc, &mut uc);
                StateKind::Fail { error, cause }
            }
            "Task" => {
                let resource = match o.get("Resource") {
                    Some(Value::String(s)) => {
                        if !s.starts_with("arn:") {
                            self.err(
                                "INVALID_RESOURCE",
                                format!("Value is not a valid resource ARN: {s}"),
                                format!("{loc}/Resource"),
                            );
                        }
                        s.clone()
                    }
                    _ => {
                        self.schema("These fields are required: [Resource]", loc.to_string());
                        String::new()
                    }
                };
                let timeout = self.num_spec(o, "TimeoutSeconds", loc, ql, 1.0);
                let heartbeat = self.num_spec(o, "HeartbeatSeconds", loc, ql, 1.0);
                if let (Some(NumSpec::Value(t)), Some(NumSpec::Value(h))) = (&timeout, &heartbeat)
                    && h >= t
                {
                    self.schema(
                        "HeartbeatSeconds must be smaller than TimeoutSeconds",
                        format!("{loc}/HeartbeatSeconds"),
                    );
                }
                StateKind::Task {
                    resource,
                    timeout,
                    heartbeat,
                    credentials: o.get("Credentials").cloned(),
                }
            }
            "Wait" => {
                let given: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
                    .into_iter()
                    .filter(|k| o.contains_key(*k))
                    .collect();
                if given.len() != 1 {
                    self.schema(
                        "Exactly one of Seconds, SecondsPath, Timestamp, TimestampPath is required",
                        loc.to_string(),
                    );
                    StateKind::Wait(WaitSpec::Seconds(0.0))
                } else {
                    let k = given[0];
                    let v = &o[k];
                    let spec = match (k, v) {
                        (_, Value::String(s)) if !jp && s.starts_with("{%") => {
                            WaitSpec::Raw(v.clone())
                        }
                        ("Seconds", Value::Number(n)) if n.as_u64().is_some() => {
                            WaitSpec::Seconds(n.as_f64().unwrap_or(0.0))
                        }
                        ("Timestamp", Value::String(s)) => {
                            match crate::choice::parse_timestamp(s) {
                                Some(t) => WaitSpec::Timestamp(t),
                                None => {
                                    self.schema("The value for the field 'Timestamp' must be a valid ISO-8601 timestamp", format!("{loc}/Timestamp"));
                                    WaitSpec::Seconds(0.0)
                                }
                            }
                        }
                        ("SecondsPath" | "TimestampPath", Value::String(s)) => {
                            match JsonPath::parse_reference(s) {
                                Ok(p) => {
                                    uc |= matches!(p.root(), crate::path::Root::Context);
                                    if k == "SecondsPath" {
                                        WaitSpec::SecondsPath(p)
                                    } else {
                                        WaitSpec::TimestampPath(p)
                                    }
                                }
                                Err(_) => {
                                    self.schema(format!("The value for the field '{k}' must be a valid Reference Path"), format!("{loc}/{k}"));
                                    WaitSpec::Seconds(0.0)
                                }
                            }
                        }
                        _ => {
                            self.schema(
                                format!("The value for the field '{k}' has an invalid type"),
                                format!("{loc}/{k}"),
                            );
                            WaitSpec::Seconds(0.0)
                        }
                    };
                    StateKind::Wait(spec)
                }
            }
            "Choice" => {
                let mut choices = Vec::new();
                match o.get("Choices") {
                    Some(Value::Array(a)) if !a.is_empty() => {
                        for (i, c) in a.iter().enumerate() {
                            let cloc = format!("{loc}/Choices[{i}]");
                            let Value::Object(co) = c else {
                                self.schema("A choice rule must be an OBJECT", cloc);
                                continue;
                            };
                            let nn = match co.get("Next") {
                                Some(Value::String(s)) => s.clone(),
                                _ => {
                                    self.schema("These fields are required: [Next]", cloc.clone());
                                    continue;
                                }
                            };
                            let rule = if jp {
                                match Rule::compile(co, true) {
                                    Ok(r) => r,
                                    Err((l, m)) => {
                                        let l = if l.is_empty() {
                                            cloc.clone()
                                        } else {
                                            format!("{cloc}/{l}")
                                        };
                                        self.schema(m, l);
                                        continue;
                                    }
                                }
                            } else {
                                match co.get("Condition") {
                                    Some(c) => Rule::Condition(c.clone()),
                                    None => {
                                        self.schema(
                                            "These fields are required: [Condition]",
                                            cloc.clone(),
                                        );
                                        continue;
                                    }
                                }
                            };
                            uc |= rule.uses_context();
                            if let Some(t) = self.target(&nn, names, format!("{cloc}/Next")) {
                                let assign_template = if jp {
                                    self.assign(co, &cloc, &mut uc)
                                } else {
                                    None
                                };
                                choices.push((
                                    ChoiceRule {
                                        rule,
                                        next: nn,
                                        assign: co.get("Assign").cloned(),
                                        assign_template,
                                    },
                                    t,
                                ));
                            }
                        }
                    }
                    _ => self.schema(
                        "The field 'Choices' must be a non-empty ARRAY",
                        format!("{loc}/Choices"),
                    ),
                }
                let default = match o.get("Default") {
                    None => None,
                    Some(Value::String(s)) => self.target(s, names, format!("{loc}/Default")),
                    Some(_) => {
                        self.schema(
                            "The value for the field 'Default' must be a STRING",
                            format!("{loc}/Default"),
                        );
                        None
                    }
                };
                StateKind::Choice { choices, default }
            }
            "Parallel" => {
                let mut branches = Vec::new();
                match o.get("Branches") {
                    Some(Value::Array(a)) if !a.is_empty() => {
                        for (i, b) in a.iter().enumerate() {
                            if let Some(m) =
                                self.machine(b, &format!("{loc}/Branches[{i}]"), false, self.top_ql)
                            {
                                branches.push(std::sync::Arc::new(m));
                            }
                        }
                    }
                    _ => self.schema(
                        "The field 'Branches' must be a non-empty ARRAY",
                        format!("{loc}/Branches"),
                    ),
                }
                StateKind::Parallel { branches }
            }
            "Map" => {
                let (proc_key, legacy) = match (o.get("ItemProcessor"), o.get("Iterator")) {
                    (Some(_), None) => ("ItemProcessor", false),
                    (None, Some(_)) => ("Iterator", true),
                    _ => {
                        self.schema(
                            "Exactly one of 'ItemProcessor' or 'Iterator' is required",
                            loc.to_string(),
                        );
                        return None;
                    }
                };
                let pv = &o[proc_key];
                let processor = self.machine(pv, &format!("{loc}/{proc_key}"), false, self.top_ql);
                let (mode, execution_type) = match pv.get("ProcessorConfig") {
                    None => (MapMode::Inline, None),
                    Some(Value::Object(pc)) => {
                        let mode = match pc.get("Mode") {
                            None => MapMode::Inline,
                            Some(Value::String(s)) if s == "INLINE" => MapMode::Inline,
                            Some(Value::String(s)) if s == "DISTRIBUTED" => MapMode::Distributed,
                            Some(_) => {
                                self.schema("The value for the field 'Mode' must be one of [INLINE, DISTRIBUTED]", format!("{loc}/{proc_key}/ProcessorConfig/Mode"));
                                MapMode::Inline
                            }
                        };
                        (
                            mode,
                            pc.get("ExecutionType")
                                .and_then(|v| v.as_str())
                                .map(str::to_string),
                        )
                    }
                    Some(_) => {
                        self.schema(
                            "The value for the field 'ProcessorConfig' must be an OBJECT",
                            format!("{loc}/{proc_key}/ProcessorConfig"),
                        );
                        (MapMode::Inline, None)
                    }
                };
                if o.contains_key("ItemSelector") && o.contains_key("Parameters") {
                    self.schema(
                        "Only one of 'ItemSelector' or 'Parameters' may be given",
                        loc.to_string(),
                    );
                }
                let item_selector = if o.contains_key("ItemSelector") {
                    if jp {
                        self.template(o, "ItemSelector", loc, &mut uc)
                    } else {
                        None
                    }
                } else {
                    self.template(o, "Parameters", loc, &mut uc)
                };
                let items_path = match o.get("ItemsPath") {
                    None => None,
                    Some(Value::String(s)) => match JsonPath::parse_reference(s) {
                        Ok(p) => {
                            uc |= matches!(p.root(), crate::path::Root::Context);
                            Some(p)
                        }
                        Err(_) => {
                            self.schema("The value for the field 'ItemsPath' must be a valid Reference Path", format!("{loc}/ItemsPath"));
                            None
                        }
                    },
                    Some(_) => {
                        self.schema(
                            "The value for the field 'ItemsPath' must be a STRING",
                            format!("{loc}/ItemsPath"),
                        );
                        None
                    }
                };
                let max_concurrency = self
                    .num_spec(o, "MaxConcurrency", loc, ql, 0.0)
                    .unwrap_or(NumSpec::Value(0.0));
                let tolerated_failure_count =
                    self.num_spec(o, "ToleratedFailureCount", loc, ql, 0.0);
                let tolerated_failure_percentage =
                    self.num_spec(o, "ToleratedFailurePercentage", loc, ql, 0.0);
                if let Some(NumSpec::Value(p)) = &tolerated_failure_percentage
                    && *p > 100.0
                {
                    self.schema("The value for the field 'ToleratedFailurePercentage' must be between 0 and 100", format!("{loc}/ToleratedFailurePercentage"));
                }
                let processor = processor?;
                StateKind::Map(Box::new(MapSpec {
                    processor: std::sync::Arc::new(processor),
                    mode,
                    execution_type,
                    items_path,
                    item_selector,
                    max_concurrency,
                    tolerated_failure_count,
                    tolerated_failure_percentage,
                    items: o.get("Items").cloned(),
                    item_reader: o.get("ItemReader").cloned(),
                    item_batcher: o.get("ItemBatcher").cloned(),
                    result_writer: o.get("ResultWriter").cloned(),
                    label: o.get("Label").and_then(|v| v.as_str()).map(str::to_string),
                    legacy_iterator: legacy,
                }))
            }
            _ => return None,
        };
        if self.diags.len() != before {
            return None;
        }
        Some(State {
            name: name.to_string(),
            comment,
            kind,
            query_language: ql,
            input_path,
            output_path,
            result_path,
            parameters,
            result_selector,
            retry,
            catch,
            next,
            next_name: if terminal_type { None } else { next_name },
            end,
            assign: o.get("Assign").cloned(),
            assign_template,
            arguments: o.get("Arguments").cloned(),
            output: o.get("Output").cloned(),
            jsonata,
            uses_context: uc,
        })
    }
}

fn successors(s: &State) -> Vec<usize> {
    let mut v = Vec::new();
    if let Some(n) = s.next {
        v.push(n);
    }
    for c in &s.catch {
        v.push(c.next);
    }
    if let StateKind::Choice { choices, default } = &s.kind {
        v.extend(choices.iter().map(|c| c.1));
        v.extend(default.iter().copied());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<StateMachine, Vec<Diagnostic>> {
        StateMachine::from_value(&v)
    }

    #[test]
    fn simple() {
        let sm = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}})).unwrap();
        assert_eq!(sm.start().name, "A");
        assert_eq!(sm.start().next, Some(1));
        assert_eq!(sm.index_of("B"), Some(1));
    }

    #[test]
    fn diagnostics() {
        let e = parse(json!({"StartAt": "pass1", "States": {"pass1": {"Type": "Pass", "Next": "pass3"}, "pass2": {"Type": "Pass", "End": true}}})).unwrap_err();
        let msg = crate::error::invalid_definition_message(&e);
        assert!(
            msg.contains(
                "MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at /States/pass1/Next"
            ),
            "{msg}"
        );
        let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}})).unwrap_err();
        assert_eq!(e[0].code, "MISSING_END_STATE");
        let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "B": {"Type": "Pass", "End": true}}})).unwrap_err();
        assert_eq!(e[0].message, "State \"B\" is not reachable.");
        assert_eq!(e[0].location, "/States/B");
        let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Resource": "x"}}})).unwrap_err();
        assert_eq!(e[0].code, "SCHEMA_VALIDATION_FAILED");
        let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}})).unwrap_err();
        assert_eq!(e[0].code, "SCHEMA_VALIDATION_FAILED");
        let e = parse(
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}}}),
        )
        .unwrap_err();
        assert!(e[0].location.ends_with("/Retry[0]/ErrorEquals"));
        let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Parameters": {"x.$": "States.Bogus()"}}}})).unwrap_err();
        assert_eq!(e[0].location, "/States/A/Parameters/x.$");
        let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "ResultPath": "$.a[*]"}}})).unwrap_err();
        assert_eq!(e[0].location, "/States/A/ResultPath");
        assert_eq!(
            StateMachine::parse("{nope").unwrap_err()[0].code,
            "INVALID_JSON_DESCRIPTION"
        );
        let e = parse(json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "Z"}], "Default": "Q"}}})).unwrap_err();
        assert!(e.iter().any(|d| d.location == "/States/C/Choices[0]/Next"));
    }

    #[test]
    fn names_resources_and_warnings() {
        let e = parse(
            json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}]}}}),
        )
        .unwrap_err();
        assert_eq!(e[0].code, "DUPLICATE_STATE_NAME");
        let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "not-an-arn", "End": true}}})).unwrap_err();
        assert_eq!(e[0].code, "INVALID_RESOURCE");
        assert_eq!(e[0].location, "/States/A/Resource");
        assert_eq!(
            StateMachine::parse("  ").unwrap_err()[0].code,
            "MISSING_DESCRIPTION"
        );
        let sm = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "F", "Parameters": {"x": "$.y"}, "Result": {"a.$": "$.b"}},
            "F": {"Type": "Fail", "Error": "$.e"}}})).unwrap();
        let codes: Vec<&str> = sm.warnings.iter().map(|w| w.code).collect();
        assert_eq!(codes, vec!["NO_DOLLAR", "PASS_RESULT_IS_STATIC", "NO_PATH"]);
        assert_eq!(sm.warnings[0].location, "/States/A/Parameters/x");
        let long = "x".repeat(81);
        let e = parse(json!({"StartAt": long, "States": {long.clone(): {"Type": "Succeed"}}}))
            .unwrap_err();
        assert_eq!(e[0].code, "INVALID_STATE_NAME");
    }

    #[test]
    fn map_and_parallel() {
        let sm = parse(json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "ItemsPath": "$.items", "Parameters": {"v.$": "$$.Map.Item.Value"}, "MaxConcurrency": 2,
                  "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "Next": "Par"},
            "Par": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}]}
        }})).unwrap();
        let StateKind::Map(m) = &sm.states[0].kind else {
            panic!()
        };
        assert!(m.legacy_iterator);
        assert!(m.item_selector.is_some());
        assert!(sm.states[0].parameters.is_none());
        assert!(sm.states[0].uses_context);
        let StateKind::Parallel { branches } = &sm.states[1].kind else {
            panic!()
        };
        assert_eq!(branches.len(), 1);
    }

    #[test]
    fn error_matching() {
        let all = vec!["States.ALL".to_string()];
        assert!(error_matches(&all, "Exception"));
        assert!(error_matches(&all, "States.Timeout"));
        assert!(!error_matches(&all, "States.Runtime"));
        let tf = vec!["States.TaskFailed".to_string()];
        assert!(error_matches(&tf, "Lambda.Unknown"));
        assert!(!error_matches(&tf, "States.Timeout"));
    }
}
