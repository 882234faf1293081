//! Choice rules: compiled once, evaluated against the effective input.

use crate::error::RuntimeError;
use crate::intrinsics::Scope;
use crate::path::JsonPath;
use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeTest {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Value(Value),
    Timestamp(DateTime<FixedOffset>),
    Path(JsonPath),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Compare {
        variable: JsonPath,
        kind: Kind,
        cmp: Cmp,
        operand: Operand,
    },
    Matches {
        variable: JsonPath,
        pattern: Vec<Piece>,
    },
    Test {
        variable: JsonPath,
        test: TypeTest,
        expect: bool,
    },
    /// A JSONata `Condition` (stored raw; evaluated by a JSONata layer).
    Condition(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Lit(String),
    Star,
}

/// A top-level choice: rule + next state name (and raw JSONata/Assign fields).
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceRule {
    pub rule: Rule,
    pub next: String,
    /// Raw `Assign` of this choice (Variables; evaluated by a later layer).
    pub assign: Option<Value>,
    /// `Assign` compiled as a payload template (JSONPath mode).
    pub assign_template: Option<crate::template::Template>,
}

const COMPARATORS: &[(&str, Kind, Cmp, bool)] = &[
    ("StringEquals", Kind::String, Cmp::Eq, false),
    ("StringEqualsPath", Kind::String, Cmp::Eq, true),
    ("StringLessThan", Kind::String, Cmp::Lt, false),
    ("StringLessThanPath", Kind::String, Cmp::Lt, true),
    ("StringGreaterThan", Kind::String, Cmp::Gt, false),
    ("StringGreaterThanPath", Kind::String, Cmp::Gt, true),
    ("StringLessThanEquals", Kind::String, Cmp::Le, false),
    ("StringLessThanEqualsPath", Kind::String, Cmp::Le, true),
    ("StringGreaterThanEquals", Kind::String, Cmp::Ge, false),
    ("StringGreaterThanEqualsPath", Kind::String, Cmp::Ge, true),
    ("NumericEquals", Kind::Numeric, Cmp::Eq, false),
    ("NumericEqualsPath", Kind::Numeric, Cmp::Eq, true),
    ("NumericLessThan", Kind::Numeric, Cmp::Lt, false),
    ("NumericLessThanPath", Kind::Numeric, Cmp::Lt, true),
    ("NumericGreaterThan", Kind::Numeric, Cmp::Gt, false),
    ("NumericGreaterThanPath", Kind::Numeric, Cmp::Gt, true),
    ("NumericLessThanEquals", Kind::Numeric, Cmp::Le, false),
    ("NumericLessThanEqualsPath", Kind::Numeric, Cmp::Le, true),
    ("NumericGreaterThanEquals", Kind::Numeric, Cmp::Ge, false),
    ("NumericGreaterThanEqualsPath", Kind::Numeric, Cmp::Ge, true),
    ("BooleanEquals", Kind::Boolean, Cmp::Eq, false),
    ("BooleanEqualsPath", Kind::Boolean, Cmp::Eq, true),
    ("TimestampEquals", Kind::Timestamp, Cmp::Eq, false),
    ("TimestampEqualsPath", Kind::Timestamp, Cmp::Eq, true),
    ("TimestampLessThan", Kind::Timestamp, Cmp::Lt, false),
    ("TimestampLessThanPath", Kind::Timestamp, Cmp::Lt, true),
    ("TimestampGreaterThan", Kind::Timestamp, Cmp::Gt, false),
    ("TimestampGreaterThanPath", Kind::Timestamp, Cmp::Gt, true),
    ("TimestampLessThanEquals", Kind::Timestamp, Cmp::Le, false),
    (
        "TimestampLessThanEqualsPath",
        Kind::Timestamp,
        Cmp::Le,
        true,
    ),
    (
        "TimestampGreaterThanEquals",
        Kind::Timestamp,
        Cmp::Ge,
        false,
    ),
    (
        "TimestampGreaterThanEqualsPath",
        Kind::Timestamp,
        Cmp::Ge,
        true,
    ),
];

const TESTS: &[(&str, TypeTest)] = &[
    ("IsNull", TypeTest::Null),
    ("IsPresent", TypeTest::Present),
    ("IsNumeric", TypeTest::Numeric),
    ("IsString", TypeTest::String),
    ("IsBoolean", TypeTest::Boolean),
    ("IsTimestamp", TypeTest::Timestamp),
];

/// Is this key a comparison operator name?
pub fn is_operator(k: &str) -> bool {
    COMPARATORS.iter().any(|c| c.0 == k) || TESTS.iter().any(|t| t.0 == k) || k == "StringMatches"
}

pub use crate::timestamp::parse_timestamp;

fn parse_pattern(p: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut it = p.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => {
                if let Some(n) = it.next() {
                    cur.push(n)
                } else {
                    cur.push('\\')
                }
            }
            '*' => {
                if !cur.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut cur)));
                }
                if out.last() != Some(&Piece::Star) {
                    out.push(Piece::Star);
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(Piece::Lit(cur));
    }
    out
}

fn glob(pat: &[Piece], s: &str) -> bool {
    match pat.split_first() {
        None => s.is_empty(),
        Some((Piece::Lit(l), rest)) => s.strip_prefix(l.as_str()).is_some_and(|r| glob(rest, r)),
        Some((Piece::Star, rest)) => {
            if rest.is_empty() {
                return true;
            }
            let mut idx: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
            idx.push(s.len());
            idx.into_iter().any(|i| glob(rest, &s[i..]))
        }
    }
}

impl Rule {
    /// Compiles a rule object; errors are (location suffix, message).
    pub fn compile(o: &Map<String, Value>, top: bool) -> Result<Rule, (String, String)> {
        let bad = |loc: &str, m: String| Err((loc.to_string(), m));
        for key in ["And", "Or"] {
            if let Some(v) = o.get(key) {
                let Value::Array(items) = v else {
                    return bad(key, format!("The field '{key}' must be an array"));
                };
                if items.is_empty() {
                    return bad(
                        key,
                        format!("The field '{key}' must contain at least one rule"),
                    );
                }
                let mut rules = Vec::new();
                for (i, it) in items.iter().enumerate() {
                    let Value::Object(io) = it else {
                        return bad(key, "A choice rule must be an object".into());
                    };
                    rules.push(
                        Rule::compile(io, false)
                            .map_err(|(l, m)| (format!("{key}[{i}]/{l}"), m))?,
                    );
                }
                check_fields(o, &[key], top)?;
                return Ok(if key == "And" {
                    Rule::And(rules)
                } else {
                    Rule::Or(rules)
                });
            }
        }
        if let Some(v) = o.get("Not") {
            let Value::Object(io) = v else {
                return bad("Not", "The field 'Not' must be an object".into());
            };
            let r = Rule::compile(io, false).map_err(|(l, m)| (format!("Not/{l}"), m))?;
            check_fields(o, &["Not"], top)?;
            return Ok(Rule::Not(Box::new(r)));
        }
        let var = match o.get("Variable") {
            Some(Value::String(s)) => {
                JsonPath::parse(s).map_err(|e| ("Variable".to_string(), e.0))?
            }
            Some(_) => return bad("Variable", "The field 'Variable' must be a string".into()),
            None => {
                return bad(
                    "",
                    "A choice rule must have a 'Variable' field or be And/Or/Not".into(),
                );
            }
        };
        let ops: Vec<&String> = o.keys().filter(|k| is_operator(k)).collect();
        if ops.len() != 1 {
            return bad(
                "",
                "A choice rule must have exactly one comparison operator".into(),
            );
        }
        let op = ops[0].as_str();
        let val = &o[op];
        check_fields(o, &["Variable", op], top)?;
        if let Some(t) = TESTS.iter().find(|t| t.0 == op) {
            let Value::Bool(b) = val else {
                return bad(op, format!("The value of '{op}' must be a boolean"));
            };
            return Ok(Rule::Test {
                variable: var,
                test: t.1,
                expect: *b,
            });
        }
        if op == "StringMatches" {
            let Value::String(s) = val else {
                return bad(op, "The value of 'StringMatches' must be a string".into());
            };
            return Ok(Rule::Matches {
                variable: var,
                pattern: parse_pattern(s),
            });
        }
        let &(_, kind, cmp, is_path) = COMPARATORS.iter().find(|c| c.0 == op).expect("operator");
        let operand = if is_path {
            let Value::String(s) = val else {
                return bad(op, format!("The value of '{op}' must be a JSONPath"));
            };
            Operand::Path(JsonPath::parse(s).map_err(|e| (op.to_string(), e.0))?)
        } else {
            match (kind, val) {
                (Kind::String, Value::String(_))
                | (Kind::Numeric, Value::Number(_))
                | (Kind::Boolean, Value::Bool(_)) => Operand::Value(val.clone()),
                (Kind::Timestamp, Value::String(s)) => match parse_timestamp(s) {
                    Some(t) => Operand::Timestamp(t),
                    None => {
                        return bad(
                            op,
                            format!("The value of '{op}' must be a valid ISO-8601 timestamp"),
                        );
                    }
                },
                _ => return bad(op, format!("The value of '{op}' has the wrong type")),
            }
        };
        Ok(Rule::Compare {
            variable: var,
            kind,
            cmp,
            operand,
        })
    }

    /// Whether any path of the rule refers to the context object (`$$`).
    pub fn uses_context(&self) -> bool {
        let ctx = |p: &JsonPath| matches!(p.root(), crate::path::Root::Context);
        match self {
            Rule::And(rs) | Rule::Or(rs) => rs.iter().any(Rule::uses_context),
            Rule::Not(r) => r.uses_context(),
            Rule::Compare {
                variable, operand, ..
            } => ctx(variable) || matches!(operand, Operand::Path(p) if ctx(p)),
            Rule::Matches { variable, .. } | Rule::Test { variable, .. } => ctx(variable),
            Rule::Condition(_) => false,
        }
    }

    /// Evaluates the rule.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<bool, RuntimeError> {
        match self {
            Rule::And(rs) => {
                for r in rs {
                    if !r.eval(scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rs) => {
                for r in rs {
                    if r.eval(scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(r) => Ok(!r.eval(scope)?),
            Rule::Condition(c) => match c {
                Value::Bool(b) => Ok(*b),
                other => Err(RuntimeError::new(
                    crate::error::errors::QUERY_EVALUATION_ERROR,
                    format!(
                        "JSONata conditions are not supported: {}",
                        crate::compact(other)
                    ),
                )),
            },
            Rule::Test {
                variable,
                test,
                expect,
            } => {
                let v = scope.resolve(variable);
                let got = match test {
                    TypeTest::Present => v.is_some(),
                    _ => {
                        let Some(v) = v else { return Ok(false) };
                        let v = v.as_value();
                        match test {
                            TypeTest::Null => v.is_null(),
                            TypeTest::Numeric => v.is_number(),
                            TypeTest::String => v.is_string(),
                            TypeTest::Boolean => v.is_boolean(),
                            TypeTest::Timestamp => {
                                v.as_str().is_some_and(|s| parse_timestamp(s).is_some())
                            }
                            TypeTest::Present => true,
                        }
                    }
                };
                Ok(got == *expect)
            }
            Rule::Matches { variable, pattern } => {
                let v = resolve_var(variable, scope)?;
                Ok(v.as_value().as_str().is_some_and(|s| glob(pattern, s)))
            }
            Rule::Compare {
                variable,
                kind,
                cmp,
                operand,
            } => {
                let v = resolve_var(variable, scope)?;
                let v = v.as_value();
                let rhs_owned;
                let rhs: &Value = match operand {
                    Operand::Value(x) => x,
                    Operand::Timestamp(t) => {
                        let Some(l) = v.as_str().and_then(parse_timestamp) else {
                            return Ok(false);
                        };
                        return Ok(apply(*cmp, l.cmp(t)));
                    }
                    Operand::Path(p) => {
                        rhs_owned = resolve_var(p, scope)?;
                        rhs_owned.as_value()
                    }
                };
                Ok(compare(*kind, *cmp, v, rhs))
            }
        }
    }
}

fn check_fields(
    o: &Map<String, Value>,
    allowed: &[&str],
    top: bool,
) -> Result<(), (String, String)> {
    for k in o.keys() {
        if allowed.contains(&k.as_str())
            || k == "Comment"
            || (top && (k == "Next" || k == "Assign" || k == "Output"))
        {
            continue;
        }
        return Err((
            k.clone(),
            format!("The field \"{k}\" is not supported by Step Functions"),
        ));
    }
    Ok(())
}

fn resolve_var<'a>(p: &JsonPath, scope: &Scope<'a>) -> Result<crate::path::Cow<'a>, RuntimeError> {
    use crate::catalogue::{Bad, Facts, Field, error};
    scope.resolve(p).ok_or_else(|| error(Field::ChoiceVariable, Bad::Missing, Facts::path(p)))
}

fn apply(c: Cmp, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match c {
        Cmp::Eq => o == Equal,
        Cmp::Lt => o == Less,
        Cmp::Gt => o == Greater,
        Cmp::Le => o != Greater,
        Cmp::Ge => o != Less,
    }
}

fn compare(kind: Kind, cmp: Cmp, l: &Value, r: &Value) -> bool {
    match kind {
        Kind::String => match (l, r) {
            (Value::String(a), Value::String(b)) => apply(cmp, a.as_str().cmp(b.as_str())),
            _ => false,
        },
        Kind::Numeric => match (l, r) {
            (Value::Number(a), Value::Number(b)) => {
                let o = match (a.as_i64(), b.as_i64()) {
                    (Some(x), Some(y)) => Some(x.cmp(&y)),
                    _ => a.as_f64().partial_cmp(&b.as_f64()),
                };
                o.is_some_and(|o| apply(cmp, o))
            }
            _ => false,
        },
        Kind::Boolean => match (l, r) {
            (Value::Bool(a), Value::Bool(b)) => a == b,
            _ => false,
        },
        Kind::Timestamp => match (
            l.as_str().and_then(parse_timestamp),
            r.as_str().and_then(parse_timestamp),
        ) {
            (Some(a), Some(b)) => apply(cmp, a.cmp(&b)),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Value) -> Rule {
        Rule::compile(v.as_object().unwrap(), true).unwrap()
    }
    fn ev(r: &Rule, input: Value) -> Result<bool, RuntimeError> {
        r.eval(&Scope::new(&input, &json!({})))
    }

    #[test]
    fn comparisons() {
        let r = rule(json!({"Variable": "$.n", "NumericGreaterThan": 1, "Next": "x"}));
        assert!(ev(&r, json!({"n": 2})).unwrap());
        assert!(!ev(&r, json!({"n": 1})).unwrap());
        assert!(!ev(&r, json!({"n": "2"})).unwrap());
        assert_eq!(ev(&r, json!({})).unwrap_err().error, "States.Runtime");
        let r = rule(json!({"Variable": "$.a", "StringEqualsPath": "$.b"}));
        assert!(ev(&r, json!({"a": "x", "b": "x"})).unwrap());
        let r = rule(json!({"Variable": "$.t", "TimestampLessThan": "2020-01-01T00:00:00Z"}));
        assert!(ev(&r, json!({"t": "2019-12-31T23:00:00-00:30"})).unwrap());
        assert!(!ev(&r, json!({"t": "garbage"})).unwrap());
        let r = rule(json!({"Variable": "$.n", "NumericEquals": 1}));
        assert!(ev(&r, json!({"n": 1.0})).unwrap());
    }

    #[test]
    fn logic_and_tests() {
        let r = rule(
            json!({"And": [{"Variable": "$.a", "IsPresent": true}, {"Not": {"Variable": "$.a", "IsNull": true}}]}),
        );
        assert!(ev(&r, json!({"a": 1})).unwrap());
        assert!(!ev(&r, json!({"a": null})).unwrap());
        assert!(!ev(&r, json!({})).unwrap());
        let r = rule(
            json!({"Or": [{"Variable": "$.a", "IsString": true}, {"Variable": "$.a", "IsTimestamp": true}]}),
        );
        assert!(ev(&r, json!({"a": "s"})).unwrap());
    }

    #[test]
    fn string_matches() {
        let r = rule(json!({"Variable": "$.s", "StringMatches": "log-*.txt"}));
        assert!(ev(&r, json!({"s": "log-1.txt"})).unwrap());
        assert!(!ev(&r, json!({"s": "log-1.csv"})).unwrap());
        let r = rule(json!({"Variable": "$.s", "StringMatches": "a\\*b"}));
        assert!(ev(&r, json!({"s": "a*b"})).unwrap());
        assert!(!ev(&r, json!({"s": "axb"})).unwrap());
    }

    #[test]
    fn compile_errors() {
        for bad in [
            json!({"Variable": "$.a"}),
            json!({"Variable": "$.a", "StringEquals": 1}),
            json!({"Variable": "$.a", "StringEquals": "x", "NumericEquals": 1}),
            json!({"And": []}),
            json!({"Variable": "$.a", "TimestampEquals": "yesterday"}),
            json!({"Variable": "$.a", "IsNull": true, "Bogus": 1}),
        ] {
            assert!(
                Rule::compile(bad.as_object().unwrap(), true).is_err(),
                "{bad}"
            );
        }
    }
}
