//! The testing options `run` and `serve` share: Step Functions Local's mock
//! configuration and wait-time scale, service integration bindings and
//! local buckets.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use stepbox_invoker::dynamodb::TableSchema;
use stepbox_mocks::MockConfig;

/// Reads and checks a mock configuration file; an error names the file and
/// the place in it.
pub fn load_mock_config(file: &Path) -> anyhow::Result<MockConfig> {
    MockConfig::load(file).with_context(|| format!("invalid mock configuration {}", file.display()))
}

/// `--wait-time-scale`: a number from 0 to 1.
pub fn wait_time_scale(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("'{text}' is not a number from 0 to 1")),
    }
}

/// The options of `run` and `serve` that stand in for AWS while testing.
#[derive(Debug, clap::Args)]
pub struct TestingArgs {
    /// Multiply every Wait state's wait and every Retry back-off by F, from
    /// 0 (no waiting) to 1 (full waits). Timeouts are not scaled.
    #[arg(long, env = "WAIT_TIME_SCALE", value_name = "F", default_value_t = 1.0, value_parser = wait_time_scale)]
    pub wait_time_scale: f64,
    /// Run service integration RESOURCE (`arn:aws:states:::SERVICE:ACTION`
    /// or `…:::aws-sdk:SERVICE:ACTION`, the prefix optional) on registered
    /// function FUNCTION: it receives `{"Resource", "Parameters"}`
    /// (`"Arguments"` in JSONata) and returns the integration's response.
    /// Repeatable; a binding without `.sync`/`.waitForTaskToken` serves those too.
    #[arg(long = "bind", value_name = "RESOURCE=FUNCTION")]
    pub bind: Vec<String>,
    /// The directory of local S3 buckets: `s3://BUCKET/KEY` is the file
    /// DIR/BUCKET/KEY. Serves the built-in s3:getObject and s3:putObject
    /// integrations (and their aws-sdk:s3 forms).
    #[arg(long, value_name = "DIR")]
    pub buckets: Option<PathBuf>,
    /// Declare a table of the built-in DynamoDB integrations
    /// (dynamodb:getItem, putItem, updateItem, deleteItem; aws-sdk:dynamodb
    /// also query and scan) by its key schema, TYPE one of S (default), N, B:
    /// `--dynamodb-table Orders=orderId` or `Orders=customer,placedAt:N`.
    /// Repeatable. Items are kept in stepbox's store (`serve`) or in memory (`run`).
    #[arg(long = "dynamodb-table", value_name = "NAME=HASH[:TYPE][,RANGE[:TYPE]]", value_parser = table_schema)]
    pub dynamodb_tables: Vec<TableSchema>,
}

/// `--dynamodb-table`: a table's key schema.
fn table_schema(text: &str) -> Result<TableSchema, String> {
    TableSchema::parse(text).map_err(|e| e.reason)
}
