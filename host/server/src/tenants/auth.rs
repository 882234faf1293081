//! The gate every request passes with tenants: its signature checked, its
//! caller known, or an answer in its API's error shape.

use hyper::{Request, Response, StatusCode};
use serde_json::json;

use super::sigv4::{self, AuthFailure, RequestParts};
use super::{Caller, KeyOwner};
use crate::{AppState, Body, BodyError, ReqBody, json_response, read_body};

/// Which API a request is for, so its errors take that API's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// Step Functions (awsJson1_0): `{"__type", "message"}`, status 400.
    StepFunctions,
    /// The Lambda function API (REST-JSON): `{"Type", "message"}`, status 403.
    Lambda,
    /// Operator endpoints (`/metrics`).
    Operator,
}

impl Api {
    pub(crate) fn of(path: &str) -> Api {
        if path.starts_with("/2015-03-31/")
            || crate::lambda::concurrency::is_concurrency_path(path)
            || crate::lambda::is_tags_path(path)
        {
            Api::Lambda
        } else if path == "/metrics" {
            Api::Operator
        } else {
            Api::StepFunctions
        }
    }

    fn body_limit(self) -> usize {
        match self {
            Api::Lambda => crate::LAMBDA_BODY_LIMIT,
            Api::StepFunctions => crate::SFN_BODY_LIMIT,
            Api::Operator => 0,
        }
    }

    /// An error as this API answers it.
    pub(crate) fn error(self, kind: &'static str, message: &str) -> Response<Body> {
        let (status, body, content_type) = match self {
            Api::StepFunctions => (StatusCode::BAD_REQUEST, json!({"__type": kind, "message": message}), "application/x-amz-json-1.0"),
            Api::Lambda | Api::Operator => (StatusCode::FORBIDDEN, json!({"Type": "User", "message": message}), "application/json"),
        };
        let mut r = json_response(status, content_type, &body);
        r.headers_mut().insert("x-amzn-errortype", hyper::header::HeaderValue::from_static(kind));
        r
    }

    fn failure(self, f: &AuthFailure) -> Response<Body> {
        match f {
            AuthFailure::Missing => self.error("MissingAuthenticationTokenException", "Missing Authentication Token"),
            AuthFailure::Malformed(m) => self.error("IncompleteSignatureException", m),
            AuthFailure::UnknownKey => {
                self.error("UnrecognizedClientException", "The security token included in the request is invalid.")
            }
            AuthFailure::BadSignature => self.error(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. Check your AWS \
                 Secret Access Key and signing method. Consult the service documentation for details.",
            ),
            AuthFailure::Expired(m) => self.error("InvalidSignatureException", m),
        }
    }

    fn body_failure(self, e: BodyError) -> Response<Body> {
        match self {
            Api::Lambda => crate::lambda::body_error_response(e, "this"),
            Api::StepFunctions | Api::Operator => crate::sfn::body_error_response(e),
        }
    }
}

/// The request with its caller as an extension, or the answer refusing it.
/// Without tenants every request passes as [`Caller::Anyone`], its body unread.
pub(crate) async fn authenticate(state: &AppState, mut req: Request<ReqBody>) -> Result<Request<ReqBody>, Response<Body>> {
    let Some(tenants) = state.config.tenants.clone() else {
        req.extensions_mut().insert(Caller::Anyone);
        return Ok(req);
    };
    let api = Api::of(req.uri().path());
    let (parts, body) = req.into_parts();
    let request = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        raw_query: parts.uri.query(),
        headers: &parts.headers,
    };
    let claim = sigv4::claim(&request).map_err(|f| api.failure(&f))?;
    let config = tenants.current();
    let Some((secret, owner)) = config.keys.get(&claim.access_key_id) else {
        tracing::info!(access_key_id = %claim.access_key_id, "request refused: unknown access key");
        return Err(api.failure(&AuthFailure::UnknownKey));
    };
    claim.check_time(state.clock.now()).map_err(|f| api.failure(&f))?;
    let body = read_body(Request::new(body), api.body_limit(), state.config.connections.body_read_timeout)
        .await
        .map_err(|e| api.body_failure(e))?;
    if let Err(f) = claim.verify(&request, &body, secret.expose()) {
        tracing::info!(access_key_id = %claim.access_key_id, "request refused: signature does not match");
        return Err(api.failure(&f));
    }
    let caller = match owner {
        KeyOwner::Tenant(i) => Caller::Tenant(config.tenants[*i].clone()),
        KeyOwner::Admin => Caller::Admin,
    };
    let operator = api == Api::Operator;
    if (caller == Caller::Admin) != operator {
        let message =
            if operator { "operator endpoints take admin keys" } else { "admin keys are for operator endpoints only" };
        let kind = "AccessDeniedException";
        return Err(api.error(kind, message));
    }
    let mut req = Request::from_parts(parts, ReqBody::Read(body));
    req.extensions_mut().insert(caller);
    Ok(req)
}
