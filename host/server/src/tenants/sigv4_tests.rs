//! Requests signed by aws-sigv4 as a client signs them, then checked.

use super::*;

const KEY: &str = "AKIDACME0001";
const SECRET: &str = "acme-secret";

fn at(s: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ").unwrap().and_utc()
}

/// A request as a client sends it, signed at `time` with `secret`.
fn signed(method: &str, uri: &str, body: &[u8], time: DateTime<Utc>, presign: Option<Duration>) -> hyper::Request<Vec<u8>> {
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:8083{uri}"))
        .header("host", "127.0.0.1:8083")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "AWSStepFunctions.ListStateMachines")
        .header("user-agent", "test")
        .body(body.to_vec())
        .unwrap();
    let mut settings = SigningSettings::default();
    if let Some(d) = presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(d);
    }
    let identity = Credentials::new(KEY, SECRET, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("states")
        .time(time.into())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = req.uri().to_string();
    let headers: Vec<(&str, &str)> = req.headers().iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap())).collect();
    let signable = SignableRequest::new(method, uri, headers.into_iter(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut req);
    req
}

fn check(req: &hyper::Request<Vec<u8>>, now: DateTime<Utc>, secret: &str) -> Result<String, AuthFailure> {
    let parts =
        RequestParts { method: req.method().as_str(), path: req.uri().path(), raw_query: req.uri().query(), headers: req.headers() };
    let claim = claim(&parts)?;
    claim.check_time(now)?;
    claim.verify(&parts, req.body(), secret)?;
    Ok(claim.access_key_id)
}

#[test]
fn a_signed_request_passes_and_a_changed_one_does_not() {
    let t = at("20260101T120000Z");
    let req = signed("POST", "/", br#"{"maxResults":5}"#, t, None);
    assert_eq!(check(&req, t, SECRET), Ok(KEY.to_string()));
    assert_eq!(check(&req, t, "other-secret"), Err(AuthFailure::BadSignature));
    let mut changed = signed("POST", "/", br#"{"maxResults":5}"#, t, None);
    *changed.body_mut() = br#"{"maxResults":6}"#.to_vec();
    assert_eq!(check(&changed, t, SECRET), Err(AuthFailure::BadSignature));
    let mut retargeted = signed("POST", "/", b"{}", t, None);
    retargeted.headers_mut().insert("x-amz-target", "AWSStepFunctions.DeleteStateMachine".parse().unwrap());
    assert_eq!(check(&retargeted, t, SECRET), Err(AuthFailure::BadSignature));
}

#[test]
fn paths_and_queries_are_signed_as_the_sdks_sign_them() {
    let t = at("20260101T120000Z");
    let uri = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A111111111111%3Afunction%3Aecho/invocations?Qualifier=%241";
    let req = signed("POST", uri, b"{}", t, None);
    assert_eq!(check(&req, t, SECRET), Ok(KEY.to_string()));
}

#[test]
fn skew_over_fifteen_minutes_is_expired_either_way() {
    let t = at("20260101T120000Z");
    let req = signed("POST", "/", b"{}", t, None);
    assert!(check(&req, at("20260101T121459Z"), SECRET).is_ok());
    assert_eq!(
        check(&req, at("20260101T121600Z"), SECRET),
        Err(AuthFailure::Expired(
            "Signature expired: 20260101T120000Z is now earlier than 20260101T120100Z (20260101T121600Z - 15 min.)".into()
        ))
    );
    let Err(AuthFailure::Expired(m)) = check(&req, at("20260101T114400Z"), SECRET) else { panic!("not expired") };
    assert!(m.starts_with("Signature not yet current: 20260101T120000Z is still later than"), "{m}");
}

#[test]
fn presigned_requests_pass_until_they_expire() {
    let t = at("20260101T120000Z");
    let req = signed("GET", "/2015-03-31/functions?MaxItems=5", b"", t, Some(Duration::from_secs(300)));
    assert!(req.uri().query().unwrap().contains("X-Amz-Signature="));
    assert!(req.headers().get("authorization").is_none());
    assert_eq!(check(&req, at("20260101T120400Z"), SECRET), Ok(KEY.to_string()));
    assert_eq!(check(&req, t, "other-secret"), Err(AuthFailure::BadSignature));
    let Err(AuthFailure::Expired(m)) = check(&req, at("20260101T120600Z"), SECRET) else { panic!("not expired") };
    assert!(m.contains("valid until 20260101T120500Z"), "{m}");
    let tampered = req.uri().to_string().replace("MaxItems=5", "MaxItems=50");
    let mut req2 = signed("GET", "/2015-03-31/functions?MaxItems=5", b"", t, Some(Duration::from_secs(300)));
    *req2.uri_mut() = tampered.parse().unwrap();
    assert_eq!(check(&req2, t, SECRET), Err(AuthFailure::BadSignature));
}

#[test]
fn unsigned_and_malformed_requests_say_so_without_secrets() {
    let t = at("20260101T120000Z");
    let mut req = signed("POST", "/", b"{}", t, None);
    req.headers_mut().remove("authorization");
    assert_eq!(check(&req, t, SECRET), Err(AuthFailure::Missing));
    req.headers_mut().insert("authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/states, SignedHeaders=host, Signature=00".parse().unwrap());
    let Err(AuthFailure::Malformed(m)) = check(&req, t, SECRET) else { panic!("not malformed") };
    assert!(m.contains("Credential should be scoped"), "{m}");
    req.headers_mut().insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    assert!(matches!(check(&req, t, SECRET), Err(AuthFailure::Malformed(_))));
}

#[test]
fn constant_time_eq_compares_whole_slices() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
}
