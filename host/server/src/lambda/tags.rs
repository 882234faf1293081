//! Lambda's tagging API on functions: TagResource (`POST`), UntagResource
//! (`DELETE ?tagKeys=…`) and ListTags (`GET`) under
//! `/2017-03-31/tags/{ARN}`. Tags belong to the function (not its versions
//! or aliases); the `stepbox:fuel` tag's budget (see [`super::fuel`])
//! applies from the function's next invocation, to every version and alias.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use super::{LambdaError, fuel, json_body, ok, percent_decode, persist_configuration};
use crate::{AppState, Body, ReqBody};

const PREFIX: &str = "/2017-03-31/tags/";

/// The pattern Lambda holds a taggable resource's ARN to (its function part).
const ARN_PATTERN: &str = r"arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?";

/// Whether `path` is the tagging API's.
pub(crate) fn is_tags_path(path: &str) -> bool {
    path.starts_with(PREFIX)
}

/// TagResource, UntagResource or ListTags.
pub(crate) async fn handle(state: &AppState, req: Request<ReqBody>) -> Result<Response<Body>, LambdaError> {
    let resource = percent_decode(req.uri().path().strip_prefix(PREFIX).unwrap_or_default());
    let method = req.method().clone();
    let op = match method {
        Method::GET => "ListTags",
        Method::POST => "TagResource",
        Method::DELETE => "UntagResource",
        m => return Err(LambdaError::new(StatusCode::NOT_FOUND, "UnknownOperationException", format!("no tagging operation for {m}"))),
    };
    let name = function_of(state, &resource, op)?;
    let _writing = match method {
        Method::GET => None,
        _ => Some(state.functions.shared.writing(&name).await),
    };
    let mut tags = state.functions.lock().get(&name).map(|m| m.tags.clone()).unwrap_or_default();
    match method {
        Method::GET => return Ok(ok(&json!({"Tags": tags}))),
        Method::POST => {
            let body = json_body(state, req, crate::SFN_BODY_LIMIT, op).await?;
            if !body.contains_key("Tags") {
                return Err(validation("Value null at 'tags' failed to satisfy constraint: Member must not be null"));
            }
            tags.extend(fuel::tags_of(&body)?);
        }
        _ => {
            let keys = tag_keys(req.uri().query().unwrap_or_default());
            if keys.is_empty() {
                return Err(validation("Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"));
            }
            tags.retain(|k, _| !keys.contains(k));
        }
    }
    set_tags(state, &name, tags).await?;
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}

/// Function `name`'s tags become `tags`; when the fuel budget they give
/// changes, its code is compiled again for the engine that budget needs
/// first (so a failure leaves the function as it was).
async fn set_tags(state: &AppState, name: &str, tags: fuel::Tags) -> Result<(), LambdaError> {
    let default = state.functions.default_fuel;
    let before = state.functions.lock().get(name).map(|m| fuel::budget(&m.tags).ok().flatten().or(default));
    let after = fuel::budget(&tags)?.or(default);
    if before != Some(after) {
        let (registry, owned) = (state.registry.clone(), name.to_string());
        tokio::task::spawn_blocking(move || registry.set_fuel(&owned, after))
            .await
            .map_err(|e| LambdaError::new(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", e.to_string()))?
            .map_err(|e| LambdaError::new(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", e.to_string()))?;
    }
    if let Some(m) = state.functions.lock().get_mut(name) {
        m.tags = tags;
    }
    persist_configuration(state, name).await
}

/// The function a tagging request's `resource` names: an unqualified
/// function ARN of the request's account (another account's is denied, as
/// AWS denies it without a resource policy).
fn function_of(state: &AppState, resource: &str, op: &str) -> Result<String, LambdaError> {
    let parts: Vec<&str> = resource.split(':').collect();
    let well_formed = matches!(parts.len(), 7 | 8)
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "lambda"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5] == "function"
        && super::check_function_name(parts[6]).is_ok()
        && parts.get(7).is_none_or(|q| !q.is_empty());
    if !well_formed {
        return Err(validation(&format!(
            "Value '{resource}' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: {ARN_PATTERN}"
        )));
    }
    if parts.len() == 8 {
        return Err(LambdaError::invalid("Tags on function aliases and versions are not supported. Please specify a function ARN."));
    }
    let identity = &state.config.identity;
    if parts[4] != identity.account {
        return Err(LambdaError::new(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            format!(
                "User: arn:aws:iam::{}:root is not authorized to perform: lambda:{op} on resource: {resource} because no \
                 resource-based policy allows the lambda:{op} action",
                identity.account
            ),
        ));
    }
    let name = parts[6].to_string();
    // On a database several hosts share, this loads a function another host created.
    let _ = state.registry.get(&name);
    let known = state.functions.lock().contains_key(&name);
    if parts[3] != identity.region || !known || super::foreign(state, &name) {
        return Err(LambdaError::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", format!("Function not found: {resource}")));
    }
    Ok(name)
}

/// UntagResource's `tagKeys` (repeated in the query).
fn tag_keys(query: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| percent_decode(k) == "tagKeys")
        .map(|(_, v)| percent_decode(&v.replace('+', " ")))
        .collect()
}

fn validation(detail: &str) -> LambdaError {
    LambdaError::new(StatusCode::BAD_REQUEST, "ValidationException", format!("1 validation error detected: {detail}"))
}
