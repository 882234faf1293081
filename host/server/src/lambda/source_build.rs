//! Functions uploaded as source, as Lambda takes them: CreateFunction or
//! UpdateFunctionCode with a `python3.12`, `nodejs20.x` or `nodejs22.x`
//! runtime, a `Handler` and a zip of sources. The server answers at once and
//! builds the component in the background (stepbox-toolchain): the function
//! is `Pending` until it is registered (`Active`), or `Failed` with the
//! build's reason; an update keeps the function `Active` with
//! `LastUpdateStatus` `InProgress`, then `Successful` or `Failed`. Builds are
//! kept by their inputs (the build cache beside the sandbox's artifact
//! cache), and a durable store keeps the built component as the function's
//! code, so a restart registers it without building again.

use std::collections::HashMap;
use std::sync::Mutex;

use hyper::StatusCode;
use serde_json::{Map, Value, json};
use stepbox_sandbox::Limits;
use stepbox_toolchain::{BuildCache, BuildError, BuildRequest, Runtime, Source, Toolchains};

use super::{LambdaError, register_wasm};
use crate::AppState;

/// Where a source function's latest build stands, while it is not simply
/// Active with a successful last update.
#[derive(Debug, Clone)]
pub(crate) enum BuildStatus {
    /// Created, first build running.
    Pending,
    /// Created, first build failed: `reason` says why.
    Failed { code: &'static str, reason: String },
    /// Active, a code update is building.
    Updating,
    /// Active on its previous code, the update failed.
    UpdateFailed { code: &'static str, reason: String },
}

/// Build status by function name.
#[derive(Default)]
pub(crate) struct Builds {
    status: Mutex<HashMap<String, BuildStatus>>,
    /// CodeSha256 and CodeSize of each source function's latest zip.
    code: Mutex<HashMap<String, (String, usize)>>,
}

impl Builds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, BuildStatus>> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn get(&self, name: &str) -> Option<BuildStatus> {
        self.lock().get(name).cloned()
    }

    /// The functions with a build status (building, or failed).
    pub(crate) fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Function `name`'s code is the package with digest `sha256` (Lambda's
    /// CodeSha256, base64) and `size` bytes.
    pub(crate) fn set_code(&self, name: &str, sha256: String, size: usize) {
        self.code.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_string(), (sha256, size));
    }

    /// Function `name`'s code is a component of its own (no package digest).
    pub(crate) fn clear_code(&self, name: &str) {
        self.code.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
    }

    /// Forget a deleted function; whether it was building or failed.
    pub(crate) fn remove(&self, name: &str) -> bool {
        self.code.lock().unwrap_or_else(|e| e.into_inner()).remove(name);
        self.lock().remove(name).is_some()
    }

    fn set(&self, name: &str, status: Option<BuildStatus>) {
        match status {
            Some(s) => self.lock().insert(name.to_string(), s),
            None => self.lock().remove(name),
        };
    }
}

/// The runtime of a function built from source, if `runtime` is one.
pub(crate) fn source_runtime(runtime: &str) -> Option<Runtime> {
    Runtime::parse(runtime)
}

/// Refuse a source runtime whose toolchain is not installed, naming the
/// command that installs it.
pub(crate) fn check_toolchain(runtime: Runtime) -> Result<(), LambdaError> {
    if Toolchains::from_env().installed(runtime.language()).is_some() {
        return Ok(());
    }
    Err(LambdaError::invalid(format!(
        "The runtime {} needs its toolchain on this server: run `{}`",
        runtime.id(),
        runtime.language().install_command()
    )))
}

/// Where built components are kept: `STEPBOX_BUILD_CACHE`, else `builds`
/// beside the sandbox's artifact cache, else nowhere.
fn build_cache(state: &AppState) -> BuildCache {
    let dir = std::env::var_os("STEPBOX_BUILD_CACHE").filter(|d| !d.is_empty()).map(std::path::PathBuf::from).or_else(|| {
        let artifacts = state.registry.sandbox().config().cache_dir.clone()?;
        Some(artifacts.parent()?.join("builds"))
    });
    BuildCache::new(dir.as_deref())
}

/// A build accepted by CreateFunction or UpdateFunctionCode, to start once
/// the function's metadata is in place.
pub(crate) struct Prepared {
    name: String,
    runtime: Runtime,
    handler: String,
    zip: Vec<u8>,
    limits: Limits,
    /// Publish a version once built (`Publish` of the request).
    publish: bool,
}

/// Check a source upload: the toolchain is installed, a handler is given,
/// the zip decodes. Its code digest and size (the zip's, as Lambda reports
/// them) are recorded.
pub(crate) fn prepare(
    state: &AppState,
    name: &str,
    runtime: Runtime,
    handler: Option<&str>,
    zip_b64: &str,
    limits: Limits,
) -> Result<Prepared, LambdaError> {
    check_toolchain(runtime)?;
    let handler = handler.ok_or_else(|| LambdaError::invalid(format!("Handler is required for runtime {}", runtime.id())))?;
    let zip = stepbox_asl::base64::decode(zip_b64.trim()).ok_or_else(|| LambdaError::invalid("Code.ZipFile is not valid base64"))?;
    if !zip.starts_with(b"PK") {
        return Err(LambdaError::invalid("Could not unzip uploaded file. Please check your file, then try to upload again."));
    }
    state.functions.builds().set_code(name, zip_sha256(&zip), zip.len());
    Ok(Prepared { name: name.to_string(), runtime, handler: handler.to_string(), zip, limits, publish: false })
}

impl Prepared {
    /// Publish a version once the build succeeds.
    pub(crate) fn publishing(self, publish: bool) -> Self {
        Prepared { publish, ..self }
    }

    /// Build in the background: `first` for CreateFunction (Pending until
    /// built), otherwise an update of an Active function.
    pub(crate) fn start(self, state: &AppState, first: bool) {
        let Prepared { name, runtime, handler, zip, limits, publish } = self;
        state.functions.builds().set(&name, Some(if first { BuildStatus::Pending } else { BuildStatus::Updating }));
        let state = state.clone();
        tokio::spawn(async move {
            let cache = build_cache(&state);
            let built = tokio::task::spawn_blocking(move || {
                let source = Source::Zip(zip);
                let request = BuildRequest { runtime, handler: &handler, source: &source };
                Toolchains::from_env().build(&request, &cache)
            })
            .await;
            if state.functions.builds().get(&name).is_none() {
                return; // deleted while it built
            }
            let _writing = state.functions.shared.writing(&name).await;
            let outcome = match built {
                Ok(Ok(wasm)) => register_wasm(&state, &name, wasm, limits).await.map_err(|e| ("InvalidImage", e.message)),
                Ok(Err(e)) => Err(failure(e)),
                Err(e) => Err(("InternalError", e.to_string())),
            };
            let (status, code) = match outcome {
                Ok(code) => (None, Some(code)),
                Err((code, reason)) => {
                    tracing::info!(function = %name, reason, "a function's build failed");
                    (Some(if first { BuildStatus::Failed { code, reason } } else { BuildStatus::UpdateFailed { code, reason } }), None)
                }
            };
            state.functions.builds().set(&name, status);
            if let Some(code) = code {
                after_build(&state, &name, first, publish, code).await;
            }
        });
    }
}

async fn after_build(state: &AppState, name: &str, first: bool, publish: bool, code: std::sync::Arc<[u8]>) {
    super::touch(state, name);
    if let Err(e) = super::attach_environment(state, name) {
        tracing::error!(function = %name, error = %e.message, "cannot give a built function its environment");
    }
    if !first {
        super::versions::refresh_latest_aliases(state, name);
    }
    if let Err(e) = super::persist_function(state, name, Some(code)).await {
        tracing::error!(function = %name, error = %e.message, "cannot keep a built function's configuration");
    }
    if publish && let Err(e) = super::versions::publish_version(state, name, None).await {
        tracing::error!(function = %name, error = %e.message, "cannot publish a built function");
    }
}

/// UpdateFunctionCode of a function built from source: `None` when the
/// function is not one (its code is a component).
pub(crate) fn update_code(state: &AppState, name: &str, zip_b64: &str, publish: bool) -> Result<Option<hyper::Response<crate::Body>>, LambdaError> {
    let Some(meta) = state.functions.lock().get(name).cloned() else { return Ok(None) };
    let Some(runtime) = source_runtime(&meta.runtime) else { return Ok(None) };
    let status = state.functions.builds().get(name);
    if matches!(status, Some(BuildStatus::Pending | BuildStatus::Updating)) {
        return Err(LambdaError::new(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            format!("The operation cannot be performed at this time. An update is in progress for resource: {}", super::function_arn(state, name)),
        ));
    }
    let limits = match state.registry.get(name) {
        Some(f) => f.limits.clone(),
        None => super::fuel::limits_with(super::limits_for(state, meta.timeout, meta.memory_size)?, &meta.tags, state.functions.default_fuel)?,
    };
    // A function whose first build failed builds again as if created.
    let first = state.registry.get(name).is_none();
    prepare(state, name, runtime, Some(&meta.handler), zip_b64, limits)?.publishing(publish).start(state, first);
    Ok(Some(super::ok(&super::configuration(state, name)?)))
}

/// A failed build as Lambda's StateReasonCode and reason.
fn failure(e: BuildError) -> (&'static str, String) {
    match e {
        BuildError::Code { .. } => ("FunctionError", e.to_string()),
        BuildError::Source(_) => ("InvalidZipFileException", e.to_string()),
        BuildError::ToolchainMissing { .. } => ("InvalidRuntime", e.to_string()),
        BuildError::Failed(_) => ("InternalError", e.to_string()),
    }
}

/// A source function's configuration: the zip's digest and size, and its
/// build's State and LastUpdateStatus.
pub(crate) fn annotate_function(state: &AppState, name: &str, config: &mut Value) {
    let Some(config) = config.as_object_mut() else { return };
    let builds = state.functions.builds();
    if let Some((sha, size)) = builds.code.lock().unwrap_or_else(|e| e.into_inner()).get(name).cloned() {
        config.insert("CodeSha256".into(), sha.into());
        config.insert("CodeSize".into(), size.into());
    }
    if let Some(status) = builds.get(name) {
        annotate(config, &status);
    }
}

/// The configuration of a function created from source that has no
/// component yet (Pending or Failed), or None.
pub(crate) fn unbuilt_configuration(state: &AppState, name: &str) -> Option<Value> {
    state.functions.builds().get(name)?;
    let meta = state.functions.lock().get(name).cloned()?;
    let mut config = json!({
        "FunctionName": meta.name,
        "FunctionArn": super::function_arn(state, name),
        "Runtime": meta.runtime,
        "Role": meta.role,
        "Handler": meta.handler,
        "CodeSize": 0,
        "Description": meta.description,
        "Timeout": meta.timeout,
        "MemorySize": meta.memory_size,
        "LastModified": meta.last_modified,
        "CodeSha256": "",
        "Version": "$LATEST",
        "RevisionId": meta.revision_id,
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
    });
    if let Some(env) = super::environment::member(&meta.environment) {
        config["Environment"] = env;
    }
    annotate_function(state, name, &mut config);
    Some(config)
}

fn annotate(config: &mut Map<String, Value>, status: &BuildStatus) {
    let members = match status {
        BuildStatus::Pending => json!({"State": "Pending", "StateReason": "The function is being created.",
            "StateReasonCode": "Creating", "LastUpdateStatus": "InProgress",
            "LastUpdateStatusReason": "The function is being created.", "LastUpdateStatusReasonCode": "Creating"}),
        BuildStatus::Failed { code, reason } => json!({"State": "Failed", "StateReason": reason,
            "StateReasonCode": code, "LastUpdateStatus": "Failed", "LastUpdateStatusReason": reason,
            "LastUpdateStatusReasonCode": code}),
        BuildStatus::Updating => json!({"LastUpdateStatus": "InProgress",
            "LastUpdateStatusReason": "The function is being updated.", "LastUpdateStatusReasonCode": "Creating"}),
        BuildStatus::UpdateFailed { code, reason } => json!({"LastUpdateStatus": "Failed",
            "LastUpdateStatusReason": reason, "LastUpdateStatusReasonCode": code}),
    };
    if let Value::Object(m) = members {
        config.extend(m);
    }
}

/// The State of a function whose build status is `status` when it has no
/// code to run yet.
pub(crate) fn unbuilt_state(status: &BuildStatus) -> Option<&'static str> {
    match status {
        BuildStatus::Pending => Some("Pending"),
        BuildStatus::Failed { .. } => Some("Failed"),
        BuildStatus::Updating | BuildStatus::UpdateFailed { .. } => None,
    }
}

/// Invoke of a function that has no code to run yet: Lambda's conflict.
pub(crate) fn not_invocable(status: &BuildStatus) -> Option<LambdaError> {
    let state = unbuilt_state(status)?;
    Some(LambdaError::new(
        StatusCode::CONFLICT,
        "ResourceConflictException",
        format!("The operation cannot be performed at this time. The function is currently in the following state: {state}"),
    ))
}

/// The function's code digest as Lambda reports it: over the uploaded zip.
pub(crate) fn zip_sha256(zip: &[u8]) -> String {
    use sha2::Digest as _;
    stepbox_asl::base64::encode(&sha2::Sha256::digest(zip))
}

/// Whether a task's cause is an error envelope of its own (a JSON object,
/// as the Node.js adapter gives), passed on as Lambda's runtime would.
pub(crate) fn is_envelope(cause: &str) -> bool {
    cause.trim_start().starts_with('{') && serde_json::from_str::<Map<String, Value>>(cause).is_ok()
}
