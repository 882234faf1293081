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

use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::Evaluator;
use jsonata_core::value::JValue;

use super::walk::{bound_names, walk};

/// Step Functions' functions, and the one stepbox answers itself
/// (`$encodeUrl`, see `functions`), and the most arguments each takes.
const MAX_ARGUMENTS: [(&str, usize); 7] =
    [("partition", 2), ("range", 3), ("hash", 2), ("random", 1), ("uuid", 0), ("parse", 1), ("encodeUrl", 1)];

/// The name a call with too many arguments of `function` is renamed to.
fn renamed(function: &str) -> String {
    format!("{function} with too many arguments")
}

/// Registers what the renamed calls (what [`rename_calls`] returned) reach:
/// argument `max + 1` does not match the signature.
pub(super) fn register(ev: &mut Evaluator, renamed_calls: &[(&'static str, usize)]) {
    for &(function, max) in renamed_calls {
        let _ = ev.register_fn(renamed(function), move |_: &[JValue]| Err(super::functions::signature(function, max + 1)));
    }
}

/// Renames the calls in `ast` that pass one of the functions more arguments
/// than it takes, unless the expression binds that name itself; returns the
/// functions renamed, with their most arguments, for [`register`].
pub(super) fn rename_calls(ast: &mut AstNode) -> Vec<(&'static str, usize)> {
    let bound = bound_names(ast);
    let mut renamed_calls = Vec::new();
    walk(ast, &mut |node| {
        if let AstNode::Function { name, args, .. } = node
            && let Some(&(function, max)) = MAX_ARGUMENTS.iter().find(|(f, _)| f == name)
            && args.len() > max
            && !bound.iter().any(|b| b == name)
        {
            *name = renamed(name);
            if !renamed_calls.contains(&(function, max)) {
                renamed_calls.push((function, max));
            }
        }
    });
    renamed_calls
}
