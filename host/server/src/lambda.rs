//! A Lambda-compatible function API (REST-JSON under `/2015-03-31/functions`).
//! Functions are components of the stepbox task world, registered in the
//! [`stepbox_sandbox::Registry`] the engine's Task states use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use stepbox_sandbox::{Limits, RegisterError, RegisteredFunction, Registry};
use stepbox_store::Stores;
use stepbox_types::Arn;

use crate::{AppState, Body, BodyError, ReqBody, ServerConfig, json_response, read_body};

pub mod code;
pub(crate) mod concurrency;
mod environment;
pub mod fuel;
mod invoke;
mod listing;
mod members;
mod source_build;
mod sync;
mod tags;
mod versions;
pub use code::{MAX_COMPRESSION_RATIO, MAX_UNZIPPED_BYTES, extract_wasm};
pub(crate) use listing::account_settings;
pub(crate) use sync::{follow as follow_shared, note_revisions, watch as watch_shared};
pub(crate) use tags::is_tags_path;
pub(crate) use versions::restore as restore_versions;

/// Largest Invoke payload (Lambda's synchronous limit).
pub const MAX_INVOKE_PAYLOAD: usize = 6 * 1024 * 1024;

/// What Lambda reports about a function besides its code.
#[derive(Debug, Clone)]
pub struct FunctionMeta {
    pub name: String,
    pub description: String,
    pub role: String,
    pub runtime: String,
    pub handler: String,
    pub timeout: u64,
    pub memory_size: u64,
    pub last_modified: String,
    /// Changes with every update of the function's code or configuration
    /// (what a request's `RevisionId` must match).
    pub revision_id: String,
    /// `Environment.Variables` (None: never set).
    pub environment: Option<std::collections::BTreeMap<String, String>>,
    /// The account of the function's ARN when made through the API (a
    /// tenant's, with several); none for `--functions DIR`'s, which belong
    /// to no tenant.
    pub account: Option<String>,
    /// The function's tags (CreateFunction's `Tags`; `stepbox:fuel` is its
    /// fuel budget, see [`fuel`]).
    pub tags: fuel::Tags,
}

/// Function metadata by name (the code itself lives in the registry).
#[derive(Default)]
pub struct FunctionTable {
    meta: Mutex<HashMap<String, FunctionMeta>>,
    published: versions::PublishedTable,
    /// Functions built from source whose build is running or failed.
    builds: source_build::Builds,
    /// Reserved concurrency, by function.
    pub(crate) reservations: concurrency::Reservations,
    /// The fuel budget of functions without a `stepbox:fuel` tag
    /// ([`ServerConfig::default_fuel`]).
    default_fuel: Option<u64>,
    /// Following the other hosts' function writes (a shared database).
    pub(crate) shared: sync::Shared,
}

impl FunctionTable {
    /// A table whose functions without a `stepbox:fuel` tag get `default_fuel`.
    pub(crate) fn with_default_fuel(default_fuel: Option<u64>) -> Self {
        FunctionTable { default_fuel, ..Default::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, FunctionMeta>> {
        self.meta.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// The account owning function `name` (see [`FunctionMeta::account`]).
    pub(crate) fn owner(&self, name: &str) -> Option<String> {
        self.lock().get(name).and_then(|m| m.account.clone())
    }

    /// What the functions of `account` reserve in all (every function's without tenants).
    pub(crate) fn reserved_by(&self, account: Option<&str>) -> u64 {
        self.reservations.sum(|f| account.is_none_or(|a| self.owner(f).as_deref() == Some(a)), None)
    }

    fn builds(&self) -> &source_build::Builds {
        &self.builds
    }

    /// The version an invocation of `name:qualifier` runs this time, when
    /// `qualifier` is an alias with weighted routing.
    pub(crate) fn route(&self, name: &str, qualifier: &str) -> Option<String> {
        versions::route(&self.published, name, qualifier)
    }

    /// The State of function `name` when it exists but has no code to run
    /// yet (`Pending` while its first build runs, `Failed` after it failed).
    pub(crate) fn unavailable(&self, name: &str) -> Option<String> {
        self.builds.get(name).as_ref().and_then(source_build::unbuilt_state).map(str::to_string)
    }
    /// Describe a function registered outside the API (`--functions DIR`).
    pub(crate) fn adopt(&self, _config: &ServerConfig, f: &RegisteredFunction) {
        self.lock().insert(
            f.name.clone(),
            FunctionMeta {
                name: f.name.clone(),
                description: String::new(),
                role: "arn:aws:iam::111111111111:role/stepbox".into(),
                runtime: ADOPTED_RUNTIME.into(),
                handler: ADOPTED_HANDLER.into(),
                timeout: f.limits.timeout.as_secs().max(1),
                memory_size: f.limits.memory_bytes >> 20,
                last_modified: last_modified(),
                revision_id: stepbox_asl::uuid_v4(),
                environment: None,
                account: None,
                tags: Default::default(),
            },
        );
    }
}

/// The Runtime and Handler a function registered outside the API reports.
const ADOPTED_RUNTIME: &str = "provided.al2023";
const ADOPTED_HANDLER: &str = "component";

fn last_modified() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

struct LambdaError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    /// TooManyRequestsException's `Reason`.
    reason: Option<&'static str>,
}

impl LambdaError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        LambdaError { status, kind, message: message.into(), reason: None }
    }
    /// The store failed: Lambda's ServiceException, with the reason.
    fn store(e: stepbox_store::StoreError) -> Self {
        tracing::error!(error = %e, "store");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", format!("the store failed: {e}"))
    }
    /// A `RevisionId` that is not the resource's latest (`get` names the API that reads it).
    fn precondition_failed(get: &str) -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailedException",
            format!("The Revision Id provided does not match the latest Revision Id. Call the {get} API to retrieve the latest Revision Id"),
        )
    }
    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidParameterValueException", message)
    }
    fn not_found(state: &AppState, name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Function not found: {}", function_arn(state, name)),
        )
    }
    fn response(&self) -> Response<Body> {
        let mut body = json!({"Type": "User", "message": self.message});
        if let Some(reason) = self.reason {
            body["Reason"] = json!(reason);
        }
        let mut r = json_response(self.status, "application/json", &body);
        if let Ok(v) = hyper::header::HeaderValue::from_str(self.kind) {
            r.headers_mut().insert("x-amzn-errortype", v);
        }
        r
    }
}

fn function_arn(state: &AppState, name: &str) -> String {
    Arn::new("lambda", &state.config.identity, &format!("function:{name}")).into()
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query(req: &Request<ReqBody>) -> HashMap<String, String> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// A name, partial ARN or ARN → (function name, qualifier).
fn resolve_name(raw: &str) -> Result<(String, Option<String>), LambdaError> {
    let (name, qualifier) = stepbox_engine::split_function_name(raw);
    check_function_name(&name)?;
    Ok((name, qualifier))
}

fn check_function_name(name: &str) -> Result<(), LambdaError> {
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(LambdaError::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            format!(
                "1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ (1 to 64 characters)"
            ),
        ));
    }
    Ok(())
}

pub(crate) async fn handle(state: AppState, req: Request<ReqBody>, request_id: &str) -> Response<Body> {
    match dispatch(&state, req, request_id).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(kind = e.kind, message = %e.message, "function API request failed");
            e.response()
        }
    }
}

async fn dispatch(state: &AppState, req: Request<ReqBody>, request_id: &str) -> Result<Response<Body>, LambdaError> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    if concurrency::is_concurrency_path(&path) {
        return concurrency::handle(state, req).await;
    }
    if tags::is_tags_path(&path) {
        return tags::handle(state, req).await;
    }
    let rest = path.strip_prefix("/2015-03-31/functions").unwrap_or("");
    let segments: Vec<String> = rest.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let method = req.method().clone();
    let q = query(&req);
    let mut _writing = None;
    if let Some(first) = segments.first() {
        let (name, _) = resolve_name(first)?;
        // On a shared database: another host's function is loaded here now.
        sync::ensure(state, &name).await.map_err(LambdaError::store)?;
        if foreign(state, &name) {
            return Err(LambdaError::not_found(state, &name));
        }
        if method != Method::GET && segments.get(1).is_none_or(|s| s != "invocations") {
            _writing = Some(state.functions.shared.writing(&name).await);
        }
    }
    match (method, segments.as_slice()) {
        (Method::POST, []) => {
            let body = json_body(state, req, crate::LAMBDA_BODY_LIMIT, "CreateFunction").await?;
            create_function(state, &body).await
        }
        (Method::GET, []) => listing::list_functions(state, &q).await,
        (Method::GET, [name]) => get_function(state, name, q.get("Qualifier").map(String::as_str)),
        (Method::DELETE, [name]) => {
            let (name, in_name) = resolve_name(name)?;
            if let Some(qualifier) = q.get("Qualifier").cloned().or(in_name) {
                return versions::delete_version(state, &name, &qualifier).await;
            }
            let building = state.functions.builds().remove(&name);
            if state.registry.remove(&name).is_none() && !building {
                return Err(LambdaError::not_found(state, &name));
            }
            state.functions.lock().remove(&name);
            state.functions.reservations.remove(&name);
            versions::forget(state, &name).await?;
            if state.store.persistent() {
                state.store.delete_function(&name).await.map_err(LambdaError::store)?;
            }
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::NO_CONTENT;
            Ok(r)
        }
        (Method::GET, [name, c]) if c == "configuration" => {
            let (name, qualifier) = resolve_name(name)?;
            let qualifier = q.get("Qualifier").cloned().or(qualifier);
            Ok(ok(&versions::configuration_of(state, &name, qualifier.as_deref())?))
        }
        (Method::POST, [name, v]) if v == "versions" => {
            let (name, _) = resolve_name(name)?;
            let body = json_body(state, req, crate::SFN_BODY_LIMIT, "PublishVersion").await?;
            versions::publish(state, &name, &body).await
        }
        (Method::GET, [name, v]) if v == "versions" => versions::list_versions(state, &resolve_name(name)?.0),
        (Method::POST, [name, a]) if a == "aliases" => {
            let (name, _) = resolve_name(name)?;
            let body = json_body(state, req, crate::SFN_BODY_LIMIT, "CreateAlias").await?;
            versions::create_alias(state, &name, &body).await
        }
        (Method::GET, [name, a]) if a == "aliases" => versions::list_aliases(state, &resolve_name(name)?.0),
        (Method::GET, [name, a, alias]) if a == "aliases" => versions::get_alias(state, &resolve_name(name)?.0, alias),
        (Method::PUT, [name, a, alias]) if a == "aliases" => {
            let (name, _) = resolve_name(name)?;
            let body = json_body(state, req, crate::SFN_BODY_LIMIT, "UpdateAlias").await?;
            versions::update_alias(state, &name, alias, &body).await
        }
        (Method::DELETE, [name, a, alias]) if a == "aliases" => versions::delete_alias(state, &resolve_name(name)?.0, alias).await,
        (Method::PUT, [name, c]) if c == "code" => {
            let body = json_body(state, req, crate::LAMBDA_BODY_LIMIT, "UpdateFunctionCode").await?;
            update_code(state, name, &body).await
        }
        (Method::PUT, [name, c]) if c == "configuration" => {
            let body = json_body(state, req, crate::SFN_BODY_LIMIT, "UpdateFunctionConfiguration").await?;
            update_configuration(state, name, &body).await
        }
        (Method::POST, [name, i]) if i == "invocations" => invoke::invoke(state, name, req, request_id).await,
        (m, _) => Err(LambdaError::new(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!("no function API operation for {m} {path}"),
        )),
    }
}

/// With tenants: whether function `name` exists but is not the request's
/// account's (it is then answered as a function that does not exist).
fn foreign(state: &AppState, name: &str) -> bool {
    let Some(account) = state.scope_account() else { return false };
    let exists = state.registry.get(name).is_some() || state.functions.builds().get(name).is_some();
    exists && state.functions.owner(name).as_deref() != Some(account)
}

/// A body that could not be read, as Lambda answers it.
pub(crate) fn body_error_response(e: BodyError, operation: &str) -> Response<Body> {
    body_error(e, operation).response()
}

/// A body that could not be read, as Lambda answers it (`operation` names the call).
fn body_error(e: BodyError, operation: &str) -> LambdaError {
    match e {
        BodyError::TooLarge(limit) => LambdaError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            format!("Request must be smaller than {limit} bytes for the {operation} operation"),
        ),
        BodyError::TimedOut(t) => {
            LambdaError::new(StatusCode::REQUEST_TIMEOUT, "RequestTimeoutException", crate::body_timeout_message(t))
        }
        BodyError::Io(e) => LambdaError::invalid(e),
    }
}

async fn json_body(state: &AppState, req: Request<ReqBody>, limit: usize, operation: &str) -> Result<Map<String, Value>, LambdaError> {
    let bytes =
        read_body(req, limit, state.config.connections.body_read_timeout).await.map_err(|e| body_error(e, operation))?;
    if bytes.is_empty() {
        return Ok(Map::new());
    }
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(LambdaError::invalid("the request body must be a JSON object")),
        Err(e) => return Err(LambdaError::invalid(format!("malformed JSON request body: {e}"))),
    };
    match members::of(operation).map_or(Ok(()), |shape| crate::shape::check_members(&body, shape)) {
        Ok(()) => Ok(body),
        Err(crate::shape::ShapeError::Type(m)) => Err(LambdaError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {m}"),
        )),
        Err(crate::shape::ShapeError::Enum(m)) => Err(LambdaError::new(StatusCode::BAD_REQUEST, "ValidationException", m)),
    }
}

fn ok(v: &Value) -> Response<Body> {
    json_response(StatusCode::OK, "application/json", v)
}

fn get_str<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, LambdaError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(LambdaError::invalid(format!("{key} must be a string"))),
    }
}

fn get_u64(m: &Map<String, Value>, key: &str) -> Result<Option<u64>, LambdaError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| LambdaError::invalid(format!("{key} must be a positive integer"))),
    }
}

/// A tenant's upload of `wasm` as function `name`'s code: its distinct code
/// (by SHA-256: every function, version and alias of its own; `name`'s
/// current code is replaced) stays within its `code_storage_mb`.
fn check_code_storage(state: &AppState, name: &str, wasm: &[u8]) -> Result<(), LambdaError> {
    let Some(tenant) = state.tenant() else { return Ok(()) };
    let mut kept: HashMap<String, usize> = HashMap::new();
    for entry in state.registry.names().into_iter().filter(|n| n != name) {
        let base = entry.split(':').next().unwrap_or(&entry);
        if state.functions.owner(base).as_deref() == Some(tenant.account.as_str())
            && let Some(f) = state.registry.get(&entry)
        {
            kept.insert(f.function.sha256.clone(), f.function.code_size);
        }
    }
    kept.insert(stepbox_sandbox::wasm_sha256(wasm), wasm.len());
    let used: usize = kept.values().sum();
    let limit = usize::try_from(tenant.quotas.code_storage_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    if used > limit {
        return Err(LambdaError::new(
            StatusCode::BAD_REQUEST,
            "CodeStorageExceededException",
            format!("Code storage limit exceeded: the account's code would take {used} bytes, its limit is {limit}"),
        ));
    }
    Ok(())
}

/// A tenant's request for a function of `memory_size` MB: at most its
/// `max_function_memory_mb`.
fn check_tenant_memory(state: &AppState, memory_size: u64) -> Result<(), LambdaError> {
    match state.tenant() {
        Some(t) if memory_size > t.quotas.max_function_memory_mb => Err(LambdaError::invalid(format!(
            "MemorySize must be at most {} MB for this account, got {memory_size}",
            t.quotas.max_function_memory_mb
        ))),
        _ => Ok(()),
    }
}

fn limits_for(state: &AppState, timeout: u64, memory_size: u64) -> Result<Limits, LambdaError> {
    limits_in(&state.registry, timeout, memory_size)
}

fn limits_in(registry: &Registry, timeout: u64, memory_size: u64) -> Result<Limits, LambdaError> {
    if !(1..=900).contains(&timeout) {
        return Err(LambdaError::invalid(format!("Timeout must be between 1 and 900 seconds, got {timeout}")));
    }
    let max_mb = registry.sandbox().config().max_memory_bytes >> 20;
    if !(1..=max_mb).contains(&memory_size) {
        return Err(LambdaError::invalid(format!("MemorySize must be between 1 and {max_mb} MB, got {memory_size}")));
    }
    Ok(Limits { timeout: Duration::from_secs(timeout), memory_bytes: memory_size << 20, ..Limits::default() })
}

/// Decode, unpack, validate and compile `Code.ZipFile`, then register it
/// (answering its wasm, for [`persist_function`]).
async fn register(state: &AppState, name: &str, zip_b64: &str, limits: Limits) -> Result<Arc<[u8]>, LambdaError> {
    let data = stepbox_asl::base64::decode(zip_b64.trim())
        .ok_or_else(|| LambdaError::invalid("Code.ZipFile is not valid base64"))?;
    let wasm = extract_wasm(&data).map_err(LambdaError::invalid)?;
    register_wasm(state, name, wasm, limits).await
}

/// Validate and compile a component and register it as function `name`,
/// answering its wasm (which [`persist_function`] keeps with the function's
/// configuration, on a durable store).
async fn register_wasm(state: &AppState, name: &str, wasm: Vec<u8>, limits: Limits) -> Result<Arc<[u8]>, LambdaError> {
    check_code_storage(state, name, &wasm)?;
    let registry = state.registry.clone();
    let name_owned = name.to_string();
    let wasm = Arc::<[u8]>::from(wasm);
    let code = wasm.clone();
    tokio::task::spawn_blocking(move || registry.register(&name_owned, &code, limits))
        .await
        .map_err(|e| LambdaError::new(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", e.to_string()))?
        .map_err(|e| match e {
            RegisterError::NotAComponent(_) | RegisterError::WrongWorld(_) | RegisterError::Compile(_) => {
                LambdaError::invalid(format!("Code.ZipFile was refused: {e}"))
            }
            RegisterError::Cache(_) => LambdaError::new(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", e.to_string()),
        })?;
    Ok(wasm)
}

fn function_record(state: &AppState, name: &str, sha256: &str, configuration: Value) -> stepbox_store::FunctionRecord {
    stepbox_store::FunctionRecord {
        name: name.to_string(),
        arn: function_arn(state, name),
        sha256: sha256.to_string(),
        configuration,
        last_modified: chrono::Utc::now(),
    }
}

/// Durable servers keep the function's configuration with its code.
async fn persist_configuration(state: &AppState, name: &str) -> Result<(), LambdaError> {
    persist_function(state, name, None).await
}

/// Durable servers keep the function's configuration, and its new `code`
/// when given, in one write (another host never loads one without the other).
async fn persist_function(state: &AppState, name: &str, code: Option<Arc<[u8]>>) -> Result<(), LambdaError> {
    if !state.store.persistent() {
        return Ok(());
    }
    let mut config = configuration(state, name)?;
    if let Some(n) = state.functions.reservations.get(name) {
        config["ReservedConcurrentExecutions"] = json!(n);
    }
    let tags = state.functions.lock().get(name).map(|m| m.tags.clone()).unwrap_or_default();
    if !tags.is_empty() {
        config["Tags"] = json!(tags);
    }
    let sha = state.registry.get(name).map(|f| f.function.sha256.clone()).unwrap_or_default();
    let record = function_record(state, name, &sha, config);
    match code {
        Some(wasm) => state.store.put_function(&record, wasm).await,
        None => state.store.put_function_record(&record).await,
    }
    .map_err(LambdaError::store)
}

/// Start-up of a durable server: registers every stored function again (the
/// precompiled artifact usually comes from the sandbox's artifact cache).
pub(crate) async fn restore_functions(state: &AppState, store: &dyn Stores) -> Result<usize, stepbox_store::StoreError> {
    let mut restored = 0;
    for record in store.list_functions().await? {
        let Some(code) = store.function_code(&record.name).await? else { continue };
        if restore_function(&state.registry, &state.functions, &record, Code::Wasm(code)).is_some() {
            restored += 1;
        }
    }
    Ok(restored)
}

/// A stored function's code: its wasm, or already compiled (unchanged, for
/// an engine that counts fuel when the function has a budget).
enum Code {
    Wasm(Vec<u8>),
    Compiled(Arc<stepbox_sandbox::Function>),
}

/// Registers the stored function `record` with its `code` and its
/// configuration (None: it cannot be registered; logged).
fn restore_function(
    registry: &Registry,
    functions: &FunctionTable,
    record: &stepbox_store::FunctionRecord,
    code: Code,
) -> Option<RegisteredFunction> {
    let c = &record.configuration;
    let timeout = c.get("Timeout").and_then(Value::as_u64).unwrap_or(3);
    let memory_size = c.get("MemorySize").and_then(Value::as_u64).unwrap_or(128);
    let tags = fuel::stored(c);
    let limits = fuel::limits_with(limits_in(registry, timeout, memory_size).ok()?, &tags, functions.default_fuel).ok()?;
    let registered = match code {
        Code::Compiled(f) => registry.insert(&record.name, f, limits),
        Code::Wasm(code) => match registry.register(&record.name, &code, limits) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(function = %record.name, error = %e, "cannot restore a stored function");
                return None;
            }
        },
    };
    match c.get("ReservedConcurrentExecutions").and_then(Value::as_u64) {
        Some(n) => functions.reservations.set(&record.name, n as u32),
        None => drop(functions.reservations.remove(&record.name)),
    }
    let text = |k: &str, default: &str| c.get(k).and_then(Value::as_str).unwrap_or(default).to_string();
    functions.lock().insert(
        record.name.clone(),
        FunctionMeta {
            name: record.name.clone(),
            description: text("Description", ""),
            role: text("Role", "arn:aws:iam::111111111111:role/stepbox"),
            runtime: text("Runtime", "provided.al2023"),
            handler: text("Handler", "component"),
            timeout,
            memory_size,
            last_modified: text("LastModified", &last_modified()),
            revision_id: text("RevisionId", &stepbox_asl::uuid_v4()),
            environment: c.get("Environment").and_then(|e| e.get("Variables")).and_then(Value::as_object).map(|vars| {
                vars.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()
            }),
            account: stepbox_store::arn_account(&record.arn).map(str::to_string),
            tags,
        },
    );
    // A function built from source reports its package's digest and size.
    match (c.get("CodeSha256").and_then(Value::as_str), c.get("CodeSize").and_then(Value::as_u64)) {
        (Some(sha), Some(size)) if !sha.is_empty() && source_build::source_runtime(&text("Runtime", "")).is_some() => {
            functions.builds().set_code(&record.name, sha.to_string(), size as usize);
        }
        _ => functions.builds().clear_code(&record.name),
    }
    let limits = Limits { env: environment::of(c, None), ..registered.limits };
    Some(registry.insert(&record.name, registered.function, limits))
}

fn code_sha256(f: &RegisteredFunction) -> String {
    let bytes: Vec<u8> =
        (0..f.function.sha256.len() / 2).filter_map(|i| u8::from_str_radix(&f.function.sha256[2 * i..2 * i + 2], 16).ok()).collect();
    stepbox_asl::base64::encode(&bytes)
}

fn configuration(state: &AppState, name: &str) -> Result<Value, LambdaError> {
    let Some(f) = state.registry.get(name) else {
        return source_build::unbuilt_configuration(state, name).ok_or_else(|| LambdaError::not_found(state, name));
    };
    let meta = state.functions.lock().get(name).cloned();
    let meta = match meta {
        Some(m) => m,
        None => {
            state.functions.adopt(&state.config, &f);
            state.functions.lock().get(name).cloned().ok_or_else(|| LambdaError::not_found(state, name))?
        }
    };
    let mut config = json!({
        "FunctionName": meta.name,
        "FunctionArn": function_arn(state, name),
        "Runtime": meta.runtime,
        "Role": meta.role,
        "Handler": meta.handler,
        "CodeSize": f.function.code_size,
        "Description": meta.description,
        "Timeout": meta.timeout,
        "MemorySize": meta.memory_size,
        "LastModified": meta.last_modified,
        "CodeSha256": code_sha256(&f),
        "Version": "$LATEST",
        "RevisionId": meta.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
    });
    if let Some(env) = environment::member(&meta.environment) {
        config["Environment"] = env;
    }
    source_build::annotate_function(state, name, &mut config);
    Ok(config)
}

async fn create_function(state: &AppState, body: &Map<String, Value>) -> Result<Response<Body>, LambdaError> {
    let name = get_str(body, "FunctionName")?.ok_or_else(|| LambdaError::invalid("FunctionName is required"))?;
    check_function_name(name)?;
    let _writing = state.functions.shared.writing(name).await;
    if state.registry.get(name).is_some() || state.functions.builds().get(name).is_some() {
        return Err(LambdaError::new(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            format!("Function already exist: {name}"),
        ));
    }
    let zip = body
        .get("Code")
        .and_then(|c| c.get("ZipFile"))
        .and_then(Value::as_str)
        .ok_or_else(|| LambdaError::invalid("Code.ZipFile is required (S3 and image code locations are not supported)"))?;
    let timeout = get_u64(body, "Timeout")?.unwrap_or(3);
    let memory_size = get_u64(body, "MemorySize")?.unwrap_or(128);
    check_tenant_memory(state, memory_size)?;
    let tags = fuel::tags_of(body)?;
    let limits = fuel::limits_with(limits_for(state, timeout, memory_size)?, &tags, state.functions.default_fuel)?;
    let environment = environment::variables(body)?;
    let runtime = get_str(body, "Runtime")?.and_then(source_build::source_runtime);
    let (build, code) = match runtime {
        Some(runtime) => (Some(source_build::prepare(state, name, runtime, get_str(body, "Handler")?, zip, limits)?), None),
        None => (None, Some(register(state, name, zip, limits).await?)),
    };
    state.functions.lock().insert(
        name.to_string(),
        FunctionMeta {
            name: name.to_string(),
            description: get_str(body, "Description")?.unwrap_or_default().into(),
            role: get_str(body, "Role")?.unwrap_or("arn:aws:iam::111111111111:role/stepbox").into(),
            runtime: get_str(body, "Runtime")?.unwrap_or("provided.al2023").into(),
            handler: get_str(body, "Handler")?.unwrap_or("component").into(),
            timeout,
            memory_size,
            last_modified: last_modified(),
            revision_id: stepbox_asl::uuid_v4(),
            environment,
            account: Some(state.config.identity.account.clone()),
            tags,
        },
    );
    let publish = body.get("Publish").and_then(Value::as_bool).unwrap_or(false);
    let answer = match build {
        Some(build) => {
            build.publishing(publish).start(state, true);
            configuration(state, name)?
        }
        None => {
            attach_environment(state, name)?;
            persist_function(state, name, code).await?;
            match publish {
                true => versions::publish_version(state, name, None).await?,
                false => configuration(state, name)?,
            }
        }
    };
    let mut r = ok(&answer);
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

fn get_function(state: &AppState, raw: &str, qualifier: Option<&str>) -> Result<Response<Body>, LambdaError> {
    let (name, in_name) = resolve_name(raw)?;
    let config = versions::configuration_of(state, &name, qualifier.or(in_name.as_deref()))?;
    let mut out = json!({
        "Configuration": config,
        "Code": {"RepositoryType": "S3", "Location": format!("file:///stepbox/functions/{name}.wasm")},
    });
    if let Some(n) = state.functions.reservations.get(&name) {
        out["Concurrency"] = json!({"ReservedConcurrentExecutions": n});
    }
    let tags = state.functions.lock().get(&name).map(|m| m.tags.clone()).unwrap_or_default();
    if !tags.is_empty() {
        out["Tags"] = json!(tags);
    }
    Ok(ok(&out))
}

async fn update_code(state: &AppState, raw: &str, body: &Map<String, Value>) -> Result<Response<Body>, LambdaError> {
    let (name, _) = resolve_name(raw)?;
    let zip = get_str(body, "ZipFile")?.ok_or_else(|| LambdaError::invalid("ZipFile is required (S3 and image code locations are not supported)"))?;
    check_revision(state, &name, body)?;
    let publish = body.get("Publish").and_then(Value::as_bool).unwrap_or(false);
    if let Some(response) = source_build::update_code(state, &name, zip, publish)? {
        return Ok(response);
    }
    let existing = state.registry.get(&name).ok_or_else(|| LambdaError::not_found(state, &name))?;
    let code = register(state, &name, zip, existing.limits.clone()).await?;
    touch(state, &name);
    versions::refresh_latest_aliases(state, &name);
    persist_function(state, &name, Some(code)).await?;
    match publish {
        true => Ok(ok(&versions::publish_version(state, &name, None).await?)),
        false => Ok(ok(&configuration(state, &name)?)),
    }
}

async fn update_configuration(state: &AppState, raw: &str, body: &Map<String, Value>) -> Result<Response<Body>, LambdaError> {
    let (name, _) = resolve_name(raw)?;
    let existing = state.registry.get(&name).ok_or_else(|| LambdaError::not_found(state, &name))?;
    configuration(state, &name)?; // make sure metadata exists
    check_revision(state, &name, body)?;
    let meta = state.functions.lock().get(&name).cloned().ok_or_else(|| LambdaError::not_found(state, &name))?;
    let timeout = get_u64(body, "Timeout")?.unwrap_or(meta.timeout);
    let memory_size = get_u64(body, "MemorySize")?.unwrap_or(meta.memory_size);
    check_tenant_memory(state, memory_size)?;
    let limits = limits_for(state, timeout, memory_size)?;
    let limits = Limits { fuel: existing.limits.fuel, scratch_dir: existing.limits.scratch_dir, ..limits };
    let environment = environment::variables(body)?;
    state.registry.insert(&name, existing.function.clone(), limits);
    if let Some(m) = state.functions.lock().get_mut(&name) {
        m.timeout = timeout;
        m.memory_size = memory_size;
        if environment.is_some() {
            m.environment = environment;
        }
        if let Some(d) = get_str(body, "Description")? {
            m.description = d.into();
        }
        if let Some(r) = get_str(body, "Role")? {
            m.role = r.into();
        }
    }
    touch(state, &name);
    attach_environment(state, &name)?;
    versions::refresh_latest_aliases(state, &name);
    persist_configuration(state, &name).await?;
    Ok(ok(&configuration(state, &name)?))
}

/// Function `name` changed: a new LastModified and RevisionId.
fn touch(state: &AppState, name: &str) {
    if let Some(m) = state.functions.lock().get_mut(name) {
        m.last_modified = last_modified();
        m.revision_id = stepbox_asl::uuid_v4();
    }
}

/// A request's `RevisionId`, when given, must be function `name`'s current one.
fn check_revision(state: &AppState, name: &str, body: &Map<String, Value>) -> Result<(), LambdaError> {
    let Some(given) = get_str(body, "RevisionId")? else { return Ok(()) };
    let current = state.functions.lock().get(name).map(|m| m.revision_id.clone());
    match current {
        Some(current) if current != given => Err(LambdaError::precondition_failed("GetFunction")),
        _ => Ok(()),
    }
}

/// The environment Lambda gives function `name` (its `$LATEST`, no
/// `Environment.Variables`) running under `limits` in the account and
/// region of `identity`: a function registered outside the API (`stepbox
/// run --functions`), which has no configuration of its own.
pub fn environment_for(identity: &stepbox_types::Identity, name: &str, limits: &Limits) -> Arc<[(String, String)]> {
    let config = json!({
        "FunctionName": name,
        "FunctionArn": String::from(Arn::new("lambda", identity, &format!("function:{name}"))),
        "Version": "$LATEST",
        "MemorySize": limits.memory_bytes >> 20,
        "Runtime": ADOPTED_RUNTIME,
        "Handler": ADOPTED_HANDLER,
        "LastModified": last_modified(),
    });
    environment::of(&config, None)
}

/// Give every function registered outside the API (`serve --functions`)
/// the environment of its configuration, as a created function has.
pub(crate) fn attach_adopted_environments(state: &AppState) {
    for name in state.registry.names().into_iter().filter(|n| !n.contains(':')) {
        if let Err(e) = attach_environment(state, &name) {
            tracing::warn!(function = %name, error = %e.message, "cannot give a function its environment");
        }
    }
}

/// Give function `name`'s `$LATEST` its environment (Lambda's variables
/// from its configuration and its `Environment.Variables`).
fn attach_environment(state: &AppState, name: &str) -> Result<(), LambdaError> {
    environment::attach(&state.registry, name, &configuration(state, name)?, None);
    Ok(())
}
