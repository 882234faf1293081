//! A field value in a JSONata state: any JSON, where every string of the form
//! `{% … %}` (exactly: no space before `{%` or after `%}`) is an expression,
//! parsed once when the definition is loaded.

use serde_json::{Map, Value};

use super::{Bindings, EvalError, Expression, expression_text};
use crate::error::{RuntimeError, errors};

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Literal(Value),
    Expr(Expression),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

/// A compiled field (`Arguments`, `Output`, `Assign`, `Items`, `Seconds`…).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonataTemplate {
    /// The field's name, as causes name it (`Output`, `Assign`).
    field: String,
    root: Node,
}

/// A definition-time problem: where (below the field) and what.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileError {
    /// `/a/b[0]` below the field; empty for the field itself.
    pub location: String,
    pub message: String,
    /// INVALID_JSONATA_EXPRESSION or UNSUPPORTED_JSONATA_EXPRESSION.
    pub code: &'static str,
}

/// Which `$states` fields the field may read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allowed {
    pub result: bool,
    pub error_output: bool,
}

impl JsonataTemplate {
    pub fn compile(field: &str, v: &Value, allowed: Allowed) -> Result<JsonataTemplate, CompileError> {
        Ok(JsonataTemplate {
            field: field.to_string(),
            root: compile(v, String::new(), allowed)?,
        })
    }

    /// Whether any expression reads `$states.context`.
    pub fn reads_context(&self) -> bool {
        fn go(n: &Node) -> bool {
            match n {
                Node::Literal(_) => false,
                Node::Expr(e) => e.reads_context(),
                Node::Array(items) => items.iter().any(go),
                Node::Object(fields) => fields.iter().any(|(_, n)| go(n)),
            }
        }
        go(&self.root)
    }

    /// The expression text when the whole field is one `{% … %}` string.
    pub fn whole_expression(&self) -> Option<&str> {
        match &self.root {
            Node::Expr(e) => Some(e.source()),
            _ => None,
        }
    }

    /// Evaluates every expression; undefined anywhere is an error, as AWS has it.
    pub fn evaluate(&self, b: &Bindings) -> Result<Value, RuntimeError> {
        eval(&self.root, b, &mut self.field.clone())
    }

    /// As [`JsonataTemplate::evaluate`] with `$states.input` being `input`
    /// (the input in `b` is not read), which may move into the result
    /// rather than be copied: for the last reader of a state's input.
    pub fn evaluate_taking_input(&self, input: Value, b: &Bindings) -> Result<Value, RuntimeError> {
        match &self.root {
            Node::Expr(e) => expression_result(e, e.evaluate_taking_input(input, b), &self.field),
            _ => self.evaluate(&b.with_input(&input)),
        }
    }
}

fn compile(v: &Value, location: String, allowed: Allowed) -> Result<Node, CompileError> {
    Ok(match v {
        Value::String(s) => match expression_text(s) {
            Some(text) => {
                let e = Expression::parse(text).map_err(|message| CompileError {
                    location: location.clone(),
                    message,
                    code: "INVALID_JSONATA_EXPRESSION",
                })?;
                if let Some(message) = e.unsupported_reference(allowed.result, allowed.error_output) {
                    return Err(CompileError { location, message, code: "UNSUPPORTED_JSONATA_EXPRESSION" });
                }
                Node::Expr(e)
            }
            None => Node::Literal(v.clone()),
        },
        Value::Array(items) => {
            let nodes = items
                .iter()
                .enumerate()
                .map(|(i, item)| compile(item, format!("{location}[{i}]"), allowed))
                .collect::<Result<Vec<_>, _>>()?;
            if nodes.iter().all(|n| matches!(n, Node::Literal(_))) {
                Node::Literal(v.clone())
            } else {
                Node::Array(nodes)
            }
        }
        Value::Object(fields) => {
            let nodes = fields
                .iter()
                .map(|(k, item)| Ok((k.clone(), compile(item, format!("{location}/{k}"), allowed)?)))
                .collect::<Result<Vec<_>, CompileError>>()?;
            if nodes.iter().all(|(_, n)| matches!(n, Node::Literal(_))) {
                Node::Literal(v.clone())
            } else {
                Node::Object(nodes)
            }
        }
        other => Node::Literal(other.clone()),
    })
}

/// `path` is the field name plus the location so far (`Output/result`).
fn eval(n: &Node, b: &Bindings, path: &mut String) -> Result<Value, RuntimeError> {
    match n {
        Node::Literal(v) => Ok(v.clone()),
        Node::Expr(e) => expression_result(e, e.evaluate(b), path),
        Node::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                out.push(eval(item, b, path)?);
                path.truncate(len);
            }
            Ok(Value::Array(out))
        }
        Node::Object(fields) => {
            let mut out = Map::new();
            for (k, item) in fields {
                let len = path.len();
                path.push('/');
                path.push_str(k);
                out.insert(k.clone(), eval(item, b, path)?);
                path.truncate(len);
            }
            Ok(Value::Object(out))
        }
    }
}

/// An expression's value, or the QueryEvaluationError naming the field
/// (`path`) when it is undefined, not JSON, or failed.
fn expression_result(e: &Expression, r: Result<Option<Value>, EvalError>, path: &str) -> Result<Value, RuntimeError> {
    match r {
        Ok(Some(v)) => Ok(v),
        Ok(None) => {
            use crate::catalogue::{Bad, Facts, Field, error};
            let facts = Facts { expr: Some(e.source()), field: Some(path), ..Facts::default() };
            Err(error(Field::Expression, Bad::Missing, facts))
        }
        Err(EvalError::Unsupported) => Err(query_error(format!(
            "The JSONata expression '{}' specified for the field '{path}' returned an unsupported result type.",
            e.source()
        ))),
        Err(EvalError::Internal) => Err(query_error(format!(
            "The JSONata expression '{}' specified for the field '{path}' threw an internal error during evaluation.",
            e.source()
        ))),
        // AWS ends its sentence before a coded message and joins a bare one
        // with a colon.
        Err(EvalError::Failed(why)) => Err(query_error(format!(
            "The JSONata expression '{}' specified for the field '{path}' threw an error during evaluation{} {why}",
            e.source(),
            if super::messages::has_code(&why) { "." } else { ":" }
        ))),
    }
}

pub fn query_error(cause: String) -> RuntimeError {
    RuntimeError::new(errors::QUERY_EVALUATION_ERROR, cause)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bindings<'a>(input: &'a Value, vars: &'a Map<String, Value>) -> Bindings<'a> {
        Bindings::new(input, None, None, &Value::Null, vars)
    }

    #[test]
    fn evaluates_nested_expressions_and_keeps_literals() {
        let t = JsonataTemplate::compile(
            "Output",
            &json!({"a": "{% $states.input.x * 2 %}", "b": [" {% not %} ", "{% $v %}"], "c": 1}),
            Allowed::default(),
        )
        .unwrap();
        let vars = json!({"v": "hi"}).as_object().cloned().unwrap();
        let input = json!({"x": 21});
        assert_eq!(t.evaluate(&bindings(&input, &vars)).unwrap(), json!({"a": 42, "b": [" {% not %} ", "hi"], "c": 1}));
    }

    #[test]
    fn undefined_is_an_error_naming_the_field() {
        let t = JsonataTemplate::compile("Output", &json!({"result": "{% $doesNotExist %}"}), Allowed::default()).unwrap();
        let vars = Map::new();
        let e = t.evaluate(&bindings(&Value::Null, &vars)).unwrap_err();
        assert_eq!(e.error, "States.QueryEvaluationError");
        assert_eq!(
            e.cause,
            "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
        );
    }

    #[test]
    fn compile_errors_carry_location_and_code() {
        let e = JsonataTemplate::compile("Output", &json!({"a": ["{% 1 + %}"]}), Allowed::default()).unwrap_err();
        assert_eq!((e.code, e.location.as_str(), e.message.as_str()), ("INVALID_JSONATA_EXPRESSION", "/a[0]", "Unexpected end of expression"));
        let e = JsonataTemplate::compile("Output", &json!("{% $states.result %}"), Allowed::default()).unwrap_err();
        assert_eq!(e.code, "UNSUPPORTED_JSONATA_EXPRESSION");
    }
}
