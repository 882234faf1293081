//! Input/output processing: InputPath, Parameters, ResultSelector,
//! ResultPath, OutputPath (JSONPath query language).

use crate::definition::{IoPath, ResultPath, State};
use crate::catalogue::{self, Bad, Facts, Field};
use crate::error::RuntimeError;
use crate::intrinsics::Scope;
use crate::path::{Cow, JsonPath};
use serde_json::{Map, Value};

fn no_results(p: &JsonPath) -> RuntimeError {
    catalogue::error(Field::InputPath, Bad::Missing, Facts::path(p))
}

/// Applies an InputPath/OutputPath to a value (borrowing when possible).
pub fn select<'a>(
    spec: &IoPath,
    v: &'a Value,
    context: &'a Value,
    vars: Option<&'a Map<String, Value>>,
) -> Result<Cow<'a>, RuntimeError> {
    match spec {
        IoPath::Default => Ok(Cow::Borrowed(v)),
        IoPath::Null => Ok(Cow::Owned(Value::Object(Map::new()))),
        IoPath::Path(p) => {
            let scope = Scope {
                input: v,
                context,
                variables: vars,
            };
            scope.resolve(p).ok_or_else(|| no_results(p))
        }
    }
}

/// Applies an OutputPath to an owned value (moves when the path is `$`).
pub fn select_owned(
    spec: &IoPath,
    v: Value,
    context: &Value,
    vars: Option<&Map<String, Value>>,
) -> Result<Value, RuntimeError> {
    match spec {
        IoPath::Default => Ok(v),
        IoPath::Null => Ok(Value::Object(Map::new())),
        IoPath::Path(p) if p.is_root_only() && matches!(p.root(), crate::path::Root::Input) => {
            Ok(v)
        }
        IoPath::Path(p) if p.is_definite() && matches!(p.root(), crate::path::Root::Input) => {
            let mut v = v;
            p.take(&mut v).ok_or_else(|| no_results(p))
        }
        _ => select(spec, &v, context, vars).map(Cow::into_owned),
    }
}

/// Combines the state input with a result according to ResultPath.
pub fn apply_result_path(
    spec: &ResultPath,
    mut input: Value,
    result: Value,
) -> Result<Value, RuntimeError> {
    match spec {
        ResultPath::Default => Ok(result),
        ResultPath::Null => Ok(input),
        ResultPath::Path(p) => match p.set(&mut input, result) {
            Ok(()) => Ok(input),
            Err(_) => Err(catalogue::error(
                Field::ResultPath,
                catalogue::check::not_number(&input),
                Facts::path(p).input(&input),
            )),
        },
    }
}

impl State {
    /// InputPath then Parameters: the effective input of a Task/Pass/Parallel/Map.
    pub fn effective_input(
        &self,
        input: &Value,
        context: &Value,
        vars: Option<&Map<String, Value>>,
    ) -> Result<Value, RuntimeError> {
        let selected = select(&self.input_path, input, context, vars)?;
        match &self.parameters {
            None => Ok(selected.into_owned()),
            // A path of Parameters over a null input (the catalogue's row).
            Some(t) if t.reads_input() && selected.as_value().is_null() => {
                Err(catalogue::error(Field::ParametersInput, Bad::Null, Facts::default()))
            }
            Some(t) => t.eval(&Scope {
                input: selected.as_value(),
                context,
                variables: vars,
            }),
        }
    }

    /// ResultSelector (if any) applied to a raw result.
    pub fn select_result(
        &self,
        result: Value,
        context: &Value,
        vars: Option<&Map<String, Value>>,
    ) -> Result<Value, RuntimeError> {
        match &self.result_selector {
            None => Ok(result),
            Some(t) => t.eval(&Scope {
                input: &result,
                context,
                variables: vars,
            }),
        }
    }

    /// ResultPath then OutputPath: the state output.
    pub fn output(
        &self,
        input: Value,
        result: Value,
        context: &Value,
        vars: Option<&Map<String, Value>>,
    ) -> Result<Value, RuntimeError> {
        let combined = apply_result_path(&self.result_path, input, result)?;
        select_owned(&self.output_path, combined, context, vars)
    }
}

#[cfg(test)]
mod tests {
    use crate::definition::StateMachine;
    use serde_json::json;

    #[test]
    fn pass_pipeline() {
        let sm = StateMachine::from_value(&json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true,
            "InputPath": "$.in", "Parameters": {"sum.$": "States.MathAdd($.a, $.b)", "msg.$": "States.Format('hi {}', $.name)", "copy.$": "$.a"},
            "ResultPath": "$.tmp", "OutputPath": "$.tmp"}}}))
        .unwrap();
        let s = sm.start();
        let input = json!({"in": {"a": 1, "b": 2, "name": "bob"}});
        let eff = s.effective_input(&input, &json!({}), None).unwrap();
        let out = s.output(input, eff, &json!({}), None).unwrap();
        assert_eq!(out, json!({"sum": 3, "msg": "hi bob", "copy": 1}));
    }

    #[test]
    fn null_paths_and_errors() {
        let sm = StateMachine::from_value(
            &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true,
            "InputPath": null, "ResultPath": null, "OutputPath": "$.nope"}}}),
        )
        .unwrap();
        let s = sm.start();
        assert_eq!(
            s.effective_input(&json!({"x": 1}), &json!({}), None)
                .unwrap(),
            json!({})
        );
        let e = s
            .output(json!({"x": 1}), json!(5), &json!({}), None)
            .unwrap_err();
        assert_eq!(
            e.cause,
            "Invalid path '$.nope' : No results for path: $['nope']"
        );
    }
}
