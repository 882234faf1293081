//! Comparison (corpus README "Comparing results", steps 1, 3 wildcards, 4
//! and 5): an expected document against a normalised actual one, numbers by
//! value, with wildcards and ignored paths, reporting the first difference.

use regex::Regex;
use serde_json::Value;

use super::{short, truncate};
use crate::case::Comparison;

/// One step of a path into the compared document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
    /// An index we do not know (the history event a field would have been in).
    AnyIndex,
}

fn fmt_path(path: &[Seg]) -> String {
    let mut s = String::from("$");
    for seg in path {
        match seg {
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
            Seg::AnyIndex => s.push_str("[*]"),
        }
    }
    s
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    Name(String),
    Index(usize),
    Any,
}

/// A parsed `skip_snapshot_verify` JSONPath: `$..Key`, `$.a.b`, `$..events[4].x`, `$..a..b`, `[*]`, `.*`.
#[derive(Debug, Clone)]
pub struct IgnorePath {
    steps: Vec<(bool /* descendant */, Selector)>,
}

impl IgnorePath {
    pub fn parse(path: &str) -> Option<IgnorePath> {
        let rest = path.trim().strip_prefix('$')?;
        let bytes = rest.as_bytes();
        let mut steps = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let mut descendant = false;
            if rest[i..].starts_with("..") {
                descendant = true;
                i += 2;
            } else if bytes[i] == b'.' {
                i += 1;
            }
            if i >= bytes.len() {
                return None;
            }
            if bytes[i] == b'[' {
                let end = rest[i..].find(']')? + i;
                let inner = rest[i + 1..end].trim();
                let sel = if inner == "*" {
                    Selector::Any
                } else if let Ok(n) = inner.parse::<usize>() {
                    Selector::Index(n)
                } else {
                    Selector::Name(inner.trim_matches(|c| c == '\'' || c == '"').to_string())
                };
                steps.push((descendant, sel));
                i = end + 1;
            } else {
                let end = rest[i..].find(['.', '[']).map_or(rest.len(), |e| e + i);
                let name = &rest[i..end];
                if name.is_empty() {
                    return None;
                }
                steps.push((descendant, if name == "*" { Selector::Any } else { Selector::Name(name.to_string()) }));
                i = end;
            }
        }
        Some(IgnorePath { steps })
    }

    /// Whether this path selects exactly the node at `path`.
    pub fn matches(&self, path: &[Seg]) -> bool {
        fn sel_matches(sel: &Selector, seg: &Seg) -> bool {
            match (sel, seg) {
                (Selector::Any, _) => true,
                (Selector::Name(n), Seg::Key(k)) => n == k,
                (Selector::Index(i), Seg::Index(j)) => i == j,
                (Selector::Index(_), Seg::AnyIndex) => true,
                _ => false,
            }
        }
        fn go(steps: &[(bool, Selector)], path: &[Seg]) -> bool {
            let Some(((descendant, sel), rest)) = steps.split_first() else {
                return path.is_empty();
            };
            if *descendant {
                (0..path.len()).any(|k| sel_matches(sel, &path[k]) && go(rest, &path[k + 1..]))
            } else {
                !path.is_empty() && sel_matches(sel, &path[0]) && go(rest, &path[1..])
            }
        }
        go(&self.steps, path)
    }
}

/// Where a document root field sat in the recorded snapshot, besides
/// `describe_execution`'s top level: the execution's final history event.
fn root_aliases(root: &str) -> Vec<Vec<Seg>> {
    let key = |s: &str| Seg::Key(s.to_string());
    let event = |details: &str| vec![key("events"), Seg::AnyIndex, key(details), key(root)];
    match root {
        "output" => vec![vec![key("output")], event("executionSucceededEventDetails")],
        "error" | "cause" => vec![
            vec![key(root)],
            event("executionFailedEventDetails"),
            event("executionTimedOutEventDetails"),
            event("executionAbortedEventDetails"),
        ],
        other => vec![vec![key(other)]],
    }
}

/// Compares an expected document with a normalised actual one.
pub struct Matcher {
    ignore: Vec<IgnorePath>,
    /// `<name:N>` tokens (any name) and `comparison.wildcards` `<name:*>` patterns.
    token_res: Vec<Regex>,
    /// Literal `comparison.wildcards` strings.
    literal_wildcards: Vec<String>,
}

impl Matcher {
    pub fn new(comparison: &Comparison) -> Self {
        let ignore = comparison.ignore_paths.iter().filter_map(|p| IgnorePath::parse(p)).collect();
        let mut token_res = vec![Regex::new(r"<[A-Za-z0-9_.\-]+:\d+>").unwrap()];
        let mut literal_wildcards = Vec::new();
        let star = Regex::new(r"^<(.+):\*>$").unwrap();
        for w in &comparison.wildcards {
            if let Some(c) = star.captures(w) {
                token_res.push(Regex::new(&format!(r"<{}:\d+>", regex::escape(&c[1]))).unwrap());
            } else if !w.is_empty() {
                literal_wildcards.push(w.clone());
            }
        }
        Matcher { ignore, token_res, literal_wildcards }
    }

    /// Whether `path` (rooted at `output`, `error` or `cause`) is under an ignore path.
    pub fn is_ignored(&self, path: &[Seg]) -> bool {
        if self.ignore.is_empty() || path.is_empty() {
            return false;
        }
        let Seg::Key(root) = &path[0] else { return false };
        root_aliases(root).into_iter().any(|mut alias| {
            alias.extend_from_slice(&path[1..]);
            self.ignore.iter().any(|p| p.matches(&alias))
        })
    }

    /// Wildcard spans in an expected string: byte ranges.
    fn wildcard_spans(&self, s: &str) -> Vec<(usize, usize)> {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for re in &self.token_res {
            spans.extend(re.find_iter(s).map(|m| (m.start(), m.end())));
        }
        for w in &self.literal_wildcards {
            spans.extend(s.match_indices(w.as_str()).map(|(i, m)| (i, i + m.len())));
        }
        spans.sort();
        // Drop overlaps, keeping the earliest.
        let mut out: Vec<(usize, usize)> = Vec::new();
        for span in spans {
            if out.last().is_none_or(|last| span.0 >= last.1) {
                out.push(span);
            }
        }
        out
    }

    /// An expected string that is wholly a wildcard matches any value.
    fn is_whole_wildcard(&self, s: &str) -> bool {
        self.wildcard_spans(s).first().is_some_and(|&(a, b)| a == 0 && b == s.len())
    }

    /// Compare strings, wildcard spans in `expected` matching any text.
    pub fn string_matches(&self, expected: &str, actual: &str) -> bool {
        if expected == actual {
            return true;
        }
        let spans = self.wildcard_spans(expected);
        if spans.is_empty() {
            return false;
        }
        let mut pattern = String::from("(?s)^");
        let mut at = 0;
        for (a, b) in spans {
            pattern.push_str(&regex::escape(&expected[at..a]));
            pattern.push_str(".*?");
            at = b;
        }
        pattern.push_str(&regex::escape(&expected[at..]));
        pattern.push('$');
        Regex::new(&pattern).is_ok_and(|re| re.is_match(actual))
    }

    /// `None` when equal, else the first difference: `path: expected X, actual Y`.
    pub fn compare(&self, expected: &Value, actual: &Value) -> Option<String> {
        let mut path = Vec::new();
        self.cmp(expected, actual, &mut path)
    }

    fn cmp(&self, exp: &Value, act: &Value, path: &mut Vec<Seg>) -> Option<String> {
        if self.is_ignored(path) {
            return None;
        }
        if let Value::String(e) = exp
            && self.is_whole_wildcard(e)
        {
            return None;
        }
        let differ = || Some(format!("{}: expected {}, actual {}", fmt_path(path), short(exp), short(act)));
        match (exp, act) {
            (Value::Number(e), Value::Number(a)) => {
                if numbers_equal(e, a) {
                    None
                } else {
                    differ()
                }
            }
            (Value::String(e), Value::String(a)) => {
                if self.string_matches(e, a) {
                    None
                } else {
                    Some(format!("{}: {}", fmt_path(path), string_diff(e, a)))
                }
            }
            (Value::Array(e), Value::Array(a)) => {
                for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                    path.push(Seg::Index(i));
                    let d = self.cmp(ev, av, path);
                    path.pop();
                    if d.is_some() {
                        return d;
                    }
                }
                if e.len() != a.len() {
                    return Some(format!(
                        "{}: expected {} items, actual {} ({})",
                        fmt_path(path),
                        e.len(),
                        a.len(),
                        if e.len() > a.len() {
                            format!("missing {}", short(&e[a.len()]))
                        } else {
                            format!("extra {}", short(&a[e.len()]))
                        }
                    ));
                }
                None
            }
            (Value::Object(e), Value::Object(a)) => {
                for (k, ev) in e {
                    path.push(Seg::Key(k.clone()));
                    let d = match a.get(k) {
                        Some(av) => self.cmp(ev, av, path),
                        None if self.is_ignored(path) => None,
                        None => Some(format!("{}: missing key (expected {})", fmt_path(path), short(ev))),
                    };
                    path.pop();
                    if d.is_some() {
                        return d;
                    }
                }
                for (k, av) in a {
                    if e.contains_key(k) {
                        continue;
                    }
                    path.push(Seg::Key(k.clone()));
                    let ignored = self.is_ignored(path);
                    let d = format!("{}: unexpected key (actual {})", fmt_path(path), short(av));
                    path.pop();
                    if !ignored {
                        return Some(d);
                    }
                }
                None
            }
            _ if exp == act => None,
            _ => differ(),
        }
    }
}

/// Numbers compare by value: `1.0 == 1`.
fn numbers_equal(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Where two strings part, with some context.
fn string_diff(expected: &str, actual: &str) -> String {
    let common = expected.chars().zip(actual.chars()).take_while(|(a, b)| a == b).count();
    if common < 40 || expected.chars().count() < 100 {
        return format!(
            "expected {}, actual {}",
            short(&Value::String(expected.into())),
            short(&Value::String(actual.into()))
        );
    }
    let from = common - 20;
    let tail = |s: &str| truncate(&s.chars().skip(from).collect::<String>(), 60);
    format!("strings differ at char {common}: expected …{:?}, actual …{:?}", tail(expected), tail(actual))
}
