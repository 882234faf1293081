//! JSONata states: Arguments, Output, Assign, Condition, Items and the
//! expression-valued numbers, evaluated with `$states` and the variables.
//! The JSONPath pipeline stays in the parent module; this one only runs when
//! a state's `jsonata` fields are set.

use super::running::Exec;
use super::failure::Failure;
use super::step::{Entry, StateResult, ctx_for};
use super::variables::Variables;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::sync::Arc;
use stepbox_asl::catalogue::{self, Facts, Field, check};
use stepbox_asl::{ChoiceRule, RuntimeError, State, StateKind, StrSpec, WaitSpec, errors};
use stepbox_asl::jsonata::{Bindings, JsonataFields, JsonataTemplate};

pub(super) fn bindings<'a>(
    input: &'a Value,
    result: Option<&'a Value>,
    error_output: Option<&'a Value>,
    ctx: &'a Value,
    vars: &'a Map<String, Value>,
) -> Bindings<'a> {
    Bindings::new(input, result, error_output, ctx, vars)
}

/// `Arguments`, or the state input when there are none.
pub(super) fn arguments(f: &JsonataFields, input: &Value, ctx: &Value, vars: &Map<String, Value>) -> Result<Value, RuntimeError> {
    match &f.arguments {
        Some(t) => t.evaluate(&bindings(input, None, None, ctx, vars)),
        None => Ok(input.clone()),
    }
}

/// A state's (or a catcher's, or a Choice rule's) `Assign` and `Output`.
#[derive(Clone, Copy)]
pub(super) struct Ending<'a> {
    pub(super) assign: Option<&'a JsonataTemplate>,
    pub(super) output: Option<&'a JsonataTemplate>,
}

/// What `Assign` and `Output` see besides the input: `$states.result`,
/// `$states.errorOutput` (a catcher) or neither (Choice).
pub(super) enum Seen<'a> {
    Result,
    ErrorOutput(&'a Value),
    Neither,
}

/// `Assign` and `Output` of a state. Both see the variables as they were when
/// the state was entered (AWS evaluates them side by side); the assignments
/// apply afterwards. Without `Output` the state outputs `res`.
pub(super) fn finish(
    end: Ending<'_>,
    input: &Value,
    res: Value,
    seen: Seen<'_>,
    ctx: &Value,
    vars: &mut Variables,
) -> Result<Value, RuntimeError> {
    let (pending, out) = {
        let (result, error_output) = match seen {
            Seen::Result => (Some(&res), None),
            Seen::ErrorOutput(e) => (None, Some(e)),
            Seen::Neither => (None, None),
        };
        let b = bindings(input, result, error_output, ctx, vars);
        let pending = match end.assign {
            Some(t) => Some(t.evaluate(&b)?),
            None => None,
        };
        let out = match end.output {
            Some(t) => Some(t.evaluate(&b)?),
            None => None,
        };
        (pending, out)
    };
    if let Some(Value::Object(m)) = pending {
        vars.assign(m)?;
    }
    Ok(out.unwrap_or(res))
}

/// [`finish`] for a state whose result is its input (Pass): the input moves
/// into the output (whole without `Output`, or into what `Output` builds
/// from it) rather than being copied.
fn finish_with_input(
    assign: Option<&JsonataTemplate>,
    output: Option<&JsonataTemplate>,
    input: Value,
    ctx: &Value,
    vars: &mut Variables,
) -> Result<Value, RuntimeError> {
    let pending = match assign {
        Some(t) => Some(t.evaluate(&bindings(&input, None, None, ctx, vars))?),
        None => None,
    };
    let out = match output {
        Some(t) => t.evaluate_taking_input(input, &bindings(&Value::Null, None, None, ctx, vars))?,
        None => input,
    };
    if let Some(Value::Object(m)) = pending {
        vars.assign(m)?;
    }
    Ok(out)
}

/// An expression-valued number field (`MaxConcurrency`, `TimeoutSeconds`…):
/// its value, checked against the field's rules.
pub(super) fn number(t: &JsonataTemplate, field: Field, b: &Bindings) -> Result<Value, RuntimeError> {
    let v = t.evaluate(b)?;
    if !v.is_number() {
        let e = expr(t);
        let facts = Facts { expr: Some(&e), value: Some(&v), ..Facts::default() };
        return Err(catalogue::error(field, check::not_number(&v), facts));
    }
    Ok(v)
}

/// Map `Items`, or the state input, as the item array.
pub(super) fn items(f: &JsonataFields, b: &Bindings) -> Result<Vec<Value>, RuntimeError> {
    match &f.items {
        Some(t) => {
            let v = t.evaluate(b)?;
            check::expression_type(Field::Items, &expr(t), &v)?;
            Ok(match v {
                Value::Array(a) => a,
                _ => Vec::new(),
            })
        }
        None => check::items(b.input).map(|a| a.to_vec()),
    }
}

/// The source of a whole-expression field, as causes quote it.
fn expr(t: &JsonataTemplate) -> String {
    t.whole_expression().unwrap_or_default().to_string()
}

/// Pass, Succeed, Fail, Choice and Wait in JSONata.
pub(super) async fn run_simple(
    ex: &Arc<Exec>,
    st: &State,
    f: &JsonataFields,
    input: Value,
    entry: &Entry,
    vars: &mut Variables,
) -> StateResult {
    let rt = |e: RuntimeError| ex.runtime(st, entry.id, e);
    let mut ctx_slot = Value::Null;
    let ctx = ctx_for(ex, st, entry, 0, &mut ctx_slot);
    match &st.kind {
        StateKind::Pass { .. } => {
            let out = finish_with_input(f.assign.as_ref(), f.output.as_ref(), input, ctx, vars).map_err(rt)?;
            Ok((out, st.next))
        }
        StateKind::Succeed => {
            let out = match &f.output {
                Some(t) => t.evaluate(&bindings(&input, None, None, ctx, vars)).map_err(rt)?,
                None => input,
            };
            Ok((out, None))
        }
        StateKind::Fail { error, cause } => {
            let b = bindings(&input, None, None, ctx, vars);
            let text = |t: &Option<JsonataTemplate>, plain: &Option<StrSpec>, field: Field| -> Result<Option<String>, Failure> {
                match (t, plain) {
                    (Some(t), _) => match t.evaluate(&b).map_err(rt)? {
                        Value::String(s) => Ok(Some(s)),
                        other => Err(rt(check::wrong_type(field, &expr(t), &other))),
                    },
                    (None, Some(StrSpec::Value(s))) => Ok(Some(s.clone())),
                    _ => Ok(None),
                }
            };
            let error = text(&f.error, error, Field::Error)?;
            let cause = text(&f.cause, cause, Field::Cause)?;
            Err(Failure { error, cause, nulls: false })
        }
        StateKind::Choice { choices, default } => {
            let (end, next) = choose(f, choices, *default, &input, ctx, vars).map_err(rt)?;
            // The state's result is its input, output only without `Output`.
            let res = if f.output.is_some() { Value::Null } else { input.clone() };
            let out = finish(end, &input, res, Seen::Neither, ctx, vars).map_err(rt)?;
            Ok((out, Some(next)))
        }
        StateKind::Wait(spec) => {
            // Bindings hold the engine's non-Send values: gone before the await.
            let now = ex.clock.now();
            let until = wait_until(f, spec, now, &bindings(&input, None, None, ctx, vars)).map_err(rt)?;
            ex.clock.sleep_until(ex.scaled_wait(now, until)).await;
            let out = finish_with_input(f.assign.as_ref(), f.output.as_ref(), input, ctx, vars).map_err(rt)?;
            Ok((out, st.next))
        }
        _ => unreachable!("run_simple is only called for Pass, Succeed, Fail, Choice and Wait"),
    }
}

/// The Choice rule that matches (its Assign, its Output or the state's, its
/// Next), or the Default with the state's Assign and Output.
fn choose<'f>(
    f: &'f JsonataFields,
    choices: &[(ChoiceRule, usize)],
    default: Option<usize>,
    input: &Value,
    ctx: &Value,
    vars: &Map<String, Value>,
) -> Result<(Ending<'f>, usize), RuntimeError> {
    for (rule, (_, target)) in f.choices.iter().zip(choices) {
        let b = bindings(input, None, None, ctx, vars);
        match rule.condition.evaluate(&b)? {
            Value::Bool(true) => {
                let end = Ending { assign: rule.assign.as_ref(), output: rule.output.as_ref().or(f.output.as_ref()) };
                return Ok((end, *target));
            }
            Value::Bool(false) => {}
            other => {
                check::expression_type(Field::Condition, &expr(&rule.condition), &other)?;
            }
        }
    }
    match default {
        Some(d) => Ok((Ending { assign: f.assign.as_ref(), output: f.output.as_ref() }, d)),
        None => Err(RuntimeError::new(errors::NO_CHOICE_MATCHED, "No Matches!")),
    }
}

/// When a JSONata Wait entered at `now` ends: `Seconds` or `Timestamp`
/// evaluated, or given.
fn wait_until(f: &JsonataFields, spec: &WaitSpec, now: DateTime<Utc>, b: &Bindings) -> Result<DateTime<Utc>, RuntimeError> {
    if let Some(t) = &f.seconds {
        let s = check::seconds(&expr(t), &t.evaluate(b)?)?;
        return Ok(now + chrono::Duration::seconds(s));
    }
    if let Some(t) = &f.timestamp {
        let until = check::timestamp(&expr(t), &t.evaluate(b)?)?.with_timezone(&Utc);
        if (until - now).num_seconds() > i32::MAX as i64 {
            return Err(check::too_long(Field::Timestamp));
        }
        return Ok(until);
    }
    Ok(match spec {
        WaitSpec::Seconds(s) => now + chrono::Duration::milliseconds((*s * 1000.0) as i64),
        WaitSpec::Timestamp(t) => t.with_timezone(&Utc),
        _ => now,
    })
}
