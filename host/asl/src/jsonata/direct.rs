//! A direct evaluator for the common, simple shape of Step Functions
//! expressions: `$states.input.a.b` and `$var.a` reads, string/number/boolean
//! literals, object and array constructors, `&`, `+ - * /`, unary `-`,
//! `= != < <= > >=` on plain values, `and`, `or`, `? :`, `$merge`, `$not`
//! and `$exists`.
//! It works on the serde_json values as they are, skipping the conversion to
//! and from jsonata-core's values and the evaluator's set-up, which together
//! cost several times the work itself (issue 6, W1 in JSONata).
//!
//! It is a shortcut, never a second semantics: a plan is compiled only from
//! the jsonata-core AST nodes listed above, and any case whose JSONata
//! meaning needs more than plain JSON (an array reached through a path, a
//! non-number in arithmetic, a number `$string` formats with rounding, a name
//! a variable may shadow, any error) makes [`Plan::eval`] answer `None`, and
//! the caller evaluates the expression with jsonata-core instead. The values
//! it returns are those the jsonata-core path returns, numbers included
//! (JavaScript's: `1.0` is `1`, integers past 2^53 lose precision); the
//! differential tests below hold the two paths to that.

use std::borrow::Cow;
use std::collections::BTreeSet;

use jsonata_core::ast::{AstNode, BinaryOp, UnaryOp};
use serde_json::{Map, Value};

use super::{Bindings, convert};

/// What a `Name` field read starts from.
#[derive(Debug, Clone)]
pub(super) enum Root {
    /// `$states.input`, `.result`, `.errorOutput`, `.context` (index into
    /// `STATES_FIELDS`).
    States(usize),
    /// A workflow variable.
    Variable(String),
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Arith {
    Add,
    Subtract,
    Multiply,
    Divide,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Compare {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[derive(Debug, Clone)]
pub(super) enum Plan {
    Literal(Value),
    /// A root followed by field names, none with predicates or bindings.
    Read(Root, Vec<String>),
    Object(Vec<(String, Plan)>),
    /// Items, each marked when it is itself an array constructor (kept
    /// whole rather than flattened into the result).
    Array(Vec<(Plan, bool)>),
    /// `a & b & c`, flattened: the operands appended to one string.
    Concat(Vec<Plan>),
    Arith(Arith, Box<Plan>, Box<Plan>),
    Negate(Box<Plan>),
    /// `=`, or `!=` when marked.
    Equal(bool, Box<Plan>, Box<Plan>),
    Compare(Compare, Box<Plan>, Box<Plan>),
    And(Box<Plan>, Box<Plan>),
    Or(Box<Plan>, Box<Plan>),
    Conditional(Box<Plan>, Box<Plan>, Option<Box<Plan>>),
    /// `$merge(arg)`.
    Merge(Box<Plan>),
    /// `$not(arg)`.
    Not(Box<Plan>),
    /// `$exists(arg)`.
    Exists(Box<Plan>),
}

/// A value during evaluation: borrowed from the bindings (not yet
/// normalised to JavaScript numbers) or built here (already normalised).
type Val<'a> = Cow<'a, Value>;

/// `None`: leave this evaluation to jsonata-core. `Some(None)`: undefined.
type Out<'a> = Option<Option<Val<'a>>>;

impl Plan {
    /// The plan for `ast`, when every node of it is one this module handles.
    /// `functions` collects the function names used, which a workflow
    /// variable of the same name would shadow.
    pub(super) fn compile(ast: &AstNode, functions: &mut BTreeSet<String>) -> Option<Plan> {
        Some(match ast {
            AstNode::String(s) => Plan::Literal(Value::String(s.clone())),
            AstNode::Number(n) => Plan::Literal(number(*n)?),
            AstNode::Boolean(b) => Plan::Literal(Value::Bool(*b)),
            AstNode::Null => Plan::Literal(Value::Null),
            AstNode::Variable(name) => Plan::Read(root(name, None)?.0, Vec::new()),
            AstNode::Path { steps } => {
                let plain = |s: &jsonata_core::ast::PathStep| {
                    s.stages.is_empty()
                        && s.focus.is_none()
                        && s.index_var.is_none()
                        && s.ancestor_label.is_none()
                        && !s.is_tuple
                        && !s.inner_tuple
                };
                if !steps.iter().all(plain) {
                    return None;
                }
                let AstNode::Variable(name) = &steps.first()?.node else { return None };
                let mut names = Vec::with_capacity(steps.len());
                for s in &steps[1..] {
                    let AstNode::Name(n) = &s.node else { return None };
                    names.push(n.clone());
                }
                let (root, skip) = root(name, names.first())?;
                Plan::Read(root, names.split_off(skip))
            }
            AstNode::Object(pairs) => {
                let mut fields: Vec<(String, Plan)> = Vec::with_capacity(pairs.len());
                for (k, v) in pairs {
                    let AstNode::String(key) = k else { return None };
                    // A repeated key is JSONata error D1009: jsonata-core says so.
                    if fields.iter().any(|(seen, _)| seen == key) {
                        return None;
                    }
                    fields.push((key.clone(), Plan::compile(v, functions)?));
                }
                Plan::Object(fields)
            }
            AstNode::Array(items) => Plan::Array(
                items
                    .iter()
                    .map(|i| Some((Plan::compile(i, functions)?, matches!(i, AstNode::Array(_)))))
                    .collect::<Option<_>>()?,
            ),
            AstNode::Binary { op, lhs, rhs } => {
                let (l, r) = (Box::new(Plan::compile(lhs, functions)?), Box::new(Plan::compile(rhs, functions)?));
                match op {
                    BinaryOp::Concatenate => {
                        let mut parts = Vec::new();
                        for side in [*l, *r] {
                            match side {
                                Plan::Concat(more) => parts.extend(more),
                                other => parts.push(other),
                            }
                        }
                        Plan::Concat(parts)
                    }
                    BinaryOp::Add => Plan::Arith(Arith::Add, l, r),
                    BinaryOp::Subtract => Plan::Arith(Arith::Subtract, l, r),
                    BinaryOp::Multiply => Plan::Arith(Arith::Multiply, l, r),
                    BinaryOp::Divide => Plan::Arith(Arith::Divide, l, r),
                    BinaryOp::Equal => Plan::Equal(false, l, r),
                    BinaryOp::NotEqual => Plan::Equal(true, l, r),
                    BinaryOp::LessThan => Plan::Compare(Compare::Less, l, r),
                    BinaryOp::LessThanOrEqual => Plan::Compare(Compare::LessOrEqual, l, r),
                    BinaryOp::GreaterThan => Plan::Compare(Compare::Greater, l, r),
                    BinaryOp::GreaterThanOrEqual => Plan::Compare(Compare::GreaterOrEqual, l, r),
                    BinaryOp::And => Plan::And(l, r),
                    BinaryOp::Or => Plan::Or(l, r),
                    _ => return None,
                }
            }
            AstNode::Unary { op: UnaryOp::Negate, operand } => Plan::Negate(Box::new(Plan::compile(operand, functions)?)),
            AstNode::Conditional { condition, then_branch, else_branch } => Plan::Conditional(
                Box::new(Plan::compile(condition, functions)?),
                Box::new(Plan::compile(then_branch, functions)?),
                match else_branch {
                    Some(e) => Some(Box::new(Plan::compile(e, functions)?)),
                    None => None,
                },
            ),
            AstNode::Function { name, args, is_builtin: true } if args.len() == 1 => {
                let arg = Box::new(Plan::compile(&args[0], functions)?);
                let plan = match name.as_str() {
                    "merge" => Plan::Merge(arg),
                    "not" => Plan::Not(arg),
                    "exists" => Plan::Exists(arg),
                    _ => return None,
                };
                functions.insert(name.clone());
                plan
            }
            _ => return None,
        })
    }

    /// The expression's value, or `None` when jsonata-core must decide.
    pub(super) fn run(&self, b: &Bindings) -> Option<Option<Value>> {
        Some(self.eval(b)?.map(own))
    }

    /// As [`Plan::run`] with `$states.input` being `input`, which
    /// `$merge([$states.input, …])` moves into its result instead of
    /// copying (the other items are evaluated first: nothing here has side
    /// effects). `Err` hands the input back for jsonata-core.
    pub(super) fn run_taking_input(&self, input: Value, b: &Bindings) -> Result<Option<Value>, Value> {
        let whole_input = |p: &Plan| matches!(p, Plan::Read(Root::States(0), names) if names.is_empty());
        let rest = match self {
            Plan::Merge(arg) => match &**arg {
                Plan::Array(items) if items.first().is_some_and(|(p, _)| whole_input(p)) && input.is_object() => &items[1..],
                _ => return self.run(&b.with_input(&input)).ok_or(input),
            },
            _ => return self.run(&b.with_input(&input)).ok_or(input),
        };
        let merged = {
            let b = b.with_input(&input);
            let mut out = Map::new();
            if merge_items(&mut out, rest, &b).is_none() {
                return Err(input);
            }
            out
        };
        let mut input = input;
        normalise(&mut input);
        if let Value::Object(m) = &mut input {
            m.extend(merged);
        }
        Ok(Some(input))
    }

    fn eval<'a>(&self, b: &'a Bindings) -> Out<'a> {
        Some(match self {
            Plan::Literal(v) => Some(Cow::Owned(v.clone())),
            Plan::Read(root, names) => {
                let mut at: &Value = match root {
                    Root::States(i) => match b.states_field(*i) {
                        Some(v) => v,
                        None => return Some(None),
                    },
                    // An unbound name may be a function jsonata-core knows.
                    Root::Variable(name) => b.vars.get(name)?,
                };
                for name in names {
                    at = match at {
                        Value::Object(m) => match m.get(name) {
                            Some(v) => v,
                            None => return Some(None),
                        },
                        // Paths map over arrays, flatten and unwrap singletons.
                        Value::Array(_) => return None,
                        _ => return Some(None),
                    };
                }
                if at.is_array() {
                    return None;
                }
                Some(Cow::Borrowed(at))
            }
            Plan::Object(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, plan) in fields {
                    if let Some(v) = plan.eval(b)? {
                        m.insert(k.clone(), own(v));
                    }
                }
                Some(Cow::Owned(Value::Object(m)))
            }
            Plan::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (plan, constructor) in items {
                    match plan.eval(b)? {
                        Some(v) if v.is_array() && !constructor => return None,
                        Some(v) => out.push(own(v)),
                        None => {}
                    }
                }
                Some(Cow::Owned(Value::Array(out)))
            }
            Plan::Concat(parts) => {
                let mut s = String::new();
                for part in parts {
                    append_string(&mut s, part.eval(b)?.as_deref())?;
                }
                Some(Cow::Owned(Value::String(s)))
            }
            Plan::Arith(op, l, r) => {
                let (l, r) = (l.eval(b)?, r.eval(b)?);
                let (l, r) = match (l.as_deref(), r.as_deref()) {
                    (Some(Value::Number(l)), Some(Value::Number(r))) => (l.as_f64()?, r.as_f64()?),
                    // Undefined with a number or undefined is undefined;
                    // anything else is a type error jsonata-core words.
                    (None | Some(Value::Number(_)), None | Some(Value::Number(_))) => return Some(None),
                    _ => return None,
                };
                let n = match op {
                    Arith::Add => l + r,
                    Arith::Subtract => l - r,
                    Arith::Multiply => l * r,
                    Arith::Divide => l / r,
                };
                Some(Cow::Owned(number(n)?))
            }
            Plan::Negate(x) => match x.eval(b)?.as_deref() {
                None => None,
                Some(Value::Number(n)) => Some(Cow::Owned(number(-n.as_f64()?)?)),
                Some(_) => return None,
            },
            Plan::Equal(negate, l, r) => {
                let holds = match (l.eval(b)?.as_deref(), r.eval(b)?.as_deref()) {
                    // Undefined is neither equal nor unequal to anything.
                    (None, _) | (_, None) => false,
                    (Some(l), Some(r)) => scalar_equal(l, r)? != *negate,
                };
                Some(Cow::Owned(Value::Bool(holds)))
            }
            Plan::Compare(op, l, r) => {
                let order = match (l.eval(b)?.as_deref(), r.eval(b)?.as_deref()) {
                    (Some(Value::Number(l)), Some(Value::Number(r))) => l.as_f64()?.partial_cmp(&r.as_f64()?)?,
                    // Rust orders strings by code point, JavaScript by UTF-16
                    // unit: the same below U+10000.
                    (Some(Value::String(l)), Some(Value::String(r))) if bmp(l) && bmp(r) => l.cmp(r),
                    (None | Some(Value::Number(_) | Value::String(_)), None) | (None, Some(Value::Number(_) | Value::String(_))) => {
                        return Some(None);
                    }
                    // Mixed or uncomparable types: jsonata-core's errors.
                    _ => return None,
                };
                let holds = match op {
                    Compare::Less => order.is_lt(),
                    Compare::LessOrEqual => order.is_le(),
                    Compare::Greater => order.is_gt(),
                    Compare::GreaterOrEqual => order.is_ge(),
                };
                Some(Cow::Owned(Value::Bool(holds)))
            }
            // Both short-circuit, as JSONata 2 does.
            Plan::And(l, r) => {
                let holds = truth(l.eval(b)?.as_deref())? && truth(r.eval(b)?.as_deref())?;
                Some(Cow::Owned(Value::Bool(holds)))
            }
            Plan::Or(l, r) => {
                let holds = truth(l.eval(b)?.as_deref())? || truth(r.eval(b)?.as_deref())?;
                Some(Cow::Owned(Value::Bool(holds)))
            }
            Plan::Conditional(c, then, otherwise) => {
                if truth(c.eval(b)?.as_deref())? {
                    then.eval(b)?
                } else {
                    match otherwise {
                        Some(e) => e.eval(b)?,
                        None => None,
                    }
                }
            }
            Plan::Not(x) => match x.eval(b)?.as_deref() {
                None => None,
                Some(Value::Bool(v)) => Some(Cow::Owned(Value::Bool(!v))),
                Some(_) => return None,
            },
            Plan::Exists(x) => Some(Cow::Owned(Value::Bool(x.eval(b)?.is_some()))),
            Plan::Merge(arg) => {
                let mut out = Map::new();
                match &**arg {
                    // `$merge([...])`: each object merged as it comes, not
                    // first copied into an array.
                    Plan::Array(items) => merge_items(&mut out, items, b)?,
                    other => match other.eval(b)? {
                        None => return Some(None),
                        Some(Cow::Owned(Value::Array(items))) => {
                            for item in items {
                                merge_into(&mut out, Cow::Owned(item))?;
                            }
                        }
                        Some(v) if v.is_array() => return None,
                        Some(v) => merge_into(&mut out, v)?,
                    },
                }
                Some(Cow::Owned(Value::Object(out)))
            }
        })
    }
}

/// `=` on two plain values (numbers by value, as JavaScript compares them);
/// `None` for objects and arrays, which jsonata-core compares deeply.
fn scalar_equal(l: &Value, r: &Value) -> Option<bool> {
    Some(match (l, r) {
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => return None,
        (Value::Number(l), Value::Number(r)) => l.as_f64()? == r.as_f64()?,
        (l, r) => l == r,
    })
}

/// A condition's truth for `and`, `or` and `? :`: booleans as they are,
/// undefined as false; `None` for the casts `$boolean` makes of other values.
fn truth(v: Option<&Value>) -> Option<bool> {
    match v {
        None => Some(false),
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => None,
    }
}

/// Whether every character is below U+10000 (one UTF-16 unit each).
fn bmp(s: &str) -> bool {
    s.chars().all(|c| (c as u32) < 0x10000)
}

/// `$states.field…` or `$name…`: the root and how many of `names` it took.
/// `None` for `$` and for `$states` read whole or by an unknown field.
fn root(name: &str, first: Option<&String>) -> Option<(Root, usize)> {
    match name {
        "" => None,
        "states" => {
            let i = super::STATES_FIELDS.iter().position(|f| Some(*f) == first.map(String::as_str))?;
            Some((Root::States(i), 1))
        }
        _ => Some((Root::Variable(name.to_string()), 0)),
    }
}

/// `$merge`'s step: an object's fields replace or join `out`'s; any other
/// value is jsonata-core's type error to raise.
/// `$merge`'s array items merged in order into `out`; `None` where
/// jsonata-core must decide (an array item that is no constructor, a value
/// that is no object, an expression the plan leaves).
fn merge_items(out: &mut Map<String, Value>, items: &[(Plan, bool)], b: &Bindings) -> Option<()> {
    for (plan, constructor) in items {
        match plan.eval(b)? {
            None => {}
            Some(v) if v.is_array() && !constructor => return None,
            Some(v) => merge_into(out, v)?,
        }
    }
    Some(())
}

fn merge_into(out: &mut Map<String, Value>, v: Val) -> Option<()> {
    if out.is_empty() {
        // The first object whole: a map clone keeps its hash table.
        *out = match own(v) {
            Value::Object(m) => m,
            _ => return None,
        };
        return Some(());
    }
    match v {
        Cow::Owned(Value::Object(m)) => out.extend(m),
        Cow::Borrowed(Value::Object(m)) => out.extend(m.iter().map(|(k, v)| (k.clone(), normalised(v)))),
        _ => return None,
    }
    Some(())
}

/// A finished value: borrowed ones are copied with JavaScript's numbers.
fn own(v: Val) -> Value {
    match v {
        Cow::Borrowed(v) => normalised(v),
        Cow::Owned(v) => v,
    }
}

/// A copy of `v` with every number as jsonata-core hands it back (a
/// JavaScript double: `1.0` is `1`, `2^60 + 1` is rounded).
fn normalised(v: &Value) -> Value {
    let mut copy = v.clone();
    normalise(&mut copy);
    copy
}

fn normalise(v: &mut Value) {
    match v {
        // Integers JavaScript holds exactly stay as they are.
        Value::Number(n) if n.as_i64().is_none_or(|i| i.unsigned_abs() >= 1 << 53) => {
            *v = convert::number(n.as_f64().unwrap_or(0.0));
        }
        Value::Array(items) => items.iter_mut().for_each(normalise),
        Value::Object(m) => m.values_mut().for_each(normalise),
        _ => {}
    }
}

/// A finite number as jsonata-core returns it; infinities and NaN are its
/// errors to raise.
fn number(n: f64) -> Option<Value> {
    n.is_finite().then(|| convert::number(n))
}

/// `&`'s operand as `$string` casts it, for the cases that need no
/// formatting choices: undefined, strings, and integers below 10^15 (which
/// JavaScript's 15-digit `toPrecision` prints exactly).
fn append_string(out: &mut String, v: Option<&Value>) -> Option<()> {
    use std::fmt::Write;
    match v {
        None => {}
        Some(Value::String(s)) => out.push_str(s),
        Some(Value::Number(n)) => {
            let f = n.as_f64()?;
            if f.fract() != 0.0 || f.abs() >= 1e15 {
                return None;
            }
            write!(out, "{}", f as i64).ok()?;
        }
        Some(_) => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::super::{Bindings, Expression};
    use serde_json::{Value, json};

    const W1: &str = "$merge([$states.input, {'tmp': {'counter': $states.input.tmp.counter + 1, \
                      'label': 'step ' & $states.input.tmp.counter & ' of ' & $states.input.name, \
                      'name': $states.input.name}}])";

    /// The direct answer (`None`: it left the case to jsonata-core) and
    /// jsonata-core's.
    fn both(src: &str, input: &Value, vars: &Value) -> (Option<Value>, Option<Value>) {
        let e = Expression::parse(src).unwrap();
        let vars = vars.as_object().cloned().unwrap_or_default();
        let result = json!({"r": [1, 2]});
        let b = Bindings::new(input, Some(&result), None, &Value::Null, &vars);
        let direct = e.evaluate_directly(&b).map(|v| v.unwrap_or(json!("<undefined>")));
        let core = e.evaluate_with_jsonata_core(&b).map(|v| v.unwrap_or(json!("<undefined>")));
        (direct, core.ok())
    }

    #[test]
    fn w1_and_common_shapes_take_the_direct_path() {
        let input = json!({"name": "bench", "data": {"a": 1, "b": [1, 2, 3]}, "tmp": {"counter": 7}});
        for src in [W1, "$states.input.name", "{'a': $x.y, 'b': [1, 'two', null, true]}", "$x.y * 2 - 1 / 4"] {
            let (direct, core) = both(src, &input, &json!({"x": {"y": 3}}));
            assert!(direct.is_some(), "{src} fell back");
            assert_eq!(direct, core, "{src}");
        }
        let (direct, _) = both(W1, &input, &json!({}));
        assert_eq!(
            direct.unwrap(),
            json!({"name": "bench", "data": {"a": 1, "b": [1, 2, 3]}, "tmp": {"counter": 8, "label": "step 7 of bench", "name": "bench"}})
        );
    }

    /// Every expression on every input: the answers (values and errors) of
    /// `evaluate` and `evaluate_taking_input` are jsonata-core's, and the
    /// direct evaluator answers most of the cases.
    #[test]
    fn agrees_with_jsonata_core() {
        let exprs = [
            W1,
            "$merge([$states.input, {'a': $states.input.a + 1}, $x])",
            "$merge([$states.input, $states.input.o, {'s': $states.input.s & '!'}])",
            "$merge([$states.input, [$x]])",
            "$merge([$states.input, $nope, {}])",
            "$merge([$states.input.o, $states.input])",
            "$states.input",
            "$states.input.a",
            "$states.input.a.b",
            "$states.input.missing.b",
            "$states.result",
            "$states.result.r",
            "$states.errorOutput",
            "$states.context",
            "$x",
            "$x.a",
            "$nope",
            "$string",
            "$states.input.a + 1",
            "$states.input.a - $x",
            "$states.input.a * $states.input.a",
            "$states.input.a / 0",
            "$states.input.a / 3",
            "$states.input.a + $nope",
            "$states.input.s + 1",
            "'n=' & $states.input.a",
            "$states.input.s & $x & $nope",
            "'' & $states.input.big",
            "'' & $states.input.f",
            "'' & $states.input.t",
            "'' & $states.input.o",
            "1.5 + 2",
            "9007199254740993 + 0",
            "{'a': $states.input.a, 'b': $nope, 'c': [$x]}",
            "{'a': 1, 'a': 2}",
            "[$states.input.a, [$x], $nope, $states.input.list]",
            "[$states.input.o, $states.input.list[0]]",
            "[]",
            "{}",
            "$merge($states.input)",
            "$merge([$states.input, $x])",
            "$merge([$states.input.o, {'k': 1}])",
            "$merge([{'a': 1}, {'a': 2, 'b': 3}])",
            "$merge([])",
            "$merge($nope)",
            "$merge([1])",
            "$merge($states.input.a)",
            "$merge([$states.input, {'o': $states.input.o.p}])",
            "-$states.input.a",
            "-$states.input.s",
            "-$nope",
            "$states.input.a = 5",
            "$states.input.a != 5",
            "$states.input.a = $states.input.s",
            "$states.input.s = 'str'",
            "$states.input.t = true",
            "$states.input.t = null",
            "$states.input.o = $states.input.o",
            "$states.input.nope = $nope",
            "$states.input.a = 1.0",
            "$states.input.a < 6",
            "$states.input.a >= $x",
            "$states.input.s > 'a'",
            "$states.input.s <= $x",
            "$states.input.a < $states.input.s",
            "$states.input.nope < 1",
            "$states.input.t < 1",
            "$states.input.o > 1",
            "'😀' > '～'",
            "'b' > 'ab'",
            "$states.input.t and $states.input.a = 5",
            "$states.input.a = 5 or $states.input.t",
            "$states.input.nope or $states.input.t",
            "$states.input.s and true",
            "false and $states.input.s",
            "$states.input.t ? 'yes' : 'no'",
            "$states.input.a = 5 ? {'five': true} : $states.input.o",
            "$states.input.nope ? 1",
            "$states.input.a ? 1 : 2",
            "$not($states.input.t)",
            "$not($states.input.a)",
            "$not($nope)",
            "$exists($states.input.a)",
            "$exists($states.input.nope)",
            "$exists($x)",
        ];
        let inputs = [
            json!({"a": 5, "s": "str", "big": 12345678901234567u64, "f": 1.5, "t": true, "o": {"p": 1.0, "q": [1, {"r": 2}]}, "list": [1, 2], "name": "n", "tmp": {"counter": 1}}),
            json!({"a": 1.0, "s": "", "big": -9007199254740993i64, "f": 0.1, "t": null, "o": {}, "list": [[1]], "name": 3, "tmp": {"counter": 1e300}}),
            json!({"a": "5", "o": "not an object", "list": [], "tmp": {"counter": "x"}}),
            json!([1, 2]),
            json!("scalar"),
            json!({"a": 9007199254740992u64, "o": {"p": 18446744073709551615u64}}),
        ];
        let vars = [json!({}), json!({"x": 2, "merge": 1}), json!({"x": [1, 2]}), json!({"x": {"a": 1.0}, "string": "s"}), json!({"x": "s"})];
        let mut answered = 0;
        for src in exprs {
            let e = Expression::parse(src).unwrap();
            for input in &inputs {
                for v in &vars {
                    let v = v.as_object().cloned().unwrap();
                    let result = json!({"r": [1, 2]});
                    let b = Bindings::new(input, Some(&result), None, &Value::Null, &v);
                    let core = e.evaluate_with_jsonata_core(&b);
                    answered += usize::from(e.evaluate_directly(&b).is_some());
                    assert_eq!(e.evaluate(&b), core, "{src} on {input} with {v:?}");
                    let elsewhere = Bindings::new(&Value::Null, Some(&result), None, &Value::Null, &v);
                    assert_eq!(e.evaluate_taking_input(input.clone(), &elsewhere), core, "{src} taking {input} with {v:?}");
                }
            }
        }
        eprintln!("answered {answered}");
        assert!(answered > 300, "the direct path answered only {answered} cases");
    }

    #[test]
    fn leaves_to_jsonata_core_what_it_does_not_handle() {
        for src in ["$states", "$", "$states.input[0]", "$states.input in [1]", "$x := 1", "$sum([1])", "$states.input.*", "$boolean(1)", "$not(1, 2)"] {
            assert!(Expression::parse(src).unwrap().direct.is_none(), "{src}");
        }
        // A variable named like a function shadows it: jsonata-core decides.
        let vars = json!({"merge": 1}).as_object().cloned().unwrap();
        let input = json!({});
        let b = Bindings::new(&input, None, None, &Value::Null, &vars);
        let e = Expression::parse("$merge([{'a': 1}])").unwrap();
        assert!(e.direct.is_some());
        assert_eq!(e.evaluate(&b), e.evaluate_with_jsonata_core(&b));
    }
}
