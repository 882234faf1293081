//! The web console, `GET /console/…`: a page shell and its assets, embedded
//! in the binary (see `assets/README.md` for the stack and why), and a few
//! read-only endpoints the pages need beside the Step Functions and function
//! APIs they call on the same origin:
//!
//! * `POST /console/api/graph`: a definition (the body) drawn as SVG
//!   ([`stepbox_graph`]'s layered layout), every state a `data-state` element;
//! * `GET /console/api/task-tokens?executionArn=ARN`: the task tokens the
//!   execution's states wait on now (for the approve and reject buttons);
//! * `GET /console/api/invocations?functionName=NAME` (newest first) or
//!   `?executionArn=ARN` (its Task states' invocations, oldest first, as kept
//!   with the execution): invocations with duration, error and log tail
//!   ([`Invocations`]);
//! * `GET /console/api/prices`: the cost estimates' price table ([`prices`]).
//!
//! Every page path (`/console/`, `/console/state-machines/{ARN}`,
//! `/console/executions/{ARN}`, `/console/functions/{NAME}`) answers the same
//! shell; the page's script reads the path.

mod assets;
mod invocations;
pub mod prices;

pub(crate) use invocations::Invocations;

use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use crate::{AppState, Body, BodyError, ReqBody, SFN_BODY_LIMIT, json_response, read_body};

/// The pages' path prefixes under `/console/` (the empty one is the home page).
const PAGES: [&str; 3] = ["state-machines/", "executions/", "functions/"];

/// Whether a console path needs the caller's signature with tenants: its
/// data endpoints do; the pages, their assets and `api/auth` (which says
/// whether requests are signed) do not.
pub(crate) fn signed(path: &str) -> bool {
    path.starts_with("/console/api/") && path != "/console/api/auth"
}

pub(crate) async fn handle(state: AppState, req: Request<ReqBody>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix("/console/") else {
        return redirect("/console/");
    };
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    if let Some(name) = rest.strip_prefix("assets/") {
        return match assets::get(name) {
            Some((body, content_type)) if get => bytes(StatusCode::OK, content_type, body.as_bytes()),
            _ => not_found(&path),
        };
    }
    match (req.method().clone(), rest) {
        (Method::GET, "api/auth") => {
            let auth = if state.config.tenants.is_some() { "sigv4" } else { "none" };
            json_response(StatusCode::OK, "application/json", &json!({ "auth": auth }))
        }
        (Method::POST, "api/graph") => graph(&state, req).await,
        (Method::GET, "api/task-tokens") => task_tokens(&state, &req),
        (Method::GET, "api/invocations") => recent_invocations(&state, &req).await,
        (Method::GET, "api/prices") => match prices::table() {
            Ok(t) => json_response(StatusCode::OK, "application/json", &t),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
        },
        (_, r) if get && (r.is_empty() || PAGES.iter().any(|p| r.starts_with(p) && r.len() > p.len())) => {
            bytes(StatusCode::OK, "text/html; charset=utf-8", assets::INDEX.as_bytes())
        }
        _ => not_found(&path),
    }
}

async fn graph(state: &AppState, req: Request<ReqBody>) -> Response<Body> {
    let body = match read_body(req, SFN_BODY_LIMIT, state.config.connections.body_read_timeout).await {
        Ok(b) => b,
        Err(BodyError::TooLarge(limit)) => return error(StatusCode::PAYLOAD_TOO_LARGE, &format!("a definition is at most {limit} bytes")),
        Err(BodyError::TimedOut(t)) => return error(StatusCode::REQUEST_TIMEOUT, &crate::body_timeout_message(t)),
        Err(BodyError::Io(e)) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let definition: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        Ok(_) => return error(StatusCode::BAD_REQUEST, "the definition must be a JSON object"),
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("the definition is not JSON: {e}")),
    };
    let layout = stepbox_graph::Layout::of_definition(&definition);
    bytes(StatusCode::OK, "image/svg+xml", stepbox_graph::to_svg(&layout).as_bytes())
}

/// A query parameter's decoded value.
fn param<B>(req: &Request<B>, key: &str) -> Option<String> {
    let query = req.uri().query().unwrap_or("");
    query.split('&').filter_map(|kv| kv.split_once('=')).find(|(k, _)| *k == key).map(|(_, v)| crate::lambda::percent_decode(v))
}

/// With tenants, whether the caller's account may see execution `arn`'s data.
fn own_execution(state: &AppState, arn: &str) -> bool {
    state.scope_account().is_none_or(|account| crate::tenants::quota::account_of(arn) == account)
}

async fn recent_invocations(state: &AppState, req: &Request<ReqBody>) -> Response<Body> {
    let own_function = |name: &str| state.scope_account().is_none_or(|a| state.functions.owner(name).as_deref() == Some(a));
    let list = match (param(req, "functionName"), param(req, "executionArn")) {
        (Some(name), _) if own_function(&name) => state.invocations.of_function(&name),
        (None, Some(arn)) if own_execution(state, &arn) => match state.invocations.of_execution(&arn).await {
            Ok(list) => list,
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot read the invocations of {arn}: {e}")),
        },
        (Some(_), _) | (None, Some(_)) => Vec::new(),
        (None, None) => return error(StatusCode::BAD_REQUEST, "functionName or executionArn is required"),
    };
    json_response(StatusCode::OK, "application/json", &json!({ "invocations": list }))
}

fn task_tokens(state: &AppState, req: &Request<ReqBody>) -> Response<Body> {
    let Some(arn) = param(req, "executionArn") else {
        return error(StatusCode::BAD_REQUEST, "executionArn is required");
    };
    if !own_execution(state, &arn) {
        return json_response(StatusCode::OK, "application/json", &json!({ "tokens": [] }));
    }
    let tokens: Vec<_> =
        state.callbacks.waiting_for(&arn).into_iter().map(|(token, name)| json!({"taskToken": token, "stateName": name})).collect();
    json_response(StatusCode::OK, "application/json", &json!({ "tokens": tokens }))
}

fn bytes(status: StatusCode, content_type: &'static str, body: &[u8]) -> Response<Body> {
    let mut r = Response::new(Full::new(bytes::Bytes::copy_from_slice(body)));
    *r.status_mut() = status;
    let headers = r.headers_mut();
    headers.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    headers.insert(hyper::header::CACHE_CONTROL, hyper::header::HeaderValue::from_static("no-cache"));
    headers.insert("x-content-type-options", hyper::header::HeaderValue::from_static("nosniff"));
    r
}

fn redirect(to: &'static str) -> Response<Body> {
    let mut r = bytes(StatusCode::MOVED_PERMANENTLY, "text/plain", b"");
    r.headers_mut().insert(hyper::header::LOCATION, hyper::header::HeaderValue::from_static(to));
    r
}

fn error(status: StatusCode, message: &str) -> Response<Body> {
    json_response(status, "application/json", &json!({"message": message}))
}

fn not_found(path: &str) -> Response<Body> {
    error(StatusCode::NOT_FOUND, &format!("no console page at {path}"))
}
