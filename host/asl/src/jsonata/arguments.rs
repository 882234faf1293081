//! Arguments JSONata reads otherwise than jsonata-core: each is passed, in
//! the written call, through a function that reads it as JSONata does and
//! leaves any other value as it is, for jsonata-core's own checks. (AWS runs
//! jsonata-java, a port of jsonata-js; tools/oracle/jsonata_diff.py measures
//! the two against each other.)
//!
//! - `$fromMillis` of a fraction takes the whole milliseconds (jsonata-js's
//!   `Date` truncates towards zero, jsonata-java reads a `long`):
//!   `$fromMillis(1.5)` is `1970-01-01T00:00:00.001Z`; jsonata-core refused it.
//! - `$formatBase` rounds its number and radix as `$round` does, a half to
//!   the even neighbour: `$formatBase(-2.5, 2)` is `"-10"`, a radix of 1.5 is
//!   2; jsonata-core rounded half away from zero and refused the radix.
//! - `$substring`'s start and length are Java `int`s in jsonata-java: past
//!   2^31 they saturate (`$substring('hello', 1, 1e21)` is `"ello"`, a start
//!   past the end `""`); jsonata-core overflowed its arithmetic on them.
//! - `$spread` spreads the arrays inside an array too (`$spread([[1, 2], [3]])`
//!   is `[1, 2, 3]`); jsonata-core left them whole.
//! - `$reduce` of an empty array with no initial value is undefined, not
//!   `null`.
//! - Either side of the range operator being `null` is T2003 or T2004
//!   (`[null..3]`), where jsonata-core answered `[]`.
//! - Negating what is not a number is D1002 naming the value, as JSONata
//!   words it (`Cannot negate a non-numeric value: "a"`); jsonata-core's
//!   message left the value out.

use jsonata_core::ast::{AstNode, BinaryOp, UnaryOp};
use jsonata_core::evaluator::{Evaluator, EvaluatorError};
use jsonata_core::value::JValue;

/// A reading of an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reading {
    /// A number truncated towards zero.
    Whole,
    /// A number rounded to the nearest integer, a half to the even one.
    HalfEven,
    /// A number saturated to a Java `int`.
    Int,
    /// An array with the arrays inside it spread into it, at any depth.
    Flat,
    /// An empty array read as undefined.
    EmptyUndefined,
    /// `null` refused as the range operator's left (T2003) or right (T2004) side.
    RangeLeft,
    RangeRight,
    /// What is not a number (nor undefined) refused as `-`'s operand: D1002.
    Negatable,
}

impl Reading {
    /// The name of the function a written argument goes through.
    fn name(self) -> &'static str {
        match self {
            Reading::Whole => "whole number",
            Reading::HalfEven => "number rounded half to even",
            Reading::Int => "Java int",
            Reading::Flat => "arrays spread",
            Reading::EmptyUndefined => "empty array undefined",
            Reading::RangeLeft => "range start",
            Reading::RangeRight => "range end",
            Reading::Negatable => "negated value",
        }
    }

    fn read(self, v: &JValue) -> Result<JValue, EvaluatorError> {
        Ok(match (self, v) {
            (Reading::Whole, JValue::Number(n)) if n.is_finite() => JValue::Number(n.trunc()),
            (Reading::HalfEven, JValue::Number(n)) if n.is_finite() => JValue::Number(n.round_ties_even()),
            (Reading::Int, JValue::Number(n)) if n.is_finite() => {
                JValue::Number(n.clamp(i32::MIN as f64, i32::MAX as f64))
            }
            (Reading::Flat, JValue::Array(items)) if items.iter().any(|i| matches!(i, JValue::Array(_))) => {
                let mut flat = Vec::with_capacity(items.len());
                spread_into(v, &mut flat);
                JValue::array(flat)
            }
            (Reading::EmptyUndefined, JValue::Array(items)) if items.is_empty() => JValue::Undefined,
            (Reading::RangeLeft, JValue::Null) => {
                return Err(EvaluatorError::EvaluationError(
                    "T2003: The left side of the range operator (..) must evaluate to an integer".into(),
                ));
            }
            (Reading::RangeRight, JValue::Null) => {
                return Err(EvaluatorError::EvaluationError(
                    "T2004: The right side of the range operator (..) must evaluate to an integer".into(),
                ));
            }
            (Reading::Negatable, v) if !matches!(v, JValue::Number(_) | JValue::Undefined) => {
                // JSON.stringify's text; a function has none (`undefined`).
                let shown = match super::convert::from_jvalue(v) {
                    Ok(Some(v)) => v.to_string(),
                    _ => "undefined".to_string(),
                };
                return Err(EvaluatorError::EvaluationError(format!("D1002: Cannot negate a non-numeric value: {shown}")));
            }
            _ => v.clone(),
        })
    }
}

fn spread_into(v: &JValue, out: &mut Vec<JValue>) {
    match v {
        JValue::Array(items) => items.iter().for_each(|i| spread_into(i, out)),
        other => out.push(other.clone()),
    }
}

/// Which argument of which function is read how; the last field, when set,
/// is the only argument count the reading applies to.
const READINGS: [(&str, usize, Reading, Option<usize>); 7] = [
    ("fromMillis", 0, Reading::Whole, None),
    ("formatBase", 0, Reading::HalfEven, None),
    ("formatBase", 1, Reading::HalfEven, None),
    ("substring", 1, Reading::Int, None),
    ("substring", 2, Reading::Int, None),
    ("spread", 0, Reading::Flat, None),
    ("reduce", 0, Reading::EmptyUndefined, Some(2)),
];

/// Wraps the arguments of every written call that `READINGS` names (unless
/// the expression binds that name itself), and the sides of every range;
/// returns the readings the expression now calls, for [`register`].
pub(super) fn wrap_calls(ast: &mut AstNode) -> Vec<Reading> {
    let bound = super::walk::bound_names(ast);
    let mut used = Vec::new();
    let mut wrap = |arg: &mut AstNode, reading: Reading| {
        wrap(arg, reading);
        if !used.contains(&reading) {
            used.push(reading);
        }
    };
    super::walk::walk(ast, &mut |node| match node {
        AstNode::Function { name, args, .. } => {
            let count = args.len();
            for (function, index, reading, only) in READINGS {
                if name == function
                    && !bound.iter().any(|b| b == function)
                    && only.is_none_or(|n| n == count)
                    && let Some(arg) = args.get_mut(index)
                    && !matches!(arg, AstNode::Placeholder)
                {
                    wrap(arg, reading);
                }
            }
        }
        AstNode::Binary { op: BinaryOp::Range, lhs, rhs } => {
            wrap(lhs, Reading::RangeLeft);
            wrap(rhs, Reading::RangeRight);
        }
        // A literal number is negated as it is written.
        AstNode::Unary { op: UnaryOp::Negate, operand } if !matches!(**operand, AstNode::Number(_)) => {
            wrap(operand, Reading::Negatable);
        }
        _ => {}
    });
    used
}

fn wrap(arg: &mut AstNode, reading: Reading) {
    let inner = std::mem::replace(arg, AstNode::Null);
    *arg = AstNode::Function { name: reading.name().into(), args: vec![inner], is_builtin: false };
}

/// Registers the readings an expression calls (what [`wrap_calls`] returned).
pub(super) fn register(ev: &mut Evaluator, readings: &[Reading]) {
    for &reading in readings {
        let _ = ev.register_fn(reading.name(), move |args: &[JValue]| {
            args.first().map_or(Ok(JValue::Undefined), |v| reading.read(v))
        });
    }
}
