//! Running cases through an engine: the [`CaseRunner`] trait and the
//! [`run_all`] driver, plus two runners that need no engine.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, Result};
use serde::Deserialize;

use crate::case::Case;
use crate::judge::{ActualResult, JudgeOptions, judge_with};
use crate::report::{CaseOutcome, Report};

/// Runs one case's execution on an engine and reports how it ended.
///
/// An implementation typically registers `case.function_bindings()` as
/// functions, creates `case.state_machine` from `case.definition_json()`,
/// starts `case.execution_name` with `case.input_json()` and waits for the end.
/// Async engines can block on their runtime inside `run`.
pub trait CaseRunner {
    fn run(&self, case: &Case) -> ActualResult;
}

impl<F: Fn(&Case) -> ActualResult> CaseRunner for F {
    fn run(&self, case: &Case) -> ActualResult {
        self(case)
    }
}

/// Run every case, judge it, and collect the report. A runner that panics on
/// a case fails that case (status `PANICKED`) instead of stopping the run.
pub fn run_all<'a, I>(cases: I, runner: &dyn CaseRunner) -> Report
where
    I: IntoIterator<Item = &'a Case>,
{
    run_all_with(cases, runner, &JudgeOptions::default(), &mut |_| {})
}

/// [`run_all`] with judge options and a callback per finished case (progress output).
pub fn run_all_with<'a, I>(
    cases: I,
    runner: &dyn CaseRunner,
    opts: &JudgeOptions,
    on_case: &mut dyn FnMut(&CaseOutcome),
) -> Report
where
    I: IntoIterator<Item = &'a Case>,
{
    let mut report = Report::default();
    for case in cases {
        let started = Instant::now();
        let actual = match catch_unwind(AssertUnwindSafe(|| runner.run(case))) {
            Ok(actual) => actual,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                ActualResult::with_status("PANICKED", Some("RunnerPanicked".into()), Some(msg))
            }
        };
        let elapsed = started.elapsed();
        let verdict = judge_with(case, &actual, opts);
        let outcome = CaseOutcome {
            name: case.name.clone(),
            features: case.features.clone(),
            needs: case.needs.clone(),
            expected_status: case.expected.status.clone(),
            actual,
            verdict,
            elapsed,
        };
        on_case(&outcome);
        report.outcomes.push(outcome);
    }
    report
}

/// Replays each case's expected result, serialised like an engine would
/// report it. Judging it must pass: a self-check of the judge.
pub struct ExpectedRunner;

impl CaseRunner for ExpectedRunner {
    fn run(&self, case: &Case) -> ActualResult {
        ActualResult::from_expected(case)
    }
}

/// Results an engine wrote to a JSON-lines file, one
/// `{"name": <case name>, "status": …, "output": …, "error": …, "cause": …}` per line.
/// Cases without a line end as status `NOT_RUN`.
pub struct ResultsFileRunner {
    results: HashMap<String, ActualResult>,
}

#[derive(Deserialize)]
struct ResultLine {
    name: String,
    #[serde(flatten)]
    result: ActualResult,
}

impl ResultsFileRunner {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let mut results = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let r: ResultLine = serde_json::from_str(line).with_context(|| format!("line {}", i + 1))?;
            results.insert(r.name, r.result);
        }
        Ok(ResultsFileRunner { results })
    }
}

impl CaseRunner for ResultsFileRunner {
    fn run(&self, case: &Case) -> ActualResult {
        self.results
            .get(&case.name)
            .cloned()
            .unwrap_or_else(|| ActualResult::with_status("NOT_RUN", None, None))
    }
}
