//! A walk over a parsed expression that may change its nodes, for the
//! rewrites made at parse (`surplus`, `arguments`).

use jsonata_core::ast::{AstNode, BinaryOp, PathStep, Stage};

/// Names the expression binds (`$x := …`, a lambda's parameters).
pub(super) fn bound_names(ast: &mut AstNode) -> Vec<String> {
    let mut out = Vec::new();
    walk(ast, &mut |node| match node {
        AstNode::Binary { op: BinaryOp::ColonEqual, lhs, .. } => {
            if let AstNode::Variable(name) = lhs.as_ref() {
                out.push(name.clone());
            }
        }
        AstNode::Lambda { params, .. } => out.extend(params.iter().cloned()),
        _ => {}
    });
    out
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
