//! A function's environment as Lambda gives it: the runtime's variables
//! (name, version, memory size, region, log group and stream, handler, task
//! root) and the function's `Environment.Variables`. Each registry entry
//! (`NAME`, `NAME:VERSION`, `NAME:ALIAS`) carries its own in its limits, so
//! a function sees its own variables and no other function's.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};
use stepbox_sandbox::{Limits, Registry};

use super::LambdaError;

/// The variables Lambda sets that a function's `Environment.Variables` may
/// not set (Lambda's reserved keys).
const RESERVED: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// Lambda's limit on a function's variables, measured as their JSON text.
const MAX_VARIABLES_BYTES: usize = 4096;

/// The `Environment.Variables` of a CreateFunction or
/// UpdateFunctionConfiguration body (None: not given), refused as Lambda
/// refuses reserved keys and more than 4 KB.
pub(super) fn variables(body: &Map<String, Value>) -> Result<Option<BTreeMap<String, String>>, LambdaError> {
    let Some(vars) = body.get("Environment").and_then(|e| e.get("Variables")) else {
        return Ok(body.get("Environment").map(|_| BTreeMap::new()));
    };
    let vars: BTreeMap<String, String> = vars
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default();
    let reserved: Vec<&str> = vars.keys().map(String::as_str).filter(|k| RESERVED.contains(k)).collect();
    if !reserved.is_empty() {
        return Err(LambdaError::invalid(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have \
             provided contains reserved keys that are currently not supported for modification. Reserved keys used \
             in this request: {}",
            reserved.join(", ")
        )));
    }
    let text = serde_json::to_string(&vars).unwrap_or_default();
    if text.len() > MAX_VARIABLES_BYTES {
        return Err(LambdaError::invalid(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have \
             provided exceeded the 4KB limit. String measured: {text}"
        )));
    }
    Ok(Some(vars))
}

/// The environment of the function (or version) whose configuration is
/// `config` (as GetFunctionConfiguration answers it), invoked through
/// `alias` when given.
pub(super) fn of(config: &Value, alias: Option<&str>) -> Arc<[(String, String)]> {
    let text = |k: &str| config.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let name = text("FunctionName");
    let version = Some(text("Version")).filter(|v| !v.is_empty()).unwrap_or_else(|| "$LATEST".into());
    let arn = text("FunctionArn");
    // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    let unqualified = arn.split(':').take(7).collect::<Vec<_>>().join(":");
    let region = arn.split(':').nth(3).unwrap_or_default().to_string();
    let invoked = match alias {
        Some(alias) => format!("{unqualified}:{alias}"),
        None => arn.clone(),
    };
    let memory = config.get("MemorySize").and_then(Value::as_u64).unwrap_or(128);
    let runtime = text("Runtime");
    let day = text("LastModified").get(..10).unwrap_or("1970-01-01").replace('-', "/");
    let instance = stepbox_asl::uuid_v4().replace('-', "");
    let mut env: BTreeMap<String, String> = BTreeMap::from([
        ("AWS_LAMBDA_FUNCTION_NAME".into(), name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), version.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), memory.to_string()),
        ("AWS_LAMBDA_LOG_GROUP_NAME".into(), format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), format!("{day}/[{version}]{instance}")),
        ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
        ("AWS_REGION".into(), region.clone()),
        ("AWS_DEFAULT_REGION".into(), region),
        ("AWS_EXECUTION_ENV".into(), format!("AWS_Lambda_{runtime}")),
        ("_HANDLER".into(), text("Handler")),
        ("LAMBDA_TASK_ROOT".into(), "/var/task".into()),
        ("LAMBDA_RUNTIME_DIR".into(), "/var/runtime".into()),
        ("LANG".into(), "en_US.UTF-8".into()),
        ("TZ".into(), ":UTC".into()),
        ("PATH".into(), "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
        // stepbox's: the adapters' context.invoked_function_arn.
        ("STEPBOX_INVOKED_FUNCTION_ARN".into(), invoked),
    ]);
    if runtime.starts_with("provided") {
        env.remove("AWS_EXECUTION_ENV");
    }
    if let Some(vars) = config.get("Environment").and_then(|e| e.get("Variables")).and_then(Value::as_object) {
        for (k, v) in vars {
            env.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
        }
    }
    env.into_iter().collect::<Vec<_>>().into()
}

/// Give registry entry `key` the environment of `config` (see [`of`]).
pub(super) fn attach(registry: &Registry, key: &str, config: &Value, alias: Option<&str>) {
    if let Some(f) = registry.peek(key) {
        let limits = Limits { env: of(config, alias), ..f.limits };
        registry.insert(key, f.function, limits);
    }
}

/// The `Environment` member of a configuration, when the function has variables.
pub(super) fn member(vars: &Option<BTreeMap<String, String>>) -> Option<Value> {
    vars.as_ref().map(|v| serde_json::json!({"Variables": v}))
}
