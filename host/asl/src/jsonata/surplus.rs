//! A call of one of Step Functions' own functions (or of `$encodeUrl`, which
//! stepbox answers itself) with an argument too many
//! (`$uuid(1)`, `$parse(t, 2)`) fails on AWS with JSONata's T0410 naming the
//! first argument past the signature (floci-io/floci issue 2662). The
//! functions cannot check their own argument count: jsonata-core hands a
//! host function every argument a higher-order function passes
//! (`$map(texts, $parse)` gives `$parse` the index and the array too), which
//! AWS takes. So the check is made on the expression: each written call with
//! too many arguments is renamed at parse to a function that fails with the
//! T0410 once its arguments are evaluated, as JSONata validates a signature.

use jsonata_core::ast::{AstNode, BinaryOp, PathStep, Stage};

/// Step Functions' functions, and the one stepbox answers itself
/// (`$encodeUrl`, see `functions`), and the most arguments each takes.
pub(super) const MAX_ARGUMENTS: [(&str, usize); 7] =
    [("partition", 2), ("range", 3), ("hash", 2), ("random", 1), ("uuid", 0), ("parse", 1), ("encodeUrl", 1)];

/// The name a call with too many arguments of `function` is renamed to.
pub(super) fn renamed(function: &str) -> String {
    format!("{function} with too many arguments")
}

/// The function a renamed call of `function` reaches: argument `max + 1` does
/// not match the signature.
pub(super) fn failing(function: &'static str) -> Option<impl Fn(&[jsonata_core::value::JValue]) -> Result<jsonata_core::value::JValue, jsonata_core::evaluator::EvaluatorError>> {
    let max = MAX_ARGUMENTS.iter().find(|(f, _)| *f == function)?.1;
    Some(move |_: &[jsonata_core::value::JValue]| Err(super::functions::signature(function, max + 1)))
}

/// Renames the calls in `ast` that pass one of the functions more arguments
/// than it takes, unless the expression binds that name itself.
pub(super) fn rename_calls(ast: &mut AstNode) {
    let mut bound = Vec::new();
    collect_bound(ast, &mut bound);
    walk(ast, &mut |node| {
        if let AstNode::Function { name, args, .. } = node
            && let Some((_, max)) = MAX_ARGUMENTS.iter().find(|(f, _)| f == name)
            && args.len() > *max
            && !bound.iter().any(|b| b == name)
        {
            *name = renamed(name);
        }
    });
}

/// Names the expression binds (`$x := …`, a lambda's parameters).
pub(super) fn collect_bound(ast: &mut AstNode, out: &mut Vec<String>) {
    walk(ast, &mut |node| match node {
        AstNode::Binary { op: BinaryOp::ColonEqual, lhs, .. } => {
            if let AstNode::Variable(name) = lhs.as_ref() {
                out.push(name.clone());
            }
        }
        AstNode::Lambda { params, .. } => out.extend(params.iter().cloned()),
        _ => {}
    });
}

/// Calls `f` on every node of `ast`, parents before children.
pub(super) fn walk(ast: &mut AstNode, f: &mut dyn FnMut(&mut AstNode)) {
    f(ast);
    match ast {
        AstNode::Path { steps } => steps.iter_mut().for_each(|s| walk_step(s, f)),
        AstNode::Binary { lhs, rhs, .. } => {
            walk(lhs, f);
            walk(rhs, f);
        }
        AstNode::Unary { operand, .. } => walk(operand, f),
        AstNode::Function { args, .. } => args.iter_mut().for_each(|a| walk(a, f)),
        AstNode::Call { procedure, args } => {
            walk(procedure, f);
            args.iter_mut().for_each(|a| walk(a, f));
        }
        AstNode::Lambda { body, .. } => walk(body, f),
        AstNode::Array(items) | AstNode::Block(items) | AstNode::ArrayGroup(items) => {
            items.iter_mut().for_each(|i| walk(i, f))
        }
        AstNode::Object(pairs) => pairs.iter_mut().for_each(|(k, v)| {
            walk(k, f);
            walk(v, f);
        }),
        AstNode::ObjectTransform { input, pattern } => {
            walk(input, f);
            pattern.iter_mut().for_each(|(k, v)| {
                walk(k, f);
                walk(v, f);
            });
        }
        AstNode::Conditional { condition, then_branch, else_branch } => {
            walk(condition, f);
            walk(then_branch, f);
            if let Some(e) = else_branch {
                walk(e, f);
            }
        }
        AstNode::FunctionApplication(inner) => walk(inner, f),
        AstNode::Sort { input, terms } => {
            walk(input, f);
            terms.iter_mut().for_each(|(t, _)| walk(t, f));
        }
        AstNode::Transform { location, update, delete } => {
            walk(location, f);
            walk(update, f);
            if let Some(d) = delete {
                walk(d, f);
            }
        }
        _ => {}
    }
}

fn walk_step(step: &mut PathStep, f: &mut dyn FnMut(&mut AstNode)) {
    walk(&mut step.node, f);
    for stage in &mut step.stages {
        if let Stage::Filter(e) = stage {
            walk(e, f);
        }
    }
}
