//! Judging an engine's result against a case, following the corpus README
//! ("Comparing results"): rewrite the actual result the way LocalStack's
//! snapshot library rewrote the recorded one, then compare as JSON values with
//! wildcards and ignored paths.
//!
//! The actual result is put in a document `{"output": …, "error": …, "cause": …}`
//! (only the fields the case recorded), normalised as a whole, and compared
//! with the same document built from `expected`.

use std::fmt;

use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::case::{Case, Comparison};

/// What an engine produced for one execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActualResult {
    /// `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
    pub status: String,
    /// The execution output as JSON text (SUCCEEDED).
    #[serde(default)]
    pub output: Option<String>,
    /// The execution error name (otherwise).
    #[serde(default)]
    pub error: Option<String>,
    /// The execution cause text (otherwise).
    #[serde(default)]
    pub cause: Option<String>,
}

impl ActualResult {
    pub fn succeeded(output_json: impl Into<String>) -> Self {
        ActualResult { status: "SUCCEEDED".into(), output: Some(output_json.into()), error: None, cause: None }
    }

    pub fn failed(error: Option<String>, cause: Option<String>) -> Self {
        ActualResult { status: "FAILED".into(), output: None, error, cause }
    }

    pub fn with_status(status: &str, error: Option<String>, cause: Option<String>) -> Self {
        ActualResult { status: status.into(), output: None, error, cause }
    }

    /// The expected result of `case` serialised the way an engine reports it:
    /// the output as JSON text, the error as text, a cause object as JSON text.
    pub fn from_expected(case: &Case) -> Self {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let e = &case.expected;
        ActualResult {
            status: e.status.clone(),
            output: e.output.as_ref().map(Value::to_string),
            error: e.error.as_ref().map(text),
            cause: e.cause.as_ref().map(text),
        }
    }
}

/// Pass or fail, with a short reason (path, expected vs actual) on failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub pass: bool,
    pub reason: Option<String>,
}

impl Verdict {
    pub fn pass() -> Self {
        Verdict { pass: true, reason: None }
    }
    pub fn fail(reason: impl Into<String>) -> Self {
        Verdict { pass: false, reason: Some(reason.into()) }
    }
}

/// The engine's account and region, rewritten like the snapshot did
/// (`<account>` → `111111111111`, `<region>` → `<region>`).
#[derive(Debug, Clone)]
pub struct JudgeOptions {
    pub account: String,
    pub region: String,
    /// Not in the README: drop Lambda `stackTrace` entries (in cause objects and
    /// in `{…"stackTrace":[…]…}` cause texts) on both sides before comparing.
    /// The recorded ones are Python tracebacks a component cannot reproduce.
    /// Off by default (strict).
    pub ignore_stack_traces: bool,
}

impl Default for JudgeOptions {
    /// The account and region the corpus definitions use; strict comparison.
    fn default() -> Self {
        JudgeOptions { account: "111111111111".into(), region: "us-east-1".into(), ignore_stack_traces: false }
    }
}

/// Judge `actual` against `case.expected` with the default account/region.
pub fn judge(case: &Case, actual: &ActualResult) -> Verdict {
    judge_with(case, actual, &JudgeOptions::default())
}

/// Judge `actual` against `case.expected`.
pub fn judge_with(case: &Case, actual: &ActualResult, opts: &JudgeOptions) -> Verdict {
    let expected = &case.expected;
    if !actual.status.eq_ignore_ascii_case(&expected.status) {
        let mut reason = format!("status: expected {}, actual {}", expected.status, actual.status);
        if let Some(e) = &actual.error {
            reason.push_str(&format!(" (error {})", short(&Value::String(e.clone()))));
        }
        if let Some(c) = &actual.cause {
            reason.push_str(&format!(" (cause {})", short(&Value::String(c.clone()))));
        }
        return Verdict::fail(reason);
    }

    // Build both documents with the fields the case recorded.
    let mut exp_doc = Map::new();
    let mut act_doc = Map::new();
    if let Some(out) = &expected.output {
        exp_doc.insert("output".into(), out.clone());
        let Some(text) = &actual.output else {
            return Verdict::fail("$.output: expected an output, actual none");
        };
        match serde_json::from_str::<Value>(text) {
            Ok(v) => act_doc.insert("output".into(), v),
            Err(e) => return Verdict::fail(format!("$.output: not JSON ({e}): {}", truncate(text, 80))),
        };
    }
    if let Some(err) = &expected.error {
        exp_doc.insert("error".into(), err.clone());
        let Some(text) = &actual.error else {
            return Verdict::fail(format!("$.error: expected {}, actual none", short(err)));
        };
        act_doc.insert("error".into(), Value::String(text.clone()));
    }
    if let Some(cause) = &expected.cause {
        exp_doc.insert("cause".into(), cause.clone());
        let Some(text) = &actual.cause else {
            return Verdict::fail(format!("$.cause: expected {}, actual none", short(cause)));
        };
        act_doc.insert("cause".into(), parse_cause(text));
    }

    let normalizer = Normalizer::new(&case.comparison, opts);
    let mut act_doc = normalizer.normalize(Value::Object(act_doc));
    let mut exp_doc = Value::Object(exp_doc);
    if opts.ignore_stack_traces {
        strip_stack_traces(&mut exp_doc);
        strip_stack_traces(&mut act_doc);
    }
    let matcher = Matcher::new(&case.comparison);
    match matcher.compare(&exp_doc, &act_doc) {
        None => Verdict::pass(),
        Some(diff) => Verdict::fail(diff),
    }
}

fn stack_trace_re() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    // `"stackTrace": [ … ]` with its leading comma; the list holds strings
    // (which may contain brackets and escaped quotes).
    RE.get_or_init(|| Regex::new(r#",?\s*"stackTrace"\s*:\s*\[(?:[^\["\]]|"(?:[^"\\]|\\.)*")*\]"#).unwrap())
}

/// Remove `stackTrace` keys, and `"stackTrace":[…]` members inside JSON texts.
pub fn strip_stack_traces(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("stackTrace");
            map.values_mut().for_each(strip_stack_traces);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_stack_traces),
        Value::String(s) if s.contains("\"stackTrace\"") => {
            *s = stack_trace_re().replace_all(s, "").into_owned();
        }
        _ => {}
    }
}

/// A cause that is a JSON object text is compared as that object (the snapshot
/// library stored such causes parsed); anything else is compared as text.
pub fn parse_cause(text: &str) -> Value {
    if text.trim_start().starts_with('{')
        && let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(text)
    {
        return v;
    }
    Value::String(text.to_string())
}

// ---------------------------------------------------------------------------
// Normalisation (README steps 2 and 3)

/// A compiled `comparison.replacements` entry.
struct CompiledReplacement {
    regex: Regex,
    template: String,
}

/// Rewrites an actual value the way the snapshot library rewrote the recorded one.
pub struct Normalizer {
    replacements: Vec<CompiledReplacement>,
    account: String,
    region: String,
}

fn iso_timestamp() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})$").unwrap()
    })
}

fn uuid_re() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$").unwrap()
    })
}

fn request_id_re() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(Extended )?Request ID: [a-zA-Z0-9\-/=+]+").unwrap())
}

fn timestamp_key_re() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?i)timestamp").unwrap())
}

/// A placeholder the snapshot library or a replacement already put in place.
fn is_placeholder(s: &str) -> bool {
    s == "date" || s == "timestamp" || (s.starts_with('<') && s.ends_with('>'))
}

/// Compile a Python regex; falls back to a literal match when the regex crate
/// rejects it (Python accepts a few forms Rust does not).
fn compile_python_regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|_| Regex::new(&regex::escape(pattern)).expect("escaped regex"))
}

/// Expand a Python `re.sub` replacement template: `\1`, `\g<1>`, `\g<name>`,
/// `\\`, `\n`/`\t`/`\r`; other escapes (e.g. `\"`) are kept as written.
pub fn expand_python_template(template: &str, caps: &Captures<'_>) -> String {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('\\') => {
                chars.next();
                out.push('\\');
            }
            Some('n') => {
                chars.next();
                out.push('\n');
            }
            Some('t') => {
                chars.next();
                out.push('\t');
            }
            Some('r') => {
                chars.next();
                out.push('\r');
            }
            Some(d) if d.is_ascii_digit() => {
                let mut num = String::new();
                while let Some(d) = chars.peek().copied().filter(|d| d.is_ascii_digit() && num.len() < 2) {
                    num.push(d);
                    chars.next();
                }
                let idx: usize = num.parse().unwrap_or(0);
                out.push_str(caps.get(idx).map_or("", |m| m.as_str()));
            }
            Some('g') => {
                chars.next();
                if chars.peek() == Some(&'<') {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                    let group = match name.parse::<usize>() {
                        Ok(i) => caps.get(i),
                        Err(_) => caps.name(&name),
                    };
                    out.push_str(group.map_or("", |m| m.as_str()));
                } else {
                    out.push_str("\\g");
                }
            }
            _ => out.push('\\'),
        }
    }
    out
}

impl Normalizer {
    pub fn new(comparison: &Comparison, opts: &JudgeOptions) -> Self {
        let replacements = comparison
            .replacements
            .iter()
            .map(|r| CompiledReplacement { regex: compile_python_regex(&r.pattern), template: r.replacement.clone() })
            .collect();
        Normalizer { replacements, account: opts.account.clone(), region: opts.region.clone() }
    }

    /// Step 2: `comparison.replacements` in order, then account, region, partition.
    pub fn apply_replacements(&self, text: &str) -> String {
        let mut s = text.to_string();
        for r in &self.replacements {
            s = r.regex.replace_all(&s, |caps: &Captures<'_>| expand_python_template(&r.template, caps)).into_owned();
        }
        if !self.account.is_empty() && self.account != "111111111111" {
            s = s.replace(&self.account, "111111111111");
        }
        if !self.region.is_empty() {
            s = s.replace(&self.region, "<region>");
        }
        s.replace("arn:aws:", "arn:<partition>:")
    }

    /// Steps 2 and 3 on a whole value.
    pub fn normalize(&self, value: Value) -> Value {
        // Replacements run on the serialised value, as the snapshot library does
        // (some patterns match JSON-escaped text inside strings).
        let text = serde_json::to_string(&value).expect("serialise JSON");
        let replaced = self.apply_replacements(&text);
        let mut value = match serde_json::from_str(&replaced) {
            Ok(v) => v,
            // A replacement broke the JSON syntax: rewrite each string instead.
            Err(_) => map_strings(value, &|s| self.apply_replacements(s)),
        };

        // UUIDs under keys ending in "id", numbered by first appearance.
        let mut uuids = Vec::new();
        collect_id_uuids(&value, &mut uuids);

        rewrite_dates(&mut value, None);

        if !uuids.is_empty() {
            let mut text = serde_json::to_string(&value).expect("serialise JSON");
            for (i, u) in uuids.iter().enumerate() {
                text = text.replace(u.as_str(), &format!("<uuid:{}>", i + 1));
            }
            value = serde_json::from_str(&text).expect("uuid rewrite keeps JSON valid");
        }

        let mut json_inputs = 0;
        rewrite_cause_json_bodies(&mut value, false, &mut json_inputs);
        map_strings(value, &|s| rewrite_request_ids(s))
    }
}

/// Apply `f` to every string value and object key.
fn map_strings(value: Value, f: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(f(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| map_strings(v, f)).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (f(&k), map_strings(v, f))).collect()),
        other => other,
    }
}

fn rewrite_request_ids(s: &str) -> String {
    request_id_re()
        .replace_all(s, |caps: &Captures<'_>| {
            if caps.get(1).is_some() {
                "Extended Request ID: <extended_request_id>".to_string()
            } else {
                "Request ID: <request_id>".to_string()
            }
        })
        .into_owned()
}

/// Collect UUID strings found under keys ending in `id` (any case), also inside
/// strings holding JSON object text (the snapshot parsed those).
fn collect_id_uuids(value: &Value, out: &mut Vec<String>) {
    fn push(out: &mut Vec<String>, s: &str) {
        if uuid_re().is_match(s) && !out.iter().any(|u| u == s) {
            out.push(s.to_string());
        }
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k.to_ascii_lowercase().ends_with("id") {
                    match v {
                        Value::String(s) => push(out, s),
                        Value::Array(items) => items.iter().filter_map(Value::as_str).for_each(|s| push(out, s)),
                        _ => {}
                    }
                }
                collect_id_uuids(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_id_uuids(v, out)),
        Value::String(s) if s.trim_start().starts_with('{') => {
            if let Ok(inner @ Value::Object(_)) = serde_json::from_str::<Value>(s) {
                collect_id_uuids(&inner, out);
            }
        }
        _ => {}
    }
}

/// ISO-8601 timestamps with a zone become `"date"`; other values under keys
/// matching `/timestamp/i` become `"timestamp"`.
fn rewrite_dates(value: &mut Value, key: Option<&str>) {
    let timestamp_key = key.is_some_and(|k| timestamp_key_re().is_match(k));
    match value {
        Value::String(s) => {
            if iso_timestamp().is_match(s) {
                *value = Value::String("date".into());
            } else if timestamp_key && !is_placeholder(s) {
                *value = Value::String("timestamp".into());
            }
        }
        Value::Number(_) if timestamp_key => *value = Value::String("timestamp".into()),
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_dates(v, None)),
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                rewrite_dates(v, Some(k));
            }
        }
        _ => {}
    }
}

/// In cause texts (the top-level `cause`, values under `Cause`/`cause` keys),
/// a JSON body quoted as `'…'` becomes `'<json-input:N>'`.
fn rewrite_cause_json_bodies(value: &mut Value, in_cause: bool, n: &mut usize) {
    match value {
        Value::String(s) if in_cause => {
            let rewritten = replace_quoted_json(s, n);
            *s = rewritten;
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_cause_json_bodies(v, false, n)),
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                rewrite_cause_json_bodies(v, k.eq_ignore_ascii_case("cause"), n);
            }
        }
        _ => {}
    }
}

/// Replace `'{…}'` / `'[…]'` spans holding valid JSON with `'<json-input:N>'`.
pub fn replace_quoted_json(s: &str, n: &mut usize) -> String {
    let bytes = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut copied = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == b'\'' && (bytes[i + 1] == b'{' || bytes[i + 1] == b'[') {
            let close = if bytes[i + 1] == b'{' { b'}' } else { b']' };
            // Try each candidate end `}'` / `]'` from the nearest on.
            let mut j = i + 2;
            let mut found = None;
            while j < bytes.len() {
                if bytes[j] == b'\'' && bytes[j - 1] == close {
                    let body = &s[i + 1..j];
                    if serde_json::from_str::<Value>(body).is_ok() {
                        found = Some(j);
                        break;
                    }
                }
                j += 1;
            }
            if let Some(j) = found {
                *n += 1;
                out.push_str(&s[copied..i]);
                out.push_str(&format!("'<json-input:{n}>'"));
                copied = j + 1;
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&s[copied..]);
    out
}

// ---------------------------------------------------------------------------
// Comparison (README steps 1, 3 wildcards, 4 and 5)

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

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let t: String = s.chars().take(max).collect();
        format!("{t}…")
    }
}

/// A value in a reason, shortened.
fn short(v: &Value) -> String {
    truncate(&v.to_string(), 100)
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

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.pass, &self.reason) {
            (true, _) => write!(f, "pass"),
            (false, Some(r)) => write!(f, "fail: {r}"),
            (false, None) => write!(f, "fail"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A case with the given expected result and comparison settings.
    fn case(expected: Value, comparison: Value) -> Case {
        let mut c = json!({
            "name": "unit",
            "source": {},
            "definition": {"StartAt": "S", "States": {"S": {"Type": "Pass", "End": true}}},
            "input": {},
            "expected": expected,
            "features": ["State:Pass"],
            "needs": [],
            "state_machine": {"name": "sm", "type": "STANDARD"},
            "execution_name": "exec",
            "comparison": {"replacements": [], "wildcards": [], "ignore_paths": []},
        });
        for (k, v) in comparison.as_object().unwrap() {
            c["comparison"][k] = v.clone();
        }
        serde_json::from_value(c).unwrap()
    }

    fn ok(expected_output: Value, comparison: Value, actual_output: &str) -> Verdict {
        let c = case(json!({"status": "SUCCEEDED", "output": expected_output}), comparison);
        judge(&c, &ActualResult::succeeded(actual_output))
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(ok(json!({"a": 1.0, "b": [0]}), json!({}), r#"{"a": 1, "b": [0.0]}"#).pass);
        let v = ok(json!({"a": 1.0}), json!({}), r#"{"a": 1.5}"#);
        assert!(!v.pass);
        assert_eq!(v.reason.unwrap(), "$.output.a: expected 1.0, actual 1.5");
    }

    #[test]
    fn missing_extra_keys_and_lengths_fail() {
        let v = ok(json!({"a": 1, "b": 2}), json!({}), r#"{"a": 1}"#);
        assert_eq!(v.reason.unwrap(), "$.output.b: missing key (expected 2)");
        let v = ok(json!({"a": 1}), json!({}), r#"{"a": 1, "c": 3}"#);
        assert_eq!(v.reason.unwrap(), "$.output.c: unexpected key (actual 3)");
        let v = ok(json!([1, 2]), json!({}), "[1, 2, 3]");
        assert!(v.reason.unwrap().starts_with("$.output: expected 2 items, actual 3"));
        assert!(!ok(json!("1"), json!({}), "1").pass, "types differ");
        assert!(!ok(json!(null), json!({}), "false").pass);
        assert!(ok(json!(null), json!({}), "null").pass);
    }

    #[test]
    fn status_error_and_cause() {
        let c = case(json!({"status": "FAILED", "error": "MyError", "cause": "boom"}), json!({}));
        assert!(judge(&c, &ActualResult::failed(Some("MyError".into()), Some("boom".into()))).pass);
        let v = judge(&c, &ActualResult::failed(Some("Other".into()), Some("boom".into())));
        assert_eq!(v.reason.unwrap(), r#"$.error: expected "MyError", actual "Other""#);
        let v = judge(&c, &ActualResult::succeeded("{}"));
        assert!(v.reason.unwrap().starts_with("status: expected FAILED, actual SUCCEEDED"));
        assert!(!judge(&c, &ActualResult::failed(Some("MyError".into()), None)).pass, "cause missing");
        // A field the case did not record is not compared.
        let c = case(json!({"status": "FAILED", "error": "States.Timeout"}), json!({}));
        assert!(judge(&c, &ActualResult::failed(Some("States.Timeout".into()), Some("x".into()))).pass);
        let c = case(json!({"status": "TIMED_OUT"}), json!({}));
        assert!(judge(&c, &ActualResult::with_status("TIMED_OUT", None, None)).pass);
        assert!(!judge(&c, &ActualResult::with_status("ABORTED", None, None)).pass);
    }

    #[test]
    fn json_cause_compares_structurally() {
        let c = case(
            json!({"status": "FAILED", "error": "Exception",
                   "cause": {"errorMessage": "m", "errorType": "Exception", "n": 1.0}}),
            json!({}),
        );
        let cause = r#"{"errorType":"Exception","errorMessage":"m","n":1}"#;
        assert!(judge(&c, &ActualResult::failed(Some("Exception".into()), Some(cause.into()))).pass);
        let cause = r#"{"errorType":"Exception","errorMessage":"x","n":1}"#;
        let v = judge(&c, &ActualResult::failed(Some("Exception".into()), Some(cause.into())));
        assert_eq!(v.reason.unwrap(), r#"$.cause.errorMessage: expected "m", actual "x""#);
        // A string cause stays text.
        let c = case(json!({"status": "FAILED", "cause": "{not json"}), json!({}));
        assert!(judge(&c, &ActualResult::failed(None, Some("{not json".into()))).pass);
    }

    #[test]
    fn replacements_apply_in_order_then_account_region_partition() {
        let comparison = json!({"replacements": [
            {"pattern": "sm_u0000001", "replacement": "<ArnPart_0idx>"},
            {"pattern": "<ArnPart_0idx>x", "replacement": "second"},
            {"pattern": "fn_u(\\d+)", "replacement": "fn-\\1-\\g<1>"},
        ]});
        let arn = "arn:aws:states:eu-west-1:222222222222:stateMachine:sm_u0000001";
        let c = case(
            json!({"status": "SUCCEEDED", "output": {
                "arn": "arn:<partition>:states:<region>:111111111111:stateMachine:<ArnPart_0idx>",
                "chained": "second", "groups": "fn-0000002-0000002"}}),
            comparison,
        );
        let out = json!({"arn": arn, "chained": "sm_u0000001x", "groups": "fn_u0000002"}).to_string();
        let opts = JudgeOptions { account: "222222222222".into(), region: "eu-west-1".into(), ..JudgeOptions::default() };
        let v = judge_with(&c, &ActualResult::succeeded(out.clone()), &opts);
        assert!(v.pass, "{v}");
        // With the default account/region the ARN does not normalise.
        assert!(!judge(&c, &ActualResult::succeeded(out)).pass);
    }

    #[test]
    fn python_templates_keep_unknown_escapes() {
        // The corpus' requestId rewrite works on JSON-escaped text inside a string.
        let comparison = json!({"replacements": [{
            "pattern": "\\\\\"requestId\\\\\":\\\\\"([a-f0-9\\-]+)\\\\\"",
            "replacement": "\\\"requestId\\\":<request-id>\\\""}]});
        let c = case(json!({"status": "SUCCEEDED", "output": {"Cause": "{\"requestId\":<request-id>\",\"x\":1}"}}), comparison);
        let out = json!({"Cause": "{\"requestId\":\"0123abcd-0000-4000-8000-00000000beef\",\"x\":1}"}).to_string();
        let v = judge(&c, &ActualResult::succeeded(out));
        assert!(v.pass, "{v}");
    }

    #[test]
    fn iso_timestamps_become_date_and_timestamp_keys_timestamp() {
        let exp = json!({"StartTime": "date", "list": ["date", "2024-01-01"], "BatchTimestamp": "date",
                         "eventTimestamp": "timestamp", "timestamp_ms": "timestamp", "other": 5});
        let out = json!({"StartTime": "2024-05-01T10:00:00.123Z", "list": ["2024-05-01T10:00:00+02:00", "2024-01-01"],
                         "BatchTimestamp": "2024-05-01T10:00:00Z", "eventTimestamp": "1700000000",
                         "timestamp_ms": 1700000000123u64, "other": 5});
        let v = ok(exp.clone(), json!({}), &out.to_string());
        assert!(v.pass, "{v}");
        // A timestamp without a zone is not rewritten.
        let out2 = json!({"StartTime": "2024-05-01T10:00:00", "list": ["date", "2024-01-01"], "BatchTimestamp": "date",
                          "eventTimestamp": "x", "timestamp_ms": 1, "other": 5});
        assert!(!ok(exp, json!({}), &out2.to_string()).pass);
    }

    #[test]
    fn uuids_under_id_keys_become_numbered_wildcards_everywhere() {
        let u1 = "5a3f0b5e-1111-4a4a-9b9b-0123456789ab";
        let u2 = "6b3f0b5e-2222-4a4a-9b9b-0123456789ab";
        let c = Comparison::default();
        let n = Normalizer::new(&c, &JudgeOptions::default());
        let actual = json!({"output": {
            "uniqueId": u1,
            "x-amzn-RequestId": [u2],
            "mention": format!("see {u1} and {u2}"),
            "Cause": format!("{{\"requestId\":\"{u2}\"}}"),
            "plain": "7c3f0b5e-3333-4a4a-9b9b-0123456789ab",
        }});
        let got = n.normalize(actual);
        assert_eq!(got["output"]["uniqueId"], "<uuid:1>");
        assert_eq!(got["output"]["x-amzn-RequestId"][0], "<uuid:2>");
        assert_eq!(got["output"]["mention"], "see <uuid:1> and <uuid:2>");
        assert_eq!(got["output"]["Cause"], "{\"requestId\":\"<uuid:2>\"}");
        // Not under an *id key: left alone.
        assert_eq!(got["output"]["plain"], "7c3f0b5e-3333-4a4a-9b9b-0123456789ab");

        // And `<uuid:N>` tokens in expected strings are wildcards, whatever N.
        let v = ok(json!({"requestId": "<uuid:3>", "Cause": "id=<uuid:1>;"}), json!({}),
                   &json!({"requestId": u1, "Cause": "id=anything;"}).to_string());
        assert!(v.pass, "{v}");
        assert!(!ok(json!({"Cause": "id=<uuid:1>;"}), json!({}), &json!({"Cause": "di=x;"}).to_string()).pass);
    }

    #[test]
    fn quoted_json_in_causes_becomes_json_input() {
        let mut n = 0;
        assert_eq!(
            replace_quoted_json("in the input '{\"a\": {\"b\": \"it's\"}}' and '[1, 2]' but not '{x}'", &mut n),
            "in the input '<json-input:1>' and '<json-input:2>' but not '{x}'"
        );
        let cause_exp = "The JSONPath '$.x' could not be found in the input '<json-input:1>'";
        let c = case(json!({"status": "FAILED", "error": "States.Runtime", "cause": cause_exp}), json!({}));
        let cause = "The JSONPath '$.x' could not be found in the input '{\"y\":1}'";
        let norm = Normalizer::new(&c.comparison, &JudgeOptions::default())
            .normalize(json!({"cause": cause, "output": {"Cause": cause, "other": cause}}));
        assert_eq!(norm["cause"], cause_exp);
        assert_eq!(norm["output"]["Cause"].as_str().unwrap().matches("<json-input:").count(), 1);
        assert_eq!(norm["output"]["other"], cause, "only causes are rewritten");
        assert!(judge(&c, &ActualResult::failed(Some("States.Runtime".into()), Some(cause.into()))).pass);
    }

    #[test]
    fn request_ids_are_rewritten() {
        let exp = "Function not found (Service: AWSLambda; Status Code: 404; Request ID: <request_id>; Extended Request ID: <extended_request_id>)";
        let act = "Function not found (Service: AWSLambda; Status Code: 404; Request ID: 1f2e-33aa; Extended Request ID: AbC/9+=)";
        let c = case(json!({"status": "FAILED", "cause": exp}), json!({}));
        assert!(judge(&c, &ActualResult::failed(None, Some(act.into()))).pass);
        let act = "Function not found (Service: AWSLambda; Status Code: 500; Request ID: 1f2e-33aa; Extended Request ID: x)";
        assert!(!judge(&c, &ActualResult::failed(None, Some(act.into()))).pass);
    }

    #[test]
    fn comparison_wildcards_match_anything() {
        let cmp = json!({"wildcards": ["<LogResult:*>", "RandomNumberGenerated", "executionSucceededEventDetails.output"]});
        let v = ok(json!({"LogResult": "<LogResult:1>", "Hdr": ["<LogResult:2>"], "n": "RandomNumberGenerated",
                          "s": "value=RandomNumberGenerated!"}), cmp.clone(),
                   &json!({"LogResult": "base64==", "Hdr": ["zz"], "n": 42, "s": "value=17!"}).to_string());
        assert!(v.pass, "{v}");
        assert!(!ok(json!({"s": "value=RandomNumberGenerated!"}), cmp.clone(), r#"{"s": "value=17?"}"#).pass);
        // Whole-output wildcard.
        assert!(ok(json!("executionSucceededEventDetails.output"), cmp, r#"["anything"]"#).pass);
        // Without the wildcard list, the same text is literal.
        assert!(!ok(json!({"n": "RandomNumberGenerated"}), json!({}), r#"{"n": 42}"#).pass);
    }

    #[test]
    fn ignore_paths() {
        let cmp = json!({"ignore_paths": ["$..SdkHttpMetadata", "$..output.Cause", "$..events[4].executionFailedEventDetails.cause", "$.output.a.b[1]"]});
        let exp = json!({"SdkHttpMetadata": {"x": 1}, "nested": {"SdkHttpMetadata": 1, "keep": 1},
                         "Cause": "c", "a": {"b": [1, 2, 3]}});
        let act = json!({"SdkHttpMetadata": {"x": 2, "y": 3}, "nested": {"keep": 1},
                         "Cause": "other", "a": {"b": [1, 99, 3]}});
        let v = ok(exp.clone(), cmp.clone(), &act.to_string());
        assert!(v.pass, "{v}");
        let mut act2 = act.clone();
        act2["nested"]["keep"] = json!(2);
        assert!(!ok(exp.clone(), cmp.clone(), &act2.to_string()).pass);
        let mut act3 = act.clone();
        act3["a"]["b"][2] = json!(4);
        assert!(!ok(exp, cmp.clone(), &act3.to_string()).pass);
        // An execution-event path covers the execution's cause.
        let c = case(json!({"status": "FAILED", "error": "E", "cause": "recorded"}), cmp);
        assert!(judge(&c, &ActualResult::failed(Some("E".into()), Some("different".into()))).pass);

        let p = IgnorePath::parse("$..Key").unwrap();
        assert!(p.matches(&[Seg::Key("Key".into())]));
        assert!(p.matches(&[Seg::Key("a".into()), Seg::Index(2), Seg::Key("Key".into())]));
        assert!(!p.matches(&[Seg::Key("Key".into()), Seg::Key("x".into())]));
        let p = IgnorePath::parse("$.a.b").unwrap();
        assert!(p.matches(&[Seg::Key("a".into()), Seg::Key("b".into())]));
        assert!(!p.matches(&[Seg::Key("x".into()), Seg::Key("a".into()), Seg::Key("b".into())]));
        assert!(IgnorePath::parse("nope").is_none());
    }

    #[test]
    fn stack_traces_only_ignored_on_request() {
        let exp_cause = "{\"errorMessage\":\"m\",\"errorType\":\"E\",\"stackTrace\":[\"  File \\\"/var/task/handler.py\\\", line 2, in [x]\\n\"]}";
        let act_cause = "{\"errorMessage\":\"m\",\"errorType\":\"E\",\"stackTrace\":[]}";
        let c = case(
            json!({"status": "FAILED", "error": "E",
                   "cause": {"errorMessage": "m", "stackTrace": ["  File x"]}}),
            json!({}),
        );
        let c2 = case(json!({"status": "SUCCEEDED", "output": {"Cause": exp_cause}}), json!({}));
        let lenient = JudgeOptions { ignore_stack_traces: true, ..JudgeOptions::default() };
        let failed = ActualResult::failed(Some("E".into()), Some(r#"{"errorMessage": "m", "stackTrace": []}"#.into()));
        let caught = ActualResult::succeeded(json!({"Cause": act_cause}).to_string());
        assert!(!judge(&c, &failed).pass);
        assert!(!judge(&c2, &caught).pass);
        assert!(judge_with(&c, &failed, &lenient).pass);
        let v = judge_with(&c2, &caught, &lenient);
        assert!(v.pass, "{v}");
        // Other differences still count.
        let wrong = ActualResult::succeeded(json!({"Cause": act_cause.replace("\"m\"", "\"n\"")}).to_string());
        assert!(!judge_with(&c2, &wrong, &lenient).pass);
        let mut doc = json!({"a": "{\"x\":1,\"stackTrace\":[\"a]\\\"b\",\"c\"],\"y\":2}"});
        strip_stack_traces(&mut doc);
        assert_eq!(doc["a"], "{\"x\":1,\"y\":2}");
    }

    #[test]
    fn expected_results_roundtrip() {
        let c = case(json!({"status": "SUCCEEDED", "output": {"a": [1, "x", null]}}), json!({}));
        let a = ActualResult::from_expected(&c);
        assert_eq!(a.output.as_deref(), Some(r#"{"a":[1,"x",null]}"#));
        assert!(judge(&c, &a).pass);
    }
}
