//! Names read at an expression's top level. Step Functions evaluates a
//! JSONata expression with no context value (the input is `$states.input`,
//! a variable `$name`), so a path whose first step is a bare name reads
//! nothing; AWS refuses such a definition when it is created:
//! `UNSUPPORTED_JSONATA_EXPRESSION: Reference to 'phone' at the top level is
//! not supported.` (floci-io/floci issue 2670, pull request 2699: AWS
//! refused every one of 277 such expressions from JSONata's test suite).
//!
//! "Top level" is where the context value is the expression's own: the
//! expression itself, the operands of its operators, the arguments of its
//! calls, the members of its array and object constructors, blocks,
//! conditions, and the first step of a path. The steps after a path's first,
//! and the stages, groupings and sort terms of any step, read the items the
//! path walks, so their names are not at the top level. A lambda's body is
//! not walked: a lambda's context is the one it is called in, which no
//! recording of AWS shows for a bare name, so the definition is taken.

use jsonata_core::ast::{AstNode, PathStep};

/// The first name `ast` reads at its top level, if any.
pub(super) fn first_top_level_name(ast: &AstNode) -> Option<&str> {
    match ast {
        AstNode::Name(name) => Some(name),
        AstNode::Path { steps } => steps.first().and_then(first_step),
        AstNode::Binary { lhs, rhs, .. } => first_top_level_name(lhs).or_else(|| first_top_level_name(rhs)),
        AstNode::Unary { operand, .. } => first_top_level_name(operand),
        AstNode::Function { args, .. } => args.iter().find_map(first_top_level_name),
        AstNode::Call { procedure, args } => {
            first_top_level_name(procedure).or_else(|| args.iter().find_map(first_top_level_name))
        }
        AstNode::Array(items) | AstNode::Block(items) => items.iter().find_map(first_top_level_name),
        AstNode::Object(pairs) => {
            pairs.iter().find_map(|(k, v)| first_top_level_name(k).or_else(|| first_top_level_name(v)))
        }
        AstNode::Conditional { condition, then_branch, else_branch } => first_top_level_name(condition)
            .or_else(|| first_top_level_name(then_branch))
            .or_else(|| else_branch.as_deref().and_then(first_top_level_name)),
        // Only the input: a grouping's pairs and a sort's terms read its items.
        AstNode::ObjectTransform { input, .. } | AstNode::Sort { input, .. } => first_top_level_name(input),
        _ => None,
    }
}

/// A path's first step: its node is read in the top-level context; its
/// stages read the step's items.
fn first_step(step: &PathStep) -> Option<&str> {
    first_top_level_name(&step.node)
}

#[cfg(test)]
mod tests {
    use super::first_top_level_name;

    fn name(src: &str) -> Option<String> {
        let ast = jsonata_core::parser::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        first_top_level_name(&ast).map(str::to_string)
    }

    #[test]
    fn a_bare_name_where_the_context_is_the_expressions_own_is_named() {
        for (src, n) in [
            ("phone", "phone"),
            ("phone.number", "phone"),
            ("items[0]", "items"),
            ("`first name`", "first name"),
            ("$count(items)", "items"),
            ("1 + price", "price"),
            ("-price", "price"),
            ("[a, 1]", "a"),
            ("{'k': v}", "v"),
            ("($x := total; $x * 2)", "total"),
            ("flag ? 1 : 2", "flag"),
            ("$exists(a) ? b : c", "a"),
            ("$states.input.a = 1 ? b : 2", "b"),
            ("name ~> $uppercase()", "name"),
            ("$states.input.x ~> $substring(n)", "n"),
            ("[a].b", "a"),
            ("account{type: amount}", "account"),
        ] {
            assert_eq!(name(src).as_deref(), Some(n), "{src}");
        }
    }

    #[test]
    fn names_inside_paths_predicates_and_lambdas_are_not() {
        for src in [
            "$states.input.phone",
            "$states.input.items[price > 5].name",
            "$states.input.items.(price * qty)",
            "$states.input.items^(price)",
            "$states.input.items{type: amount}",
            "$sum($states.input.items.price)",
            "$map($states.input.items, function($v) { $v.name })",
            "$filter($states.input.items, function($v) { price > 1 })",
            "$x.y",
            "$states.context.Execution.Id & 'name'",
            "'phone'",
            "42",
            "$$",
            "$",
            "*",
        ] {
            assert_eq!(name(src), None, "{src}");
        }
    }
}
