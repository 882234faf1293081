//! An activity worker for `stepbox serve`, written with the AWS SDK for Rust:
//! it creates (or finds) an activity, then answers its tasks forever.
//!
//! ```sh
//! stepbox serve --addr 127.0.0.1:8083 &
//! cargo run --example activity-worker -- http://127.0.0.1:8083 review-order 100
//! ```
//!
//! A Task state with `"Resource": "arn:aws:states:us-east-1:111111111111:activity:review-order"`
//! then hands its input to this worker: orders with `total` up to the limit
//! (third argument, default 100) succeed with `{"approved": true, …}`, larger
//! ones fail with `OrderTooLarge`. Any AWS SDK works the same way.

mod worker;

use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "http://127.0.0.1:8083".into());
    let activity = args.next().unwrap_or_else(|| "review-order".into());
    let limit: f64 = args.next().map(|l| l.parse()).transpose()?.unwrap_or(100.0);

    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "example"))
        .endpoint_url(endpoint)
        // Plain HTTP to the local endpoint (the SDK is built without its TLS client).
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let client = aws_sdk_sfn::Client::from_conf(config);
    // CreateActivity is idempotent: it returns the existing activity's ARN.
    let arn = client.create_activity().name(&activity).send().await?.activity_arn;
    eprintln!("activity-worker: answering tasks of {arn} (limit {limit})");
    worker::work(&client, &arn, "activity-worker", limit, None).await?;
    Ok(())
}
