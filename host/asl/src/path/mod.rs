//! JSONPath as Step Functions uses it (Jayway flavour): compiled once,
//! evaluated many times.

use serde_json::{Map, Value};
use std::fmt;

mod eval;
mod parser;
mod syntax;
#[cfg(test)]
mod tests;

use eval::{apply, index, select, unreachable_seg};
use parser::Parser;
use syntax::{Seg, canon_seg};

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
        .all(|s| matches!(s, Seg::Child(_) | Seg::Index(_) | Seg::Func(_)))
}

impl JsonPath {
    /// Parses a path starting with `$`, `$$` or `$var`. Blanks around the
    /// path are ignored, as Jayway (AWS's path library) trims them.
    pub fn parse(src: &str) -> Result<JsonPath, PathParseError> {
        let body = src.trim_matches([' ', '\t', '\n', '\r']);
        let mut p = Parser {
            s: body.as_bytes(),
            src: body,
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
        if !p.definite || p.segs.iter().any(|s| matches!(s, Seg::Func(_))) {
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
                    Seg::Func(f) => {
                        let _ = i;
                        return apply(f, cur, doc).map(Cow::Owned);
                    }
                    _ => unreachable_seg(),
                }
            }
            Some(Cow::Borrowed(cur))
        } else {
            let mut out: Vec<&Value> = Vec::new();
            select(&self.segs, doc, doc, &mut out);
            let owned = Value::Array(out.into_iter().cloned().collect());
            // A function ends the path: it applies to the whole selection.
            if let Some(Seg::Func(f)) = self.segs.last() {
                return apply(f, &owned, doc).map(Cow::Owned);
            }
            Some(Cow::Owned(owned))
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
        if matches!(self.segs.last(), Some(Seg::Func(_))) {
            // A function's arguments may read the whole document.
            return self.eval(doc).map(Cow::into_owned);
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
