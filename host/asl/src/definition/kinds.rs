//! The type-specific part of Fail, Task, Wait, Choice and Parallel states
//! (Map: map.rs; Pass and Succeed need no function).

use super::builder::{Builder, Names};
use super::{NumSpec, QueryLanguage, StateKind, WaitSpec};
use crate::choice::{ChoiceRule, Rule};
use crate::path::JsonPath;
use crate::resource::{Resource, Unusable};
use serde_json::{Map, Value};
use std::sync::Arc;

impl Builder {
    pub(super) fn fail_state(
        &mut self,
        o: &Map<String, Value>,
        loc: &str,
        uc: &mut bool,
    ) -> StateKind {
        let error = self.str_spec(o, "Error", loc, uc);
        let cause = self.str_spec(o, "Cause", loc, uc);
        StateKind::Fail { error, cause }
    }

    pub(super) fn task_state(
        &mut self,
        o: &Map<String, Value>,
        loc: &str,
        ql: QueryLanguage,
    ) -> StateKind {
        let resource = match o.get("Resource") {
            Some(Value::String(s)) => Resource::parse(s).unwrap_or_else(|Unusable(why)| {
                self.err("INVALID_RESOURCE", why, format!("{loc}/Resource"));
                Resource::unparsed(s)
            }),
            _ => {
                self.schema("These fields are required: [Resource]", loc.to_string());
                Resource::unparsed("")
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
            resource: Arc::new(resource),
            timeout,
            heartbeat,
            credentials: o.get("Credentials").cloned(),
        }
    }

    pub(super) fn wait_state(
        &mut self,
        o: &Map<String, Value>,
        loc: &str,
        jp: bool,
        uc: &mut bool,
    ) -> StateKind {
        let given: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
            .into_iter()
            .filter(|k| o.contains_key(*k))
            .collect();
        if given.len() != 1 {
            self.schema(
                "Exactly one of Seconds, SecondsPath, Timestamp, TimestampPath is required",
                loc.to_string(),
            );
            return StateKind::Wait(WaitSpec::Seconds(0.0));
        }
        StateKind::Wait(self.wait_spec(given[0], &o[given[0]], loc, jp, uc))
    }

    /// The one of Seconds, SecondsPath, Timestamp, TimestampPath given (`k`).
    fn wait_spec(&mut self, k: &str, v: &Value, loc: &str, jp: bool, uc: &mut bool) -> WaitSpec {
        match (k, v) {
            (_, Value::String(s)) if !jp && s.starts_with("{%") => WaitSpec::Raw(v.clone()),
            ("Seconds", Value::Number(n)) if n.as_u64().is_some() => {
                WaitSpec::Seconds(n.as_f64().unwrap_or(0.0))
            }
            ("Timestamp", Value::String(s)) => match crate::choice::parse_timestamp(s) {
                Some(t) => WaitSpec::Timestamp(t),
                None => {
                    self.schema(
                        "The value for the field 'Timestamp' must be a valid ISO-8601 timestamp",
                        format!("{loc}/Timestamp"),
                    );
                    WaitSpec::Seconds(0.0)
                }
            },
            ("SecondsPath" | "TimestampPath", Value::String(s)) => {
                match JsonPath::parse_reference(s) {
                    Ok(p) => {
                        *uc |= matches!(p.root(), crate::path::Root::Context);
                        if k == "SecondsPath" {
                            WaitSpec::SecondsPath(p)
                        } else {
                            WaitSpec::TimestampPath(p)
                        }
                    }
                    Err(_) => {
                        self.schema(
                            format!("The value for the field '{k}' must be a valid Reference Path"),
                            format!("{loc}/{k}"),
                        );
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
        }
    }

    pub(super) fn choice_state(
        &mut self,
        o: &Map<String, Value>,
        loc: &str,
        jp: bool,
        names: &Names,
        uc: &mut bool,
    ) -> StateKind {
        let mut choices = Vec::new();
        match o.get("Choices") {
            Some(Value::Array(a)) if !a.is_empty() => {
                for (i, c) in a.iter().enumerate() {
                    let cloc = format!("{loc}/Choices[{i}]");
                    choices.extend(self.choice(c, &cloc, jp, names, uc));
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

    /// One entry of `Choices` and the index of its `Next`.
    fn choice(
        &mut self,
        c: &Value,
        cloc: &str,
        jp: bool,
        names: &Names,
        uc: &mut bool,
    ) -> Option<(ChoiceRule, usize)> {
        let Value::Object(co) = c else {
            self.schema("A choice rule must be an OBJECT", cloc.to_string());
            return None;
        };
        let nn = match co.get("Next") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                self.schema("These fields are required: [Next]", cloc.to_string());
                return None;
            }
        };
        let rule = self.choice_rule(co, cloc, jp)?;
        *uc |= rule.uses_context();
        let t = self.target(&nn, names, format!("{cloc}/Next"))?;
        let assign_template = if jp { self.assign(co, cloc, uc) } else { None };
        let rule = ChoiceRule {
            rule,
            next: nn,
            assign: co.get("Assign").cloned(),
            assign_template,
        };
        Some((rule, t))
    }

    /// A JSONPath rule (compiled) or a JSONata `Condition` (kept raw).
    fn choice_rule(&mut self, co: &Map<String, Value>, cloc: &str, jp: bool) -> Option<Rule> {
        if jp {
            return match Rule::compile(co, true) {
                Ok(r) => Some(r),
                Err((l, m)) => {
                    let l = if l.is_empty() {
                        cloc.to_string()
                    } else {
                        format!("{cloc}/{l}")
                    };
                    self.schema(m, l);
                    None
                }
            };
        }
        match co.get("Condition") {
            Some(c) => Some(Rule::Condition(c.clone())),
            None => {
                self.schema("These fields are required: [Condition]", cloc.to_string());
                None
            }
        }
    }

    pub(super) fn parallel_state(&mut self, o: &Map<String, Value>, loc: &str) -> StateKind {
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
}
