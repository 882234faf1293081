//! One state: what every state type shares (type, query language, fields,
//! transitions, the JSONPath I/O fields, the compiled JSONata fields), then its
//! kind (kinds.rs, map.rs).

use super::builder::{Builder, Names};
use super::fields::{COMMON, allowed_fields};
use super::{IoPath, QueryLanguage, ResultPath, State, StateKind};
use crate::jsonata::JsonataFields;
use crate::template::Template;
use serde_json::{Map, Value};

/// The JSONPath data-flow fields (all default in JSONata).
#[derive(Default)]
struct PathFields {
    input_path: IoPath,
    output_path: IoPath,
    result_path: ResultPath,
    parameters: Option<Template>,
    result_selector: Option<Template>,
    assign_template: Option<Template>,
}

/// `End`, `Next` and the index `Next` names.
struct Transition {
    end: bool,
    next_name: Option<String>,
    next: Option<usize>,
}

impl Builder {
    pub(super) fn state(
        &mut self,
        name: &str,
        v: &Value,
        loc: &str,
        parent_ql: QueryLanguage,
        names: &Names,
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
        let ql = self.state_ql(o, loc, parent_ql);
        let Some(allowed) = allowed_fields(ty, ql) else {
            self.schema(format!("The value for the field 'Type' must be one of [Task, Pass, Choice, Wait, Succeed, Fail, Parallel, Map], got \"{ty}\""), format!("{loc}/Type"));
            return None;
        };
        let before = self.diags.len();
        self.reject_state_fields(o, ty, ql, allowed, loc);
        let comment = self.opt_string(o, "Comment", loc);
        let jp = ql == QueryLanguage::JsonPath;
        if jp {
            self.static_warnings(o, ty, loc);
        }
        let terminal_type = matches!(ty, "Choice" | "Succeed" | "Fail");
        let t = self.transition(o, loc, terminal_type, names);
        let mut uc = false;
        let p = if jp {
            self.path_fields(o, ty, loc, &mut uc)
        } else {
            PathFields::default()
        };
        let retry = self.retriers(o, loc);
        let catch = self.catchers(o, loc, names, ql);
        let jsonata = if jp {
            None
        } else {
            self.jsonata_fields(o, ty, loc, &mut uc)
        };
        let kind = self.kind(o, ty, loc, ql, names, &mut uc)?;
        if self.diags.len() != before {
            return None;
        }
        Some(State {
            name: name.to_string(),
            comment,
            kind,
            query_language: ql,
            input_path: p.input_path,
            output_path: p.output_path,
            result_path: p.result_path,
            parameters: p.parameters,
            result_selector: p.result_selector,
            retry,
            catch,
            next: t.next,
            next_name: if terminal_type { None } else { t.next_name },
            end: t.end,
            assign: o.get("Assign").cloned(),
            assign_template: p.assign_template,
            arguments: o.get("Arguments").cloned(),
            output: o.get("Output").cloned(),
            jsonata,
            uses_context: uc,
        })
    }

    /// The type-specific part of a state; `None` when it cannot be built.
    fn kind(
        &mut self,
        o: &Map<String, Value>,
        ty: &str,
        loc: &str,
        ql: QueryLanguage,
        names: &Names,
        uc: &mut bool,
    ) -> Option<StateKind> {
        let jp = ql == QueryLanguage::JsonPath;
        Some(match ty {
            "Pass" => StateKind::Pass {
                result: o.get("Result").cloned(),
            },
            "Succeed" => StateKind::Succeed,
            "Fail" => self.fail_state(o, loc, uc),
            "Task" => self.task_state(o, loc, ql),
            "Wait" => self.wait_state(o, loc, jp, uc),
            "Choice" => self.choice_state(o, loc, jp, names, uc),
            "Parallel" => self.parallel_state(o, loc),
            "Map" => self.map_state(o, loc, ql, uc)?,
            _ => return None,
        })
    }

    /// A SCHEMA_VALIDATION_FAILED for each field of state `o` that its type
    /// does not take in its query language: a field of the other language
    /// is named as AWS names it (validate-state-machine-definition, recorded
    /// in floci-io/floci issues 2968 and 3733).
    fn reject_state_fields(&mut self, o: &Map<String, Value>, ty: &str, ql: QueryLanguage, allowed: &[&str], loc: &str) {
        // A field of the other language on this type: named with both
        // languages (floci-io/floci issues 2968 and 3733).
        let other = match ql {
            QueryLanguage::JsonPath => QueryLanguage::Jsonata,
            QueryLanguage::Jsonata => QueryLanguage::JsonPath,
        };
        let names = |q: QueryLanguage| if q == QueryLanguage::JsonPath { "JSONPath" } else { "JSONata" };
        let other_only = |k: &str| allowed_fields(ty, other).is_some_and(|f| f.contains(&k));
        for k in o.keys().map(String::as_str) {
            if COMMON.contains(&k) || allowed.contains(&k) {
                continue;
            }
            let message = if other_only(k) {
                format!("The QueryLanguage is set to '{}', but field '{k}' is only supported for the '{}' QueryLanguage", names(ql), names(other))
            } else if another_type_takes(k, ql) {
                // A field of the language on a type without it (TimeoutSeconds
                // on a Pass, Catch on a Wait: floci-io/floci issue 2735).
                format!("Field '{k}' is not supported")
            } else {
                format!("The field \"{k}\" is not supported by Step Functions")
            };
            self.schema(message, loc.to_string());
        }
    }

    /// A state's QueryLanguage: its own, or the one it inherits.
    fn state_ql(
        &mut self,
        o: &Map<String, Value>,
        loc: &str,
        parent_ql: QueryLanguage,
    ) -> QueryLanguage {
        match o.get("QueryLanguage") {
            None => parent_ql,
            Some(Value::String(s)) if s == "JSONPath" => {
                if self.top_ql == QueryLanguage::Jsonata {
                    // AWS's words and place (validate-state-machine-definition,
                    // recorded in floci-io/floci issue 2968).
                    self.schema("'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine", loc.to_string());
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
        }
    }

    /// `End` and `Next`: exactly one of them, except for the terminal types.
    fn transition(
        &mut self,
        o: &Map<String, Value>,
        loc: &str,
        terminal_type: bool,
        names: &Names,
    ) -> Transition {
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
        Transition {
            end,
            next_name,
            next,
        }
    }

    /// InputPath, OutputPath, ResultPath, Parameters, ResultSelector and Assign (JSONPath).
    fn path_fields(
        &mut self,
        o: &Map<String, Value>,
        ty: &str,
        loc: &str,
        uc: &mut bool,
    ) -> PathFields {
        let input_path = self.io_path(o, "InputPath", loc);
        let output_path = self.io_path(o, "OutputPath", loc);
        for p in [&input_path, &output_path] {
            if let IoPath::Path(p) = p {
                *uc |= matches!(p.root(), crate::path::Root::Context);
            }
        }
        let result_path = self.result_path(o, loc);
        let parameters = if ty != "Map" {
            self.template(o, "Parameters", loc, uc)
        } else {
            None
        };
        let result_selector = self.template(o, "ResultSelector", loc, uc);
        let assign_template = self.assign(o, loc, uc);
        PathFields {
            input_path,
            output_path,
            result_path,
            parameters,
            result_selector,
            assign_template,
        }
    }

    /// The compiled `{% … %}` fields of a JSONata state.
    fn jsonata_fields(
        &mut self,
        o: &Map<String, Value>,
        ty: &str,
        loc: &str,
        uc: &mut bool,
    ) -> Option<Box<JsonataFields>> {
        match JsonataFields::compile(ty, o, loc) {
            Ok(f) => {
                *uc |= f.reads_context;
                Some(Box::new(f))
            }
            Err(diags) => {
                for d in diags {
                    self.err(d.code, d.message, d.location);
                }
                None
            }
        }
    }
}

/// Whether a state of some type takes field `k` in query language `ql`.
fn another_type_takes(k: &str, ql: QueryLanguage) -> bool {
    ["Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"]
        .iter()
        .any(|ty| allowed_fields(ty, ql).is_some_and(|f| f.contains(&k)))
}
