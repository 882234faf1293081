//! Reading a mock configuration: every field checked, every error naming
//! its JSON path.

use super::{MockConfig, MockConfigError, Responses, TestCase};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use stepbox_engine::MockedResponse;

/// A place in the file, as a JSON path (`$.StateMachines.M.TestCases`).
#[derive(Clone)]
struct At(String);

impl At {
    fn key(&self, k: &str) -> At {
        let plain = k.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        At(if plain { format!("{}.{k}", self.0) } else { format!("{}['{}']", self.0, k.replace('\'', "\\'")) })
    }

    fn invalid(&self, message: impl Into<String>) -> MockConfigError {
        MockConfigError::Invalid { path: self.0.clone(), message: message.into() }
    }

    /// `v` as an object whose members are among `allowed` (any when empty).
    fn object<'v>(&self, v: &'v Value, allowed: &[&str]) -> Result<&'v Map<String, Value>, MockConfigError> {
        let m = v.as_object().ok_or_else(|| self.invalid(format!("expected an object, found {}", kind(v))))?;
        if let Some(k) = m.keys().find(|k| !allowed.is_empty() && !allowed.contains(&k.as_str())) {
            return Err(self.key(k).invalid(format!("unknown field (expected {})", allowed.join(" or "))));
        }
        Ok(m)
    }

    fn required<'v>(&self, m: &'v Map<String, Value>, field: &str) -> Result<&'v Value, MockConfigError> {
        m.get(field).ok_or_else(|| self.invalid(format!("missing field '{field}'")))
    }

    fn string<'v>(&self, v: &'v Value) -> Result<&'v str, MockConfigError> {
        v.as_str().ok_or_else(|| self.invalid(format!("expected a string, found {}", kind(v))))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(super) fn config(v: &Value) -> Result<MockConfig, MockConfigError> {
    let root = At("$".into());
    let top = root.object(v, &["StateMachines", "MockedResponses"])?;
    let at = root.key("MockedResponses");
    let mut responses = BTreeMap::new();
    for (name, r) in at.object(root.required(top, "MockedResponses")?, &[])? {
        responses.insert(name.as_str(), response_set(&at.key(name), name, r)?);
    }
    let at = root.key("StateMachines");
    let mut machines = BTreeMap::new();
    for (name, m) in at.object(root.required(top, "StateMachines")?, &[])? {
        let m_at = at.key(name);
        let cases_at = m_at.key("TestCases");
        let cases = cases_at.object(m_at.required(m_at.object(m, &["TestCases"])?, "TestCases")?, &[])?;
        let mut parsed = BTreeMap::new();
        for (case, states) in cases {
            parsed.insert(case.clone(), Arc::new(test_case(&cases_at.key(case), case, states, &responses)?));
        }
        machines.insert(name.clone(), parsed);
    }
    Ok(MockConfig { machines })
}

fn test_case(at: &At, name: &str, v: &Value, responses: &BTreeMap<&str, Responses>) -> Result<TestCase, MockConfigError> {
    let mut states = BTreeMap::new();
    for (state, r) in at.object(v, &[])? {
        let s_at = at.key(state);
        let r = s_at.string(r)?;
        let found = responses
            .get(r)
            .ok_or_else(|| s_at.invalid(format!("no mocked response named '{r}' in $.MockedResponses")))?;
        states.insert(state.clone(), found.clone());
    }
    Ok(TestCase { name: name.into(), states })
}

/// A `MockedResponses` entry: attempt keys ("0", "1-2") covering 0, 1, …
/// without gaps or overlaps, each with one `Return` or `Throw`.
fn response_set(at: &At, name: &str, v: &Value) -> Result<Responses, MockConfigError> {
    let m = at.object(v, &[])?;
    if m.is_empty() {
        return Err(at.invalid("no responses: expected attempt keys such as \"0\" or \"1-2\""));
    }
    let mut ranges = Vec::new();
    for (key, r) in m {
        let r_at = at.key(key);
        let (from, to) = attempt_range(&r_at, key)?;
        ranges.push((from, to, response(&r_at, r)?));
    }
    ranges.sort_by_key(|(from, _, _)| *from);
    let mut next = 0u32;
    for (from, to, _) in &ranges {
        if *from != next {
            let key = if from == to { from.to_string() } else { format!("{from}-{to}") };
            return Err(at.key(&key).invalid(format!(
                "attempts must be numbered consecutively from 0: expected this response to start at attempt {next}"
            )));
        }
        next = to.saturating_add(1);
    }
    Ok(Responses { name: name.into(), ranges })
}

fn attempt_range(at: &At, key: &str) -> Result<(u32, u32), MockConfigError> {
    let bad = || at.invalid("an attempt key is a number (\"0\") or an inclusive range (\"1-2\")");
    let number = |s: &str| s.trim().parse::<u32>().map_err(|_| bad());
    match key.split_once('-') {
        None => number(key).map(|n| (n, n)),
        Some((a, b)) => {
            let (from, to) = (number(a)?, number(b)?);
            if to < from {
                return Err(at.invalid(format!("the range ends ({to}) before it starts ({from})")));
            }
            Ok((from, to))
        }
    }
}

fn response(at: &At, v: &Value) -> Result<MockedResponse, MockConfigError> {
    let m = at.object(v, &["Return", "Throw"])?;
    match (m.get("Return"), m.get("Throw")) {
        (Some(r), None) => Ok(MockedResponse::Return(r.clone())),
        (None, Some(t)) => {
            let t_at = at.key("Throw");
            let t = t_at.object(t, &["Error", "Cause"])?;
            let error = t_at.key("Error").string(t_at.required(t, "Error")?)?;
            let cause = t_at.key("Cause").string(t_at.required(t, "Cause")?)?;
            Ok(MockedResponse::Throw { error: error.into(), cause: cause.into() })
        }
        _ => Err(at.invalid("a response has exactly one of 'Return' or 'Throw'")),
    }
}
