//! `stepbox serve` with tenants: every request signed (SigV4) by a tenant's
//! key, checked as AWS checks it, refused in each API's error shape.

use std::sync::Arc;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use stepbox_server::tenants::{TenantSet, TenantsConfig};
use stepbox_server::{AppState, RunningServer, ServerConfig};
use stepbox_tests::shared_sandbox;

use crate::clients::{self, Key};
use super::{raw, sfn_request};

pub(crate) const ACME: Key = Key { id: "AKIDACME0001", secret: "acme-secret" };
pub(crate) const GLOBEX: Key = Key { id: "AKIDGLOBEX01", secret: "globex-secret" };
pub(crate) const ADMIN: Key = Key { id: "AKIDADMIN001", secret: "admin-secret" };

pub(crate) const TENANTS: &str = r#"
[[tenant]]
name = "acme"
account = "111111111111"
keys = [{ access_key_id = "AKIDACME0001", secret_access_key = "acme-secret" }]

[[tenant]]
name = "globex"
account = "222222222222"
keys = [{ access_key_id = "AKIDGLOBEX01", secret_access_key = "globex-secret" }]

[admin]
keys = [{ access_key_id = "AKIDADMIN001", secret_access_key = "admin-secret" }]
"#;

/// An in-memory server hosting [`TENANTS`].
pub(crate) async fn start_tenants(toml: &str) -> (RunningServer, Arc<TenantSet>) {
    let set = Arc::new(TenantSet::fixed(TenantsConfig::parse(toml).expect("tenants")));
    let config = ServerConfig { tenants: Some(set.clone()), ..ServerConfig::default() };
    let state = AppState::in_memory(config, stepbox_sandbox::Registry::new(shared_sandbox().clone()));
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state).await.expect("server starts");
    (server, set)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_signed_with_a_tenants_key_pass() {
    let (server, _) = start_tenants(TENANTS).await;
    for key in [ACME, GLOBEX] {
        let sfn = clients::sfn_as(&server.endpoint(), key);
        sfn.list_state_machines().send().await.expect("ListStateMachines");
        let lambda = clients::lambda_as(&server.endpoint(), key);
        lambda.list_functions().send().await.expect("ListFunctions");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_requests_are_refused_in_each_apis_shape() {
    let (server, _) = start_tenants(TENANTS).await;
    let (status, head, body) = raw(server.addr, &sfn_request("AWSStepFunctions.ListStateMachines", "{}")).await;
    assert_eq!(status, 400, "{head}\n{body}");
    assert!(head.to_ascii_lowercase().contains("x-amzn-errortype: missingauthenticationtokenexception"), "{head}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["__type"], "MissingAuthenticationTokenException");
    let get = "GET /2015-03-31/functions HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let (status, head, body) = raw(server.addr, get).await;
    assert_eq!(status, 403, "{head}\n{body}");
    assert!(head.to_ascii_lowercase().contains("x-amzn-errortype: missingauthenticationtokenexception"), "{head}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["message"], "Missing Authentication Token");
    let health = "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert_eq!(raw(server.addr, health).await.0, 200, "health answers unsigned");
    let console = "GET /console/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let (status, _, body) = raw(server.addr, console).await;
    assert_eq!(status, 200, "the console's page (no data) is served unsigned: {body}");
    let data = "GET /console/api/invocations?functionName=f HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let (status, head, body) = raw(server.addr, data).await;
    assert_eq!(status, 400, "the console's data is not: {head}\n{body}");
    assert!(head.to_ascii_lowercase().contains("x-amzn-errortype: missingauthenticationtokenexception"), "{head}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secrets_and_unknown_keys_are_refused_without_secrets() {
    let (server, _) = start_tenants(TENANTS).await;
    let wrong = Key { id: ACME.id, secret: "not-acme-secret" };
    let unknown = Key { id: "AKIDNOBODY01", secret: "nobody-secret" };
    for (key, code) in [(wrong, "InvalidSignatureException"), (unknown, "UnrecognizedClientException")] {
        let e = clients::sfn_as(&server.endpoint(), key).list_state_machines().send().await.unwrap_err();
        assert_eq!(e.code(), Some(code), "{e:?}");
        let message = e.message().unwrap_or_default().to_string();
        assert!(!message.contains("secret"), "{message}");
        let e = clients::lambda_as(&server.endpoint(), key).list_functions().send().await.unwrap_err();
        assert_eq!(aws_sdk_lambda::error::ProvideErrorMetadata::code(&e), Some(code), "{e:?}");
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(403));
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clocks_skewed_over_fifteen_minutes_are_signature_expired() {
    let (server, _) = start_tenants(TENANTS).await;
    let behind = clients::sfn_skewed(&server.endpoint(), ACME, -20 * 60);
    let e = behind.list_state_machines().send().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidSignatureException"), "{e:?}");
    assert!(e.message().unwrap_or_default().starts_with("Signature expired: "), "{e:?}");
    let ahead = clients::sfn_skewed(&server.endpoint(), ACME, 20 * 60);
    let e = ahead.list_state_machines().send().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidSignatureException"), "{e:?}");
    assert!(e.message().unwrap_or_default().starts_with("Signature not yet current: "), "{e:?}");
    let slightly = clients::sfn_skewed(&server.endpoint(), ACME, -10 * 60);
    slightly.list_state_machines().send().await.expect("10 minutes of skew pass");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_keys_do_not_call_the_apis_and_reloads_replace_keys() {
    let (server, set) = start_tenants(TENANTS).await;
    let e = clients::sfn_as(&server.endpoint(), ADMIN).list_state_machines().send().await.unwrap_err();
    assert_eq!(e.code(), Some("AccessDeniedException"), "{e:?}");
    let renewed = TENANTS.replace("AKIDGLOBEX01", "AKIDGLOBEX02");
    set.replace(TenantsConfig::parse(&renewed).unwrap());
    let e = clients::sfn_as(&server.endpoint(), GLOBEX).list_state_machines().send().await.unwrap_err();
    assert_eq!(e.code(), Some("UnrecognizedClientException"), "{e:?}");
    let new_key = Key { id: "AKIDGLOBEX02", secret: GLOBEX.secret };
    clients::sfn_as(&server.endpoint(), new_key).list_state_machines().send().await.expect("the new key");
    server.shutdown().await.unwrap();
}
