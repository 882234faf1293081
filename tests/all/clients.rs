//! AWS SDK clients for a local `stepbox serve` endpoint, as a user configures them.

use aws_sdk_sfn::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_sfn::config::{BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents};
use aws_sdk_sfn::error::BoxError;

fn credentials() -> Credentials {
    Credentials::new("AKIDTEST", "secret", None, None, "test")
}

/// The SDK sends StartSyncExecution to a `sync-` prefixed host; on loopback
/// that name does not resolve, so send it to the same address (the server
/// ignores the Host header).
#[derive(Debug)]
struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }
    fn modify_before_transmit(
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
    aws_sdk_sfn::Client::from_conf(
        aws_sdk_sfn::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(credentials())
            .endpoint_url(endpoint)
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .interceptor(NoHostPrefix)
            .build(),
    )
}

/// A Lambda client for `endpoint`.
pub fn lambda(endpoint: &str) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::Config::builder()
            .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
            .region(aws_sdk_lambda::config::Region::new("us-east-1"))
            .credentials_provider(credentials())
            .endpoint_url(endpoint)
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build(),
    )
}
