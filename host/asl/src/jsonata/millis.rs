//! `$fromMillis` of a fractional number: JSONata takes the whole
//! milliseconds (jsonata-js makes a `Date` of it, which truncates towards
//! zero; jsonata-java reads it as a `long`), so `$fromMillis(1.5)` is
//! `1970-01-01T00:00:00.001Z`; jsonata-core refuses it ("fromMillis()
//! requires an integer"). Each call's first argument is passed through a
//! function that truncates a finite number towards zero and leaves any
//! other value as it is, for jsonata-core's own checks.

use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::EvaluatorError;
use jsonata_core::value::JValue;

/// The function the first argument of `$fromMillis` goes through.
pub(super) const WHOLE: &str = "whole milliseconds";

/// Wraps the first argument of every written `$fromMillis(…)` call.
pub(super) fn wrap_calls(ast: &mut AstNode) {
    super::surplus::walk(ast, &mut |node| {
        if let AstNode::Function { name, args, .. } = node
            && name == "fromMillis"
            && let Some(first) = args.first_mut()
            && !matches!(first, AstNode::Placeholder)
        {
            let inner = std::mem::replace(first, AstNode::Null);
            *first = AstNode::Function { name: WHOLE.into(), args: vec![inner], is_builtin: false };
        }
    });
}

/// A finite number truncated towards zero; anything else unchanged.
pub(super) fn whole(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    Ok(match args.first() {
        Some(JValue::Number(n)) if n.is_finite() => JValue::Number(n.trunc()),
        Some(v) => v.clone(),
        None => JValue::Undefined,
    })
}
