//! Intrinsic functions (`States.Format(...)` and friends): parsed once into an
//! AST, evaluated against the input / context / variables.

use crate::error::RuntimeError;
use crate::path::{JsonPath, Root};
use crate::util::json_type_name;
use serde_json::{Map, Number, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Func {
    fn from_name(n: &str) -> Option<Func> {
        Some(match n {
            "States.Format" => Func::Format,
            "States.StringToJson" => Func::StringToJson,
            "States.JsonToString" => Func::JsonToString,
            "States.Array" => Func::Array,
            "States.ArrayPartition" => Func::ArrayPartition,
            "States.ArrayContains" => Func::ArrayContains,
            "States.ArrayRange" => Func::ArrayRange,
            "States.ArrayGetItem" => Func::ArrayGetItem,
            "States.ArrayLength" => Func::ArrayLength,
            "States.ArrayUnique" => Func::ArrayUnique,
            "States.Base64Encode" => Func::Base64Encode,
            "States.Base64Decode" => Func::Base64Decode,
            "States.Hash" => Func::Hash,
            "States.JsonMerge" => Func::JsonMerge,
            "States.MathRandom" => Func::MathRandom,
            "States.MathAdd" => Func::MathAdd,
            "States.StringSplit" => Func::StringSplit,
            "States.UUID" => Func::Uuid,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Func::Format => "States.Format",
            Func::StringToJson => "States.StringToJson",
            Func::JsonToString => "States.JsonToString",
            Func::Array => "States.Array",
            Func::ArrayPartition => "States.ArrayPartition",
            Func::ArrayContains => "States.ArrayContains",
            Func::ArrayRange => "States.ArrayRange",
            Func::ArrayGetItem => "States.ArrayGetItem",
            Func::ArrayLength => "States.ArrayLength",
            Func::ArrayUnique => "States.ArrayUnique",
            Func::Base64Encode => "States.Base64Encode",
            Func::Base64Decode => "States.Base64Decode",
            Func::Hash => "States.Hash",
            Func::JsonMerge => "States.JsonMerge",
            Func::MathRandom => "States.MathRandom",
            Func::MathAdd => "States.MathAdd",
            Func::StringSplit => "States.StringSplit",
            Func::Uuid => "States.UUID",
        }
    }
    /// (min, max) argument counts; max None = unbounded.
    fn arity(self) -> (usize, Option<usize>) {
        match self {
            Func::Format => (1, None),
            Func::StringToJson | Func::JsonToString | Func::ArrayLength | Func::ArrayUnique => {
                (1, Some(1))
            }
            Func::Base64Encode | Func::Base64Decode => (1, Some(1)),
            Func::Array => (0, None),
            Func::ArrayPartition | Func::ArrayContains | Func::ArrayGetItem | Func::Hash => {
                (2, Some(2))
            }
            Func::MathAdd | Func::StringSplit => (2, Some(2)),
            Func::ArrayRange | Func::JsonMerge => (3, Some(3)),
            Func::MathRandom => (2, Some(3)),
            Func::Uuid => (0, Some(0)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Literal(Value),
    Path(JsonPath),
    Call(Box<Intrinsic>),
}

/// A piece of a literal States.Format template.
#[derive(Debug, Clone, PartialEq)]
pub enum FmtPiece {
    Lit(String),
    Placeholder,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Intrinsic {
    pub func: Func,
    pub args: Vec<Arg>,
    /// For States.Format with a literal template: the template split at its
    /// unescaped `{}` placeholders (escaped `\{`/`\}` are literal braces).
    fmt: Option<Vec<FmtPiece>>,
    src: String,
}

/// Values the paths of an intrinsic (or template) can refer to.
pub struct Scope<'a> {
    pub input: &'a Value,
    pub context: &'a Value,
    pub variables: Option<&'a Map<String, Value>>,
}

impl<'a> Scope<'a> {
    pub fn new(input: &'a Value, context: &'a Value) -> Self {
        Scope {
            input,
            context,
            variables: None,
        }
    }
    /// Resolves a path against the scope; `Err(())` = not found.
    pub fn resolve(&self, p: &JsonPath) -> Option<crate::path::Cow<'a>> {
        match p.root() {
            Root::Input => p.eval(self.input),
            Root::Context => p.eval(self.context),
            Root::Variable(name) => {
                let v = self.variables?.get(name.as_str())?;
                p.eval(v)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IntrinsicParseError(pub String);

/// Whether a string looks like an intrinsic function call.
pub fn looks_like_intrinsic(s: &str) -> bool {
    s.starts_with("States.")
}

impl Intrinsic {
    pub fn parse(src: &str) -> Result<Intrinsic, IntrinsicParseError> {
        let mut p = P {
            s: src,
            i: 0,
            last_pieces: None,
        };
        let r = p.call(0)?;
        p.ws();
        if p.i != src.len() {
            return Err(p.err("unexpected trailing characters"));
        }
        Ok(r)
    }
    pub fn as_str(&self) -> &str {
        &self.src
    }
    /// Whether any path argument (transitively) refers to the context object.
    pub fn uses_context(&self) -> bool {
        self.args.iter().any(|a| match a {
            Arg::Path(p) => matches!(p.root(), Root::Context),
            Arg::Call(c) => c.uses_context(),
            Arg::Literal(_) => false,
        })
    }

    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, RuntimeError> {
        // Arguments live on the stack for the usual handful (this runs for
        // every intrinsic of every state entered; two vectors per call
        // showed up in profiles of Pass-heavy machines).
        const INLINE: usize = 8;
        let n = self.args.len();
        if n <= INLINE {
            let mut vals: [std::borrow::Cow<'_, Value>; INLINE] =
                std::array::from_fn(|_| std::borrow::Cow::Borrowed(&NULL));
            for (slot, a) in vals.iter_mut().zip(&self.args) {
                *slot = self.arg_value(a, scope)?;
            }
            let args: [&Value; INLINE] = std::array::from_fn(|i| vals[i].as_ref());
            self.apply(&args[..n])
        } else {
            let vals = self
                .args
                .iter()
                .map(|a| self.arg_value(a, scope))
                .collect::<Result<Vec<_>, _>>()?;
            let args: Vec<&Value> = vals.iter().map(|c| c.as_ref()).collect();
            self.apply(&args)
        }
    }

    fn arg_value<'s>(&self, a: &'s Arg, scope: &Scope<'s>) -> Result<std::borrow::Cow<'s, Value>, RuntimeError> {
        Ok(match a {
            Arg::Literal(v) => std::borrow::Cow::Borrowed(v),
            Arg::Call(c) => std::borrow::Cow::Owned(c.eval(scope)?),
            Arg::Path(p) => match scope.resolve(p) {
                Some(crate::path::Cow::Borrowed(v)) => std::borrow::Cow::Borrowed(v),
                Some(crate::path::Cow::Owned(v)) => std::borrow::Cow::Owned(v),
                None => {
                    use crate::catalogue::{Bad, Facts, Field, error};
                    let facts = Facts {
                        function: Some(self.func.name()),
                        call: Some(&self.src),
                        ..Facts::path(p).input(scope_root(p, scope))
                    };
                    return Err(error(Field::IntrinsicArgument, Bad::Missing, facts));
                }
            },
        })
    }

    fn apply(&self, args: &[&Value]) -> Result<Value, RuntimeError> {
        if let Some(pieces) = &self.fmt {
            let mut out = String::with_capacity(self.src.len());
            let mut rest = args[1..].iter();
            for p in pieces {
                match p {
                    FmtPiece::Lit(l) => out.push_str(l),
                    FmtPiece::Placeholder => match rest.next() {
                        Some(v) => format_value(v, &mut out),
                        None => {
                            return Err(fail(
                                self.func,
                                "the number of arguments does not match the number of placeholders",
                            ));
                        }
                    },
                }
            }
            return Ok(Value::String(out));
        }
        call(self.func, args)
    }
}

static NULL: Value = Value::Null;

fn scope_root<'a>(p: &JsonPath, s: &Scope<'a>) -> &'a Value {
    match p.root() {
        Root::Context => s.context,
        _ => s.input,
    }
}

fn fail(f: Func, msg: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::intrinsic(format!("Invalid arguments in {}: {}", f.name(), msg))
}

fn want_str(f: Func, v: &Value) -> Result<&str, RuntimeError> {
    v.as_str().ok_or_else(|| {
        fail(
            f,
            format!("expected a string argument but got {}", json_type_name(v)),
        )
    })
}
fn want_arr(f: Func, v: &Value) -> Result<&Vec<Value>, RuntimeError> {
    v.as_array().ok_or_else(|| {
        fail(
            f,
            format!("expected an array argument but got {}", json_type_name(v)),
        )
    })
}
fn want_int(f: Func, v: &Value) -> Result<i64, RuntimeError> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else if let Some(x) = n.as_f64().filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15) {
                Ok(x as i64)
            } else {
                Err(not_int(f, v))
            }
        }
        _ => Err(not_int(f, v)),
    }
}

/// Numbers for MathAdd/MathRandom: AWS rounds non-integers to the nearest
/// integer as Java's `Math.round` does, a half upwards (-1.5 is -1).
fn want_rounded(f: Func, v: &Value) -> Result<i64, RuntimeError> {
    match v {
        Value::Number(n) if n.as_i64().is_none() => match n.as_f64() {
            Some(x) if x.is_finite() && x.abs() < 9.0e15 => Ok(crate::util::java_round(x)),
            _ => Err(not_int(f, v)),
        },
        _ => want_int(f, v),
    }
}

/// An argument that is not an integer, from the catalogue (a number out of
/// a long's range, or another type) or, for a fraction where no rounding
/// applies, the same wording with the number.
fn not_int(f: Func, v: &Value) -> RuntimeError {
    use crate::catalogue::{Bad, Facts, Field, check, error, render};
    let facts = Facts { function: Some(f.name()), value: Some(v), ..Facts::default() };
    match v {
        Value::Number(n) if n.as_f64().is_some_and(|x| x.fract() != 0.0) => {
            fail(f, format!("expected an integer argument but got {}", render::number(n)))
        }
        Value::Number(_) => error(Field::IntrinsicArgument, Bad::TooLargeForLong, facts),
        other => error(Field::IntrinsicArgument, check::not_number(other), facts),
    }
}

const MAX_STR: usize = 10_000;

/// Java-ish `toString` rendering used by States.Format.
fn format_value(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&crate::catalogue::render::number(n)),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                format_value(x, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                format_value(x, out);
            }
            out.push('}');
        }
    }
}

fn call(f: Func, a: &[&Value]) -> Result<Value, RuntimeError> {
    match f {
        Func::Format => {
            let tpl = want_str(f, a[0])?;
            let rest = &a[1..];
            let mut out = String::with_capacity(tpl.len() + 16);
            let mut n = 0;
            let mut chars = tpl.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '{' && chars.peek() == Some(&'}') {
                    chars.next();
                    let v = rest.get(n).ok_or_else(|| {
                        fail(
                            f,
                            "the number of arguments does not match the number of placeholders",
                        )
                    })?;
                    format_value(v, &mut out);
                    n += 1;
                } else {
                    out.push(c);
                }
            }
            if n != rest.len() {
                return Err(fail(
                    f,
                    "the number of arguments does not match the number of placeholders",
                ));
            }
            Ok(Value::String(out))
        }
        Func::StringToJson => {
            let s = want_str(f, a[0])?;
            let t = s.trim();
            if t.is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_str(t)
                .map_err(|e| fail(f, format!("the string is not valid JSON: {e}")))
        }
        // Jackson writes the JSON: doubles as Java prints them (`1.0E20`).
        Func::JsonToString => Ok(Value::String(crate::catalogue::render::json(a[0]))),
        Func::Array => Ok(Value::Array(a.iter().map(|v| (*v).clone()).collect())),
        Func::ArrayPartition => {
            let arr = want_arr(f, a[0])?;
            let n = want_int(f, a[1])?;
            if n <= 0 {
                return Err(fail(f, "the chunk size must be greater than 0"));
            }
            Ok(Value::Array(
                arr.chunks(n as usize)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            ))
        }
        Func::ArrayContains => {
            let arr = want_arr(f, a[0])?;
            Ok(Value::Bool(arr.iter().any(|x| crate::json_eq(x, a[1]))))
        }
        Func::ArrayRange => {
            let (s, e, st) = (want_int(f, a[0])?, want_int(f, a[1])?, want_int(f, a[2])?);
            if st == 0 {
                return Err(fail(f, "the step must not be 0"));
            }
            let mut v = Vec::new();
            let mut x = s;
            while (st > 0 && x <= e) || (st < 0 && x >= e) {
                v.push(Value::from(x));
                if v.len() > 1000 {
                    return Err(fail(f, "the result exceeds the maximum array size of 1000"));
                }
                x += st;
            }
            Ok(Value::Array(v))
        }
        Func::ArrayGetItem => {
            let arr = want_arr(f, a[0])?;
            let i = want_int(f, a[1])?;
            if i < 0 || i as usize >= arr.len() {
                return Err(fail(f, format!("index {i} is out of bounds")));
            }
            Ok(arr[i as usize].clone())
        }
        Func::ArrayLength => Ok(Value::from(want_arr(f, a[0])?.len())),
        Func::ArrayUnique => {
            let arr = want_arr(f, a[0])?;
            let mut out: Vec<Value> = Vec::new();
            for x in arr {
                if !out.iter().any(|y| crate::json_eq(x, y)) {
                    out.push(x.clone());
                }
            }
            Ok(Value::Array(out))
        }
        Func::Base64Encode => {
            let s = want_str(f, a[0])?;
            if s.len() > MAX_STR {
                return Err(fail(
                    f,
                    "the input string exceeds the maximum of 10000 characters",
                ));
            }
            Ok(Value::String(crate::base64::encode(s.as_bytes())))
        }
        Func::Base64Decode => {
            let s = want_str(f, a[0])?;
            if s.len() > MAX_STR {
                return Err(fail(
                    f,
                    "the input string exceeds the maximum of 10000 characters",
                ));
            }
            let bytes =
                crate::base64::decode(s).ok_or_else(|| fail(f, "the input is not valid base64"))?;
            Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        }
        Func::Hash => {
            let data = match a[0] {
                Value::String(s) => s.clone(),
                other => crate::compact(other),
            };
            if data.len() > MAX_STR {
                return Err(fail(
                    f,
                    "the input data exceeds the maximum of 10000 characters",
                ));
            }
            let alg = want_str(f, a[1])?;
            let hex = crate::hash::hash(alg, data.as_bytes()).ok_or_else(|| {
                fail(f, format!("the hashing algorithm '{alg}' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"))
            })?;
            Ok(Value::String(hex))
        }
        Func::JsonMerge => {
            let (Value::Object(x), Value::Object(y)) = (a[0], a[1]) else {
                return Err(fail(f, "the first two arguments must be JSON objects"));
            };
            match a[2] {
                Value::Bool(false) => {}
                Value::Bool(true) => {
                    return Err(fail(
                        f,
                        "deep merge is not supported; the third argument must be false",
                    ));
                }
                _ => return Err(fail(f, "the third argument must be a boolean")),
            }
            let mut m = x.clone();
            for (k, v) in y {
                m.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(m))
        }
        Func::MathRandom => {
            let s = want_rounded(f, a[0])?;
            let e = want_rounded(f, a[1])?;
            if s >= e {
                return Err(fail(f, "the start value must be less than the end value"));
            }
            use rand::{Rng, SeedableRng};
            let v = if let Some(seed) = a.get(2) {
                let seed = want_int(f, seed)?;
                let mut r = rand::rngs::StdRng::seed_from_u64(seed as u64);
                r.random_range(s..e)
            } else {
                rand::rng().random_range(s..e)
            };
            Ok(Value::from(v))
        }
        Func::MathAdd => {
            let x = want_rounded(f, a[0])?;
            let y = want_rounded(f, a[1])?;
            let r = x
                .checked_add(y)
                .ok_or_else(|| fail(f, "integer overflow"))?;
            Ok(Value::Number(Number::from(r)))
        }
        Func::StringSplit => {
            let s = want_str(f, a[0])?;
            let d = want_str(f, a[1])?;
            let parts: Vec<Value> = if d.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(|c: char| d.contains(c))
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect()
            };
            Ok(Value::Array(parts))
        }
        Func::Uuid => Ok(Value::String(crate::uuid_v4())),
    }
}

struct P<'a> {
    s: &'a str,
    i: usize,
    /// Format pieces of the most recently parsed string literal.
    last_pieces: Option<Vec<FmtPiece>>,
}

impl P<'_> {
    fn err(&self, msg: &str) -> IntrinsicParseError {
        IntrinsicParseError(format!(
            "Invalid intrinsic function '{}': {} at position {}",
            self.s, msg, self.i
        ))
    }
    fn rest(&self) -> &str {
        &self.s[self.i..]
    }
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }
    fn ws(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.i += c.len_utf8();
            } else {
                break;
            }
        }
    }
    fn call(&mut self, depth: usize) -> Result<Intrinsic, IntrinsicParseError> {
        if depth > 32 {
            return Err(self.err("functions nested too deeply"));
        }
        self.ws();
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                self.i += 1;
            } else {
                break;
            }
        }
        let name = &self.s[start..self.i];
        let func =
            Func::from_name(name).ok_or_else(|| self.err(&format!("unknown function '{name}'")))?;
        self.ws();
        if self.peek() != Some('(') {
            return Err(self.err("expected '('"));
        }
        self.i += 1;
        let mut args = Vec::new();
        let mut fmt: Option<Vec<FmtPiece>> = None;
        self.ws();
        if self.peek() == Some(')') {
            self.i += 1;
        } else {
            loop {
                self.last_pieces = None;
                args.push(self.arg(depth)?);
                if args.len() == 1 && func == Func::Format && matches!(args[0], Arg::Literal(_)) {
                    fmt = self.last_pieces.take();
                }
                self.ws();
                match self.peek() {
                    Some(',') => self.i += 1,
                    Some(')') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(self.err("expected ',' or ')'")),
                }
            }
        }
        let (min, max) = func.arity();
        if args.len() < min || max.is_some_and(|m| args.len() > m) {
            return Err(self.err(&format!("wrong number of arguments for {}", func.name())));
        }
        check_literal_args(func, &args, fmt.as_deref()).map_err(|m| self.err(&m))?;
        Ok(Intrinsic {
            fmt,
            func,
            args,
            src: self.s[start..self.i].to_string(),
        })
    }
    fn arg(&mut self, depth: usize) -> Result<Arg, IntrinsicParseError> {
        self.ws();
        match self.peek() {
            Some('\'') => {
                self.i += 1;
                let mut out = String::new();
                let mut pieces = Vec::new();
                let mut cur = String::new();
                loop {
                    let Some(c) = self.peek() else {
                        return Err(self.err("unterminated string literal"));
                    };
                    self.i += c.len_utf8();
                    match c {
                        '\'' => break,
                        '\\' => {
                            let Some(n) = self.peek() else {
                                return Err(self.err("unterminated escape"));
                            };
                            self.i += n.len_utf8();
                            let ch = match n {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            };
                            out.push(ch);
                            cur.push(ch);
                        }
                        '{' if self.peek() == Some('}') => {
                            self.i += 1;
                            out.push_str("{}");
                            pieces.push(FmtPiece::Lit(std::mem::take(&mut cur)));
                            pieces.push(FmtPiece::Placeholder);
                        }
                        c => {
                            out.push(c);
                            cur.push(c);
                        }
                    }
                }
                pieces.push(FmtPiece::Lit(cur));
                pieces.retain(|p| !matches!(p, FmtPiece::Lit(s) if s.is_empty()));
                self.last_pieces = Some(pieces);
                Ok(Arg::Literal(Value::String(out)))
            }
            Some('$') => {
                let start = self.i;
                // path ends at ',' or ')' at bracket/paren depth 0, outside quotes
                let mut d = 0i32;
                let mut q: Option<char> = None;
                while let Some(c) = self.peek() {
                    if let Some(qc) = q {
                        if c == '\\' {
                            self.i += 1;
                            if let Some(n) = self.peek() {
                                self.i += n.len_utf8();
                            }
                            continue;
                        }
                        if c == qc {
                            q = None;
                        }
                    } else {
                        match c {
                            '\'' | '"' => q = Some(c),
                            '[' | '(' => d += 1,
                            ']' | ')' if d > 0 => d -= 1,
                            ')' | ',' if d == 0 => break,
                            _ => {}
                        }
                    }
                    self.i += c.len_utf8();
                }
                let txt = self.s[start..self.i].trim_end();
                JsonPath::parse(txt)
                    .map(Arg::Path)
                    .map_err(|e| IntrinsicParseError(e.0))
            }
            Some('S') => Ok(Arg::Call(Box::new(self.call(depth + 1)?))),
            Some(_) => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if c == ',' || c == ')' || c.is_whitespace() {
                        break;
                    }
                    self.i += c.len_utf8();
                }
                let tok = &self.s[start..self.i];
                match tok {
                    "null" => Ok(Arg::Literal(Value::Null)),
                    "true" => Ok(Arg::Literal(Value::Bool(true))),
                    "false" => Ok(Arg::Literal(Value::Bool(false))),
                    _ => serde_json::from_str::<Number>(tok)
                        .map(|n| Arg::Literal(Value::Number(n)))
                        .map_err(|_| self.err(&format!("invalid argument '{tok}'"))),
                }
            }
            None => Err(self.err("expected an argument")),
        }
    }
}

/// Post-processes escaped braces and checks statically-known argument types.
fn check_literal_args(func: Func, args: &[Arg], fmt: Option<&[FmtPiece]>) -> Result<(), String> {
    if func == Func::Format
        && let Some(Arg::Literal(v)) = args.first()
    {
        if !v.is_string() {
            return Err("the first argument of States.Format must be a string".into());
        }
        let n = fmt
            .map(|p| {
                p.iter()
                    .filter(|x| matches!(x, FmtPiece::Placeholder))
                    .count()
            })
            .unwrap_or(0);
        if n != args.len() - 1 {
            return Err("the number of arguments does not match the number of placeholders".into());
        }
    }
    if func == Func::JsonMerge
        && let Some(Arg::Literal(v)) = args.get(2)
        && v != &Value::Bool(false)
    {
        return Err("the third argument of States.JsonMerge must be false".into());
    }
    Ok(())
}

impl Intrinsic {
    /// Evaluates the call.
    pub fn evaluate(&self, scope: &Scope<'_>) -> Result<Value, RuntimeError> {
        self.eval(scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(src: &str, input: Value) -> Result<Value, RuntimeError> {
        let ctx = json!({"StateMachine": {"Name": "sm-name-x"}});
        Intrinsic::parse(src)
            .unwrap()
            .evaluate(&Scope::new(&input, &ctx))
    }

    #[test]
    fn format() {
        assert_eq!(
            run(
                "States.Format('a {} b {}', $.x, $.y)",
                json!({"x": 1, "y": {"k": [1, "s"]}})
            )
            .unwrap(),
            json!("a 1 b {k=[1, s]}")
        );
        assert_eq!(
            run(r"States.Format('esc \{\} {}', 'x')", json!({})).unwrap(),
            json!("esc {} x")
        );
        assert_eq!(
            run(r"States.Format('it\'s {}', null)", json!({})).unwrap(),
            json!("it's null")
        );
        assert!(Intrinsic::parse("States.Format('{} {}', 1)").is_err());
    }

    #[test]
    fn arrays() {
        assert_eq!(
            run("States.Array(1, 'a', $.x, true, null)", json!({"x": [1]})).unwrap(),
            json!([1, "a", [1], true, null])
        );
        assert_eq!(
            run("States.ArrayPartition($.a, 2)", json!({"a": [1, 2, 3]})).unwrap(),
            json!([[1, 2], [3]])
        );
        assert_eq!(
            run("States.ArrayContains($.a, 2)", json!({"a": [1, 2, 3]})).unwrap(),
            json!(true)
        );
        assert_eq!(
            run("States.ArrayRange(1, 9, 2)", json!({})).unwrap(),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(
            run("States.ArrayRange(5, 1, -2)", json!({})).unwrap(),
            json!([5, 3, 1])
        );
        assert_eq!(
            run("States.ArrayGetItem($.a, 1)", json!({"a": [1, 2, 3]})).unwrap(),
            json!(2)
        );
        assert_eq!(
            run("States.ArrayLength($.a)", json!({"a": [1, 2, 3]})).unwrap(),
            json!(3)
        );
        assert_eq!(
            run("States.ArrayUnique($.a)", json!({"a": [1, 2, 2, 1.0, "1"]})).unwrap(),
            json!([1, 2, "1"])
        );
        assert_eq!(
            run("States.ArrayRange(0, 2000, 1)", json!({}))
                .unwrap_err()
                .error,
            "States.IntrinsicFailure"
        );
        assert_eq!(
            run("States.ArrayGetItem($.a, 5)", json!({"a": []}))
                .unwrap_err()
                .error,
            "States.IntrinsicFailure"
        );
    }

    #[test]
    fn strings_and_math() {
        assert_eq!(
            run("States.StringSplit('a,b,,c', ',')", json!({})).unwrap(),
            json!(["a", "b", "c"])
        );
        assert_eq!(
            run("States.Base64Encode('Hello World')", json!({})).unwrap(),
            json!("SGVsbG8gV29ybGQ=")
        );
        assert_eq!(
            run("States.Base64Decode('SGVsbG8gV29ybGQ=')", json!({})).unwrap(),
            json!("Hello World")
        );
        assert_eq!(
            run("States.Hash('Hash this string', 'SHA-256')", json!({})).unwrap(),
            json!("1cac63f39fd68d8c531f27b807610fb3d50f0fc3f186995767fb6316e7200a3e")
        );
        assert_eq!(
            run("States.MathAdd($.a, -1)", json!({"a": 5})).unwrap(),
            json!(4)
        );
        assert_eq!(run("States.MathAdd(1.5, 1)", json!({})).unwrap(), json!(3));
        assert_eq!(
            run("States.MathAdd($.a, 4.3)", json!({"a": 1})).unwrap(),
            json!(5)
        );
        assert_eq!(
            run("States.MathAdd('1', 1)", json!({})).unwrap_err().error,
            "States.IntrinsicFailure"
        );
        let r = run("States.MathRandom(1, 10)", json!({}))
            .unwrap()
            .as_i64()
            .unwrap();
        assert!((1..10).contains(&r));
        assert_eq!(
            run("States.MathRandom(1, 1000, 7)", json!({})).unwrap(),
            run("States.MathRandom(1, 1000, 7)", json!({})).unwrap()
        );
        assert_eq!(
            run(
                "States.JsonMerge($.a, $.b, false)",
                json!({"a": {"x": 1}, "b": {"y": 2}})
            )
            .unwrap(),
            json!({"x": 1, "y": 2})
        );
        assert_eq!(
            run("States.StringToJson($.s)", json!({"s": "{\"k\": [1]}"})).unwrap(),
            json!({"k": [1]})
        );
        assert_eq!(
            run("States.JsonToString($.o)", json!({"o": {"k": [1, "a"]}})).unwrap(),
            json!("{\"k\":[1,\"a\"]}")
        );
        let u = run("States.UUID()", json!({})).unwrap();
        assert_eq!(u.as_str().unwrap().len(), 36);
    }

    #[test]
    fn nested_and_context() {
        let p = Intrinsic::parse("States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))").unwrap();
        assert!(p.uses_context());
        assert_eq!(run(p.as_str(), json!({})).unwrap(), json!("x"));
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "States.Nope()",
            "States.Format(",
            "States.Format('a)",
            "States.UUID(1)",
            "States.MathAdd(1)",
            "States.Array(1,,2)",
            "States.Array(foo)",
            "States.JsonMerge($.a, $.b, true)",
        ] {
            assert!(Intrinsic::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_path() {
        let e = run("States.Format('{}', $.nope)", json!({"a": 1})).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
    }
}

#[cfg(test)]
mod overflow_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn math_add_overflow_is_an_error_not_a_panic() {
        let i = Intrinsic::parse("States.MathAdd($.a, 1)").unwrap();
        let input = json!({"a": i64::MAX});
        let e = i.evaluate(&Scope::new(&input, &json!({}))).unwrap_err();
        assert_eq!(e.error, "States.IntrinsicFailure");
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;
    use serde_json::json;

    fn run(src: &str, input: Value) -> Result<Value, RuntimeError> {
        Intrinsic::parse(src)
            .unwrap()
            .evaluate(&Scope::new(&input, &json!({})))
    }

    #[test]
    fn escapes_and_templates_from_paths() {
        assert_eq!(
            run(r"States.Format('\{{}\}', 1)", json!({})).unwrap(),
            json!("{1}")
        );
        assert_eq!(
            run("States.Format($.t, 1, 'x')", json!({"t": "a{}b{}"})).unwrap(),
            json!("a1bx")
        );
        assert_eq!(
            run("States.Array($.x)", json!({"x": "\u{E000}"})).unwrap(),
            json!(["\u{E000}"])
        );
        assert_eq!(
            run(r"States.StringSplit('a\{b', '\{')", json!({})).unwrap(),
            json!(["a", "b"])
        );
        assert_eq!(
            run(
                "States.Format('{}-{}', States.Format('{}', 'in'), 2)",
                json!({})
            )
            .unwrap(),
            json!("in-2")
        );
        assert!(Intrinsic::parse(r"States.Format('\{\}', 1)").is_err());
    }
}
