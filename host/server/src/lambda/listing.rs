//! ListFunctions (with `FunctionVersion=ALL`, every published version too)
//! and GetAccountSettings.

use std::collections::HashMap;

use hyper::Response;
use serde_json::{Value, json};

use super::{LambdaError, configuration, foreign, ok, versions};
use crate::{AppState, Body};

/// Lambda's default account limits (GetAccountSettings' `AccountLimit`).
const TOTAL_CODE_SIZE: u64 = 80 * 1024 * 1024 * 1024;
const CODE_SIZE_UNZIPPED: u64 = 250 * 1024 * 1024;
const CODE_SIZE_ZIPPED: u64 = 50 * 1024 * 1024;
const CONCURRENT_EXECUTIONS: u64 = 1000;

/// The functions the request's account sees, by name: `NAME:VERSION` and
/// `NAME:ALIAS` registry entries are not functions of their own; functions
/// still Pending or Failed (from source) have no entry yet.
/// On a shared database, every host's functions.
async fn function_names(state: &AppState) -> Result<Vec<String>, LambdaError> {
    let mut names: Vec<String> = state.registry.names();
    names.extend(state.functions.builds().names());
    if state.store.shared() {
        names.extend(state.store.list_functions().await.map_err(LambdaError::store)?.into_iter().map(|f| f.name));
    }
    names.sort();
    names.dedup();
    names.retain(|n| !n.contains(':') && !foreign(state, n));
    Ok(names)
}

pub(super) async fn list_functions(state: &AppState, q: &HashMap<String, String>) -> Result<Response<Body>, LambdaError> {
    let all = match q.get("FunctionVersion").map(String::as_str) {
        None => false,
        Some("ALL") => true,
        Some(other) => {
            return Err(LambdaError::new(
                hyper::StatusCode::BAD_REQUEST,
                "ValidationException",
                format!(
                    "1 validation error detected: Value '{other}' at 'functionVersion' failed to satisfy constraint: \
                     Member must satisfy enum value set: [ALL]"
                ),
            ));
        }
    };
    let max = match q.get("MaxItems") {
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10000).contains(n))
            .ok_or_else(|| LambdaError::invalid("MaxItems must be between 1 and 10000"))?,
        None => 50,
    };
    // Entries in order: each function's $LATEST, then (ALL) its versions,
    // keyed `NAME` and `NAME:N` for the marker.
    let mut entries: Vec<(String, Value)> = Vec::new();
    for name in function_names(state).await? {
        let Ok(latest) = configuration(state, &name) else { continue };
        entries.push((name.clone(), latest));
        if all {
            for (n, config) in versions::published_versions(state, &name) {
                entries.push((format!("{name}:{n}"), config));
            }
        }
    }
    let start = match q.get("Marker") {
        Some(m) => match entries.iter().position(|(k, _)| k == m) {
            Some(i) => i + 1,
            None => entries.iter().position(|(k, _)| k.as_str() > m.as_str()).unwrap_or(entries.len()),
        },
        None => 0,
    };
    let page: Vec<&(String, Value)> = entries.iter().skip(start).take(max).collect();
    let mut out = json!({"Functions": page.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>()});
    if start + page.len() < entries.len()
        && let Some((last, _)) = page.last()
    {
        out["NextMarker"] = json!(last);
    }
    Ok(ok(&out))
}

/// GetAccountSettings: Lambda's default limits, and what the account's
/// functions use (their code, every version's counted).
pub(crate) async fn account_settings(state: &AppState) -> Response<Body> {
    let names = match function_names(state).await {
        Ok(names) => names,
        Err(e) => return e.response(),
    };
    let mut total_code = 0u64;
    for name in &names {
        if let Ok(config) = configuration(state, name) {
            total_code += config["CodeSize"].as_u64().unwrap_or(0);
        }
        for (_, config) in versions::published_versions(state, name) {
            total_code += config["CodeSize"].as_u64().unwrap_or(0);
        }
    }
    ok(&json!({
        "AccountLimit": {
            "TotalCodeSize": TOTAL_CODE_SIZE,
            "CodeSizeUnzipped": CODE_SIZE_UNZIPPED,
            "CodeSizeZipped": CODE_SIZE_ZIPPED,
            "ConcurrentExecutions": CONCURRENT_EXECUTIONS,
            "UnreservedConcurrentExecutions": CONCURRENT_EXECUTIONS,
        },
        "AccountUsage": {"TotalCodeSize": total_code, "FunctionCount": names.len()},
    }))
}
