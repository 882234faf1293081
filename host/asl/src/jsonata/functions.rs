//! The functions Step Functions adds to JSONata ($partition, $range, $hash,
//! $random with a seed, $uuid, $parse) and the one it removes ($eval).

use jsonata_core::evaluator::{Evaluator, EvaluatorError};
use jsonata_core::value::JValue;
use rand::{Rng, SeedableRng};

use super::convert;

/// Longest array $range and $partition build (AWS caps array results too).
const MAX_ITEMS: usize = 1_000_000;

/// Registers the AWS functions among `names` (the `$name`s an expression
/// mentions): registering all of them on every evaluation would cost more
/// than most expressions.
pub fn register(ev: &mut Evaluator, names: &[String]) {
    // Registration fails only on a name clash with a built-in; these names
    // are not built-ins, and the overrides below replace non-compiled ones.
    for name in names {
        let _ = match name.as_str() {
            "partition" => ev.register_fn("partition", partition),
            "range" => ev.register_fn("range", range),
            "hash" => ev.register_fn("hash", hash),
            "uuid" => ev.register_fn("uuid", |_: &[JValue]| Ok(JValue::from(crate::uuid_v4()))),
            "parse" => ev.register_fn("parse", parse),
            "random" => ev.register_fn_override("random", random),
            // AWS leaves $eval unbound: calling it is JSONata's T1006.
            "eval" => ev.register_fn_override("eval", |_: &[JValue]| {
                Err(EvaluatorError::EvaluationError("T1006: Attempted to invoke a non-function".into()))
            }),
            _ => Ok(()),
        };
    }
}

fn fail(function: &str, why: &str) -> EvaluatorError {
    EvaluatorError::EvaluationError(format!("{function}: {why}"))
}

fn integer(function: &str, v: Option<&JValue>, what: &str) -> Result<i64, EvaluatorError> {
    match v {
        Some(JValue::Number(n)) if n.fract() == 0.0 => Ok(*n as i64),
        _ => Err(fail(function, &format!("{what} must be an integer"))),
    }
}

fn partition(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let Some(items) = args.first().and_then(JValue::as_array) else {
        return Err(fail("$partition", "the first argument must be an array"));
    };
    let size = integer("$partition", args.get(1), "the chunk size")?;
    if size <= 0 {
        return Err(fail("$partition", "the chunk size must be greater than 0"));
    }
    let chunks = items.chunks(size as usize).map(|c| JValue::array(c.to_vec())).collect();
    Ok(JValue::array(chunks))
}

fn range(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let start = integer("$range", args.first(), "the start")?;
    let end = integer("$range", args.get(1), "the end")?;
    let step = integer("$range", args.get(2), "the step")?;
    if step == 0 {
        return Err(fail("$range", "the step must not be 0"));
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0 && x <= end) || (step < 0 && x >= end) {
        if out.len() == MAX_ITEMS {
            return Err(fail("$range", "the result would have more than 1000000 items"));
        }
        out.push(JValue::Number(x as f64));
        x += step;
    }
    // A JSONata sequence of one item is that item (AWS: $range(1, 1, 1) = 1).
    if out.len() == 1 {
        return Ok(out.pop().expect("one item"));
    }
    Ok(JValue::array(out))
}

fn hash(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let data = match args.first() {
        Some(JValue::String(s)) => s.to_string(),
        _ => return Err(fail("$hash", "the data must be a string")),
    };
    let algorithm = args.get(1).and_then(JValue::as_str).unwrap_or("SHA-256");
    crate::util::hash::hash(algorithm, data.as_bytes())
        .map(JValue::from)
        .ok_or_else(|| {
            fail(
                "$hash",
                &format!("the hashing algorithm '{algorithm}' is not supported; use one of MD5, SHA-1, SHA-256, SHA-384, SHA-512"),
            )
        })
}

/// `$random()` or `$random(seed)`: a number in [0, 1), repeatable per seed.
fn random(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let x: f64 = match args.first() {
        None | Some(JValue::Undefined) => rand::rng().random(),
        Some(JValue::Number(seed)) => rand::rngs::StdRng::seed_from_u64(*seed as i64 as u64).random(),
        Some(_) => return Err(fail("$random", "the seed must be a number")),
    };
    Ok(JValue::Number(x))
}

fn parse(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let Some(text) = args.first().and_then(JValue::as_str) else {
        return Err(fail("$parse", "the argument must be a string"));
    };
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| fail("$parse", &format!("the string is not valid JSON: {e}")))?;
    Ok(convert::to_jvalue(&v))
}
