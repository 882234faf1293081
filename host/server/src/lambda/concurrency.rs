//! Reserved concurrency (Put/Get/DeleteFunctionConcurrency): a function
//! with `ReservedConcurrentExecutions` = N runs at most N invocations at
//! once, from a pool of its own carved out of its account's
//! (`concurrent_invocations` with tenants, Lambda's default 1,000 without).
//! Past N, a synchronous Invoke is TooManyRequestsException (Reason
//! ReservedFunctionConcurrentInvocationLimitExceeded), a Task state fails
//! `Lambda.TooManyRequestsException` (as Step Functions reports a throttled
//! Lambda: its Retry can wait for a slot), an `Event` invocation waits.
//! The reservations of an account may not leave it fewer unreserved slots
//! than a tenth of its limit (Lambda keeps 100 of its 1,000 unreserved).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::{LambdaError, json_body, ok, resolve_name};
use crate::{AppState, Body, ReqBody};

/// An account's concurrency without tenants: Lambda's default.
const DEFAULT_ACCOUNT_CONCURRENCY: u32 = 1000;

/// The reservations of every function, by name.
#[derive(Default)]
pub(crate) struct Reservations {
    by_function: Mutex<HashMap<String, (u32, Arc<Semaphore>)>>,
}

impl Reservations {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Arc<Semaphore>)>> {
        self.by_function.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Function `name`'s reserved concurrency, if it has one.
    pub(crate) fn get(&self, name: &str) -> Option<u32> {
        self.lock().get(name).map(|(n, _)| *n)
    }

    /// The slots of function `name`'s invocations when it has a reservation.
    pub(crate) fn slots(&self, name: &str) -> Option<Arc<Semaphore>> {
        self.lock().get(name).map(|(_, s)| s.clone())
    }

    /// Reserves `n` for function `name` (a new pool: invocations running keep their slots).
    pub(crate) fn set(&self, name: &str, n: u32) {
        self.lock().insert(name.to_string(), (n, Arc::new(Semaphore::new(n as usize))));
    }

    pub(crate) fn remove(&self, name: &str) -> Option<u32> {
        self.lock().remove(name).map(|(n, _)| n)
    }

    /// The reservations of the functions `owned` says are the account's, but `except`.
    pub(crate) fn sum(&self, owned: impl Fn(&str) -> bool, except: Option<&str>) -> u64 {
        self.lock().iter().filter(|(name, _)| Some(name.as_str()) != except && owned(name)).map(|(_, (n, _))| u64::from(*n)).sum()
    }
}

/// The function API's concurrency operations, by path: PUT and DELETE
/// `/2017-10-31/functions/NAME/concurrency`, GET `/2019-09-30/functions/NAME/concurrency`.
pub(crate) fn is_concurrency_path(path: &str) -> bool {
    (path.starts_with("/2017-10-31/functions/") || path.starts_with("/2019-09-30/functions/"))
        && path.trim_end_matches('/').ends_with("/concurrency")
}

pub(super) async fn handle(state: &AppState, req: Request<ReqBody>) -> Result<Response<Body>, LambdaError> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let raw = path.split('/').nth(3).map(super::percent_decode).unwrap_or_default();
    let (name, _) = resolve_name(&raw)?;
    super::sync::ensure(state, &name).await.map_err(LambdaError::store)?;
    if super::foreign(state, &name) || state.registry.get(&name).is_none() {
        return Err(LambdaError::not_found(state, &name));
    }
    let _writing = match *req.method() {
        Method::GET => None,
        _ => Some(state.functions.shared.writing(&name).await),
    };
    let reservations = &state.functions.reservations;
    match (req.method().clone(), path.starts_with("/2019-09-30/")) {
        (Method::GET, true) => {
            Ok(ok(&reservations.get(&name).map_or(json!({}), |n| json!({"ReservedConcurrentExecutions": n}))))
        }
        (Method::PUT, false) => {
            let body = json_body(state, req, crate::SFN_BODY_LIMIT, "PutFunctionConcurrency").await?;
            let n = match body.get("ReservedConcurrentExecutions") {
                Some(Value::Number(n)) => n.as_u64().filter(|n| *n <= u64::from(u32::MAX)),
                _ => None,
            };
            let n = n.ok_or_else(|| {
                LambdaError::invalid("ReservedConcurrentExecutions is required: a whole number of at least 0")
            })?;
            check_unreserved_minimum(state, &name, n)?;
            reservations.set(&name, n as u32);
            super::persist_configuration(state, &name).await?;
            Ok(ok(&json!({"ReservedConcurrentExecutions": n})))
        }
        (Method::DELETE, false) => {
            reservations.remove(&name);
            super::persist_configuration(state, &name).await?;
            let mut r = Response::new(Body::default());
            *r.status_mut() = StatusCode::NO_CONTENT;
            Ok(r)
        }
        (m, _) => Err(LambdaError::new(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!("no function API operation for {m} {path}"),
        )),
    }
}

/// The account's concurrency: its tenant's `concurrent_invocations`, or
/// Lambda's default without tenants.
pub(crate) fn account_limit(state: &AppState) -> u32 {
    state.tenant().map_or(DEFAULT_ACCOUNT_CONCURRENCY, |t| t.quotas.concurrent_invocations)
}

/// The fewest unreserved slots an account keeps: a tenth of its limit, at least one.
pub(crate) fn unreserved_minimum(limit: u32) -> u32 {
    (limit / 10).max(1)
}

/// Lambda's check: reserving `n` for `name` may not take the account's
/// unreserved concurrency below its minimum.
fn check_unreserved_minimum(state: &AppState, name: &str, n: u64) -> Result<(), LambdaError> {
    let limit = account_limit(state);
    let minimum = unreserved_minimum(limit);
    let account = state.config.identity.account.clone();
    let tenants = state.config.tenants.is_some();
    let owned = |f: &str| !tenants || state.functions.owner(f).as_deref() == Some(account.as_str());
    let reserved = state.functions.reservations.sum(owned, Some(name)) + n;
    if reserved + u64::from(minimum) > u64::from(limit) {
        return Err(LambdaError::invalid(format!(
            "Specified ReservedConcurrentExecutions for function decreases account's \
             UnreservedConcurrentExecution below its minimum value of [{minimum}]."
        )));
    }
    Ok(())
}

/// The slots of the account's functions without a reservation: its limit
/// less what its functions reserve.
pub(crate) fn unreserved(limit: u32, reserved: u64) -> u32 {
    u64::from(limit).saturating_sub(reserved).max(1) as u32
}

/// What a synchronous Invoke past the function's reservation answers.
pub(super) fn throttled() -> LambdaError {
    let mut e = LambdaError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequestsException", "Rate Exceeded.");
    e.reason = Some("ReservedFunctionConcurrentInvocationLimitExceeded");
    e
}
