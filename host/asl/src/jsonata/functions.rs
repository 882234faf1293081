//! The functions Step Functions adds to JSONata ($partition, $range, $hash,
//! $random with a seed, $uuid, $parse), the one it removes ($eval) and one
//! jsonata-core answers otherwise than JSONata ($encodeUrl), with
//! AWS's answers to their edge arguments (recorded in floci-io/floci issue
//! 2662 and pull request 2676; tools/oracle/README.md, "Step Functions' own
//! functions"): a fractional number is truncated towards zero, an argument
//! of the wrong type is JSONata's T0410, a missing optional
//! argument or an empty range makes the result undefined, and a bad value
//! is D3137 in AWS's words.

use jsonata_core::evaluator::{Evaluator, EvaluatorError};
use jsonata_core::value::JValue;
use rand::Rng;

use super::convert;

/// Registers the AWS functions among `names` (the `$name`s an expression
/// mentions): registering all of them on every evaluation would cost more
/// than most expressions.
pub fn register(ev: &mut Evaluator, names: &[String], source: &str, rewrites: &super::Rewrites) {
    super::arguments::register(ev, &rewrites.readings);
    super::surplus::register(ev, &rewrites.surplus);
    // Registration fails only on a name clash with a built-in; these names
    // are not built-ins, and the overrides below replace non-compiled ones.
    for name in names {
        let _ = match name.as_str() {
            "partition" => ev.register_fn("partition", partition),
            "range" => ev.register_fn("range", range),
            "hash" => ev.register_fn("hash", hash),
            "uuid" => ev.register_fn("uuid", uuid),
            "parse" => ev.register_fn("parse", parse),
            "random" => ev.register_fn_override("random", random),
            // A host function is not handed the context a call without
            // arguments reads (`url.$encodeUrl()`): that call keeps
            // jsonata-core's own.
            "encodeUrl" if !calls_without_arguments(source, "$encodeUrl") => ev.register_fn_override("encodeUrl", encode_url),
            // Bounded before it builds anything (see `bounds`).
            "pad" if super::bounds::pads_with_width(&super::strip_strings(source)) => ev.register_fn_override("pad", super::bounds::pad),
            // AWS leaves $eval unbound: calling it is JSONata's T1006.
            "eval" => ev.register_fn_override("eval", |_: &[JValue]| {
                Err(EvaluatorError::EvaluationError("T1006: Attempted to invoke a non-function".into()))
            }),
            _ => Ok(()),
        };
    }
}

/// The argument at `index`, `None` when left out or undefined.
fn arg(args: &[JValue], index: usize) -> Option<&JValue> {
    args.get(index).filter(|v| !v.is_undefined())
}

/// JSONata's T0410 for argument `number` (from 1) of `function`.
pub(super) fn signature(function: &str, number: usize) -> EvaluatorError {
    EvaluatorError::EvaluationError(format!(
        "T0410: Argument {number} of function \"{function}\" does not match function signature"
    ))
}

/// AWS's D3137 with its text.
fn d3137(text: String) -> EvaluatorError {
    EvaluatorError::EvaluationError(format!("D3137: {text}"))
}

/// A number argument truncated towards zero (AWS: -1.7 is -1).
fn truncated(function: &str, v: Option<&JValue>, number: usize) -> Result<i64, EvaluatorError> {
    match v {
        Some(JValue::Number(n)) => Ok(n.trunc() as i64),
        _ => Err(signature(function, number)),
    }
}

/// `$partition(array, size)`: chunks of `size`; undefined for an empty or
/// missing array or a size that truncates to 0; one chunk without a size.
fn partition(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let items = match arg(args, 0) {
        None => return Ok(JValue::Undefined),
        Some(JValue::Array(a)) => a.to_vec(),
        Some(_) => {
            return Err(EvaluatorError::EvaluationError(
                "T0412: Argument 1 of function \"partition\" must be an array of undefined".into(),
            ));
        }
    };
    if items.is_empty() {
        return Ok(JValue::Undefined);
    }
    let Some(size) = arg(args, 1) else {
        return Ok(JValue::array(vec![JValue::array(items)]));
    };
    match truncated("partition", Some(size), 2)? {
        n if n < 0 => Err(d3137("Second argument must be zero or greater".into())),
        0 => Ok(JValue::Undefined),
        n => Ok(JValue::array(items.chunks(n.min(items.len() as i64) as usize).map(|c| JValue::array(c.to_vec())).collect())),
    }
}

/// `$range(start, end, step)`, the end included where the step lands on
/// it; undefined without a step, for a step of 0 or one that walks away
/// from the end; a range of one number is that number.
fn range(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let start = truncated("range", arg(args, 0), 1)?;
    let end = truncated("range", arg(args, 1), 2)?;
    let Some(step) = arg(args, 2) else { return Ok(JValue::Undefined) };
    let step = truncated("range", Some(step), 3)?;
    if step == 0 || (step > 0 && start > end) || (step < 0 && start < end) {
        return Ok(JValue::Undefined);
    }
    let count = (end as i128 - start as i128) / step as i128 + 1;
    if count == 1 {
        // A sequence of one number is that number (AWS: $range(1, 9, 9) is 1).
        return Ok(JValue::Number(start as f64));
    }
    if count > super::MAX_SEQUENCE_LENGTH as i128 {
        // AWS's memory bound, in its words (messages::reword).
        return Err(EvaluatorError::EvaluationError("D2015: the range is too large".into()));
    }
    let numbers = (0..count).map(|i| JValue::Number((start as i128 + i * step as i128) as f64)).collect();
    Ok(JValue::array(numbers))
}

const ALGORITHMS: [&str; 5] = ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"];

/// `$hash(text, algorithm)`: the hex digest; undefined without an algorithm.
fn hash(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let Some(JValue::String(text)) = arg(args, 0) else { return Err(signature("hash", 1)) };
    let algorithm = match arg(args, 1) {
        None => return Ok(JValue::Undefined),
        Some(JValue::String(a)) => a,
        Some(_) => return Err(signature("hash", 2)),
    };
    match ALGORITHMS.contains(&&**algorithm).then(|| crate::util::hash::hash(algorithm, text.as_bytes())).flatten() {
        Some(digest) => Ok(JValue::from(digest)),
        None => Err(d3137(format!("Hash algorithm '{algorithm}' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5"))),
    }
}

/// `$random()` or `$random(seed)`: a number in [0, 1); under a seed, what
/// Java's `new java.util.Random(seed).nextDouble()` gives (AWS: 42 gives
/// 0.7275636800328681).
fn random(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    Ok(JValue::Number(match arg(args, 0) {
        None => rand::rng().random(),
        seed => java_next_double(truncated("random", seed, 1)?),
    }))
}

/// `java.util.Random`'s first `nextDouble()` for `seed`: its 48-bit linear
/// congruential generator, 26 then 27 bits.
fn java_next_double(seed: i64) -> f64 {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;
    let mut state = (seed as u64 ^ MULTIPLIER) & MASK;
    let mut next = |bits: u32| {
        state = (state.wrapping_mul(MULTIPLIER).wrapping_add(0xB)) & MASK;
        state >> (48 - bits)
    };
    let high = next(26);
    let low = next(27);
    ((high << 27) + low) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// `$uuid()`: a random version-4 UUID.
fn uuid(_: &[JValue]) -> Result<JValue, EvaluatorError> {
    Ok(JValue::from(crate::uuid_v4()))
}

/// `$parse(text)`: the JSON `text` holds; undefined for undefined.
fn parse(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let text = match arg(args, 0) {
        None => return Ok(JValue::Undefined),
        Some(JValue::String(s)) => s,
        Some(_) => return Err(signature("parse", 1)),
    };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| d3137("Invalid JSON".into()))?;
    Ok(convert::to_jvalue(&v))
}

/// Whether `source` calls `function` with no arguments (`$f()`, `$f( )`).
fn calls_without_arguments(source: &str, function: &str) -> bool {
    let text = super::strip_strings(source);
    text.match_indices(function).any(|(at, _)| {
        let rest = text[at + function.len()..].trim_start();
        rest.strip_prefix('(').is_some_and(|r| r.trim_start().starts_with(')'))
    })
}

/// `$encodeUrl(url)`: JavaScript's `encodeURI`, as jsonata-js 2.0.6 (the
/// JSONata AWS documents) answers: every byte of the UTF-8 text but letters,
/// digits and `;,/?:@&=+$-_.!~*'()#` as `%XX`, a blank too (jsonata-core
/// leaves blanks and most symbols as they are).
fn encode_url(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let text = match arg(args, 0) {
        None => return Ok(JValue::Undefined),
        Some(JValue::String(s)) => s,
        Some(_) => return Err(signature("encodeUrl", 1)),
    };
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b";,/?:@&=+$-_.!~*'()#".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(JValue::from(out))
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeded_random_is_java_util_random() {
        // new java.util.Random(seed).nextDouble() on a JVM, for 42, 0 and -1.
        assert_eq!(super::java_next_double(42), 0.7275636800328681);
        assert_eq!(super::java_next_double(0), 0.730967787376657);
        assert_eq!(super::java_next_double(-1), 0.26894263088050496);
    }
}
