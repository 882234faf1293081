//! The built-in S3 integrations on local buckets ([`Buckets`]):
//! `s3:getObject`/`s3:putObject` and `aws-sdk:s3:getObject`/`putObject`.
//! getObject answers `{"Body", "ContentLength", "ContentType", "ETag"}`
//! (the body as text); putObject takes `Body` (a string as is, other JSON as
//! its text) and answers `{"ETag"}`. Failures are named as the integration
//! names them: `S3.NoSuchKeyException`, `S3.NoSuchBucketException`.

use crate::buckets::{Buckets, ObjectError};
use md5::{Digest, Md5};
use serde_json::{Value, json};
use stepbox_asl::resource::Resource;
use stepbox_engine::TaskFailure;

/// The S3 actions stepbox runs itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    GetObject,
    PutObject,
}

/// The built-in S3 action `r` names, if any (request-response only).
pub(crate) fn action(r: &Resource) -> Option<Action> {
    if r.pattern != stepbox_asl::resource::Pattern::RequestResponse || !matches!(r.service.as_str(), "s3" | "aws-sdk:s3") {
        return None;
    }
    match r.action.as_str() {
        "getObject" => Some(Action::GetObject),
        "putObject" => Some(Action::PutObject),
        _ => None,
    }
}

pub(crate) async fn call(buckets: &Buckets, action: Action, params: &Value) -> Result<Value, TaskFailure> {
    let field = |k: &str| params.get(k).and_then(Value::as_str).ok_or_else(|| missing(k));
    let (bucket, key) = (field("Bucket")?, field("Key")?);
    match action {
        Action::GetObject => {
            let bytes = buckets.get(bucket, key).await.map_err(failure)?;
            Ok(json!({
                "Body": String::from_utf8_lossy(&bytes),
                "ContentLength": bytes.len(),
                "ContentType": params.get("ResponseContentType").and_then(Value::as_str).unwrap_or("application/octet-stream"),
                "ETag": etag(&bytes),
            }))
        }
        Action::PutObject => {
            let body = match params.get("Body") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            buckets.put(bucket, key, body.as_bytes()).await.map_err(failure)?;
            Ok(json!({"ETag": etag(body.as_bytes())}))
        }
    }
}

fn etag(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    format!("\"{}\"", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn missing(field: &str) -> TaskFailure {
    TaskFailure::new("S3.S3Exception", format!("The request is missing the required field '{field}'. (Service: S3, Status Code: 400)"))
}

fn failure(e: ObjectError) -> TaskFailure {
    let status = match e {
        ObjectError::NoSuchBucket | ObjectError::NoSuchKey => 404,
        ObjectError::Invalid(_) => 400,
        ObjectError::Io(_) => 500,
    };
    TaskFailure::new(
        format!("S3.{}Exception", e.code()),
        format!("{e} (Service: S3, Status Code: {status}, Request ID: {})", stepbox_asl::uuid_v4()),
    )
}
