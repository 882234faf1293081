//! stepbox-conformance: the ASL conformance corpus (LocalStack snapshot tests
//! of real AWS Step Functions executions, see the corpus `README.md`) as a
//! library.
//!
//! * [`Case`] / [`load_dir`] / [`Filter`]: the case files and selecting them
//!   (by `needs`, by feature tag such as `QueryLanguage:JSONata` or `Variables:*`).
//! * [`judge`]: compare an engine's [`ActualResult`] with a case's expected
//!   result exactly as the README prescribes (replacements, generic rewrites,
//!   wildcards, ignored paths, numbers by value) and give a [`Verdict`].
//! * [`component_for_handler`]: which example component (`examples/tasks/*`)
//!   implements each corpus Python Lambda; [`Case::function_bindings`] lists a
//!   case's function names with their components.
//! * [`CaseRunner`] / [`run_all`] / [`Report`]: plug an engine in, run cases,
//!   get a per-feature table and the failures as markdown.
//! * [`EngineRunner`] / [`run_suite`]: run cases on stepbox itself (the
//!   interpreter with Lambda tasks as sandboxed components, on virtual time)
//!   and summarise the JSONPath pass rate with JSONata cases apart.
//!
//! ```no_run
//! use stepbox_conformance::*;
//! let cases = load_dir(&corpus_dir().join("cases")).unwrap();
//! let runner = |case: &Case| -> ActualResult {
//!     // run case.definition_json() on case.input_json() with an engine...
//!     ActualResult::succeeded("{}")
//! };
//! let report = run_all(needing_nothing(&cases), &runner);
//! println!("{}", report.to_markdown());
//! ```

pub mod case;
pub mod drivers;
pub mod engine;
pub mod judge;
pub mod lambdas;
pub mod report;
pub mod runner;

pub use case::{
    Case, Comparison, DEFAULT_CORPUS_DIR, Expected, Filter, Lambda, Replacement, StateMachine, cases_dir, corpus_dir,
    feature_matches, load_dir, needing_nothing, with_feature,
};
pub use engine::{
    EngineRunner, PYTHON_TRACEBACK, SuiteSummary, corpus_function_limits, engine_cases, needs_jsonata, run_suite,
};
pub use drivers::{Role, bucket_cases, driver_cases};
pub use judge::{ActualResult, JudgeOptions, Matcher, Normalizer, Verdict, judge, judge_with};
pub use lambdas::{FunctionBinding, HANDLER_COMPONENTS, component_for_handler, component_wasm_file};
pub use report::{CaseOutcome, FeatureRow, Report};
pub use runner::{CaseRunner, ExpectedRunner, ResultsFileRunner, run_all, run_all_with};
