//! JSONata for Step Functions: expressions parsed once at load, evaluated
//! with `$states` and the workflow variables bound, plus AWS's extra
//! functions. The JSONata engine itself is the jsonata-core crate, chosen by
//! measurement (tools/jsonata-suite); only this module and its children name
//! it, so it can be swapped.

mod arguments;
mod bounds;
mod convert;
mod depth;
mod direct;
mod fields;
mod functions;
mod messages;
pub mod template;
mod surplus;
mod toplevel;
mod walk;
pub mod watch;

use std::collections::BTreeSet;
use std::sync::Arc;

use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{CancelToken, Context, Evaluator, EvaluatorOptions};
use jsonata_core::value::JValue;
use serde_json::{Map, Value};

pub use fields::{ChoiceFields, JsonataFields, OutputAssign};
pub use template::JsonataTemplate;

/// What a JSONata expression may read: `$states.*` and the variables.
pub struct Bindings<'a> {
    pub input: &'a Value,
    /// `$states.result` (Task, Map, Parallel: Output and Assign).
    pub result: Option<&'a Value>,
    /// `$states.errorOutput` (Catch: Output and Assign).
    pub error_output: Option<&'a Value>,
    /// `$states.context`; `Null` when the state does not read it.
    pub context: &'a Value,
    pub vars: &'a Map<String, Value>,
    /// The `$states` fields converted once for every expression of one
    /// evaluation, each only when an expression reads it.
    converted: [std::cell::OnceCell<JValue>; 4],
}

impl<'a> Bindings<'a> {
    pub fn new(
        input: &'a Value,
        result: Option<&'a Value>,
        error_output: Option<&'a Value>,
        context: &'a Value,
        vars: &'a Map<String, Value>,
    ) -> Self {
        Bindings { input, result, error_output, context, vars, converted: Default::default() }
    }

    /// The same bindings over another `$states.input`.
    pub fn with_input<'x>(&self, input: &'x Value) -> Bindings<'x>
    where
        'a: 'x,
    {
        Bindings::new(input, self.result, self.error_output, self.context, self.vars)
    }

    /// `$states.input`, `.result`, `.errorOutput`, `.context` by index into
    /// `STATES_FIELDS`; `None` where the field is absent.
    fn states_field(&self, i: usize) -> Option<&'a Value> {
        match i {
            0 => Some(self.input),
            1 => self.result,
            2 => self.error_output,
            _ => (!self.context.is_null()).then_some(self.context),
        }
    }
}

/// A parsed `{% … %}` expression.
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    ast: Arc<AstNode>,
    /// `$name` references other than `$states` (superset: a name bound
    /// inside the expression with `:=` is listed too, and simply not found).
    variables: Vec<String>,
    /// Which of `$states.input`, `.result`, `.errorOutput`, `.context` the
    /// text reads (all four when it uses `$states` other than as `$states.field`).
    reads: [bool; 4],
    /// The direct evaluator's plan, when the expression is simple enough
    /// (see `direct`), and the function names it calls.
    direct: Option<Arc<(direct::Plan, Vec<String>)>>,
    /// Nests deeper than AWS lets an evaluation (`depth`): every
    /// evaluation fails.
    too_deep: bool,
    /// The host functions the parse-time rewrites made the expression call.
    rewrites: Arc<Rewrites>,
}

/// What the parse-time rewrites (`surplus`, `arguments`) made an expression
/// call, registered on each evaluation.
#[derive(Debug, Default)]
struct Rewrites {
    surplus: Vec<(&'static str, usize)>,
    readings: Vec<arguments::Reading>,
}

impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// How an evaluation went wrong, before the caller words it for its field.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalError {
    /// The expression failed; the JSONata message, as AWS words it
    /// (`CODE: text`, or a bare text).
    Failed(String),
    /// It returned a function or another non-JSON value.
    Unsupported,
    /// The JSONata engine itself failed.
    Internal,
}

impl Expression {
    /// Parses the text between `{%` and `%}`. The error is the parser's
    /// message without its code, as AWS reports it.
    pub fn parse(source: &str) -> Result<Expression, String> {
        let mut ast = jsonata_core::parser::parse(source).map_err(|e| messages::reword_parse(&strip_code(&e.to_string())))?;
        let rewrites = Rewrites { surplus: surplus::rename_calls(&mut ast), readings: arguments::wrap_calls(&mut ast) };
        let names = referenced_variables(source);
        let reads = if names.contains("states") { states_fields_read(&strip_strings(source)) } else { [false; 4] };
        let mut functions = BTreeSet::new();
        let too_deep = depth::depth(&ast) > depth::MAX_DEPTH;
        let direct = direct::Plan::compile(&ast, &mut functions)
            .filter(|_| !too_deep)
            .map(|p| Arc::new((p, functions.into_iter().collect())));
        Ok(Expression {
            source: source.trim().to_string(),
            ast: Arc::new(ast),
            variables: names.into_iter().filter(|n| n != "states").collect(),
            reads,
            direct,
            too_deep,
            rewrites: Arc::new(rewrites),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the text mentions `$states.context` (or `$states` whole),
    /// so the engine knows to build the context object.
    pub fn reads_context(&self) -> bool {
        self.reads[3]
    }

    /// `$$`, `$states.errorOutput` where no error exists, a bare name at
    /// the top level (`toplevel`)…: AWS's
    /// UNSUPPORTED_JSONATA_EXPRESSION checks, given what the field may read.
    pub fn unsupported_reference(&self, result: bool, error_output: bool) -> Option<String> {
        let text = strip_strings(&self.source);
        if text.contains("$$") {
            return Some("Reference to '$$' is not supported.".into());
        }
        for (field, allowed) in [("result", result), ("errorOutput", error_output)] {
            if !allowed && text.contains(&format!("$states.{field}")) {
                return Some(format!("Field '$states.{field}' does not exist."));
            }
        }
        toplevel::first_top_level_name(&self.ast).map(|name| format!("Reference to '{name}' at the top level is not supported."))
    }

    /// Evaluates; `Ok(None)` is JSONata's `undefined`.
    pub fn evaluate(&self, b: &Bindings) -> Result<Option<Value>, EvalError> {
        match self.evaluate_directly(b) {
            Some(v) => {
                self.debug_check_direct(&v, b);
                bounded(v)
            }
            None => self.evaluate_with_jsonata_core(b),
        }
    }

    /// Debug builds (every test run: the conformance corpus, the server
    /// tests) hold each direct answer to jsonata-core's.
    fn debug_check_direct(&self, direct: &Option<Value>, b: &Bindings) {
        if cfg!(debug_assertions) {
            let core = self.evaluate_with_jsonata_core(b);
            assert_eq!(core, bounded(direct.clone()), "direct and jsonata-core evaluations of '{}' differ", self.source);
        }
    }

    /// As [`Expression::evaluate`] with `$states.input` being `input` (the
    /// input in `b` is not read), for the last reader of a state's input:
    /// the direct evaluator may move it into the result rather than copy it.
    pub fn evaluate_taking_input(&self, input: Value, b: &Bindings) -> Result<Option<Value>, EvalError> {
        let input = match self.direct.as_deref() {
            Some((plan, functions)) if !functions.iter().any(|f| b.vars.contains_key(f)) => {
                let original = cfg!(debug_assertions).then(|| input.clone());
                match plan.run_taking_input(input, b) {
                    Ok(v) => {
                        if let Some(original) = original {
                            self.debug_check_direct(&v, &b.with_input(&original));
                        }
                        return bounded(v);
                    }
                    Err(input) => input,
                }
            }
            _ => input,
        };
        self.evaluate_with_jsonata_core(&b.with_input(&input))
    }

    /// The direct evaluator's answer, `None` where it leaves the case to
    /// jsonata-core.
    fn evaluate_directly(&self, b: &Bindings) -> Option<Option<Value>> {
        let (plan, functions) = self.direct.as_deref()?;
        // A workflow variable named like a function the expression calls
        // shadows it.
        if functions.iter().any(|f| b.vars.contains_key(f)) {
            return None;
        }
        plan.run(b)
    }

    /// The full evaluation, for everything the direct evaluator leaves.
    fn evaluate_with_jsonata_core(&self, b: &Bindings) -> Result<Option<Value>, EvalError> {
        if self.too_deep {
            return Err(EvalError::Failed(depth::REFUSAL.into()));
        }
        let mut context = Context::new();
        if self.reads.contains(&true) {
            context.bind("states".into(), states_value(b, self.reads));
        }
        for name in &self.variables {
            if let Some(v) = b.vars.get(name) {
                context.bind(name.clone(), convert::to_jvalue(v));
            }
        }
        // Cancelled by the program's allocator past the memory one
        // evaluation may hold (see `watch`).
        let token = CancelToken::new();
        let options = EvaluatorOptions {
            timeout_ms: Some(EVALUATION_TIMEOUT_MS),
            max_sequence_length: Some(MAX_SEQUENCE_LENGTH),
            cancel: Some(token.clone()),
            ..EvaluatorOptions::default()
        };
        let mut evaluator = Evaluator::with_options(context, options);
        functions::register(&mut evaluator, &self.variables, &self.source, &self.rewrites);
        let watch = watch::Watch::begin(&token);
        // jsonata-core panics on a few arguments (an integer overflow in
        // `$substring('a', 1e21)`): the state fails, not the process.
        let evaluated = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| evaluator.evaluate(&self.ast, &JValue::Undefined)));
        drop(watch);
        match evaluated {
            Ok(Ok(v)) => convert::from_jvalue(&v).map_err(|()| EvalError::Unsupported).and_then(bounded),
            Ok(Err(e)) => Err(EvalError::Failed(messages::reword(e.message(), &self.source))),
            Err(_) => Err(EvalError::Internal),
        }
    }
}

/// `v`, or AWS's memory refusal when it holds a string of
/// [`bounds::MAX_STRING_LENGTH`] characters or more.
fn bounded(v: Option<Value>) -> Result<Option<Value>, EvalError> {
    match &v {
        Some(value) if bounds::too_long(value) => Err(EvalError::Failed(messages::reword(&bounds::refusal_message(), ""))),
        _ => Ok(v),
    }
}

const STATES_FIELDS: [&str; 4] = ["input", "result", "errorOutput", "context"];

/// The longest one expression may evaluate, in milliseconds: JSONata loops
/// through recursion, and a tail-recursive function that never returns
/// (`($f := function($n){ $f($n + 1) }; $f(0))`) held the thread evaluating
/// it (one of the server's workers) for good. Past it the state fails with
/// jsonata-core's D1012, worded as AWS words its own time bound
/// ([`messages::reword`]); AWS documents no limit of its own.
pub const EVALUATION_TIMEOUT_MS: u64 = 5_000;

/// The longest sequence an expression may build (a range, a map, a filter…):
/// AWS bounds the memory an expression holds, and recorded its edge with
/// numbers, `[1..873782] ~> $count()` answering and `[1..873783] ~>
/// $count()` failing (floci-io/floci issue 2737). Past it the state fails
/// with AWS's memory refusal ([`messages::reword`]). AWS refuses some
/// shorter sequences of bigger values too; this bound does not.
pub const MAX_SEQUENCE_LENGTH: usize = 873_782;

/// `$states` with the fields `reads` asks for, each converted at most once
/// per [`Bindings`].
fn states_value(b: &Bindings, reads: [bool; 4]) -> JValue {
    let sources = [Some(b.input), b.result, b.error_output, (!b.context.is_null()).then_some(b.context)];
    let mut m = indexmap::IndexMap::with_capacity(4);
    for (i, name) in STATES_FIELDS.iter().enumerate() {
        if let (true, Some(v)) = (reads[i], sources[i]) {
            m.insert(name.to_string(), b.converted[i].get_or_init(|| convert::to_jvalue(v)).clone());
        }
    }
    JValue::object(m)
}

/// Which `$states` fields a text (string literals blanked) reads: those it
/// names as `$states.field`, or all when `$states` appears any other way
/// (`$states`, `$states[...]`, `$keys($states)`).
fn states_fields_read(text: &str) -> [bool; 4] {
    let mut reads = [false; 4];
    for (at, _) in text.match_indices("$states") {
        let rest = &text[at + "$states".len()..];
        if rest.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue; // `$statesX`: another variable
        }
        let field = rest.strip_prefix('.').map(|r| r.trim_start());
        let named = field.and_then(|r| {
            STATES_FIELDS.iter().position(|f| {
                r.starts_with(f) && !r[f.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            })
        });
        match named {
            Some(i) => reads[i] = true,
            None => return [true; 4],
        }
    }
    reads
}

/// "S0201: Syntax error: …" → "Syntax error: …"; also drops the crate's
/// "Invalid syntax: " style category.
fn strip_code(message: &str) -> String {
    let mut rest = message;
    for prefix in ["Parse error: ", "Invalid syntax: ", "Invalid number: "] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let b = rest.as_bytes();
    if b.len() > 7 && b[0].is_ascii_uppercase() && b[1..5].iter().all(u8::is_ascii_digit) && &rest[5..7] == ": " {
        rest = &rest[7..];
    }
    rest.to_string()
}

/// The expression text with string literals blanked (so `"$$"` in a string
/// is not a reference).
fn strip_strings(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut quote = None;
    let mut escaped = false;
    for c in source.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                out.push(' ');
            }
            None => {
                if c == '"' || c == '\'' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

fn referenced_variables(source: &str) -> BTreeSet<String> {
    let text = strip_strings(source);
    let mut names = BTreeSet::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '$' {
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while let Some(&(j, d)) = chars.peek() {
            if d.is_alphanumeric() || d == '_' {
                end = j + d.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        if end > start {
            names.insert(text[start..end].to_string());
        }
    }
    names
}

/// A `{% … %}` string: the expression text inside.
pub fn expression_text(s: &str) -> Option<&str> {
    s.strip_prefix("{%")?.strip_suffix("%}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(src: &str, input: Value, vars: Value) -> Result<Option<Value>, EvalError> {
        let vars = vars.as_object().cloned().unwrap_or_default();
        let b = Bindings::new(&input, None, None, &Value::Null, &vars);
        Expression::parse(src).unwrap().evaluate(&b)
    }

    #[test]
    fn states_and_variables() {
        assert_eq!(eval("$states.input.a + $x", json!({"a": 2}), json!({"x": 3})), Ok(Some(json!(5))));
        assert_eq!(eval("$nope", json!({}), json!({})), Ok(None));
        assert_eq!(eval("$sum([1, 2.5])", json!({}), json!({})), Ok(Some(json!(3.5))));
        assert_eq!(eval("function($x){$x}", json!({}), json!({})), Err(EvalError::Unsupported));
        assert!(matches!(eval("1 + 'a'", json!({}), json!({})), Err(EvalError::Failed(_))));
    }

    #[test]
    fn parse_errors_are_worded_without_codes() {
        assert_eq!(Expression::parse("1 +").unwrap_err(), "Unexpected end of expression");
        let e = Expression::parse("$x :=").unwrap_err();
        assert!(!e.starts_with('S'), "{e}");
    }

    #[test]
    fn references() {
        let e = Expression::parse("$a + $states.input.b + $length('$c')").unwrap();
        assert_eq!(e.variables, vec!["a".to_string(), "length".to_string()]);
        assert_eq!(e.reads, [true, false, false, false]);
        assert!(!e.reads_context());
        assert_eq!(Expression::parse("$keys($states)").unwrap().reads, [true; 4]);
        assert_eq!(Expression::parse("$states.result.a & $states.context.State.Name & '$states'").unwrap().reads, [false, true, false, true]);
        assert_eq!(Expression::parse("$statesX.input").unwrap().reads, [false; 4]);
        assert_eq!(Expression::parse("$states.`input`").unwrap().reads, [true; 4]);
        assert!(Expression::parse("$states.context.Execution.Id").unwrap().reads_context());
        let e = Expression::parse("$states.errorOutput").unwrap();
        assert_eq!(e.unsupported_reference(true, false).unwrap(), "Field '$states.errorOutput' does not exist.");
        assert!(e.unsupported_reference(false, true).is_none());
        assert_eq!(Expression::parse("$$.a").unwrap().unsupported_reference(true, true).unwrap(), "Reference to '$$' is not supported.");
    }
}
