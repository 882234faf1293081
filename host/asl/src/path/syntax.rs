//! The syntax tree of a compiled path, and its canonical (Jayway) form.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Seg {
    Child(String),
    Index(i64),
    Wildcard,
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Names(Vec<String>),
    Indices(Vec<i64>),
    Deep(Box<Seg>),
    Filter(Box<Filter>),
    /// A Jayway function ending the path (`.length()`, `.sum()`…).
    Func(PathFn),
}

/// Jayway's functions: those that take no argument, and `concat(…)` and
/// `append(…)` with their arguments (literals or paths).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum PathFn {
    Concat(Vec<Operand>),
    Append(Vec<Operand>),
    Length,
    Min,
    Max,
    Avg,
    Sum,
    StdDev,
    Keys,
    First,
    Last,
}

impl PathFn {
    pub(super) fn named(name: &str) -> Option<PathFn> {
        use PathFn::*;
        Some(match name {
            "length" | "size" => Length,
            "min" => Min,
            "max" => Max,
            "avg" => Avg,
            "sum" => Sum,
            "stddev" => StdDev,
            "keys" => Keys,
            "first" => First,
            "last" => Last,
            _ => return None,
        })
    }

    fn name(&self) -> &'static str {
        use PathFn::*;
        match self {
            Concat(_) => "concat",
            Append(_) => "append",
            Length => "length",
            Min => "min",
            Max => "max",
            Avg => "avg",
            Sum => "sum",
            StdDev => "stddev",
            Keys => "keys",
            First => "first",
            Last => "last",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    Current(Vec<Seg>),
    Root(Vec<Seg>),
    Lit(Value),
    Regex(RegexLit),
    /// A bare word that is no literal (`@.lang == es`): AWS takes such a
    /// path (its validation does not read filter literals); it equals
    /// nothing.
    Unreadable(String),
}

#[derive(Debug, Clone)]
pub(super) struct RegexLit(pub(super) regex::Regex);
impl PartialEq for RegexLit {
    fn eq(&self, o: &Self) -> bool {
        self.0.as_str() == o.0.as_str()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Match,
    In,
    Nin,
    /// Jayway's `subsetof`, `anyof`, `noneof` (array against array),
    /// `size` (of an array or a string) and `empty` (`true`/`false`).
    SubsetOf,
    AnyOf,
    NoneOf,
    Size,
    Empty,
    /// Jayway's `contains` (a string's substring, an array's element),
    /// `all` (an array holding every element of another), `exists`
    /// (`true`/`false`), and the type-safe `===` and `!==`.
    Contains,
    All,
    ExistsOp,
    StrictEq,
    StrictNe,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Filter {
    Exists(Operand),
    Cmp(Operand, CmpOp, Operand),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

pub(super) fn canon_seg(seg: &Seg, s: &mut String) {
    use std::fmt::Write;
    match seg {
        Seg::Child(k) => {
            let _ = write!(s, "['{k}']");
        }
        Seg::Index(i) => {
            let _ = write!(s, "[{i}]");
        }
        Seg::Wildcard => s.push_str("[*]"),
        Seg::Slice(a, b, c) => {
            s.push('[');
            if let Some(a) = a {
                let _ = write!(s, "{a}");
            }
            s.push(':');
            if let Some(b) = b {
                let _ = write!(s, "{b}");
            }
            if let Some(c) = c {
                let _ = write!(s, ":{c}");
            }
            s.push(']');
        }
        Seg::Names(ns) => {
            let parts: Vec<String> = ns.iter().map(|n| format!("'{n}'")).collect();
            let _ = write!(s, "[{}]", parts.join(","));
        }
        Seg::Indices(is) => {
            let parts: Vec<String> = is.iter().map(|n| n.to_string()).collect();
            let _ = write!(s, "[{}]", parts.join(","));
        }
        Seg::Deep(inner) => {
            s.push_str("..");
            canon_seg(inner, s);
        }
        Seg::Filter(_) => s.push_str("[?]"),
        Seg::Func(f) => {
            let _ = write!(s, ".{}()", f.name());
        }
    }
}
