//! Payload templates (Parameters, ResultSelector, ItemSelector): keys ending
//! in `.$` take a path or an intrinsic function call. Compiled once.

use crate::error::RuntimeError;
use crate::intrinsics::{Intrinsic, Scope};
use crate::path::{JsonPath, Root};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Const(Value),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    Path { path: JsonPath, field: String },
    Call { call: Intrinsic, field: String },
}

/// A compiled payload template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    root: Node,
    uses_context: bool,
    /// A `key.$` path reads the input (`$…`), not `$$` or a variable.
    reads_input: bool,
}

/// A template compile error, with a location relative to the template root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub location: String,
    pub message: String,
    pub intrinsic: bool,
}

impl Template {
    /// Compiles a template value.
    pub fn compile(v: &Value) -> Result<Template, TemplateError> {
        let mut uses_context = false;
        let root = compile(v, "", &mut uses_context)?;
        let reads_input = reads_input(&root);
        Ok(Template { root, uses_context, reads_input })
    }
    /// Whether a `key.$` path reads the input (`"a.$": "$.x"`).
    pub fn reads_input(&self) -> bool {
        self.reads_input
    }
    /// Whether evaluation needs the context object (`$$`).
    pub fn uses_context(&self) -> bool {
        self.uses_context
    }
    /// Evaluates against a scope.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, RuntimeError> {
        eval(&self.root, scope)
    }
}

fn compile(v: &Value, loc: &str, uc: &mut bool) -> Result<Node, TemplateError> {
    match v {
        Value::Object(o) => {
            let mut fields = Vec::with_capacity(o.len());
            let mut all_const = true;
            for (k, x) in o {
                let here = format!("{loc}/{k}");
                if let Some(stripped) = k.strip_suffix(".$") {
                    let Value::String(s) = x else {
                        return Err(TemplateError {
                            location: here,
                            message: format!(
                                "The value for the field '{k}' must be a STRING that contains a JSONPath or an intrinsic function"
                            ),
                            intrinsic: false,
                        });
                    };
                    all_const = false;
                    let node = if s.starts_with('$') {
                        let p = JsonPath::parse(s).map_err(|e| TemplateError {
                            location: here.clone(),
                            message: format!("The value for the field '{k}' must be a valid JSONPath or a valid intrinsic function call ({})", e.0),
                            intrinsic: false,
                        })?;
                        if matches!(p.root(), Root::Context) {
                            *uc = true;
                        }
                        Node::Path {
                            path: p,
                            field: k.clone(),
                        }
                    } else {
                        let c = Intrinsic::parse(s).map_err(|e| TemplateError {
                            location: here.clone(),
                            message: format!("The value for the field '{k}' must be a valid JSONPath or a valid intrinsic function call ({})", e.0),
                            intrinsic: true,
                        })?;
                        if c.uses_context() {
                            *uc = true;
                        }
                        Node::Call {
                            call: c,
                            field: k.clone(),
                        }
                    };
                    fields.push((stripped.to_string(), node));
                } else {
                    let n = compile(x, &here, uc)?;
                    if !matches!(n, Node::Const(_)) {
                        all_const = false;
                    }
                    fields.push((k.clone(), n));
                }
            }
            if all_const {
                Ok(Node::Const(v.clone()))
            } else {
                Ok(Node::Object(fields))
            }
        }
        Value::Array(a) => {
            let mut items = Vec::with_capacity(a.len());
            let mut all_const = true;
            for (i, x) in a.iter().enumerate() {
                let n = compile(x, &format!("{loc}[{i}]"), uc)?;
                if !matches!(n, Node::Const(_)) {
                    all_const = false;
                }
                items.push(n);
            }
            if all_const {
                Ok(Node::Const(v.clone()))
            } else {
                Ok(Node::Array(items))
            }
        }
        other => Ok(Node::Const(other.clone())),
    }
}

fn reads_input(n: &Node) -> bool {
    match n {
        Node::Path { path, .. } => matches!(path.root(), Root::Input),
        Node::Object(fields) => fields.iter().any(|(_, n)| reads_input(n)),
        Node::Array(items) => items.iter().any(reads_input),
        Node::Const(_) | Node::Call { .. } => false,
    }
}

/// The runtime message for a JSONPath that selects nothing.
pub fn path_not_found(path: &JsonPath, field: &str, input: &Value) -> RuntimeError {
    use crate::catalogue::{Bad, Facts, Field, error};
    error(Field::PayloadPath, Bad::Missing, Facts::path(path).field(field).input(input))
}

fn eval(n: &Node, scope: &Scope<'_>) -> Result<Value, RuntimeError> {
    match n {
        Node::Const(v) => Ok(v.clone()),
        Node::Object(fields) => {
            let mut m = Map::with_capacity(fields.len());
            for (k, f) in fields {
                m.insert(k.clone(), eval(f, scope)?);
            }
            Ok(Value::Object(m))
        }
        Node::Array(items) => items
            .iter()
            .map(|i| eval(i, scope))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Node::Path { path, field } => match scope.resolve(path) {
            Some(v) => Ok(v.into_owned()),
            None => Err(path_not_found(path, field, scope.input)),
        },
        Node::Call { call, .. } => call.evaluate(scope),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn template_eval() {
        let t = Template::compile(&json!({
            "a.$": "$.x",
            "b": {"c.$": "States.MathAdd($.n, 1)", "d": [1, {"e.$": "$$.Execution.Name"}]},
            "lit": "v"
        }))
        .unwrap();
        assert!(t.uses_context());
        let input = json!({"x": [1, 2], "n": 41});
        let ctx = json!({"Execution": {"Name": "ex"}});
        let out = t.eval(&Scope::new(&input, &ctx)).unwrap();
        assert_eq!(
            out,
            json!({"a": [1, 2], "b": {"c": 42, "d": [1, {"e": "ex"}]}, "lit": "v"})
        );
    }

    #[test]
    fn template_errors() {
        assert!(Template::compile(&json!({"a.$": 1})).is_err());
        assert!(Template::compile(&json!({"a.$": "States.Nope()"})).is_err());
        assert!(Template::compile(&json!({"a.$": "$.["})).is_err());
        let t = Template::compile(&json!({"value.$": "$.no_such_jsonpath"})).unwrap();
        let e = t
            .eval(&Scope::new(&json!({"a": 1}), &json!({})))
            .unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        assert_eq!(
            e.cause,
            "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{\"a\":1}'"
        );
    }

    #[test]
    fn const_template_is_folded() {
        let t = Template::compile(&json!({"a": [1, {"b": 2}]})).unwrap();
        assert!(matches!(t.root, Node::Const(_)));
        assert!(!t.uses_context());
    }
}
