//! The builder: a definition's (sub-)machines, their states' names and graph.

use super::diagnostics::esc;
use super::{QueryLanguage, State, StateKind, StateMachine};
use crate::error::{Diagnostic, codes};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Builds a whole definition: its model, or every error found.
pub(super) fn build(v: &Value) -> Result<StateMachine, Vec<Diagnostic>> {
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

/// What building collects while it walks the definition.
pub(super) struct Builder {
    pub(super) diags: Vec<Diagnostic>,
    pub(super) warnings: Vec<Diagnostic>,
    /// Every state name seen so far, across nested machines (names are global).
    pub(super) all_names: HashMap<String, String>,
    /// The top-level QueryLanguage: what Map/Parallel children inherit.
    pub(super) top_ql: QueryLanguage,
}

/// The state names of one (sub-)machine: name -> index.
pub(super) type Names = HashMap<String, usize>;

impl Builder {
    pub(super) fn err(
        &mut self,
        code: &'static str,
        msg: impl Into<String>,
        loc: impl Into<String>,
    ) {
        if self.diags.len() < 100 {
            self.diags.push(Diagnostic::error(code, msg, loc));
        }
    }

    pub(super) fn schema(&mut self, msg: impl Into<String>, loc: impl Into<String>) {
        self.err(codes::SCHEMA_VALIDATION_FAILED, msg, loc)
    }

    /// A SCHEMA_VALIDATION_FAILED for each field of `o` that `known` rejects.
    pub(super) fn reject_unknown(
        &mut self,
        o: &Map<String, Value>,
        known: impl Fn(&str) -> bool,
        loc: &str,
    ) {
        for k in o.keys() {
            if !known(k.as_str()) {
                self.schema(
                    format!("The field \"{k}\" is not supported by Step Functions"),
                    loc.to_string(),
                );
            }
        }
    }

    /// The top-level machine (`top`), a Parallel branch or a Map processor.
    pub(super) fn machine(
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
        self.reject_unknown(o, |k| allowed.contains(&k), loc);
        let ql = self.machine_ql(o, loc, parent_ql);
        if top {
            self.top_ql = ql;
        }
        let comment = self.opt_string(o, "Comment", loc);
        let version = if top {
            self.opt_string(o, "Version", loc)
        } else {
            None
        };
        let timeout_seconds = self.machine_timeout(o, loc);
        let start_name = self.start_name(o, loc);
        let states_obj = self.states_obj(o, loc)?;
        let names = self.state_names(states_obj, loc);
        // Build states (transitions as names first).
        let mut states = Vec::with_capacity(states_obj.len());
        for (name, sv) in states_obj {
            let sloc = format!("{loc}/States/{}", esc(name));
            if let Some(s) = self.state(name, sv, &sloc, ql, &names) {
                states.push(s);
            }
        }
        let start_at = match &start_name {
            Some(s) => self.target(s, &names, format!("{loc}/StartAt")),
            None => None,
        };
        // AWS's terminal-state rule reads the states as written: a machine
        // none of whose states ends has no terminal state, whatever else is
        // wrong with it (after its other diagnostics, and instead of the
        // unreachable states).
        if !states_obj.values().any(is_terminal) {
            self.err(codes::MISSING_END_STATE, "Workflow has no terminal state", "");
            return None;
        }
        if states.len() != states_obj.len() {
            return None;
        }
        self.check_graph(&states, start_at, loc);
        let start_at = start_at?;
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

    fn machine_ql(
        &mut self,
        o: &Map<String, Value>,
        loc: &str,
        parent_ql: QueryLanguage,
    ) -> QueryLanguage {
        match o.get("QueryLanguage") {
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
        }
    }

    fn machine_timeout(&mut self, o: &Map<String, Value>, loc: &str) -> Option<u64> {
        let v = o.get("TimeoutSeconds")?;
        match v.as_u64() {
            Some(n) if n > 0 && n <= 99_999_999 => Some(n),
            _ => {
                self.schema(
                    "The value for the field 'TimeoutSeconds' must be a positive integer",
                    format!("{loc}/TimeoutSeconds"),
                );
                None
            }
        }
    }

    fn start_name(&mut self, o: &Map<String, Value>, loc: &str) -> Option<String> {
        match o.get("StartAt") {
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
        }
    }

    fn states_obj<'v>(
        &mut self,
        o: &'v Map<String, Value>,
        loc: &str,
    ) -> Option<&'v Map<String, Value>> {
        match o.get("States") {
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
        }
    }

    /// Indexes the states' names, checking each is valid and unique across the definition.
    fn state_names(&mut self, states_obj: &Map<String, Value>, loc: &str) -> Names {
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
        names
    }

    /// The states nothing routes to: neither the start (when it names a
    /// state) nor any state's Next, Default, choice or catcher. AWS judges
    /// reachability so, not by walking from the start: with a StartAt naming
    /// no state, of `A → B` only A is "not reachable" (cfn-lint issue 4074,
    /// serverless-step-functions issue 250).
    fn check_graph(&mut self, states: &[State], start_at: Option<usize>, loc: &str) {
        let mut targeted = vec![false; states.len()];
        for t in start_at.into_iter().chain(states.iter().flat_map(successors)) {
            targeted[t] = true;
        }
        for (s, _) in states.iter().zip(&targeted).filter(|(_, t)| !**t) {
            self.err(
                codes::MISSING_TRANSITION_TARGET,
                format!("State \"{}\" is not reachable.", s.name),
                format!("{loc}/States/{}", esc(&s.name)),
            );
        }
    }
}

/// A state as written that ends its machine: `"End": true`, a Succeed or a Fail.
fn is_terminal(v: &Value) -> bool {
    v.get("End") == Some(&Value::Bool(true)) || matches!(v.get("Type").and_then(Value::as_str), Some("Succeed" | "Fail"))
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
