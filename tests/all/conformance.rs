//! The conformance corpus (LocalStack snapshots of real AWS Step Functions
//! executions) on stepbox itself: the interpreter with Lambda tasks run as
//! sandboxed wasm components, on virtual time. Same selection and judging as
//! `stepbox-conformance run`.

use stepbox_conformance::{EngineRunner, bucket_cases, cases_dir, driver_cases, engine_cases, load_dir, run_suite};

/// Minimum JSONPath pass rate (cases not needing JSONata), in percent, with
/// Lambda stack traces compared as the corpus rules say. Every case passes
/// (574/574); the floor is 99%, so a regression shows at once.
const MIN_JSONPATH_PCT: f64 = 100.0;

/// Minimum JSONata pass rate (cases needing JSONata), in percent: every case
/// passes (87/87).
const MIN_JSONATA_PCT: f64 = 100.0;

#[test]
fn corpus_jsonpath_and_jsonata_cases_pass_on_the_engine() {
    let cases = load_dir(&cases_dir("cases")).expect("loading the corpus");
    let selected = engine_cases(&cases);
    assert!(selected.len() > 500, "only {} cases selected", selected.len());
    let runner = EngineRunner::with_sandbox(stepbox_tests::shared_sandbox().clone());
    let (report, summary) = run_suite(&selected, &runner, &mut |_| {});

    for o in report.failures() {
        println!("FAIL {}: {}", o.name, o.verdict.reason.as_deref().unwrap_or("failed"));
    }
    print!("{}", summary.to_markdown());
    assert!(
        summary.jsonpath_pct() >= MIN_JSONPATH_PCT,
        "JSONPath pass rate {:.2}% < {MIN_JSONPATH_PCT}%: {}/{}",
        summary.jsonpath_pct(),
        summary.jsonpath_passed,
        summary.jsonpath_total
    );
    assert!(
        summary.jsonata_pct() >= MIN_JSONATA_PCT,
        "JSONata pass rate {:.2}% < {MIN_JSONATA_PCT}%: {}/{}",
        summary.jsonata_pct(),
        summary.jsonata_passed,
        summary.jsonata_total
    );
}

/// Minimum number of the callback, activity and nested-execution cases of
/// `cases_other_services/` that pass with the runner playing the tests' part
/// (SQS token readers, activity consumers, target state machines, DynamoDB
/// tables): all 44 selected.
const MIN_CALLBACK_CASES_PASSED: usize = 44;

#[test]
fn corpus_callback_activity_and_nested_cases_pass() {
    let cases = load_dir(&cases_dir("cases_other_services")).expect("loading cases_other_services");
    let selected = driver_cases(&cases);
    assert!(selected.len() >= 44, "only {} cases selected", selected.len());
    let runner = EngineRunner::with_sandbox(stepbox_tests::shared_sandbox().clone());
    let (report, summary) = run_suite(&selected, &runner, &mut |_| {});
    for o in report.failures() {
        println!("FAIL {}: {}", o.name, o.verdict.reason.as_deref().unwrap_or("failed"));
    }
    println!("callback/activity/nested: {}/{} passed", summary.jsonpath_passed, summary.jsonpath_total);
    assert!(
        summary.jsonpath_passed >= MIN_CALLBACK_CASES_PASSED,
        "{}/{} callback/activity/nested cases passed, want at least {MIN_CALLBACK_CASES_PASSED}",
        summary.jsonpath_passed,
        summary.jsonpath_total
    );
}

/// Minimum number of the ItemReader and ResultWriter cases of
/// `cases_other_services/` (their S3 objects put in a bucket directory)
/// that pass, JSONPath and JSONata together.
const MIN_BUCKET_CASES_PASSED: usize = 15;

#[test]
fn corpus_item_reader_and_result_writer_cases_pass() {
    let cases = load_dir(&cases_dir("cases_other_services")).expect("loading cases_other_services");
    let selected = bucket_cases(&cases);
    assert!(selected.len() >= 14, "only {} cases selected", selected.len());
    let runner = EngineRunner::with_sandbox(stepbox_tests::shared_sandbox().clone());
    let (report, summary) = run_suite(&selected, &runner, &mut |_| {});
    for o in report.failures() {
        println!("FAIL {}: {}", o.name, o.verdict.reason.as_deref().unwrap_or("failed"));
    }
    let passed = summary.jsonpath_passed + summary.jsonata_passed;
    let total = summary.jsonpath_total + summary.jsonata_total;
    println!("item reader/result writer: {passed}/{total} passed");
    assert!(passed >= MIN_BUCKET_CASES_PASSED, "{passed}/{total} bucket cases passed, want at least {MIN_BUCKET_CASES_PASSED}");
}
