//! AWS's bound on how deep a JSONata evaluation may nest: JSONata's Timebox
//! counts the evaluations in progress, and past 100 the expression fails
//! with `Stack overflow error: …` (floci-io/floci issue 2737: `1+1+…+1`
//! with 200 terms fails on AWS, and the bound is 100, accepted, against
//! 101, refused).
//!
//! jsonata-core does not count its evaluations alike, so the depth is taken
//! from the expression: the nesting every evaluation of it reaches, one
//! level per node whose value needs its children's (operators, calls and
//! their arguments, constructors, blocks, a path's first step, a
//! condition). What may not be evaluated is not counted (the branches of a
//! condition, the right side of `and`, `or`, `??` and `?:`, a path's later
//! steps and predicates, a lambda's body), so the depth is never more than
//! AWS counts and no expression AWS takes is refused; an expression that
//! nests deeper only through recursion keeps jsonata-core's own bound and
//! the 5 s one.

use jsonata_core::ast::{AstNode, BinaryOp};

/// Evaluations AWS lets nest.
pub const MAX_DEPTH: usize = 100;

/// The message of the refusal, as AWS gives it (no JSONata code).
pub const REFUSAL: &str =
    "Stack overflow error: Check for non-terminating recursive function. Consider rewriting as tail-recursive.";

/// The nesting every evaluation of `ast` reaches.
pub(super) fn depth(ast: &AstNode) -> usize {
    let max = |nodes: &mut dyn Iterator<Item = &AstNode>| nodes.map(depth).max().unwrap_or(0);
    1 + match ast {
        AstNode::Binary { op: BinaryOp::And | BinaryOp::Or | BinaryOp::Coalesce | BinaryOp::Default, lhs, .. } => depth(lhs),
        AstNode::Binary { op: BinaryOp::ColonEqual, rhs, .. } => depth(rhs),
        AstNode::Binary { lhs, rhs, .. } => depth(lhs).max(depth(rhs)),
        AstNode::Unary { operand, .. } => depth(operand),
        AstNode::Function { args, .. } => max(&mut args.iter()),
        AstNode::Call { procedure, args } => depth(procedure).max(max(&mut args.iter())),
        AstNode::Array(items) | AstNode::Block(items) => max(&mut items.iter()),
        AstNode::Object(pairs) => max(&mut pairs.iter().flat_map(|(k, v)| [k, v])),
        AstNode::Conditional { condition, .. } => depth(condition),
        AstNode::Path { steps } => steps.first().map_or(0, |s| depth(&s.node)),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(src: &str) -> usize {
        depth(&jsonata_core::parser::parse(src).unwrap())
    }

    #[test]
    fn a_sum_of_n_terms_nests_n_deep() {
        for n in [1, 2, 100, 101, 200] {
            assert_eq!(of(&vec!["1"; n].join("+")), n);
        }
    }

    #[test]
    fn what_may_not_be_evaluated_is_not_counted() {
        let deep = vec!["1"; 200].join("+");
        for src in [
            format!("true ? 1 : {deep}"),
            format!("false and {deep}"),
            format!("$x ?: ({deep})"),
            format!("function($v) {{ {deep} }}"),
            format!("$states.input.a[{deep}]"),
        ] {
            assert!(of(&src) <= 3, "{src}: {}", of(&src));
        }
        assert_eq!(of(&format!("[{deep}]")), 201);
        assert_eq!(of(&format!("$string({deep})")), 201);
    }
}
