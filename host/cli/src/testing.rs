//! The testing options `run` and `serve` share: Step Functions Local's mock
//! configuration and wait-time scale.

use std::path::Path;

use anyhow::Context as _;
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
