//! `stepbox validate FILE`: AWS's ValidateStateMachineDefinition, offline.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;
use stepbox_asl::{Severity, StateMachine};

#[derive(clap::Args)]
pub struct ValidateArgs {
    /// The state machine definition (Amazon States Language JSON).
    file: PathBuf,
}

pub fn run(args: ValidateArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let diagnostics = StateMachine::validate(&text);
    let failed = diagnostics.iter().any(|d| d.severity == Severity::Error);
    let report = json!({
        "result": if failed { "FAIL" } else { "OK" },
        "diagnostics": diagnostics.iter().map(|d| d.to_json()).collect::<Vec<_>>(),
        "truncated": false,
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
