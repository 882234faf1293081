//! Invoke: RequestResponse, Event (queued, retried twice after an error as
//! Lambda retries asynchronous invocations) and DryRun, of `$LATEST`, a
//! version or an alias (an alias with a RoutingConfig runs an additional
//! version for its share of invocations).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use stepbox_sandbox::{RegisteredFunction, TaskContext};

use super::{LambdaError, MAX_INVOKE_PAYLOAD, body_error, query, resolve_name, source_build, versions};
use crate::{AppState, Body, ReqBody, read_body};

/// Lambda's waits before the second and third attempts of an asynchronous
/// invocation whose function failed (scaled by the server's
/// `wait_time_scale`, as Wait states and Retry back-offs are).
const EVENT_RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(60), Duration::from_secs(120)];

/// An Invoke payload as the guest gets it: JSON text in UTF-8, as Lambda
/// requires (refused, never rewritten); `{}` when empty.
pub(super) fn invoke_input(payload: &[u8]) -> Result<String, LambdaError> {
    let refuse = |why: String| {
        LambdaError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: Could not parse payload into json: {why}"),
        )
    };
    if payload.is_empty() {
        return Ok("{}".to_string());
    }
    let text = std::str::from_utf8(payload).map_err(|e| {
        let at = e.valid_up_to();
        // Where the bad sequence starts: its lead byte, or the byte after it that does not continue it.
        let (kind, byte) = match payload.get(at + 1) {
            Some(&b) if payload[at] >= 0xc0 && e.error_len().is_some_and(|n| n > 0) && b & 0xc0 != 0x80 => ("middle", b),
            _ => ("start", payload[at]),
        };
        refuse(format!("Invalid UTF-8 {kind} byte 0x{byte:02x} at offset {at}"))
    })?;
    serde_json::from_str::<Value>(text).map_err(|e| refuse(e.to_string()))?;
    Ok(text.to_string())
}

pub(super) async fn invoke(state: &AppState, raw: &str, req: Request<ReqBody>, request_id: &str) -> Result<Response<Body>, LambdaError> {
    let (name, in_name) = resolve_name(raw)?;
    let qualifier = query(&req).get("Qualifier").cloned().or(in_name);
    let invocation_type = crate::header(&req, "x-amz-invocation-type").unwrap_or_else(|| "RequestResponse".into());
    let tail = crate::header(&req, "x-amz-log-type").is_some_and(|t| t == "Tail");
    if qualifier.as_deref().is_none_or(|q| q == "$LATEST")
        && let Some(e) = state.functions.builds().get(&name).as_ref().and_then(source_build::not_invocable)
    {
        return Err(e);
    }
    let routed = qualifier.as_deref().and_then(|q| versions::route(&state.functions.published, &name, q));
    let function = match state.registry.get(&versions::registry_key(&name, routed.as_deref().or(qualifier.as_deref()))) {
        Some(f) => f,
        None if qualifier.as_deref().is_some_and(|q| q != "$LATEST") => {
            return Err(versions::configuration_of(state, &name, qualifier.as_deref()).err().unwrap_or_else(|| LambdaError::not_found(state, &name)));
        }
        None => return Err(LambdaError::not_found(state, &name)),
    };
    let executed = routed.unwrap_or_else(|| versions::executed_version(state, &name, qualifier.as_deref()));
    let payload = read_body(req, MAX_INVOKE_PAYLOAD, state.config.connections.body_read_timeout)
        .await
        .map_err(|e| body_error(e, "Invoke"))?;
    let input = invoke_input(&payload)?;
    let context = stepbox_sandbox::TaskContext {
        execution_name: String::new(),
        execution_arn: String::new(),
        state_name: String::new(),
        retry_count: 0,
        task_token: None,
        request_id: request_id.to_string(),
    };
    match invocation_type.as_str() {
        "DryRun" => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::NO_CONTENT;
            Ok(r)
        }
        "Event" => {
            let reserved = state.functions.reservations.get(&name);
            let account_slots = state.invocation_slots();
            let (slots, quota) = match state.functions.reservations.slots(&name) {
                Some(semaphore) => {
                    let waiting = account_slots.map(|s| s.waiting).unwrap_or_default();
                    (Some(stepbox_invoker::Slots { semaphore, waiting }), "reserved_concurrency")
                }
                None => (account_slots, "concurrent_invocations"),
            };
            let scale = state.config.wait_time_scale;
            let (registry, invocations) = (state.registry.clone(), state.invocations.clone());
            let (metrics, account) = (state.accounts.metrics.clone(), state.config.identity.account.clone());
            tokio::spawn(async move {
                if reserved == Some(0) {
                    tracing::info!(function = %function.name, "asynchronous invocation throttled: reserved concurrency 0");
                    metrics.throttled(&account, quota);
                    return;
                }
                // Queued behind the account's other invocations, as Lambda
                // queues events (a wait counts as a throttle, as Lambda's do).
                let _slot = match slots {
                    Some(slots) => match slots.semaphore.clone().try_acquire_owned() {
                        Ok(slot) => Some(slot),
                        Err(_) => {
                            metrics.throttled(&account, quota);
                            match slots.acquire().await {
                                Ok(slot) => Some(slot),
                                Err(_) => return,
                            }
                        }
                    },
                    None => None,
                };
                run_event(&registry, &invocations, &function, &input, &context, scale).await;
            });
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::ACCEPTED;
            Ok(r)
        }
        "RequestResponse" => {
            let _slot = match (state.functions.reservations.slots(&name), state.invocation_slots()) {
                (Some(reserved), _) => Some(reserved.try_acquire_owned().map_err(|_| {
                    state.accounts.metrics.throttled(&state.config.identity.account, "reserved_concurrency");
                    super::concurrency::throttled()
                })?),
                (None, Some(slots)) => Some(slots.semaphore.try_acquire_owned().map_err(|_| {
                    state.accounts.metrics.throttled(&state.config.identity.account, "concurrent_invocations");
                    let mut e = LambdaError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException", "Rate Exceeded.");
                    e.reason = Some("ConcurrentInvocationLimitExceeded");
                    e
                })?),
                (None, None) => None,
            };
            let req = stepbox_sandbox::Request { input: &input, context: context.clone(), limits: &function.limits, on_heartbeat: None };
            let inv = state.registry.sandbox().invoke(&function.function, req).await;
            state.invocations.record(&function, &context, &inv);
            let (body, failed) = match inv.result {
                Ok(text) => (text, false),
                // A task's own error has the Python runtime's envelope (with
                // requestId and stackTrace), or the envelope the task gave as
                // its cause (a Node.js handler's); sandbox failures only name the error.
                Err(e @ stepbox_sandbox::InvokeError::Task { .. }) if source_build::is_envelope(&e.cause()) => (e.cause(), true),
                Err(e @ stepbox_sandbox::InvokeError::Task { .. }) => (
                    json!({"errorMessage": e.cause(), "errorType": e.error_name(),
                           "requestId": request_id, "stackTrace": e.stack_trace()})
                    .to_string(),
                    true,
                ),
                Err(e) => (json!({"errorType": e.error_name(), "errorMessage": e.cause()}).to_string(), true),
            };
            let mut r = Response::new(Full::new(Bytes::from(body)));
            let h = r.headers_mut();
            h.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
            if let Ok(v) = hyper::header::HeaderValue::from_str(&executed) {
                h.insert("x-amz-executed-version", v);
            }
            if failed {
                h.insert("x-amz-function-error", hyper::header::HeaderValue::from_static("Unhandled"));
            }
            if tail {
                let encoded = stepbox_asl::base64::encode(inv.logs.tail(4096).as_bytes());
                if let Ok(v) = hyper::header::HeaderValue::from_str(&encoded) {
                    h.insert("x-amz-log-result", v);
                }
            }
            Ok(r)
        }
        other => Err(LambdaError::invalid(format!(
            "X-Amz-Invocation-Type must be RequestResponse, Event or DryRun, got '{other}'"
        ))),
    }
}

/// An asynchronous invocation: up to three attempts (the same request id),
/// the second and third after Lambda's waits, while the function fails.
async fn run_event(
    registry: &stepbox_sandbox::Registry,
    invocations: &crate::console::Invocations,
    function: &RegisteredFunction,
    input: &str,
    context: &TaskContext,
    scale: f64,
) {
    for attempt in 0..=EVENT_RETRY_DELAYS.len() {
        if let Some(delay) = attempt.checked_sub(1).map(|i| EVENT_RETRY_DELAYS[i]) {
            tokio::time::sleep(delay.mul_f64(scale.clamp(0.0, 1.0))).await;
        }
        let req = stepbox_sandbox::Request { input, context: context.clone(), limits: &function.limits, on_heartbeat: None };
        let inv = registry.sandbox().invoke(&function.function, req).await;
        invocations.record(function, context, &inv);
        match inv.result {
            Ok(_) => return,
            Err(e) => tracing::info!(function = %function.name, error = e.error_name(), attempt = attempt + 1, "asynchronous invocation failed"),
        }
    }
}
