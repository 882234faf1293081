//! The instruction budget, a stepbox extension of the function API: a
//! function tagged `stepbox:fuel` = N (CreateFunction's `Tags`, or
//! TagResource later: see [`super::tags`]) runs each
//! invocation on at most N units of fuel (about one per wasm instruction),
//! and one that runs out fails `Sandbox.OutOfFuel`. Only such functions are
//! compiled for the sandbox's fuel-counting engine; the others run
//! uncounted, at full speed, unless the server gives every function a
//! budget (`serve --fuel N`, [`crate::ServerConfig::default_fuel`]). See
//! docs/tenants.md.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use stepbox_sandbox::Limits;

use super::LambdaError;

/// The tag whose value is a function's fuel budget per invocation.
pub const FUEL_TAG: &str = "stepbox:fuel";

/// A function's tags, as Lambda bounds them.
pub(super) type Tags = BTreeMap<String, String>;

/// CreateFunction's `Tags` (its members' types are checked already).
pub(super) fn tags_of(body: &Map<String, Value>) -> Result<Tags, LambdaError> {
    let Some(Value::Object(given)) = body.get("Tags") else { return Ok(Tags::new()) };
    let tags: Tags = given.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect();
    for (key, value) in &tags {
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(LambdaError::invalid(format!(
                "Tags: a key has 1 to 128 characters and a value at most 256 (key '{key}')"
            )));
        }
        if key.starts_with("aws:") {
            return Err(LambdaError::invalid(format!("Tags: the prefix 'aws:' is reserved (key '{key}')")));
        }
    }
    budget(&tags)?;
    Ok(tags)
}

/// The fuel budget `tags` give (None: uncounted).
pub(super) fn budget(tags: &Tags) -> Result<Option<u64>, LambdaError> {
    let Some(value) = tags.get(FUEL_TAG) else { return Ok(None) };
    match value.parse::<u64>() {
        Ok(n) if n > 0 && value.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
        _ => Err(LambdaError::invalid(format!(
            "Tag {FUEL_TAG} must be a whole number of fuel units from 1 to {}, got '{value}'",
            u64::MAX
        ))),
    }
}

/// `limits` with the budget `tags` give, else the server's `default`
/// (`serve --fuel N`).
pub(super) fn limits_with(limits: Limits, tags: &Tags, default: Option<u64>) -> Result<Limits, LambdaError> {
    Ok(Limits { fuel: budget(tags)?.or(default), ..limits })
}

/// The tags kept in a stored function's configuration (see
/// [`super::persist_configuration`]); unreadable ones are dropped.
pub(super) fn stored(configuration: &Value) -> Tags {
    let tags: Tags = configuration
        .get("Tags")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default();
    match budget(&tags) {
        Ok(_) => tags,
        Err(_) => tags.into_iter().filter(|(k, _)| k != FUEL_TAG).collect(),
    }
}
