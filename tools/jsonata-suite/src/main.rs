//! Runs every case of the JSONata reference test suite against each candidate
//! crate and prints pass counts per crate (and, with `--failures NAME`, the
//! failing cases of one candidate).
//!
//! Usage: jsonata-suite [--suite DIR] [--failures jsonata-core|jsonata-rs]
//! DIR defaults to the `tests/testsuite` of the jsonata-rs crate source cargo
//! downloaded (its `groups/` and `skip/` together are the full suite).

mod candidates;
mod suite;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};

use candidates::{Candidate, Outcome};
use suite::{Case, Expected};

/// A case that runs longer than this counts as failed (a hang, not a result).
const CASE_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut suite_dir = None;
    let mut show_failures = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--suite" => suite_dir = Some(PathBuf::from(args.next().context("--suite DIR")?)),
            "--failures" => show_failures = Some(args.next().context("--failures NAME")?),
            other => bail!("unknown argument {other}"),
        }
    }
    let suite_dir = match suite_dir {
        Some(dir) => dir,
        None => suite::locate_in_cargo_registry()?,
    };
    let cases = suite::load(&suite_dir)?;
    eprintln!("{} cases from {}", cases.len(), suite_dir.display());
    // Guest panics inside a candidate are failures, not noise.
    std::panic::set_hook(Box::new(|_| {}));

    println!("| crate | passed | of | rate |");
    println!("|---|---|---|---|");
    for candidate in candidates::ALL {
        let mut passed = 0;
        let mut failures = Vec::new();
        for case in &cases {
            match judge(*candidate, case) {
                Ok(()) => passed += 1,
                Err(why) => failures.push(format!("{}: {why}", case.name)),
            }
        }
        println!(
            "| {} | {passed} | {} | {:.1}% |",
            candidate.name(),
            cases.len(),
            100.0 * passed as f64 / cases.len() as f64
        );
        if show_failures.as_deref() == Some(candidate.name()) {
            for failure in &failures {
                eprintln!("FAIL {failure}");
            }
        }
    }
    Ok(())
}

fn judge(candidate: Candidate, case: &Case) -> Result<(), String> {
    if matches!(case.expected, Expected::Unrepresentable) {
        return Err("case file holds a lone surrogate".into());
    }
    let (tx, rx) = mpsc::channel();
    let owned = case.clone();
    // A big stack: several suite cases recurse deeply on purpose.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let outcome = std::panic::catch_unwind(|| candidate.run(&owned));
            let _ = tx.send(outcome);
        })
        .map_err(|e| e.to_string())?;
    let outcome = match rx.recv_timeout(CASE_TIMEOUT) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => return Err("panicked".into()),
        Err(_) => return Err("timed out".into()),
    };
    match (&case.expected, outcome) {
        (Expected::Error(code), Outcome::Error(got)) if got.as_deref() == Some(code.as_str()) => Ok(()),
        (Expected::Undefined, Outcome::Undefined) => Ok(()),
        (Expected::Value(want), Outcome::Value(got)) if suite::json_eq(want, &got) => Ok(()),
        (Expected::Unordered(want), Outcome::Value(got)) if suite::unordered_eq(want, &got) => Ok(()),
        (Expected::Matches(re), Outcome::Value(got)) if got.as_str().is_some_and(|s| re.is_match(s)) => Ok(()),
        (expected, got) => Err(format!("expected {expected:?}, got {got:?}")),
    }
}
