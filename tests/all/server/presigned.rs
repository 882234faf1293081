//! Presigned requests (SigV4 in the query string) through a real server
//! with tenants: a URL signed by aws-sigv4, as an SDK's presigner makes it,
//! sent as is by a plain HTTP client.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;

use super::raw;
use super::tenants::{ACME, GLOBEX, TENANTS, start_tenants};
use crate::clients::{self, Key};

/// `method path` on `host`, presigned by `key` for `service` at `time`, valid
/// for `expires`: the request line and headers to send (the body unsigned,
/// as presigned URLs leave it).
fn presigned(key: Key, service: &str, method: &str, host: &str, path: &str, headers: &[(&str, &str)], time: SystemTime, expires: Duration) -> String {
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    let identity = Credentials::new(key.id, key.secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let mut signed_headers = vec![("host", host)];
    signed_headers.extend_from_slice(headers);
    let url = format!("http://{host}{path}");
    let signable = SignableRequest::new(method, &url, signed_headers.into_iter(), SignableBody::UnsignedPayload).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = hyper::Request::builder().method(method).uri(&url).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut req);
    let target = req.uri().path_and_query().unwrap().to_string();
    let mut text = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text
}

fn with_body(head: String, body: &str) -> String {
    format!("{head}Content-Length: {}\r\n\r\n{body}", body.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_urls_pass_as_their_tenant_until_they_expire() {
    let (server, _) = start_tenants(TENANTS).await;
    let host = server.addr.to_string();
    clients::lambda_as(&server.endpoint(), ACME)
        .create_function()
        .function_name("mine")
        .role(super::ROLE)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("component")
        .code(aws_sdk_lambda::types::FunctionCode::builder().zip_file(super::component("echo").into()).build())
        .send()
        .await
        .expect("CreateFunction");
    let now = SystemTime::now();
    let list = |key: Key, time: SystemTime, expires: u64| {
        with_body(presigned(key, "lambda", "GET", &host, "/2015-03-31/functions/", &[], time, Duration::from_secs(expires)), "")
    };

    let (status, head, body) = raw(server.addr, &list(ACME, now, 300)).await;
    assert_eq!(status, 200, "{head}\n{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Functions"][0]["FunctionName"], "mine", "{v}");
    assert_eq!(v["Functions"][0]["FunctionArn"], "arn:aws:lambda:us-east-1:111111111111:function:mine");
    let (status, _, body) = raw(server.addr, &list(GLOBEX, now, 300)).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["Functions"], serde_json::json!([]), "globex's presigned URL acts as globex: {v}");

    // Step Functions, presigned: a POST whose body the signature leaves out.
    let sfn_headers = [("content-type", "application/x-amz-json-1.0"), ("x-amz-target", "AWSStepFunctions.ListStateMachines")];
    let head = presigned(ACME, "states", "POST", &host, "/", &sfn_headers, now, Duration::from_secs(300));
    let (status, head, body) = raw(server.addr, &with_body(head, "{}")).await;
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(body.contains("stateMachines"), "{body}");

    // Past X-Amz-Expires: refused, saying until when it was valid.
    let (status, head, body) = raw(server.addr, &list(ACME, now - Duration::from_secs(120), 60)).await;
    assert_eq!(status, 403, "{head}\n{body}");
    assert!(head.to_ascii_lowercase().contains("x-amzn-errortype: invalidsignatureexception"), "{head}");
    assert!(body.contains("Signature expired: the presigned request was valid until"), "{body}");

    // A URL changed after signing (another target operation, another key's secret).
    let sfn_headers = [("content-type", "application/x-amz-json-1.0"), ("x-amz-target", "AWSStepFunctions.ListStateMachines")];
    let head = presigned(ACME, "states", "POST", &host, "/", &sfn_headers, now, Duration::from_secs(300));
    let changed = head.replace("ListStateMachines", "ListActivities");
    let (status, _, body) = raw(server.addr, &with_body(changed, "{}")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("InvalidSignatureException"), "{body}");
    let wrong = Key { id: ACME.id, secret: "not-acme-secret" };
    let (status, head, body) = raw(server.addr, &list(wrong, now, 300)).await;
    assert_eq!(status, 403, "{head}\n{body}");
    assert!(head.to_ascii_lowercase().contains("x-amzn-errortype: invalidsignatureexception"), "{head}");
    let unknown = Key { id: "AKIDNOBODY01", secret: "x" };
    let (status, head, _) = raw(server.addr, &list(unknown, now, 300)).await;
    assert_eq!(status, 403);
    assert!(head.to_ascii_lowercase().contains("x-amzn-errortype: unrecognizedclientexception"), "{head}");
    server.shutdown().await.unwrap();
}
