//! AWS SDK clients for a local `stepbox serve` endpoint, as a user configures them.

use aws_sdk_sfn::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_sfn::config::{BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents};
use aws_sdk_sfn::error::BoxError;

fn credentials() -> Credentials {
    Credentials::new("AKIDTEST", "secret", None, None, "test")
}

/// An access key and its secret.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub id: &'static str,
    pub secret: &'static str,
}

impl Key {
    fn credentials(self) -> Credentials {
        Credentials::new(self.id, self.secret, None, None, "test")
    }
}

/// A wall clock `offset` seconds off the real one.
#[derive(Debug)]
struct Skewed(i64);

impl aws_smithy_async::time::TimeSource for Skewed {
    fn now(&self) -> std::time::SystemTime {
        let now = std::time::SystemTime::now();
        let by = std::time::Duration::from_secs(self.0.unsigned_abs());
        if self.0 < 0 { now - by } else { now + by }
    }
}

/// The SDK sends StartSyncExecution to a `sync-` prefixed host; on loopback
/// that name does not resolve, so send it to the same address (the server
/// ignores the Host header). Done before signing, so the signed Host is the
/// one sent (a server with tenants checks it).
#[derive(Debug)]
struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }
    fn modify_before_signing(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let uri = ctx.request().uri().replacen("://sync-", "://", 1);
        ctx.request_mut().set_uri(uri)?;
        Ok(())
    }
}

/// A Step Functions client for `endpoint` (`http://127.0.0.1:PORT`).
pub fn sfn(endpoint: &str) -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::from_conf(sfn_config(endpoint, credentials()).build())
}

fn sfn_config(endpoint: &str, credentials: Credentials) -> aws_sdk_sfn::config::Builder {
    aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .interceptor(NoHostPrefix)
}

/// A Step Functions client signing with `key`.
pub fn sfn_as(endpoint: &str, key: Key) -> aws_sdk_sfn::Client {
    aws_sdk_sfn::Client::from_conf(sfn_config(endpoint, key.credentials()).build())
}

/// A Step Functions client signing with `key` on a clock `offset` seconds
/// off, that does not retry (a retry would correct its clock by the
/// server's Date header, as the SDKs do).
pub fn sfn_skewed(endpoint: &str, key: Key, offset: i64) -> aws_sdk_sfn::Client {
    let config = sfn_config(endpoint, key.credentials())
        .time_source(Skewed(offset))
        .retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled());
    aws_sdk_sfn::Client::from_conf(config.build())
}

/// A Step Functions client signing with `key` that does not retry (so a
/// throttled request is seen as it was answered).
pub fn sfn_once(endpoint: &str, key: Key) -> aws_sdk_sfn::Client {
    let config = sfn_config(endpoint, key.credentials()).retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled());
    aws_sdk_sfn::Client::from_conf(config.build())
}

/// A Lambda client for `endpoint`.
pub fn lambda(endpoint: &str) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::from_conf(lambda_config(endpoint, credentials()).build())
}

fn lambda_config(endpoint: &str, credentials: Credentials) -> aws_sdk_lambda::config::Builder {
    aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
}

/// A Lambda client signing with `key` that does not retry.
pub fn lambda_once(endpoint: &str, key: Key) -> aws_sdk_lambda::Client {
    let config = lambda_config(endpoint, key.credentials())
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled());
    aws_sdk_lambda::Client::from_conf(config.build())
}

/// A Lambda client signing with `key`.
pub fn lambda_as(endpoint: &str, key: Key) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::from_conf(lambda_config(endpoint, key.credentials()).build())
}
