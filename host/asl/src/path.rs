//! JSONPath as Step Functions uses it (Jayway flavour): compiled once,
//! evaluated many times.

use serde_json::{Map, Value};
use std::fmt;

/// Where a path starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Root {
    /// `$`: the state input (or the effective input).
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a workflow variable (JSONPath flavour of Variables).
    Variable(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Child(String),
    Index(i64),
    Wildcard,
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Names(Vec<String>),
    Indices(Vec<i64>),
    Deep(Box<Seg>),
    Filter(Box<Filter>),
    Length,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Current(Vec<Seg>),
    Root(Vec<Seg>),
    Lit(Value),
    Regex(RegexLit),
}

#[derive(Debug, Clone)]
struct RegexLit(regex::Regex);
impl PartialEq for RegexLit {
    fn eq(&self, o: &Self) -> bool {
        self.0.as_str() == o.0.as_str()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Match,
    In,
    Nin,
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Exists(Operand),
    Cmp(Operand, CmpOp, Operand),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

/// A compiled JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    src: String,
    root: Root,
    segs: Vec<Seg>,
    definite: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PathParseError(pub String);

/// `m[k]`. Small objects (most payloads) are scanned: comparing a few keys
/// is cheaper than SipHashing `k` for the map's index, and keys are unique
/// so the entry found is the same.
pub(crate) fn child<'a>(m: &'a serde_json::Map<String, Value>, k: &str) -> Option<&'a Value> {
    if m.len() <= 8 {
        m.iter().find_map(|(key, v)| (key == k).then_some(v))
    } else {
        m.get(k)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

fn is_definite(segs: &[Seg]) -> bool {
    segs.iter()
        .all(|s| matches!(s, Seg::Child(_) | Seg::Index(_) | Seg::Length))
}

impl JsonPath {
    /// Parses a path starting with `$`, `$$` or `$var`.
    pub fn parse(src: &str) -> Result<JsonPath, PathParseError> {
        let mut p = Parser {
            s: src.as_bytes(),
            src,
            i: 0,
        };
        let root = p.root()?;
        let segs = p.segments(false)?;
        if p.i != p.s.len() {
            return Err(p.err("unexpected character"));
        }
        let definite = is_definite(&segs);
        Ok(JsonPath {
            src: src.to_string(),
            root,
            segs,
            definite,
        })
    }

    /// Parses a reference path (a definite path: only names and indices),
    /// as required by ResultPath and friends.
    pub fn parse_reference(src: &str) -> Result<JsonPath, PathParseError> {
        let p = Self::parse(src)?;
        if !p.definite || p.segs.iter().any(|s| matches!(s, Seg::Length)) {
            return Err(PathParseError(format!(
                "The value for the field must be a valid Reference Path: {src}"
            )));
        }
        Ok(p)
    }

    pub fn as_str(&self) -> &str {
        &self.src
    }
    pub fn root(&self) -> &Root {
        &self.root
    }
    /// A definite path selects at most one node; an indefinite one selects a list.
    pub fn is_definite(&self) -> bool {
        self.definite
    }
    /// `$` alone (whole document).
    pub fn is_root_only(&self) -> bool {
        self.segs.is_empty()
    }

    /// Jayway's canonical form, e.g. `$['a']['b'][0]`.
    pub fn canonical(&self) -> String {
        let mut s = match &self.root {
            Root::Input => "$".to_string(),
            Root::Context => "$$".to_string(),
            Root::Variable(v) => format!("${v}"),
        };
        for seg in &self.segs {
            canon_seg(seg, &mut s);
        }
        s
    }

    /// Evaluates against `doc` (the value the root refers to). Definite paths
    /// return the node (borrowed when possible); indefinite ones a new array.
    /// `None` means "no result" for a definite path.
    pub fn eval<'a>(&self, doc: &'a Value) -> Option<Cow<'a>> {
        if self.definite {
            let mut cur = doc;
            for (i, seg) in self.segs.iter().enumerate() {
                match seg {
                    Seg::Child(k) => cur = child(cur.as_object()?, k)?,
                    Seg::Index(i) => cur = index(cur.as_array()?, *i)?,
                    Seg::Length => {
                        let _ = i;
                        return length(cur).map(Cow::Owned);
                    }
                    _ => unreachable_seg(),
                }
            }
            Some(Cow::Borrowed(cur))
        } else {
            let mut out: Vec<&Value> = Vec::new();
            select(&self.segs, doc, doc, &mut out);
            if let Some(Seg::Length) = self.segs.last() {
                // handled inside select as a terminal; results are owned numbers
            }
            let mut owned = Vec::with_capacity(out.len());
            for v in out {
                owned.push(v.clone());
            }
            if matches!(self.segs.last(), Some(Seg::Length)) {
                return Some(Cow::Owned(Value::from(owned.len())));
            }
            Some(Cow::Owned(Value::Array(owned)))
        }
    }

    /// Like [`eval`] but only for definite paths, returning a reference.
    pub fn get<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        if !self.definite {
            return None;
        }
        let mut cur = doc;
        for seg in &self.segs {
            match seg {
                Seg::Child(k) => cur = child(cur.as_object()?, k)?,
                Seg::Index(i) => cur = index(cur.as_array()?, *i)?,
                _ => return None,
            }
        }
        Some(cur)
    }

    /// Moves the node selected by a definite path out of `doc` (leaving
    /// `null` behind). Cheaper than [`eval`](Self::eval) + clone when `doc`
    /// is discarded afterwards.
    pub fn take(&self, doc: &mut Value) -> Option<Value> {
        if !self.definite {
            return None;
        }
        let mut cur = doc;
        for seg in &self.segs {
            match seg {
                Seg::Child(k) => cur = cur.as_object_mut()?.get_mut(k)?,
                Seg::Index(i) => {
                    let a = cur.as_array_mut()?;
                    let len = a.len() as i64;
                    let j = if *i < 0 { len + i } else { *i };
                    if j < 0 || j >= len {
                        return None;
                    }
                    cur = &mut a[j as usize];
                }
                Seg::Length => return length(cur),
                _ => return None,
            }
        }
        Some(std::mem::take(cur))
    }

    /// Writes `value` at this reference path inside `doc`, creating missing
    /// objects on the way (ResultPath semantics). `$` replaces the whole doc.
    pub fn set(&self, doc: &mut Value, value: Value) -> Result<(), String> {
        if self.segs.is_empty() {
            *doc = value;
            return Ok(());
        }
        let mut cur = doc;
        let n = self.segs.len();
        for (i, seg) in self.segs.iter().enumerate() {
            let last = i + 1 == n;
            match seg {
                Seg::Child(k) => {
                    if !cur.is_object() {
                        return Err(format!("Unable to apply ResultPath '{}'", self.src));
                    }
                    let obj = cur.as_object_mut().expect("object");
                    if last {
                        obj.insert(k.clone(), value);
                        return Ok(());
                    }
                    cur = obj
                        .entry(k.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                }
                Seg::Index(ix) => {
                    let arr = match cur.as_array_mut() {
                        Some(a) => a,
                        None => return Err(format!("Unable to apply ResultPath '{}'", self.src)),
                    };
                    let len = arr.len() as i64;
                    let j = if *ix < 0 { len + ix } else { *ix };
                    if j < 0 || j >= len {
                        return Err(format!("Unable to apply ResultPath '{}'", self.src));
                    }
                    let slot = &mut arr[j as usize];
                    if last {
                        *slot = value;
                        return Ok(());
                    }
                    cur = slot;
                }
                _ => return Err(format!("Unable to apply ResultPath '{}'", self.src)),
            }
        }
        Ok(())
    }
}

/// A borrowed-or-owned JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cow<'a> {
    Borrowed(&'a Value),
    Owned(Value),
}

impl Cow<'_> {
    pub fn as_value(&self) -> &Value {
        match self {
            Cow::Borrowed(v) => v,
            Cow::Owned(v) => v,
        }
    }
    pub fn into_owned(self) -> Value {
        match self {
            Cow::Borrowed(v) => v.clone(),
            Cow::Owned(v) => v,
        }
    }
}

#[cold]
fn unreachable_seg() -> ! {
    panic!("indefinite segment in definite path")
}

fn canon_seg(seg: &Seg, s: &mut String) {
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
        Seg::Length => s.push_str(".length()"),
    }
}

fn index(a: &[Value], i: i64) -> Option<&Value> {
    let len = a.len() as i64;
    let j = if i < 0 { len + i } else { i };
    if j < 0 || j >= len {
        None
    } else {
        a.get(j as usize)
    }
}

fn length(v: &Value) -> Option<Value> {
    match v {
        Value::Array(a) => Some(Value::from(a.len())),
        Value::Object(o) => Some(Value::from(o.len())),
        Value::String(s) => Some(Value::from(s.chars().count())),
        _ => None,
    }
}

fn select<'a>(segs: &[Seg], root: &'a Value, cur: &'a Value, out: &mut Vec<&'a Value>) {
    let Some((seg, rest)) = segs.split_first() else {
        out.push(cur);
        return;
    };
    match seg {
        Seg::Length => {
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
        Seg::Length => {}
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
        Operand::Regex(_) => None,
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
                        Seg::Length => return length(c).map(C::Owned),
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
            let (Some(a), Some(b)) = (operand(l, root, cur), operand(r, root, cur)) else {
                return matches!(op, CmpOp::Ne | CmpOp::Nin);
            };
            compare(a.as_ref(), *op, b.as_ref())
        }
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
        CmpOp::Eq => ord.map(|o| o == Ordering::Equal).unwrap_or_else(|| a == b),
        CmpOp::Ne => !ord.map(|o| o == Ordering::Equal).unwrap_or_else(|| a == b),
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
        CmpOp::Match => false,
    }
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn err(&self, what: &str) -> PathParseError {
        PathParseError(format!(
            "Invalid JSONPath '{}': {} at position {}",
            self.src, what, self.i
        ))
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn root(&mut self) -> Result<Root, PathParseError> {
        if !self.eat(b'$') {
            return Err(self.err("path must start with '$'"));
        }
        if self.eat(b'$') {
            return Ok(Root::Context);
        }
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
                self.i += 1;
            } else {
                break;
            }
        }
        if self.i > start {
            Ok(Root::Variable(self.src[start..self.i].to_string()))
        } else {
            Ok(Root::Input)
        }
    }
    fn name(&mut self) -> Result<String, PathParseError> {
        let start = self.i;
        while let Some(c) = self.peek() {
            if matches!(
                c,
                b'.' | b'['
                    | b']'
                    | b' '
                    | b'('
                    | b')'
                    | b','
                    | b'\''
                    | b'"'
                    | b'='
                    | b'!'
                    | b'<'
                    | b'>'
                    | b'&'
                    | b'|'
                    | b'\t'
                    | b'\n'
            ) {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(self.err("expected a property name"));
        }
        // only split on char boundary (we stopped on ASCII bytes, so fine)
        Ok(self.src[start..self.i].to_string())
    }
    /// Parses segments until end (or, inside filters, until a non-path char).
    fn segments(&mut self, in_filter: bool) -> Result<Vec<Seg>, PathParseError> {
        let mut segs = Vec::new();
        loop {
            match self.peek() {
                Some(b'.') => {
                    self.i += 1;
                    if self.eat(b'.') {
                        // deep scan
                        let inner = if self.peek() == Some(b'[') {
                            self.bracket()?
                        } else if self.eat(b'*') {
                            Seg::Wildcard
                        } else {
                            Seg::Child(self.name()?)
                        };
                        segs.push(Seg::Deep(Box::new(inner)));
                    } else if self.eat(b'*') {
                        segs.push(Seg::Wildcard);
                    } else if self.peek() == Some(b'[') {
                        let b = self.bracket()?;
                        segs.push(b);
                    } else {
                        let n = self.name()?;
                        if self.peek() == Some(b'(') {
                            self.i += 1;
                            self.ws();
                            if !self.eat(b')') {
                                return Err(self.err("functions take no arguments"));
                            }
                            if n != "length" && n != "size" {
                                return Err(self.err("unknown function"));
                            }
                            segs.push(Seg::Length);
                            if !in_filter && self.i != self.s.len() {
                                return Err(self.err("function must be last"));
                            }
                        } else {
                            segs.push(Seg::Child(n));
                        }
                    }
                }
                Some(b'[') => {
                    let b = self.bracket()?;
                    segs.push(b);
                }
                _ => break,
            }
            if segs.len() > 256 {
                return Err(self.err("path too long"));
            }
        }
        Ok(segs)
    }
    fn quoted(&mut self) -> Result<String, PathParseError> {
        let q = self.peek().ok_or_else(|| self.err("expected quote"))?;
        self.i += 1;
        let mut out = String::new();
        loop {
            let rest = &self.src[self.i..];
            let mut chars = rest.char_indices();
            match chars.next() {
                None => return Err(self.err("unterminated string")),
                Some((_, c)) if c as u32 == q as u32 => {
                    self.i += 1;
                    return Ok(out);
                }
                Some((_, '\\')) => {
                    // Only an escaped quote (or backslash) is an escape; any other
                    // backslash is literal (Jayway).
                    self.i += 1;
                    match self.src[self.i..].chars().next() {
                        None => return Err(self.err("unterminated escape")),
                        Some(c) if c as u32 == q as u32 || c == '\\' => {
                            out.push(c);
                            self.i += c.len_utf8();
                        }
                        Some(_) => out.push('\\'),
                    }
                }
                Some((_, c)) => {
                    out.push(c);
                    self.i += c.len_utf8();
                }
            }
        }
    }
    fn int(&mut self) -> Result<i64, PathParseError> {
        self.ws();
        let start = self.i;
        self.eat(b'-');
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.src[start..self.i]
            .parse::<i64>()
            .map_err(|_| self.err("expected an integer"))
    }
    fn opt_int(&mut self) -> Result<Option<i64>, PathParseError> {
        self.ws();
        if matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            self.int().map(Some)
        } else {
            Ok(None)
        }
    }
    fn bracket(&mut self) -> Result<Seg, PathParseError> {
        self.i += 1; // [
        self.ws();
        let seg = match self.peek() {
            Some(b'*') => {
                self.i += 1;
                Seg::Wildcard
            }
            Some(b'\'' | b'"') => {
                let mut names = vec![self.quoted()?];
                self.ws();
                while self.eat(b',') {
                    self.ws();
                    names.push(self.quoted()?);
                    self.ws();
                }
                if names.len() == 1 {
                    Seg::Child(names.pop().unwrap_or_default())
                } else {
                    Seg::Names(names)
                }
            }
            Some(b'?') => {
                self.i += 1;
                self.ws();
                if !self.eat(b'(') {
                    return Err(self.err("expected '(' after '?'"));
                }
                let f = self.filter_or(0)?;
                self.ws();
                if !self.eat(b')') {
                    return Err(self.err("expected ')'"));
                }
                Seg::Filter(Box::new(f))
            }
            Some(b':') => {
                self.i += 1;
                let b = self.opt_int()?;
                self.ws();
                let c = if self.eat(b':') {
                    self.opt_int()?
                } else {
                    None
                };
                Seg::Slice(None, b, c)
            }
            Some(b'-' | b'0'..=b'9') => {
                let a = self.int()?;
                self.ws();
                if self.eat(b':') {
                    let b = self.opt_int()?;
                    self.ws();
                    let c = if self.eat(b':') {
                        self.opt_int()?
                    } else {
                        None
                    };
                    Seg::Slice(Some(a), b, c)
                } else if self.peek() == Some(b',') {
                    let mut v = vec![a];
                    while self.eat(b',') {
                        v.push(self.int()?);
                        self.ws();
                    }
                    Seg::Indices(v)
                } else {
                    Seg::Index(a)
                }
            }
            _ => return Err(self.err("invalid bracket expression")),
        };
        self.ws();
        if !self.eat(b']') {
            return Err(self.err("expected ']'"));
        }
        Ok(seg)
    }
    fn filter_or(&mut self, depth: usize) -> Result<Filter, PathParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err("filter nested too deeply"));
        }
        let mut l = self.filter_and(depth)?;
        loop {
            self.ws();
            if self.s[self.i..].starts_with(b"||") {
                self.i += 2;
                let r = self.filter_and(depth)?;
                l = Filter::Or(Box::new(l), Box::new(r));
            } else {
                return Ok(l);
            }
        }
    }
    fn filter_and(&mut self, depth: usize) -> Result<Filter, PathParseError> {
        let mut l = self.filter_atom(depth)?;
        loop {
            self.ws();
            if self.s[self.i..].starts_with(b"&&") {
                self.i += 2;
                let r = self.filter_atom(depth)?;
                l = Filter::And(Box::new(l), Box::new(r));
            } else {
                return Ok(l);
            }
        }
    }
    fn filter_atom(&mut self, depth: usize) -> Result<Filter, PathParseError> {
        self.ws();
        if self.peek() == Some(b'!') && self.s.get(self.i + 1) != Some(&b'=') {
            self.i += 1;
            let f = self.filter_atom(depth + 1)?;
            return Ok(Filter::Not(Box::new(f)));
        }
        if self.eat(b'(') {
            let f = self.filter_or(depth + 1)?;
            self.ws();
            if !self.eat(b')') {
                return Err(self.err("expected ')'"));
            }
            return Ok(f);
        }
        let l = self.operand()?;
        self.ws();
        let rest = &self.s[self.i..];
        let (op, n) = if rest.starts_with(b"==") {
            (CmpOp::Eq, 2)
        } else if rest.starts_with(b"!=") {
            (CmpOp::Ne, 2)
        } else if rest.starts_with(b"<=") {
            (CmpOp::Le, 2)
        } else if rest.starts_with(b">=") {
            (CmpOp::Ge, 2)
        } else if rest.starts_with(b"=~") {
            (CmpOp::Match, 2)
        } else if rest.starts_with(b"<") {
            (CmpOp::Lt, 1)
        } else if rest.starts_with(b">") {
            (CmpOp::Gt, 1)
        } else if rest.starts_with(b"nin ") {
            (CmpOp::Nin, 3)
        } else if rest.starts_with(b"in ") {
            (CmpOp::In, 2)
        } else {
            return Ok(Filter::Exists(l));
        };
        self.i += n;
        self.ws();
        let r = if op == CmpOp::Match {
            self.regex()?
        } else {
            self.operand()?
        };
        Ok(Filter::Cmp(l, op, r))
    }
    fn regex(&mut self) -> Result<Operand, PathParseError> {
        if !self.eat(b'/') {
            return Err(self.err("expected regex"));
        }
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == b'\\' {
                self.i += 2;
                continue;
            }
            if c == b'/' {
                break;
            }
            self.i += 1;
        }
        if self.i >= self.s.len() {
            return Err(self.err("unterminated regex"));
        }
        let body = &self.src[start..self.i];
        self.i += 1;
        let ci = self.eat(b'i');
        let pat = if ci {
            format!("(?i)^(?:{body})$")
        } else {
            format!("^(?:{body})$")
        };
        regex::Regex::new(&pat)
            .map(|r| Operand::Regex(RegexLit(r)))
            .map_err(|_| self.err("invalid regex"))
    }
    fn operand(&mut self) -> Result<Operand, PathParseError> {
        self.ws();
        match self.peek() {
            Some(b'@') => {
                self.i += 1;
                Ok(Operand::Current(self.segments(true)?))
            }
            Some(b'$') => {
                self.i += 1;
                Ok(Operand::Root(self.segments(true)?))
            }
            Some(b'\'' | b'"') => Ok(Operand::Lit(Value::String(self.quoted()?))),
            Some(b'[') => {
                // array literal: parse as JSON up to matching ]
                let start = self.i;
                let mut depth = 0i32;
                while let Some(c) = self.peek() {
                    self.i += 1;
                    if c == b'[' {
                        depth += 1
                    } else if c == b']' {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                }
                let txt = self.src[start..self.i].replace('\'', "\"");
                serde_json::from_str(&txt)
                    .map(Operand::Lit)
                    .map_err(|_| self.err("invalid array literal"))
            }
            _ => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.' | b'_') {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                let tok = &self.src[start..self.i];
                match tok {
                    "true" => Ok(Operand::Lit(Value::Bool(true))),
                    "false" => Ok(Operand::Lit(Value::Bool(false))),
                    "null" => Ok(Operand::Lit(Value::Null)),
                    _ => serde_json::from_str::<serde_json::Number>(tok)
                        .map(|n| Operand::Lit(Value::Number(n)))
                        .map_err(|_| self.err("invalid filter operand")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(p: &str, v: &Value) -> Option<Value> {
        JsonPath::parse(p).unwrap().eval(v).map(|c| c.into_owned())
    }

    #[test]
    fn basics() {
        let v = json!({"a": {"b": [1, 2, 3], "c d": true}, "x": [{"y": 1}, {"y": 5}, {"z": 0}]});
        assert_eq!(ev("$", &v), Some(v.clone()));
        assert_eq!(ev("$.a.b[0]", &v), Some(json!(1)));
        assert_eq!(ev("$.a.b[-1]", &v), Some(json!(3)));
        assert_eq!(ev("$['a']['c d']", &v), Some(json!(true)));
        assert_eq!(ev("$.a.b[1:3]", &v), Some(json!([2, 3])));
        assert_eq!(ev("$.a.b[0,2]", &v), Some(json!([1, 3])));
        assert_eq!(ev("$.a.b[*]", &v), Some(json!([1, 2, 3])));
        assert_eq!(ev("$.x[*].y", &v), Some(json!([1, 5])));
        assert_eq!(ev("$..y", &v), Some(json!([1, 5])));
        assert_eq!(ev("$.x[?(@.y > 1)]", &v), Some(json!([{"y": 5}])));
        assert_eq!(ev("$.x[?(@.z)]", &v), Some(json!([{"z": 0}])));
        assert_eq!(ev("$.x[?(@.y == 1 || @.z == 0)].y", &v), Some(json!([1])));
        assert_eq!(ev("$.a.b.length()", &v), Some(json!(3)));
        assert_eq!(ev("$.nope", &v), None);
        assert_eq!(ev("$.nope[*]", &v), Some(json!([])));
        assert!(JsonPath::parse("$.x[?(@.y =~ /a.*/)]").is_ok());
    }

    #[test]
    fn roots() {
        assert_eq!(
            JsonPath::parse("$$.Execution.Id").unwrap().root(),
            &Root::Context
        );
        assert_eq!(
            JsonPath::parse("$var.x").unwrap().root(),
            &Root::Variable("var".into())
        );
        assert!(JsonPath::parse("a.b").is_err());
        assert!(JsonPath::parse("$.").is_err());
        assert!(JsonPath::parse("$[").is_err());
        assert!(JsonPath::parse("$.a[?(@.b").is_err());
        assert!(JsonPath::parse_reference("$.a[*]").is_err());
        assert!(JsonPath::parse_reference("$.a[0].b").is_ok());
    }

    #[test]
    fn set_creates_objects() {
        let mut v = json!({"a": 1});
        JsonPath::parse("$.b.c")
            .unwrap()
            .set(&mut v, json!(2))
            .unwrap();
        assert_eq!(v, json!({"a": 1, "b": {"c": 2}}));
        JsonPath::parse("$").unwrap().set(&mut v, json!(3)).unwrap();
        assert_eq!(v, json!(3));
        let mut v = json!({"a": [1, 2]});
        JsonPath::parse("$.a[1]")
            .unwrap()
            .set(&mut v, json!(9))
            .unwrap();
        assert_eq!(v, json!({"a": [1, 9]}));
        let mut v = json!("str");
        assert!(
            JsonPath::parse("$.a")
                .unwrap()
                .set(&mut v, json!(9))
                .is_err()
        );
    }

    #[test]
    fn canonical() {
        assert_eq!(
            JsonPath::parse("$.NoSuchOutputPath").unwrap().canonical(),
            "$['NoSuchOutputPath']"
        );
    }
}

#[cfg(test)]
mod more_tests {
    use super::*;
    use serde_json::json;

    fn ev(p: &str, v: &Value) -> Option<Value> {
        JsonPath::parse(p).unwrap().eval(v).map(|c| c.into_owned())
    }

    #[test]
    fn slices_unions_filters() {
        let v = json!({"a": [0, 1, 2, 3, 4, 5], "o": {"x": 1, "y": 2}, "limit": 2,
            "books": [{"p": 8, "t": "a"}, {"p": 12, "t": "b"}, {"p": 30, "t": "c", "tags": ["x"]}]});
        assert_eq!(ev("$.a[-2:]", &v), Some(json!([4, 5])));
        assert_eq!(ev("$.a[:2]", &v), Some(json!([0, 1])));
        assert_eq!(ev("$.a[::2]", &v), Some(json!([0, 2, 4])));
        assert_eq!(ev("$.a[10:]", &v), Some(json!([])));
        assert_eq!(ev("$.o['x','y']", &v), Some(json!([1, 2])));
        assert_eq!(ev("$.o.*", &v), Some(json!([1, 2])));
        assert_eq!(
            ev("$.books[?(@.p < 10 || @.t == 'c')].t", &v),
            Some(json!(["a", "c"]))
        );
        assert_eq!(
            ev("$.books[?(@.p > $.limit && !(@.t == 'a'))].t", &v),
            Some(json!(["b", "c"]))
        );
        assert_eq!(ev("$.books[?(@.t =~ /[ab]/)].p", &v), Some(json!([8, 12])));
        assert_eq!(
            ev("$.books[?(@.t in ['a', 'c'])].p", &v),
            Some(json!([8, 30]))
        );
        assert_eq!(ev("$.books[?(@.tags)].t", &v), Some(json!(["c"])));
        assert_eq!(ev("$..t", &v), Some(json!(["a", "b", "c"])));
        assert_eq!(ev("$.books.length()", &v), Some(json!(3)));
        assert_eq!(ev("$.a[99]", &v), None);
        assert_eq!(ev("$.o.x.y", &v), None);
    }

    #[test]
    fn take_moves_out() {
        let p = JsonPath::parse("$.a.b").unwrap();
        let mut v = json!({"a": {"b": [1, 2]}});
        assert_eq!(p.take(&mut v), Some(json!([1, 2])));
        assert_eq!(v, json!({"a": {"b": null}}));
        assert_eq!(p.take(&mut json!({})), None);
    }

    #[test]
    fn quoted_names() {
        let v = json!({"a b": 1, "it's": 2, "q\"x": 3});
        assert_eq!(ev("$['a b']", &v), Some(json!(1)));
        assert_eq!(ev("$['it\\'s']", &v), Some(json!(2)));
        assert_eq!(ev("$[\"q\\\"x\"]", &v), Some(json!(3)));
    }
}
