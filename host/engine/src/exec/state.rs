//! One state run: the dispatch on its kind, and the states that only move
//! data (Pass, Succeed, Fail, Choice) in JSONPath.

use super::running::Frame;
use super::failure::Failure;
use super::io::{apply_assign, data_limit, eval_assign, scope};
use super::step::{StateResult, Step};
use super::variables::Variables;
use super::{jsonata, map, parallel, task, wait};
use serde_json::Value;
use stepbox_asl::catalogue::{Field, check, render};
use stepbox_asl::{ChoiceRule, StateKind, StrSpec, compact, errors, io};

/// Runs the state of `s` on `input` with its scope's variables.
pub(super) async fn run_state(s: &Step<'_>, input: Value, frame: &mut Frame, vars: &mut Variables) -> StateResult {
    let st = s.st;
    if let Some(f) = st.jsonata.as_deref()
        && matches!(
            st.kind,
            StateKind::Pass { .. } | StateKind::Succeed | StateKind::Fail { .. } | StateKind::Choice { .. } | StateKind::Wait(_)
        )
    {
        return jsonata::run_simple(s.ex, st, f, input, s.entry, vars).await;
    }
    match &st.kind {
        StateKind::Pass { result } => pass(s, result.as_ref(), input, vars),
        StateKind::Succeed => succeed(s, input, vars),
        StateKind::Fail { error, cause } => Err(fail(s, error, cause, &input, vars)?),
        StateKind::Choice { choices, default } => choice(s, choices, *default, input, vars),
        StateKind::Wait(spec) => wait::run_wait(s, spec, input, vars).await,
        StateKind::Task { resource, timeout, heartbeat, .. } => {
            let spec = task::TaskSpec { resource, timeout, heartbeat };
            task::run_task(s, spec, input, frame, vars).await
        }
        StateKind::Parallel { branches } => parallel::run_parallel(s, branches, input, frame, vars).await,
        StateKind::Map(spec) => map::run_map(s, spec, input, frame, vars).await,
    }
}

fn pass(s: &Step<'_>, result: Option<&Value>, input: Value, vars: &mut Variables) -> StateResult {
    let (ex, st) = (s.ex, s.st);
    let rt = |e| s.rt(e);
    let mut ctx_slot = Value::Null;
    let ctx = s.ctx(0, &mut ctx_slot);
    let res = match result {
        Some(r) => {
            data_limit(ex, &st.name, r)?;
            r.clone()
        }
        None => st.effective_input(&input, ctx, Some(vars.values())).map_err(rt)?,
    };
    let pending = eval_assign(&st.assign_template, &res, ctx, vars).map_err(rt)?;
    let out = st.output(input, res, ctx, Some(vars.values())).map_err(rt)?;
    apply_assign(vars, pending).map_err(rt)?;
    Ok((out, st.next))
}

fn succeed(s: &Step<'_>, input: Value, vars: &mut Variables) -> StateResult {
    let st = s.st;
    let rt = |e| s.rt(e);
    let mut ctx_slot = Value::Null;
    let ctx = s.ctx(0, &mut ctx_slot);
    let sel = io::select(&st.input_path, &input, ctx, Some(vars.values()))
        .map_err(rt)?
        .into_owned();
    let out = io::select_owned(&st.output_path, sel, ctx, Some(vars.values())).map_err(rt)?;
    Ok((out, None))
}

/// The Fail state's error and cause (given, or read through ErrorPath and
/// CausePath); the failure it ends with, or the one evaluating them raised.
fn fail(s: &Step<'_>, error: &Option<StrSpec>, cause: &Option<StrSpec>, input: &Value, vars: &Variables) -> Result<Failure, Failure> {
    let rt = |e| s.rt(e);
    let mut ctx_slot = Value::Null;
    let ctx = s.ctx(0, &mut ctx_slot);
    let eval = |spec: &Option<StrSpec>, field: Field| -> Result<Option<String>, Failure> {
        Ok(match spec {
            None => None,
            Some(StrSpec::Value(v)) => Some(v.clone()),
            Some(StrSpec::Path(p)) => {
                let v = scope(input, ctx, vars).resolve(p).ok_or_else(|| rt(check::missing(field, p, input)))?;
                Some(render::raw(v.as_value()))
            }
            Some(StrSpec::Call(c)) => {
                let v = c.evaluate(&scope(input, ctx, vars)).map_err(rt)?;
                Some(match v {
                    Value::String(s) => s,
                    other => compact(&other),
                })
            }
        })
    };
    let error = eval(error, Field::ErrorPath)?;
    let cause = eval(cause, Field::CausePath)?;
    Ok(Failure { error, cause, nulls: false })
}

fn choice(
    s: &Step<'_>,
    choices: &[(ChoiceRule, usize)],
    default: Option<usize>,
    input: Value,
    vars: &mut Variables,
) -> StateResult {
    let st = s.st;
    let rt = |e| s.rt(e);
    let mut ctx_slot = Value::Null;
    let ctx = s.ctx(0, &mut ctx_slot);
    let eff = io::select(&st.input_path, &input, ctx, Some(vars.values())).map_err(rt)?;
    let scope = scope(eff.as_value(), ctx, vars);
    let mut next = None;
    let mut assign_t = &st.assign_template;
    for (rule, target) in choices {
        if rule.rule.eval(&scope).map_err(rt)? {
            next = Some(*target);
            // A matched rule uses its own Assign; the state-level
            // Assign only applies when the Default is taken.
            assign_t = &rule.assign_template;
            break;
        }
    }
    let next = match next.or(default) {
        Some(n) => n,
        None => return Err(Failure::new(errors::NO_CHOICE_MATCHED, "No Matches!")),
    };
    let eff = eff.into_owned();
    let pending = eval_assign(assign_t, &eff, ctx, vars).map_err(rt)?;
    let out = io::select_owned(&st.output_path, eff, ctx, Some(vars.values())).map_err(rt)?;
    apply_assign(vars, pending).map_err(rt)?;
    Ok((out, Some(next)))
}
