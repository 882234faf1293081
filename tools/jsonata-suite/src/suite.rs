//! Loading the suite's case files and comparing results as the reference
//! harness does (deep equality, numbers by value).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use regex::Regex;
use serde_json::{Map, Value};

#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub expr: String,
    /// None: the input is `undefined`.
    pub data: Option<Value>,
    pub bindings: Map<String, Value>,
    pub timelimit_ms: Option<u64>,
    pub depth: Option<usize>,
    pub expected: Expected,
}

#[derive(Clone, Debug)]
pub enum Expected {
    Value(Value),
    Unordered(Vec<Value>),
    Matches(Regex),
    Undefined,
    Error(String),
    /// The case file is not valid JSON for Rust (lone surrogates).
    Unrepresentable,
}

/// `tests/testsuite` inside the jsonata-rs source that cargo downloaded.
pub fn locate_in_cargo_registry() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    for index in std::fs::read_dir(home.join("registry/src"))? {
        let dir = index?.path().join("jsonata-rs-0.3.4/tests/testsuite");
        if dir.is_dir() {
            return Ok(dir);
        }
    }
    bail!("no jsonata-rs-0.3.4 source under {}/registry/src: run `cargo fetch` here first", home.display())
}

/// Every case of `groups/` and `skip/` (a file in both counts once).
pub fn load(suite: &Path) -> anyhow::Result<Vec<Case>> {
    let mut files = BTreeMap::new();
    for part in ["skip", "groups"] {
        let Ok(groups) = std::fs::read_dir(suite.join(part)) else { continue };
        for group in groups {
            let group = group?.path();
            if !group.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&group)? {
                let file = file?.path();
                if file.extension().is_some_and(|e| e == "json") {
                    let name = format!(
                        "{}/{}",
                        group.file_name().unwrap().to_string_lossy(),
                        file.file_stem().unwrap().to_string_lossy()
                    );
                    files.insert(name, file);
                }
            }
        }
    }
    let mut cases = Vec::new();
    for (name, file) in files {
        let text = std::fs::read_to_string(&file)?;
        // A few cases hold lone UTF-16 surrogates ("\\uD800"), which no Rust
        // string can: they count as failures for every candidate.
        let Ok(parsed) = serde_json::from_str::<Value>(&text) else {
            cases.push(Case {
                name,
                expr: String::new(),
                data: None,
                bindings: Map::new(),
                timelimit_ms: None,
                depth: None,
                expected: Expected::Unrepresentable,
            });
            continue;
        };
        let entries = match parsed {
            Value::Array(items) => items,
            one => vec![one],
        };
        let several = entries.len() > 1;
        for (i, entry) in entries.into_iter().enumerate() {
            let name = if several { format!("{name}[{i}]") } else { name.clone() };
            cases.push(parse_case(suite, &file, name, entry)?);
        }
    }
    Ok(cases)
}

fn parse_case(suite: &Path, file: &Path, name: String, case: Value) -> anyhow::Result<Case> {
    let expr = match (&case["expr"], &case["expr-file"]) {
        (Value::String(expr), _) => expr.clone(),
        (_, Value::String(path)) => std::fs::read_to_string(file.parent().unwrap().join(path))?,
        _ => bail!("{name}: no expression"),
    };
    let data = match (case.get("data"), case.get("dataset")) {
        (Some(data), _) => Some(data.clone()),
        (None, Some(Value::String(set))) => {
            let path = suite.join("datasets").join(format!("{set}.json"));
            Some(serde_json::from_str(&std::fs::read_to_string(&path).with_context(|| path.display().to_string())?)?)
        }
        _ => None,
    };
    let code = case["code"].as_str().or(case["error"]["code"].as_str());
    let expected = if let Some(code) = code {
        Expected::Error(code.to_string())
    } else if case["undefinedResult"] == true {
        Expected::Undefined
    } else if let Some(re) = case["result_re"].as_str() {
        Expected::Matches(Regex::new(re)?)
    } else if case["unordered"] == true {
        Expected::Unordered(case["result"].as_array().cloned().unwrap_or_default())
    } else if let Some(result) = case.get("result") {
        Expected::Value(result.clone())
    } else {
        Expected::Undefined
    };
    Ok(Case {
        name,
        expr,
        data,
        bindings: case["bindings"].as_object().cloned().unwrap_or_default(),
        timelimit_ms: case["timelimit"].as_u64(),
        depth: case["depth"].as_u64().map(|d| d as usize),
        expected,
    })
}

/// Deep equality with numbers compared by value (1 == 1.0).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

pub fn unordered_eq(want: &[Value], got: &Value) -> bool {
    let Value::Array(got) = got else { return false };
    got.len() == want.len() && want.iter().all(|w| got.iter().any(|g| json_eq(w, g)))
}
