//! The JSONata fields of one state, compiled when the definition loads.

use serde_json::{Map, Value};

use super::template::{Allowed, CompileError, JsonataTemplate};
use crate::error::Diagnostic;

/// Every `{% … %}`-capable field of a JSONata state. A field holding a plain
/// value (a number `Seconds`, say) stays with the JSONPath-era model; only
/// the ones that need evaluation are here.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonataFields {
    pub arguments: Option<JsonataTemplate>,
    pub output: Option<JsonataTemplate>,
    pub assign: Option<JsonataTemplate>,
    /// Map: `Items` and `ItemSelector`.
    pub items: Option<JsonataTemplate>,
    pub item_selector: Option<JsonataTemplate>,
    /// Fail: `Error` and `Cause`.
    pub error: Option<JsonataTemplate>,
    pub cause: Option<JsonataTemplate>,
    /// Wait: `Seconds` / `Timestamp` given as expressions.
    pub seconds: Option<JsonataTemplate>,
    pub timestamp: Option<JsonataTemplate>,
    /// Task: `TimeoutSeconds` / `HeartbeatSeconds` as expressions.
    pub timeout_seconds: Option<JsonataTemplate>,
    pub heartbeat_seconds: Option<JsonataTemplate>,
    /// Map: `MaxConcurrency` and the tolerated-failure fields as expressions.
    pub max_concurrency: Option<JsonataTemplate>,
    pub tolerated_failure_count: Option<JsonataTemplate>,
    pub tolerated_failure_percentage: Option<JsonataTemplate>,
    /// Choice: one per rule, in order.
    pub choices: Vec<ChoiceFields>,
    /// One per catcher, in order.
    pub catchers: Vec<OutputAssign>,
    /// Whether any expression reads `$states.context`.
    pub reads_context: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceFields {
    pub condition: JsonataTemplate,
    pub assign: Option<JsonataTemplate>,
    pub output: Option<JsonataTemplate>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutputAssign {
    pub assign: Option<JsonataTemplate>,
    pub output: Option<JsonataTemplate>,
}

/// Fields whose value is evaluated only when it is a `{% … %}` string.
const EXPRESSION_ONLY: &[&str] = &[
    "Seconds",
    "Timestamp",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
];

struct Compiler<'a> {
    loc: &'a str,
    diags: Vec<Diagnostic>,
    reads_context: bool,
}

impl Compiler<'_> {
    fn field(&mut self, o: &Map<String, Value>, key: &str, at: &str, allowed: Allowed) -> Option<JsonataTemplate> {
        let v = o.get(key)?;
        if EXPRESSION_ONLY.contains(&key) && !v.as_str().is_some_and(|s| super::expression_text(s).is_some()) {
            return None;
        }
        match JsonataTemplate::compile(key, v, allowed) {
            Ok(t) => {
                self.reads_context |= t.reads_context();
                Some(t)
            }
            Err(CompileError { location, message, code }) => {
                self.diags.push(Diagnostic::error(code, message, format!("{}{at}/{key}{location}", self.loc)));
                None
            }
        }
    }
}

impl JsonataFields {
    /// Compiles the JSONata fields of state `o` (of type `ty`) at `loc`.
    pub fn compile(ty: &str, o: &Map<String, Value>, loc: &str) -> Result<JsonataFields, Vec<Diagnostic>> {
        compile(ty, o, loc)
    }
}

fn compile(ty: &str, o: &Map<String, Value>, loc: &str) -> Result<JsonataFields, Vec<Diagnostic>> {
    let mut c = Compiler { loc, diags: Vec::new(), reads_context: false };
    let plain = Allowed::default();
    // $states.result exists once a Task, Map or Parallel has a result.
    let with_result = Allowed { result: matches!(ty, "Task" | "Map" | "Parallel"), error_output: false };
    let mut f = JsonataFields {
        arguments: c.field(o, "Arguments", "", plain),
        output: c.field(o, "Output", "", with_result),
        assign: c.field(o, "Assign", "", with_result),
        items: c.field(o, "Items", "", plain),
        item_selector: c.field(o, "ItemSelector", "", plain),
        seconds: c.field(o, "Seconds", "", plain),
        timestamp: c.field(o, "Timestamp", "", plain),
        timeout_seconds: c.field(o, "TimeoutSeconds", "", plain),
        heartbeat_seconds: c.field(o, "HeartbeatSeconds", "", plain),
        max_concurrency: c.field(o, "MaxConcurrency", "", plain),
        tolerated_failure_count: c.field(o, "ToleratedFailureCount", "", plain),
        tolerated_failure_percentage: c.field(o, "ToleratedFailurePercentage", "", plain),
        ..JsonataFields::default()
    };
    if ty == "Fail" {
        f.error = c.field(o, "Error", "", plain);
        f.cause = c.field(o, "Cause", "", plain);
    }
    if let Some(Value::Array(choices)) = o.get("Choices") {
        for (i, rule) in choices.iter().enumerate() {
            let Value::Object(r) = rule else { continue };
            let at = format!("/Choices[{i}]");
            let condition = c.field(r, "Condition", &at, plain);
            let assign = c.field(r, "Assign", &at, plain);
            let output = c.field(r, "Output", &at, plain);
            if let Some(condition) = condition {
                f.choices.push(ChoiceFields { condition, assign, output });
            }
        }
    }
    if let Some(Value::Array(catchers)) = o.get("Catch") {
        let on_error = Allowed { result: false, error_output: true };
        for (i, catcher) in catchers.iter().enumerate() {
            let Value::Object(k) = catcher else { continue };
            let at = format!("/Catch[{i}]");
            f.catchers.push(OutputAssign {
                assign: c.field(k, "Assign", &at, on_error),
                output: c.field(k, "Output", &at, on_error),
            });
        }
    }
    f.reads_context = c.reads_context;
    if c.diags.is_empty() { Ok(f) } else { Err(c.diags) }
}

#[cfg(test)]
mod tests {
    use crate::{QueryLanguage, StateKind, StateMachine};
    use serde_json::json;

    #[test]
    fn expressions_compile_once_at_load() {
        let sm = StateMachine::from_value(&json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "Arguments": {"x": "{% $states.input.x %}"},
                  "Output": "{% $states.result %}", "Assign": {"v": "{% $states.result.v %}"}, "TimeoutSeconds": "{% 3 %}",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F", "Output": "{% $states.errorOutput %}"}], "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% $v = 1 %}", "Next": "F"}], "Default": "F"},
            "F": {"Type": "Fail", "Error": "{% 'E' %}", "Cause": "plain"}}}))
        .unwrap();
        let t = sm.state(sm.index_of("T").unwrap());
        let f = t.jsonata.as_deref().unwrap();
        assert!(f.arguments.is_some() && f.output.is_some() && f.assign.is_some() && f.timeout_seconds.is_some());
        assert!(f.catchers[0].output.is_some());
        assert_eq!(sm.state(sm.index_of("C").unwrap()).jsonata.as_deref().unwrap().choices.len(), 1);
        let fail = sm.state(sm.index_of("F").unwrap()).jsonata.as_deref().unwrap();
        assert!(fail.error.is_some());
    }

    #[test]
    fn bad_expressions_are_rejected_with_aws_codes_and_locations() {
        let e = StateMachine::from_value(&json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
            "P": {"Type": "Pass", "Output": {"a": ["{% 1 + %}"]}, "End": true}}}))
        .unwrap_err();
        assert_eq!((e[0].code, e[0].location.as_str()), ("INVALID_JSONATA_EXPRESSION", "/States/P/Output/a[0]"));
        assert_eq!(e[0].message, "Unexpected end of expression");
        let e = StateMachine::from_value(&json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
            "P": {"Type": "Pass", "Output": "{% $states.errorOutput %}", "End": true}}}))
        .unwrap_err();
        assert_eq!(e[0].code, "UNSUPPORTED_JSONATA_EXPRESSION");
        assert_eq!(e[0].message, "Field '$states.errorOutput' does not exist.");
        // AWS's words and place for a bare name at the top level (floci-io/floci issue 2670).
        let e = StateMachine::from_value(&json!({"QueryLanguage": "JSONata", "StartAt": "E", "States": {
            "E": {"Type": "Pass", "Output": {"v": "{% phone %}"}, "End": true}}}))
        .unwrap_err();
        assert_eq!((e[0].code, e[0].location.as_str()), ("UNSUPPORTED_JSONATA_EXPRESSION", "/States/E/Output/v"));
        assert_eq!(e[0].message, "Reference to 'phone' at the top level is not supported.");
        let e = StateMachine::from_value(&json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% total > 10 %}", "Next": "E"}], "Default": "E"},
            "E": {"Type": "Succeed"}}}))
        .unwrap_err();
        assert_eq!(e[0].message, "Reference to 'total' at the top level is not supported.");
        let e = StateMachine::from_value(&json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
            "P": {"Type": "Pass", "InputPath": "$.a", "End": true}}}))
        .unwrap_err();
        assert_eq!((e[0].code, e[0].location.as_str()), ("SCHEMA_VALIDATION_FAILED", "/States/P"));
    }

    #[test]
    fn map_and_parallel_children_inherit_the_top_level_language() {
        let sm = StateMachine::from_value(&json!({"StartAt": "M", "States": {
            "M": {"Type": "Map", "QueryLanguage": "JSONata", "Items": "{% [1, 2] %}", "End": true,
                  "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}}))
        .unwrap();
        let m = sm.start();
        assert_eq!(m.query_language, QueryLanguage::Jsonata);
        let StateKind::Map(spec) = &m.kind else { panic!() };
        assert_eq!(spec.processor.start().query_language, QueryLanguage::JsonPath);
        // A JSONata machine's states cannot go back to JSONPath (refused at
        // the state, as AWS places it).
        let e = StateMachine::from_value(&json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
            "P": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}}))
        .unwrap_err();
        assert_eq!(e[0].location, "/States/P");
    }
}
