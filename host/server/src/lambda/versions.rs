//! Lambda function versions and aliases: PublishVersion, ListVersionsByFunction,
//! Create/Get/Update/Delete/ListAlias(es). A version is the function's code and
//! limits frozen under `NAME:N` in the registry (sharing the compiled
//! component); an alias is registered as `NAME:ALIAS` with its version's code,
//! so a qualified Invoke or Task state ARN reaches it.

use std::collections::HashMap;

use hyper::{Response, StatusCode};
use serde_json::{Map, Value, json};

use stepbox_store::Stores;

use super::{LambdaError, configuration, function_arn, get_str, ok};
use crate::{AppState, Body};

/// What was published for one function.
#[derive(Default)]
pub(crate) struct Published {
    last: u64,
    /// Oldest first: (number, configuration as published).
    pub(super) versions: Vec<(u64, Value)>,
    pub(super) aliases: Vec<Alias>,
}

#[derive(Clone)]
pub(super) struct Alias {
    pub(super) name: String,
    pub(super) version: String,
    description: String,
    revision_id: String,
    /// RoutingConfig's AdditionalVersionWeights: (version, share of invocations).
    routing: Vec<(String, f64)>,
}

impl Alias {
    /// Whether the alias runs `version` (as its version or by its routing).
    fn targets(&self, version: &str) -> bool {
        self.version == version || self.routing.iter().any(|(v, _)| v == version)
    }

    /// The version one invocation runs: an additional version for its share
    /// of invocations, else the alias's own (None).
    fn pick(&self, draw: f64) -> Option<&str> {
        let mut threshold = 0.0;
        for (version, weight) in &self.routing {
            threshold += weight;
            if draw < threshold {
                return Some(version);
            }
        }
        None
    }
}

pub(crate) type PublishedTable = std::sync::Mutex<HashMap<String, Published>>;

impl Published {
    /// The stored shape (a durable server keeps it per function).
    fn to_json(&self) -> Value {
        json!({
            "last": self.last,
            "versions": self.versions.iter().map(|(n, c)| json!({"number": n, "configuration": c})).collect::<Vec<_>>(),
            "aliases": self.aliases.iter().map(|a| json!({
                "name": a.name, "version": a.version, "description": a.description, "revisionId": a.revision_id,
                "routing": a.routing.iter().map(|(v, w)| (v.clone(), json!(w))).collect::<Map<_, _>>(),
            })).collect::<Vec<_>>(),
        })
    }

    pub(super) fn from_json(v: &Value) -> Published {
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let list = |k: &str| v.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
        Published {
            last: v.get("last").and_then(Value::as_u64).unwrap_or(0),
            versions: list("versions")
                .iter()
                .filter_map(|e| Some((e.get("number")?.as_u64()?, e.get("configuration")?.clone())))
                .collect(),
            aliases: list("aliases")
                .iter()
                .map(|a| Alias {
                    name: text(a, "name"),
                    version: text(a, "version"),
                    description: text(a, "description"),
                    revision_id: text(a, "revisionId"),
                    routing: a
                        .get("routing")
                        .and_then(Value::as_object)
                        .map(|m| m.iter().filter_map(|(v, w)| Some((v.clone(), w.as_f64()?))).collect())
                        .unwrap_or_default(),
                })
                .collect(),
        }
    }
}

/// A durable server writes what was published for `name` (with the wasm of
/// a newly published version) before answering.
async fn persist(state: &AppState, name: &str, new_version: Option<u64>) -> Result<(), LambdaError> {
    if !state.store.persistent() {
        return Ok(());
    }
    let mut codes = Vec::new();
    if let Some(n) = new_version {
        // A version is $LATEST's code at publishing time.
        let wasm = state.store.function_code(name).await.map_err(LambdaError::store)?.unwrap_or_default();
        codes.push((format!("{name}:{n}"), std::sync::Arc::<[u8]>::from(wasm)));
    }
    let published = lock(state).get(name).map(Published::to_json).unwrap_or(Value::Null);
    state.store.put_function_versions(name, &published, codes).await.map_err(LambdaError::store)
}

/// Start-up of a durable server (after the functions): versions and aliases
/// are registered again with their own code and limits.
pub(crate) async fn restore(state: &AppState, store: &dyn Stores) -> Result<usize, stepbox_store::StoreError> {
    let mut restored = 0;
    for (function, stored) in store.function_versions().await? {
        if stored.is_null() {
            continue;
        }
        let published = Published::from_json(&stored);
        for (n, config) in &published.versions {
            let key = format!("{function}:{n}");
            let Some(code) = store.function_code(&key).await? else { continue };
            let timeout = config.get("Timeout").and_then(Value::as_u64).unwrap_or(3);
            let memory_size = config.get("MemorySize").and_then(Value::as_u64).unwrap_or(128);
            let Ok(limits) = super::limits_for(state, timeout, memory_size) else { continue };
            // The function's tags (restored before its versions) give every version its fuel budget.
            let tags = state.functions.lock().get(&function).map(|m| m.tags.clone()).unwrap_or_default();
            let Ok(limits) = super::fuel::limits_with(limits, &tags, state.functions.default_fuel) else { continue };
            let limits = stepbox_sandbox::Limits { env: super::environment::of(config, None), ..limits };
            match state.registry.register(&key, &code, limits) {
                Ok(_) => restored += 1,
                Err(e) => tracing::error!(version = %key, error = %e, "cannot restore a published version"),
            }
        }
        let aliases = published.aliases.clone();
        lock(state).insert(function.clone(), published);
        for a in &aliases {
            if let Err(e) = point(state, &function, a) {
                tracing::error!(function = %function, alias = %a.name, error = %e.message, "cannot restore an alias");
            }
        }
    }
    Ok(restored)
}

fn lock(state: &AppState) -> std::sync::MutexGuard<'_, HashMap<String, Published>> {
    lock_table(&state.functions.published)
}

pub(super) fn lock_table(table: &PublishedTable) -> std::sync::MutexGuard<'_, HashMap<String, Published>> {
    table.lock().unwrap_or_else(|e| e.into_inner())
}

/// The registry key a qualified name runs: `NAME` for none or `$LATEST`, else `NAME:QUALIFIER`.
pub(crate) fn registry_key(name: &str, qualifier: Option<&str>) -> String {
    match qualifier {
        None | Some("$LATEST") => name.to_string(),
        Some(q) => format!("{name}:{q}"),
    }
}

fn created(v: &Value) -> Response<Body> {
    let mut r = ok(v);
    *r.status_mut() = StatusCode::CREATED;
    r
}

/// PublishVersion: a new version unless the code and configuration are unchanged since the last one.
pub(crate) async fn publish(state: &AppState, name: &str, body: &Map<String, Value>) -> Result<Response<Body>, LambdaError> {
    state.registry.get(name).ok_or_else(|| LambdaError::not_found(state, name))?;
    let latest = configuration(state, name)?;
    if let Some(given) = get_str(body, "RevisionId")?
        && latest["RevisionId"].as_str() != Some(given)
    {
        return Err(LambdaError::precondition_failed("GetFunction"));
    }
    if let Some(given) = get_str(body, "CodeSha256")?
        && latest["CodeSha256"].as_str() != Some(given)
    {
        let current = latest["CodeSha256"].as_str().unwrap_or_default();
        return Err(LambdaError::invalid(format!(
            "CodeSHA256 ({given}) is different from current CodeSHA256 in $LATEST ({current}). Please try again with the CodeSHA256 in $LATEST."
        )));
    }
    Ok(created(&publish_version(state, name, get_str(body, "Description")?).await?))
}

/// Publish function `name`'s `$LATEST` as a new version (its configuration
/// as published), unless nothing changed since the last one (that one).
pub(crate) async fn publish_version(state: &AppState, name: &str, description: Option<&str>) -> Result<Value, LambdaError> {
    let function = state.registry.get(name).ok_or_else(|| LambdaError::not_found(state, name))?;
    let latest = configuration(state, name)?;
    let same = |published: &Value| {
        ["CodeSha256", "Timeout", "MemorySize", "Role", "Handler", "Runtime", "Environment"]
            .iter()
            .all(|k| published[k] == latest[k])
    };
    let (number, snapshot) = {
        let mut table = lock(state);
        let entry = table.entry(name.to_string()).or_default();
        if let Some((_, last)) = entry.versions.last()
            && same(last)
        {
            return Ok(last.clone());
        }
        entry.last += 1;
        let number = entry.last;
        let mut snapshot = latest.clone();
        snapshot["Version"] = json!(number.to_string());
        snapshot["FunctionArn"] = json!(format!("{}:{number}", function_arn(state, name)));
        snapshot["RevisionId"] = json!(stepbox_asl::uuid_v4());
        if let Some(d) = description {
            snapshot["Description"] = json!(d);
        }
        state.registry.insert(&format!("{name}:{number}"), function.function.clone(), function.limits.clone());
        super::environment::attach(&state.registry, &format!("{name}:{number}"), &snapshot, None);
        entry.versions.push((number, snapshot.clone()));
        (number, snapshot)
    };
    persist(state, name, Some(number)).await?;
    Ok(snapshot)
}

/// Function `name`'s published versions, oldest first: (number, configuration).
pub(crate) fn published_versions(state: &AppState, name: &str) -> Vec<(u64, Value)> {
    lock(state).get(name).map(|p| p.versions.clone()).unwrap_or_default()
}

pub(crate) fn list_versions(state: &AppState, name: &str) -> Result<Response<Body>, LambdaError> {
    let mut versions = vec![configuration(state, name)?];
    if let Some(p) = lock(state).get(name) {
        versions.extend(p.versions.iter().map(|(_, v)| v.clone()));
    }
    Ok(ok(&json!({"Versions": versions})))
}

/// GetFunction/GetFunctionConfiguration of `NAME:QUALIFIER`.
pub(crate) fn configuration_of(state: &AppState, name: &str, qualifier: Option<&str>) -> Result<Value, LambdaError> {
    let Some(q) = qualifier.filter(|q| *q != "$LATEST") else { return configuration(state, name) };
    let table = lock(state);
    let published = table.get(name);
    let version = match published.and_then(|p| p.aliases.iter().find(|a| a.name == q)) {
        Some(alias) => alias.version.clone(),
        None => q.to_string(),
    };
    if version == "$LATEST" {
        drop(table);
        return configuration(state, name);
    }
    published
        .and_then(|p| p.versions.iter().find(|(n, _)| n.to_string() == version))
        .map(|(_, v)| v.clone())
        .ok_or_else(|| not_found_qualified(state, name, q))
}

fn not_found_qualified(state: &AppState, name: &str, qualifier: &str) -> LambdaError {
    LambdaError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        format!("Function not found: {}:{qualifier}", function_arn(state, name)),
    )
}

/// The version an Invoke of `NAME:QUALIFIER` executes (for `X-Amz-Executed-Version`).
pub(crate) fn executed_version(state: &AppState, name: &str, qualifier: Option<&str>) -> String {
    match qualifier {
        None | Some("$LATEST") => "$LATEST".into(),
        Some(q) => lock(state)
            .get(name)
            .and_then(|p| p.aliases.iter().find(|a| a.name == q).map(|a| a.version.clone()))
            .unwrap_or_else(|| q.to_string()),
    }
}

/// AWS's alias names: 1–128 of `[a-zA-Z0-9-_]`, not all digits.
fn check_alias_name(name: &str) -> Result<(), LambdaError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.chars().all(|c| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(LambdaError::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            format!(
                "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
            ),
        ))
    }
}

fn alias_json(state: &AppState, function: &str, a: &Alias) -> Value {
    let mut out = json!({
        "AliasArn": format!("{}:{}", function_arn(state, function), a.name),
        "Name": a.name,
        "FunctionVersion": a.version,
        "Description": a.description,
        "RevisionId": a.revision_id,
    });
    if !a.routing.is_empty() {
        let weights: Map<String, Value> = a.routing.iter().map(|(v, w)| (v.clone(), json!(w))).collect();
        out["RoutingConfig"] = json!({"AdditionalVersionWeights": weights});
    }
    out
}

/// A request's RoutingConfig (None: not given), checked as Lambda checks it:
/// published versions other than the alias's own, weights in [0, 1] adding
/// up to at most 1, the alias's own version not `$LATEST`.
fn routing(state: &AppState, function: &str, version: &str, body: &Map<String, Value>) -> Result<Option<Vec<(String, f64)>>, LambdaError> {
    let Some(config) = body.get("RoutingConfig") else { return Ok(None) };
    let weights = config.get("AdditionalVersionWeights").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut routing = Vec::new();
    for (v, w) in &weights {
        let w = w.as_f64().filter(|w| (0.0..=1.0).contains(w)).ok_or_else(|| {
            LambdaError::invalid(format!("Invalid weight for version {v}: a weight is between 0.0 and 1.0"))
        })?;
        if v == version {
            return Err(LambdaError::invalid(format!(
                "Invalid function version {v}. Function version {v} is already included in routing configuration."
            )));
        }
        if v == "$LATEST" || !version_exists(state, function, v) {
            return Err(not_found_qualified(state, function, v));
        }
        routing.push((v.clone(), w));
    }
    if !routing.is_empty() && version == "$LATEST" {
        return Err(LambdaError::invalid(
            "$LATEST is not supported for an alias pointing to more than 1 version",
        ));
    }
    if routing.iter().map(|(_, w)| w).sum::<f64>() > 1.0 {
        return Err(LambdaError::invalid("The sum of the additional version weights must be at most 1.0"));
    }
    Ok(Some(routing))
}

/// The qualifier an invocation of `function:alias` runs: a version of the
/// alias's RoutingConfig for its share of invocations, else the alias
/// (None when `qualifier` is no alias with routing).
pub(crate) fn route(table: &PublishedTable, function: &str, qualifier: &str) -> Option<String> {
    let table = table.lock().unwrap_or_else(|e| e.into_inner());
    let alias = table.get(function)?.aliases.iter().find(|a| a.name == qualifier)?;
    if alias.routing.is_empty() {
        return None;
    }
    alias.pick(rand::random::<f64>()).map(str::to_string)
}

/// Register `NAME:ALIAS` with the code of the version it points to.
fn point(state: &AppState, function: &str, alias: &Alias) -> Result<(), LambdaError> {
    let target = state
        .registry
        .get(&registry_key(function, Some(&alias.version)))
        .ok_or_else(|| not_found_qualified(state, function, &alias.version))?;
    let key = format!("{function}:{}", alias.name);
    let config = configuration_of(state, function, Some(&alias.version))?;
    let limits = stepbox_sandbox::Limits { env: super::environment::of(&config, Some(&alias.name)), ..target.limits };
    state.registry.insert(&key, target.function.clone(), limits);
    Ok(())
}

fn version_exists(state: &AppState, function: &str, version: &str) -> bool {
    version == "$LATEST" || lock(state).get(function).is_some_and(|p| p.versions.iter().any(|(n, _)| n.to_string() == version))
}

pub(crate) async fn create_alias(state: &AppState, function: &str, body: &Map<String, Value>) -> Result<Response<Body>, LambdaError> {
    state.registry.get(function).ok_or_else(|| LambdaError::not_found(state, function))?;
    let name = get_str(body, "Name")?.ok_or_else(|| LambdaError::invalid("Name is required"))?;
    check_alias_name(name)?;
    let version = get_str(body, "FunctionVersion")?.ok_or_else(|| LambdaError::invalid("FunctionVersion is required"))?;
    if !version_exists(state, function, version) {
        return Err(not_found_qualified(state, function, version));
    }
    let alias = Alias {
        name: name.to_string(),
        version: version.to_string(),
        description: get_str(body, "Description")?.unwrap_or_default().to_string(),
        revision_id: stepbox_asl::uuid_v4(),
        routing: routing(state, function, version, body)?.unwrap_or_default(),
    };
    {
        let mut table = lock(state);
        let entry = table.entry(function.to_string()).or_default();
        if entry.aliases.iter().any(|a| a.name == name) {
            return Err(LambdaError::new(
                StatusCode::CONFLICT,
                "ResourceConflictException",
                format!("Alias already exists: {}:{name}", function_arn(state, function)),
            ));
        }
        entry.aliases.push(alias.clone());
    }
    point(state, function, &alias)?;
    persist(state, function, None).await?;
    Ok(created(&alias_json(state, function, &alias)))
}

fn find_alias(state: &AppState, function: &str, name: &str) -> Result<Alias, LambdaError> {
    lock(state).get(function).and_then(|p| p.aliases.iter().find(|a| a.name == name).cloned()).ok_or_else(|| {
        LambdaError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Alias not found: {}:{name}", function_arn(state, function)),
        )
    })
}

pub(crate) fn get_alias(state: &AppState, function: &str, name: &str) -> Result<Response<Body>, LambdaError> {
    Ok(ok(&alias_json(state, function, &find_alias(state, function, name)?)))
}

pub(crate) async fn update_alias(
    state: &AppState,
    function: &str,
    name: &str,
    body: &Map<String, Value>,
) -> Result<Response<Body>, LambdaError> {
    let mut alias = find_alias(state, function, name)?;
    if let Some(given) = get_str(body, "RevisionId")?
        && given != alias.revision_id
    {
        return Err(LambdaError::precondition_failed("GetAlias"));
    }
    if let Some(v) = get_str(body, "FunctionVersion")? {
        if !version_exists(state, function, v) {
            return Err(not_found_qualified(state, function, v));
        }
        alias.version = v.to_string();
    }
    if let Some(d) = get_str(body, "Description")? {
        alias.description = d.to_string();
    }
    if let Some(routing) = routing(state, function, &alias.version, body)? {
        alias.routing = routing;
    }
    alias.revision_id = stepbox_asl::uuid_v4();
    if let Some(slot) = lock(state).get_mut(function).and_then(|p| p.aliases.iter_mut().find(|a| a.name == name)) {
        *slot = alias.clone();
    }
    point(state, function, &alias)?;
    persist(state, function, None).await?;
    Ok(ok(&alias_json(state, function, &alias)))
}

pub(crate) async fn delete_alias(state: &AppState, function: &str, name: &str) -> Result<Response<Body>, LambdaError> {
    find_alias(state, function, name)?;
    if let Some(p) = lock(state).get_mut(function) {
        p.aliases.retain(|a| a.name != name);
    }
    state.registry.remove(&format!("{function}:{name}"));
    persist(state, function, None).await?;
    let mut r = Response::new(Body::default());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}

pub(crate) fn list_aliases(state: &AppState, function: &str) -> Result<Response<Body>, LambdaError> {
    state.registry.get(function).ok_or_else(|| LambdaError::not_found(state, function))?;
    let aliases: Vec<Value> = lock(state)
        .get(function)
        .map(|p| p.aliases.iter().map(|a| alias_json(state, function, a)).collect())
        .unwrap_or_default();
    Ok(ok(&json!({"Aliases": aliases})))
}

/// After UpdateFunctionCode/Configuration: aliases of `$LATEST` follow the new code.
pub(crate) fn refresh_latest_aliases(state: &AppState, function: &str) {
    let aliases: Vec<Alias> = lock(state)
        .get(function)
        .map(|p| p.aliases.iter().filter(|a| a.version == "$LATEST").cloned().collect())
        .unwrap_or_default();
    for a in aliases {
        let _ = point(state, function, &a);
    }
}

/// DeleteFunction with a `Qualifier`: that version only, unless an alias
/// points to it (as Lambda refuses it). `$LATEST` is the function itself.
pub(crate) async fn delete_version(state: &AppState, function: &str, qualifier: &str) -> Result<Response<Body>, LambdaError> {
    if qualifier == "$LATEST" {
        return Err(LambdaError::invalid("$LATEST version cannot be deleted without deleting the function."));
    }
    state.registry.get(function).ok_or_else(|| LambdaError::not_found(state, function))?;
    {
        let mut table = lock(state);
        let published = table.get_mut(function).filter(|p| p.versions.iter().any(|(n, _)| n.to_string() == qualifier));
        let Some(published) = published else {
            drop(table);
            return Err(not_found_qualified(state, function, qualifier));
        };
        let referencing: Vec<&str> =
            published.aliases.iter().filter(|a| a.targets(qualifier)).map(|a| a.name.as_str()).collect();
        if !referencing.is_empty() {
            return Err(LambdaError::new(
                StatusCode::CONFLICT,
                "ResourceConflictException",
                format!("Unable to delete version because the following aliases reference it: [{}]", referencing.join(", ")),
            ));
        }
        published.versions.retain(|(n, _)| n.to_string() != qualifier);
    }
    let key = format!("{function}:{qualifier}");
    state.registry.remove(&key);
    persist(state, function, None).await?;
    if state.store.persistent() {
        state.store.delete_function(&key).await.map_err(LambdaError::store)?;
    }
    let mut r = Response::new(Body::default());
    *r.status_mut() = StatusCode::NO_CONTENT;
    Ok(r)
}

/// DeleteFunction: its versions and aliases go too.
pub(crate) async fn forget(state: &AppState, function: &str) -> Result<(), LambdaError> {
    let removed = lock(state).remove(function);
    let Some(p) = removed else { return Ok(()) };
    for (n, _) in &p.versions {
        state.registry.remove(&format!("{function}:{n}"));
    }
    for a in &p.aliases {
        state.registry.remove(&format!("{function}:{}", a.name));
    }
    if state.store.persistent() {
        state.store.delete_function_versions(function, p.last).await.map_err(LambdaError::store)?;
    }
    Ok(())
}
