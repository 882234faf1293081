//! The testing options `run` and `serve` share: Step Functions Local's mock
//! configuration and wait-time scale, service integration bindings, local
//! buckets and DynamoDB tables, given as flags or in a testing configuration
//! file (`--testing-config`, TOML) whose settings the flags add to or override.

use std::collections::BTreeMap;
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
    /// (Default 1, or the testing configuration file's.)
    #[arg(long, env = "WAIT_TIME_SCALE", value_name = "F", value_parser = wait_time_scale)]
    pub wait_time_scale: Option<f64>,
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
    /// A TOML file of these settings (`wait_time_scale`, `buckets`, a
    /// `[bind]` table of RESOURCE = FUNCTION, a `[dynamodb_tables]` table of
    /// NAME = "HASH[:TYPE][,RANGE[:TYPE]]"); flags given as well add to them,
    /// and win where both set one thing. See docs/testing.md.
    #[arg(long = "testing-config", env = "STEPBOX_TESTING_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The testing settings in force: the file's, then the flags'.
#[derive(Debug)]
pub struct Testing {
    pub wait_time_scale: f64,
    pub bind: Vec<String>,
    pub buckets: Option<PathBuf>,
    pub dynamodb_tables: Vec<TableSchema>,
}

/// A testing configuration file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    wait_time_scale: Option<f64>,
    buckets: Option<PathBuf>,
    #[serde(default)]
    bind: BTreeMap<String, String>,
    #[serde(default)]
    dynamodb_tables: BTreeMap<String, String>,
}

impl TestingArgs {
    /// The settings in force: the configuration file's (if any) with the
    /// flags laid over them. A bad file is an error naming it and the place.
    pub fn resolve(self) -> anyhow::Result<Testing> {
        let file = match &self.config {
            None => ConfigFile::default(),
            Some(path) => read_config(path)?,
        };
        let place = |what: &str| format!("testing configuration {}: {what}", self.config.as_deref().unwrap_or(Path::new("")).display());
        if let Some(f) = file.wait_time_scale.filter(|f| !(0.0..=1.0).contains(f)) {
            anyhow::bail!("{}", place(&format!("wait_time_scale {f} is not a number from 0 to 1")));
        }
        // Relative paths in the file are relative to the file.
        let base = self.config.as_deref().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default();
        let mut bind: Vec<String> = file.bind.iter().map(|(r, f)| format!("{r}={f}")).collect();
        bind.extend(self.bind);
        let mut tables = Vec::new();
        for (name, keys) in &file.dynamodb_tables {
            let schema = TableSchema::parse(&format!("{name}={keys}")).map_err(|e| anyhow::anyhow!("{}", place(&format!("dynamodb_tables.{name}: {}", e.reason))))?;
            tables.push(schema);
        }
        // A flag's table replaces the file's of the same name.
        tables.retain(|t| !self.dynamodb_tables.iter().any(|f| f.name == t.name));
        tables.extend(self.dynamodb_tables);
        Ok(Testing {
            wait_time_scale: self.wait_time_scale.or(file.wait_time_scale).unwrap_or(1.0),
            bind,
            buckets: self.buckets.or(file.buckets.map(|b| base.join(b))),
            dynamodb_tables: tables,
        })
    }
}

fn read_config(path: &Path) -> anyhow::Result<ConfigFile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading testing configuration {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("testing configuration {}: {}", path.display(), e.to_string().trim_end()))
}

/// `--dynamodb-table`: a table's key schema.
fn table_schema(text: &str) -> Result<TableSchema, String> {
    TableSchema::parse(text).map_err(|e| e.reason)
}
