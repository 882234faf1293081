//! TagResource, UntagResource and ListTagsForResource on state machines,
//! and the `tags` member CreateStateMachine takes (at most 50 per resource).

use serde_json::{Value, json};

use super::{ApiError, ApiResult, Params, check_arn};
use crate::AppState;

pub(super) fn read_tags(p: Params<'_>) -> Result<Vec<(String, String)>, ApiError> {
    let Some(list) = p.0.get("tags").filter(|v| !v.is_null()) else { return Ok(Vec::new()) };
    let bad = || ApiError::new("SerializationException", "member 'tags' must be a list of {\"key\", \"value\"} objects");
    let mut tags = Vec::new();
    for tag in list.as_array().ok_or_else(bad)? {
        let key = tag.get("key").and_then(Value::as_str).ok_or_else(bad)?;
        let value = tag.get("value").and_then(Value::as_str).unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(ApiError::validation(format!(
                "1 validation error detected: tag '{key}' must have a key of 1 to 128 and a value of at most 256 characters"
            )));
        }
        tags.push((key.to_string(), value.to_string()));
    }
    if tags.len() > 50 {
        return Err(ApiError::new("TooManyTags", "Too many tags: a resource has at most 50 tags"));
    }
    Ok(tags)
}

/// The tagged resource (a state machine) must exist.
async fn tagged_resource<'a>(state: &AppState, p: &Params<'a>) -> Result<&'a str, ApiError> {
    let arn = match p.0.get("resourceArn") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(ApiError::new("SerializationException", "member 'resourceArn' must be a string")),
        None => p.str("resourceArn").map(|_| "")?,
    };
    check_arn(arn, "stateMachine")?;
    if state.store.get_state_machine(arn).await.map_err(ApiError::store_unreadable)?.is_none() {
        return Err(ApiError::new("ResourceNotFound", format!("Resource not found: '{arn}'")));
    }
    Ok(arn)
}

pub(super) async fn tag_resource(state: &AppState, p: Params<'_>) -> ApiResult {
    let arn = tagged_resource(state, &p).await?;
    let tags = read_tags(p)?;
    let mut merged = state.store.tags(arn).await.map_err(ApiError::store_unreadable)?;
    merged.retain(|(k, _)| !tags.iter().any(|(n, _)| n == k));
    if merged.len() + tags.len() > 50 {
        return Err(ApiError::new("TooManyTags", format!("Too many tags: '{arn}' would have more than 50 tags")));
    }
    state.store.tag(arn, &tags).await.map_err(ApiError::store_failure)?;
    Ok(json!({}))
}

pub(super) async fn untag_resource(state: &AppState, p: Params<'_>) -> ApiResult {
    let arn = tagged_resource(state, &p).await?;
    let keys: Vec<String> = match p.0.get("tagKeys") {
        Some(Value::Array(a)) => a.iter().filter_map(|k| k.as_str().map(str::to_string)).collect(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err(ApiError::new("SerializationException", "member 'tagKeys' must be a list of strings")),
    };
    state.store.untag(arn, &keys).await.map_err(ApiError::store_failure)?;
    Ok(json!({}))
}

pub(super) async fn list_tags(state: &AppState, p: Params<'_>) -> ApiResult {
    let arn = tagged_resource(state, &p).await?;
    let tags = state.store.tags(arn).await.map_err(ApiError::store_unreadable)?;
    let tags: Vec<Value> = tags.into_iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
    Ok(json!({"tags": tags}))
}
