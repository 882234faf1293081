//! One adapter per candidate crate: evaluate a case, report value, undefined
//! or the JSONata error code.

use std::collections::HashMap;

use serde_json::Value;

use crate::suite::Case;

#[derive(Clone, Copy, Debug)]
pub enum Candidate {
    JsonataCore,
    JsonataRs,
}

pub const ALL: &[Candidate] = &[Candidate::JsonataCore, Candidate::JsonataRs];

#[derive(Debug)]
pub enum Outcome {
    Value(Value),
    Undefined,
    /// The error's JSONata code, when it has one.
    Error(Option<String>),
}

impl Candidate {
    pub fn name(self) -> &'static str {
        match self {
            Candidate::JsonataCore => "jsonata-core 2.2.13",
            Candidate::JsonataRs => "jsonata-rs 0.3.4",
        }
    }

    pub fn run(self, case: &Case) -> Outcome {
        match self {
            Candidate::JsonataCore => run_jsonata_core(case),
            Candidate::JsonataRs => run_jsonata_rs(case),
        }
    }
}

fn run_jsonata_core(case: &Case) -> Outcome {
    use jsonata_core::evaluator::{Context, Evaluator, EvaluatorOptions};
    use jsonata_core::value::JValue;

    let ast = match jsonata_core::parser::parse(&case.expr) {
        Ok(ast) => ast,
        Err(e) => return Outcome::Error(coded(&e.to_string())),
    };
    let mut context = Context::new();
    for (name, value) in &case.bindings {
        context.bind(name.clone(), JValue::from(value.clone()));
    }
    let options = EvaluatorOptions {
        timeout_ms: case.timelimit_ms,
        max_stack_depth: case.depth,
        ..Default::default()
    };
    let data = case.data.clone().map(JValue::from).unwrap_or(JValue::Undefined);
    match Evaluator::with_options(context, options).evaluate(&ast, &data) {
        Ok(v) if v.is_undefined() => Outcome::Undefined,
        Ok(v) => match v.to_json_string().ok().and_then(|s| serde_json::from_str(&s).ok()) {
            Some(json) => Outcome::Value(json),
            // Functions and other non-JSON results.
            None => Outcome::Value(Value::String(format!("{v}"))),
        },
        Err(e) => Outcome::Error(coded(e.message())),
    }
}

fn run_jsonata_rs(case: &Case) -> Outcome {
    let arena = bumpalo::Bump::new();
    let expr = match jsonata_rs::JsonAta::new(&case.expr, &arena) {
        Ok(expr) => expr,
        Err(e) => return Outcome::Error(Some(e.code().to_string())),
    };
    let bindings: HashMap<&str, &Value> = case.bindings.iter().map(|(k, v)| (k.as_str(), v)).collect();
    if !bindings.is_empty() {
        // evaluate() binds them; run it once for the bindings' side effect
        // only when there are any, then evaluate with the limits below.
        let data = case.data.as_ref().map(|d| d.to_string());
        return match expr.evaluate(data.as_deref(), Some(&bindings)) {
            Ok(v) => rs_outcome(v),
            Err(e) => Outcome::Error(Some(e.code().to_string())),
        };
    }
    let data = case.data.as_ref().map(|d| d.to_string());
    match expr.evaluate_timeboxed(data.as_deref(), case.depth, case.timelimit_ms.map(|t| t as usize)) {
        Ok(v) => rs_outcome(v),
        Err(e) => Outcome::Error(Some(e.code().to_string())),
    }
}

fn rs_outcome<'a>(v: &'a jsonata_rs::Value<'a>) -> Outcome {
    if v.is_undefined() {
        return Outcome::Undefined;
    }
    let text = v.serialize(false);
    match serde_json::from_str(&text) {
        Ok(json) => Outcome::Value(json),
        Err(_) => Outcome::Value(Value::String(text)),
    }
}

/// The JSONata code in an error message: jsonata-core puts it after a
/// category ("Invalid syntax: T1006: ..."), so look past that.
fn coded(message: &str) -> Option<String> {
    message.split(": ").find(|part| {
        part.len() == 5 && part.as_bytes()[0].is_ascii_uppercase() && part[1..].bytes().all(|b| b.is_ascii_digit())
    })
    .map(str::to_string)
}
