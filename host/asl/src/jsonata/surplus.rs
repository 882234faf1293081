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

/// Registers, for each of the functions among `names` (the `$name`s an
/// expression mentions), what its renamed calls reach: argument `max + 1`
/// does not match the signature.
pub(super) fn register(ev: &mut Evaluator, names: &[String]) {
    for (function, max) in MAX_ARGUMENTS {
        if names.iter().any(|n| n == function) {
            let _ = ev.register_fn(renamed(function), move |_: &[JValue]| Err(super::functions::signature(function, max + 1)));
        }
    }
}

/// Renames the calls in `ast` that pass one of the functions more arguments
/// than it takes, unless the expression binds that name itself.
pub(super) fn rename_calls(ast: &mut AstNode) {
    let bound = bound_names(ast);
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
