//! Evaluation of indefinite paths and filters.

use super::is_definite;
use super::syntax::{CmpOp, Filter, Operand, PathFn, Seg};
use serde_json::Value;

#[cold]
pub(super) fn unreachable_seg() -> ! {
    panic!("indefinite segment in definite path")
}

pub(super) fn index(a: &[Value], i: i64) -> Option<&Value> {
    let len = a.len() as i64;
    let j = if i < 0 { len + i } else { i };
    if j < 0 || j >= len {
        None
    } else {
        a.get(j as usize)
    }
}

pub(super) fn length(v: &Value) -> Option<Value> {
    match v {
        Value::Array(a) => Some(Value::from(a.len())),
        Value::Object(o) => Some(Value::from(o.len())),
        Value::String(s) => Some(Value::from(s.chars().count())),
        _ => None,
    }
}

/// A Jayway function applied to a node (or to the list an indefinite path
/// selected): aggregations over the numbers of an array give a double, as
/// Jayway's do, and nothing for an array without numbers.
pub(super) fn apply(f: &PathFn, v: &Value, root: &Value) -> Option<Value> {
    match f {
        PathFn::Concat(args) => Some(concat(v, args, root)),
        PathFn::Append(args) => {
            let mut v = v.clone();
            if let Some(a) = v.as_array_mut() {
                a.extend(args.iter().filter_map(|o| operand(o, root, root).map(|x| x.into_owned())));
            }
            Some(v)
        }
        PathFn::Length => length(v),
        PathFn::Keys => Some(Value::Array(v.as_object()?.keys().map(|k| Value::String(k.clone())).collect())),
        PathFn::First => v.as_array()?.first().cloned(),
        PathFn::Last => v.as_array()?.last().cloned(),
        _ => aggregate(f, v.as_array()?),
    }
}

/// Jayway's `concat`: the strings of an array (a node that is not an
/// array adds nothing), then each argument as Java prints it.
fn concat(v: &Value, args: &[Operand], root: &Value) -> Value {
    let mut out = String::new();
    if let Some(a) = v.as_array() {
        a.iter().filter_map(Value::as_str).for_each(|s| out.push_str(s));
    }
    for arg in args {
        match operand(arg, root, root).as_deref() {
            Some(Value::String(s)) => out.push_str(s),
            // Java's `toString` of a parsed literal or a selected node.
            Some(Value::Null) | None => {}
            Some(other) => out.push_str(&crate::catalogue::render::json(other)),
        }
    }
    Value::String(out)
}

fn aggregate(f: &PathFn, a: &[Value]) -> Option<Value> {
    let nums: Vec<f64> = a.iter().filter_map(Value::as_f64).collect();
    if nums.is_empty() {
        return None;
    }
    let n = nums.len() as f64;
    let sum: f64 = nums.iter().sum();
    let x = match f {
        PathFn::Min => nums.iter().copied().fold(f64::INFINITY, f64::min),
        PathFn::Max => nums.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        PathFn::Sum => sum,
        PathFn::Avg => sum / n,
        _ => {
            let mean = sum / n;
            (nums.iter().map(|x| x * x).sum::<f64>() / n - mean * mean).max(0.0).sqrt()
        }
    };
    serde_json::Number::from_f64(x).map(Value::Number)
}

pub(super) fn select<'a>(segs: &[Seg], root: &'a Value, cur: &'a Value, out: &mut Vec<&'a Value>) {
    let Some((seg, rest)) = segs.split_first() else {
        out.push(cur);
        return;
    };
    match seg {
        Seg::Func(_) => {
            // terminal: counted by caller (length of the selection so far)
            out.push(cur);
        }
        _ => {
            let mut next: Vec<&'a Value> = Vec::new();
            step(seg, root, cur, &mut next);
            for n in next {
                select(rest, root, n, out);
            }
        }
    }
}

fn step<'a>(seg: &Seg, root: &'a Value, cur: &'a Value, out: &mut Vec<&'a Value>) {
    match seg {
        Seg::Child(k) => {
            if let Some(v) = cur.as_object().and_then(|o| o.get(k)) {
                out.push(v)
            }
        }
        Seg::Index(i) => {
            if let Some(v) = cur.as_array().and_then(|a| index(a, *i)) {
                out.push(v)
            }
        }
        Seg::Wildcard => match cur {
            Value::Array(a) => out.extend(a.iter()),
            Value::Object(o) => out.extend(o.values()),
            _ => {}
        },
        Seg::Names(ns) => {
            if let Some(o) = cur.as_object() {
                for n in ns {
                    if let Some(v) = o.get(n) {
                        out.push(v)
                    }
                }
            }
        }
        Seg::Indices(is) => {
            if let Some(a) = cur.as_array() {
                for i in is {
                    if let Some(v) = index(a, *i) {
                        out.push(v)
                    }
                }
            }
        }
        Seg::Slice(a, b, c) => {
            if let Some(arr) = cur.as_array() {
                let len = arr.len() as i64;
                let step = c.unwrap_or(1);
                if step <= 0 {
                    return;
                }
                let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                let start = a.map(norm).unwrap_or(0);
                let end = b.map(norm).unwrap_or(len);
                let mut i = start;
                while i < end {
                    out.push(&arr[i as usize]);
                    i += step;
                }
            }
        }
        Seg::Deep(inner) => deep(inner, root, cur, out),
        Seg::Filter(f) => match cur {
            Value::Array(a) => {
                for v in a {
                    if filter(f, root, v) {
                        out.push(v)
                    }
                }
            }
            Value::Object(_) if filter(f, root, cur) => out.push(cur),
            _ => {}
        },
        Seg::Func(_) => {}
    }
}

fn deep<'a>(inner: &Seg, root: &'a Value, cur: &'a Value, out: &mut Vec<&'a Value>) {
    step(inner, root, cur, out);
    match cur {
        Value::Array(a) => {
            for v in a {
                deep(inner, root, v, out)
            }
        }
        Value::Object(o) => {
            for v in o.values() {
                deep(inner, root, v, out)
            }
        }
        _ => {}
    }
}

fn operand<'a>(
    op: &'a Operand,
    root: &'a Value,
    cur: &'a Value,
) -> Option<std::borrow::Cow<'a, Value>> {
    use std::borrow::Cow as C;
    match op {
        Operand::Lit(v) => Some(C::Borrowed(v)),
        Operand::Regex(_) | Operand::Unreadable(_) => None,
        Operand::Current(segs) | Operand::Root(segs) => {
            let base = if matches!(op, Operand::Current(_)) {
                cur
            } else {
                root
            };
            if is_definite(segs) {
                let mut c = base;
                for s in segs {
                    match s {
                        Seg::Child(k) => c = c.as_object()?.get(k)?,
                        Seg::Index(i) => c = index(c.as_array()?, *i)?,
                        Seg::Func(f) => return apply(f, c, root).map(C::Owned),
                        _ => return None,
                    }
                }
                Some(C::Borrowed(c))
            } else {
                let mut out = Vec::new();
                select(segs, root, base, &mut out);
                Some(C::Owned(Value::Array(out.into_iter().cloned().collect())))
            }
        }
    }
}

fn filter(f: &Filter, root: &Value, cur: &Value) -> bool {
    match f {
        Filter::And(a, b) => filter(a, root, cur) && filter(b, root, cur),
        Filter::Or(a, b) => filter(a, root, cur) || filter(b, root, cur),
        Filter::Not(a) => !filter(a, root, cur),
        Filter::Exists(o) => match operand(o, root, cur) {
            Some(v) => !matches!(v.as_ref(), Value::Bool(false)),
            None => false,
        },
        Filter::Cmp(l, op, r) => {
            if let (CmpOp::Match, Operand::Regex(re)) = (op, r) {
                return match operand(l, root, cur) {
                    Some(v) => v.as_str().is_some_and(|s| re.0.is_match(s)),
                    None => false,
                };
            }
            let (a, b) = (operand(l, root, cur), operand(r, root, cur));
            if *op == CmpOp::ExistsOp {
                // `exists true` holds where the left side is there.
                return b.and_then(|b| b.as_bool()).is_some_and(|want| a.is_some() == want);
            }
            let (Some(a), Some(b)) = (a, b) else {
                return matches!(op, CmpOp::Ne | CmpOp::Nin | CmpOp::StrictNe);
            };
            compare(a.as_ref(), *op, b.as_ref())
        }
    }
}

/// Whether two values are of one JSON type (Jayway's `===`).
fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Jayway's `==` between a string and a number (its value nodes' `equals`,
/// the left side's): a string on the left is compared as text with the
/// number's text, a number on the left numerically with the string read as a
/// decimal (`@.id == 7` matches `"7"`, `@.n == '7'` matches `7`).
fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(s), Value::Number(n)) => *s == n.to_string(),
        (Value::Number(n), Value::String(s)) => {
            super::parser::decimal(s).and_then(|m| m.as_f64()).is_some_and(|m| n.as_f64() == Some(m))
        }
        _ => a == b,
    }
}

fn compare(a: &Value, op: CmpOp, b: &Value) -> bool {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    };
    match op {
        CmpOp::Eq => ord.map(|o| o == Ordering::Equal).unwrap_or_else(|| loosely_equal(a, b)),
        CmpOp::Ne => !ord.map(|o| o == Ordering::Equal).unwrap_or_else(|| loosely_equal(a, b)),
        CmpOp::Lt => ord == Some(Ordering::Less),
        CmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => ord == Some(Ordering::Greater),
        CmpOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        CmpOp::In => b
            .as_array()
            .is_some_and(|arr| arr.iter().any(|x| compare(a, CmpOp::Eq, x))),
        CmpOp::Nin => !b
            .as_array()
            .is_some_and(|arr| arr.iter().any(|x| compare(a, CmpOp::Eq, x))),
        CmpOp::Match | CmpOp::ExistsOp => false,
        CmpOp::StrictEq => same_type(a, b) && compare(a, CmpOp::Eq, b),
        CmpOp::StrictNe => !(same_type(a, b) && compare(a, CmpOp::Eq, b)),
        CmpOp::Contains => match (a, b) {
            (Value::String(s), Value::String(t)) => s.contains(t.as_str()),
            (Value::Array(l), x) => l.iter().any(|y| compare(y, CmpOp::Eq, x)),
            _ => false,
        },
        CmpOp::All => match (a, b) {
            (Value::Array(l), Value::Array(r)) => r.iter().all(|x| l.iter().any(|y| compare(y, CmpOp::Eq, x))),
            _ => false,
        },
        CmpOp::SubsetOf | CmpOp::AnyOf | CmpOp::NoneOf => {
            let (Some(l), Some(r)) = (a.as_array(), b.as_array()) else {
                return false;
            };
            let found = |x: &Value| r.iter().any(|y| compare(x, CmpOp::Eq, y));
            match op {
                CmpOp::SubsetOf => l.iter().all(found),
                CmpOp::AnyOf => l.iter().any(found),
                _ => !l.iter().any(found),
            }
        }
        CmpOp::Size => {
            let size = match a {
                Value::Array(l) => l.len(),
                Value::String(s) => s.chars().count(),
                _ => return false,
            };
            b.as_f64() == Some(size as f64)
        }
        CmpOp::Empty => {
            let empty = match a {
                Value::Array(l) => l.is_empty(),
                Value::String(s) => s.is_empty(),
                _ => return false,
            };
            b.as_bool() == Some(empty)
        }
    }
}
