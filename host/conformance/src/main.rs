//! `stepbox-conformance`: list corpus cases, or judge an engine's results.
//!
//! ```text
//! stepbox-conformance list     [FILTERS]                     # names, features, needs
//! stepbox-conformance judge    --results R.jsonl [--account A] [--region R] [--ignore-stack-traces] [FILTERS]
//! stepbox-conformance selfcheck [FILTERS]                    # judge expected results against themselves
//! stepbox-conformance run [--failures] [--progress] [FILTERS] # run on stepbox (engine + wasm components)
//! ```
//! `run` takes the selected cases that need no service or only Lambda (and,
//! from `cases_other_services/`, the callback, activity and nested-execution
//! cases whose test part it plays: see `drivers`), runs
//! them on the engine under virtual time, and prints the per-feature table,
//! every failure with its reason, and the summary: JSONPath pass rate (strict,
//! and counting `python-traceback` differences as passes) with JSONata cases
//! counted apart. `--failures` prints only the failures and the summary.
//! FILTERS: `--dir DIR` (default: the corpus's `cases/`, from `$STEPBOX_CONFORMANCE_DIR`
//! or the copy vendored in `tests/conformance`), `--needs none|lambda|…`
//! (repeatable; cases needing only these), `--feature PATTERN` (repeatable, any of),
//! `--without PATTERN` (repeatable), `--name TEXT`.
//! A results line is `{"name": …, "status": …, "output": …, "error": …, "cause": …}`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use stepbox_conformance::{
    EngineRunner, ExpectedRunner, Filter, JudgeOptions, ResultsFileRunner, corpus_dir, driver_cases, engine_cases, load_dir,
    run_all, run_all_with, run_suite,
};

#[derive(Parser)]
#[command(about = "Run the ASL conformance corpus judge")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the selected cases.
    List(Select),
    /// Judge results an engine wrote (JSON lines) and print the markdown report.
    Judge {
        #[arg(long)]
        results: PathBuf,
        /// The engine's account id (rewritten to 111111111111).
        #[arg(long, default_value = "111111111111")]
        account: String,
        /// The engine's region (rewritten to <region>).
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// Ignore Lambda stackTrace entries in causes (not in the corpus rules).
        #[arg(long)]
        ignore_stack_traces: bool,
        #[command(flatten)]
        select: Select,
    },
    /// Judge every selected case's expected result against itself.
    Selfcheck(Select),
    /// Run the selected cases needing nothing or only Lambda on stepbox and judge them.
    Run {
        /// Print only the failures and the summary (no per-feature table).
        #[arg(long)]
        failures: bool,
        /// Print one line per case as it finishes (to stderr).
        #[arg(long)]
        progress: bool,
        #[command(flatten)]
        select: Select,
    },
}

#[derive(Args)]
struct Select {
    /// Directory of case files.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep cases that need only these services (`none` = no service).
    #[arg(long)]
    needs: Vec<String>,
    /// Keep cases with any of these features (`Variables:*` matches a prefix).
    #[arg(long)]
    feature: Vec<String>,
    /// Drop cases with any of these features.
    #[arg(long)]
    without: Vec<String>,
    /// Keep cases whose name contains this text.
    #[arg(long)]
    name: Option<String>,
}

impl Select {
    fn load(&self) -> Result<Vec<stepbox_conformance::Case>> {
        let dir = self.dir.clone().unwrap_or_else(|| corpus_dir().join("cases"));
        let cases = load_dir(&dir)?;
        let filter = Filter {
            needs_only: (!self.needs.is_empty())
                .then(|| self.needs.iter().filter(|n| n.as_str() != "none").cloned().collect()),
            any_feature: self.feature.clone(),
            no_feature: self.without.clone(),
            name_contains: self.name.clone(),
        };
        Ok(cases.into_iter().filter(|c| filter.accepts(c)).collect())
    }
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::List(select) => {
            for case in select.load()? {
                println!("{}\t{}\t{}", case.name, case.needs.join(","), case.features.join(","));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Judge { results, account, region, ignore_stack_traces, select } => {
            let cases = select.load()?;
            let runner = ResultsFileRunner::load(&results)?;
            let opts = JudgeOptions { account, region, ignore_stack_traces };
            let report = run_all_with(&cases, &runner, &opts, &mut |_| {});
            print!("{}", report.to_markdown());
            Ok(if report.failed() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Run { failures, progress, select } => {
            let cases = select.load()?;
            // Plus the callback/activity/nested cases whose test part the runner plays
            // (`--dir …/cases_other_services`).
            let mut selected = engine_cases(&cases);
            selected.extend(driver_cases(&cases).into_iter().filter(|c| !c.needs_only(&["lambda"])));
            let runner = EngineRunner::new()?;
            let started = std::time::Instant::now();
            let (report, summary) = run_suite(&selected, &runner, &mut |o| {
                if progress {
                    let mark = if o.verdict.pass { "ok  " } else { "FAIL" };
                    eprintln!("{mark} {} ({} ms)", o.name, o.elapsed.as_millis());
                }
            });
            if failures {
                println!("## Failures ({})\n", report.failed());
                for o in report.failures() {
                    println!("- `{}`: {}", o.name, o.verdict.reason.as_deref().unwrap_or("failed").replace('\n', "\\n"));
                }
            } else {
                print!("{}", report.to_markdown());
            }
            println!("\n## Summary\n");
            print!("{}", summary.to_markdown());
            println!("({} cases in {:.1} s)", report.total(), started.elapsed().as_secs_f64());
            Ok(if report.failed() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Selfcheck(select) => {
            let cases = select.load()?;
            let report = run_all(&cases, &ExpectedRunner);
            print!("{}", report.to_markdown());
            Ok(if report.failed() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
