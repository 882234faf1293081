//! A state's data flow: the context object, its effective input (InputPath
//! and Parameters, or JSONata `Arguments`), its output (ResultPath and
//! OutputPath, or `Output`), `Assign`, and AWS's payload limit.

use super::running::Exec;
use super::failure::Failure;
use super::jsonata;
use super::size::json_size;
use super::variables::Variables;
use serde_json::{Map, Value};
use stepbox_asl::{RuntimeError, Scope, State, errors};

pub(super) fn scope<'a>(input: &'a Value, context: &'a Value, vars: &'a Map<String, Value>) -> Scope<'a> {
    Scope {
        input,
        context,
        variables: Some(vars),
    }
}

/// The input a Task, Parallel or Map works on: InputPath and Parameters in
/// JSONPath, `Arguments` (default: the state input) in JSONata.
pub(super) fn state_input(st: &State, input: &Value, ctx: &Value, vars: &Map<String, Value>) -> Result<Value, RuntimeError> {
    match st.jsonata.as_deref() {
        Some(f) => jsonata::arguments(f, input, ctx, vars),
        None => st.effective_input(input, ctx, Some(vars)),
    }
}

/// Assign, then the state output: ResultPath and OutputPath in JSONPath,
/// `Output` (default: the result) in JSONata.
pub(super) fn finish_state(st: &State, input: Value, res: Value, ctx: &Value, vars: &mut Variables) -> Result<Value, RuntimeError> {
    if let Some(f) = st.jsonata.as_deref() {
        let end = jsonata::Ending { assign: f.assign.as_ref(), output: f.output.as_ref() };
        return jsonata::finish(end, &input, res, jsonata::Seen::Result, ctx, vars);
    }
    let pending = eval_assign(&st.assign_template, &res, ctx, vars)?;
    let out = st.output(input, res, ctx, Some(vars.values()))?;
    apply_assign(vars, pending)?;
    Ok(out)
}

/// Evaluates an `Assign` template against `value`; the caller applies the
/// returned bindings once the state's output is computed.
pub(super) fn eval_assign(
    t: &Option<stepbox_asl::Template>,
    value: &Value,
    ctx: &Value,
    vars: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, RuntimeError> {
    match t {
        None => Ok(None),
        Some(t) => match t.eval(&scope(value, ctx, vars))? {
            Value::Object(m) => Ok(Some(m)),
            _ => Ok(None),
        },
    }
}

pub(super) fn apply_assign(vars: &mut Variables, pending: Option<Map<String, Value>>) -> Result<(), RuntimeError> {
    match pending {
        Some(m) => vars.assign(m),
        None => Ok(()),
    }
}

/// `States.DataLimitExceeded` when `v` is larger than a state result may be.
pub(super) fn data_limit(ex: &Exec, who: &str, v: &Value) -> Result<(), Failure> {
    if json_size(v, ex.config.payload_limit) > ex.config.payload_limit {
        return Err(Failure::new(
            errors::DATA_LIMIT_EXCEEDED,
            format!(
                "The state/task '{who}' returned a result with a size exceeding the maximum number of bytes service limit."
            ),
        ));
    }
    Ok(())
}
