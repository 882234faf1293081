//! Numeric arguments JSONata reads otherwise than jsonata-core: each is
//! passed, in the written call, through a function that reads it as JSONata
//! does and leaves any other value as it is, for jsonata-core's own checks.
//!
//! - `$fromMillis` of a fraction takes the whole milliseconds: jsonata-js
//!   makes a `Date` of it, which truncates towards zero, and jsonata-java
//!   reads it as a `long`, so `$fromMillis(1.5)` is
//!   `1970-01-01T00:00:00.001Z`; jsonata-core refused it ("fromMillis()
//!   requires an integer").
//! - `$formatBase` rounds its number and its radix as `$round` does, a half
//!   to the even neighbour: `$formatBase(-2.5, 2)` is `"-10"` and a radix of
//!   1.5 is 2; jsonata-core rounded the number half away from zero and
//!   refused the radix.

use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Evaluator, EvaluatorError};
use jsonata_core::value::JValue;

/// A reading of a number argument.
#[derive(Clone, Copy)]
enum Reading {
    /// Truncated towards zero.
    Whole,
    /// Rounded to the nearest integer, a half to the even one.
    HalfEven,
}

impl Reading {
    /// The name of the function a written argument goes through.
    fn name(self) -> &'static str {
        match self {
            Reading::Whole => "whole number",
            Reading::HalfEven => "number rounded half to even",
        }
    }

    fn read(self, n: f64) -> f64 {
        match self {
            Reading::Whole => n.trunc(),
            Reading::HalfEven => n.round_ties_even(),
        }
    }
}

/// Which argument of which function is read how.
const READINGS: [(&str, usize, Reading); 3] =
    [("fromMillis", 0, Reading::Whole), ("formatBase", 0, Reading::HalfEven), ("formatBase", 1, Reading::HalfEven)];

/// Wraps the arguments of every written call that `READINGS` names.
pub(super) fn wrap_calls(ast: &mut AstNode) {
    super::surplus::walk(ast, &mut |node| {
        let AstNode::Function { name, args, .. } = node else { return };
        for (function, index, reading) in READINGS {
            if name == function
                && let Some(arg) = args.get_mut(index)
                && !matches!(arg, AstNode::Placeholder)
            {
                let inner = std::mem::replace(arg, AstNode::Null);
                *arg = AstNode::Function { name: reading.name().into(), args: vec![inner], is_builtin: false };
            }
        }
    });
}

/// Registers the readings the functions among `names` need.
pub(super) fn register(ev: &mut Evaluator, names: &[String]) {
    for (function, _, reading) in READINGS {
        if names.iter().any(|n| n == function) {
            let _ = ev.register_fn(reading.name(), move |args: &[JValue]| read(reading, args));
        }
    }
}

/// A finite number read as `reading`; anything else unchanged.
fn read(reading: Reading, args: &[JValue]) -> Result<JValue, EvaluatorError> {
    Ok(match args.first() {
        Some(JValue::Number(n)) if n.is_finite() => JValue::Number(reading.read(*n)),
        Some(v) => v.clone(),
        None => JValue::Undefined,
    })
}
