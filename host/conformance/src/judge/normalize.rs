//! Normalisation (corpus README "Comparing results", steps 2 and 3): rewrite
//! an actual result the way LocalStack's snapshot library rewrote the
//! recorded one (replacements, account/region/partition, dates, timestamps,
//! UUIDs, quoted JSON inputs in causes, request ids).

use regex::{Captures, Regex};
use serde_json::Value;

use super::JudgeOptions;
use crate::case::Comparison;

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

    /// Adds the regex transformers of the case's `snapshot_transformers` whose
    /// kind the judge knows: `transform.dynamodb_api`, LocalStack's
    /// `TransformerUtility.dynamodb_api()`, turns test table names into
    /// `<test-table>`.
    pub fn with_transformers(mut self, transformers: &[serde_json::Value]) -> Self {
        for t in transformers {
            if t.get("kind").and_then(serde_json::Value::as_str) == Some("transform.dynamodb_api") {
                self.replacements.push(CompiledReplacement {
                    regex: compile_python_regex(r"([a-zA-Z0-9-_.]*)?test_table_([a-zA-Z0-9-_.]*)?"),
                    template: "<test-table>".into(),
                });
            }
        }
        self
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

        value = rewrite_map_run_ids(value);

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

/// The id of each map run ARN (`…:mapRun:MACHINE/LABEL:ID`), wherever it
/// appears (also in ResultWriter keys), becomes `<MapRunArnPart1_Nidx>`, as
/// the tests' map run transformer rewrote it (not kept in `replacements`).
fn rewrite_map_run_ids(value: Value) -> Value {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r#":mapRun:[^/"]+/[^:"]+:([0-9a-fA-F-]{36})"#).unwrap());
    let mut text = serde_json::to_string(&value).expect("serialise JSON");
    let ids: Vec<String> = re.captures_iter(&text).map(|c| c[1].to_string()).collect();
    if ids.is_empty() {
        return value;
    }
    let mut seen: Vec<&str> = Vec::new();
    for id in &ids {
        if !seen.contains(&id.as_str()) {
            text = text.replace(id.as_str(), &format!("<MapRunArnPart1_{}idx>", seen.len()));
            seen.push(id);
        }
    }
    serde_json::from_str(&text).expect("map run id rewrite keeps JSON valid")
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
