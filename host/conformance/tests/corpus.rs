//! The judge against the whole corpus: every expected result judged against
//! itself passes, and perturbed results fail.
//!
//! Reads the corpus vendored in `tests/conformance` (or `$STEPBOX_CONFORMANCE_DIR`).

use serde_json::{Value, json};
use stepbox_conformance::*;

fn load(sub: &str) -> Vec<Case> {
    let dir = cases_dir(sub);
    let cases = load_dir(&dir).unwrap_or_else(|e| panic!("corpus not found at {}: {e:#}", dir.display()));
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    cases
}

fn all_cases() -> Vec<Case> {
    let mut cases = load("cases");
    cases.extend(load("cases_other_services"));
    cases
}

#[test]
fn corpus_loads_with_expected_shape() {
    let cases = load("cases");
    assert_eq!(cases.len(), 661);
    assert_eq!(load("cases_other_services").len(), 92);
    for c in &cases {
        assert!(
            ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"].contains(&c.expected.status.as_str()),
            "{}",
            c.name
        );
        assert!(c.needs_only(&["lambda"]), "{} needs {:?}", c.name, c.needs);
        assert!(c.definition.get("States").is_some(), "{}", c.name);
    }
    assert!(needing_nothing(&cases).len() > 500);
    assert!(!with_feature(&cases, "QueryLanguage:JSONata").is_empty());
    let vars = with_feature(&cases, "Variables:*");
    assert!(!vars.is_empty());
    assert!(vars.iter().all(|c| c.features.iter().any(|f| f.starts_with("Variables:"))));
    let filter = Filter { needs_only: Some(vec![]), no_feature: vec!["QueryLanguage:JSONata".into()], ..Filter::default() };
    let kept = filter.apply(&cases);
    assert!(kept.iter().all(|c| c.needs.is_empty() && !c.has_feature("QueryLanguage:JSONata")));
    assert!(kept.len() < needing_nothing(&cases).len());
}

#[test]
fn every_expected_result_judged_against_itself_passes() {
    let cases = all_cases();
    let report = run_all(&cases, &ExpectedRunner);
    assert_eq!(report.total(), cases.len());
    let failures: Vec<String> =
        report.failures().map(|o| format!("{}: {}", o.name, o.verdict.reason.clone().unwrap_or_default())).collect();
    assert!(failures.is_empty(), "{} self-judgements failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_corpus_lambda_has_a_component() {
    let mut bound = 0;
    for case in all_cases() {
        let bindings = case.function_bindings().unwrap_or_else(|e| panic!("{}: {e}", case.name));
        for b in &bindings {
            assert!(case.lambdas.contains_key(&b.function_name));
        }
        bound += bindings.len();
    }
    assert!(bound >= 70, "only {bound} functions bound");
}

#[test]
fn all_replacement_patterns_compile_as_rust_regexes() {
    for case in all_cases() {
        for r in &case.comparison.replacements {
            assert!(regex::Regex::new(&r.pattern).is_ok(), "{}: pattern {:?}", case.name, r.pattern);
        }
        for p in &case.comparison.ignore_paths {
            assert!(judge::IgnorePath::parse(p).is_some(), "{}: ignore path {p:?}", case.name);
        }
    }
}

/// Names of keys the case ignores (last step of each ignore path), and its wildcards.
fn risky_keys(case: &Case) -> Vec<String> {
    case.comparison
        .ignore_paths
        .iter()
        .filter_map(|p| p.rsplit(['.', '[']).next().map(|s| s.trim_end_matches(']').to_string()))
        .collect()
}

/// Path (keys) to the first number leaf not under an ignored key name.
fn first_number(v: &Value, avoid: &[String], path: &mut Vec<Value>) -> bool {
    match v {
        Value::Number(_) => true,
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(json!(i));
                if first_number(item, avoid, path) {
                    return true;
                }
                path.pop();
            }
            false
        }
        Value::Object(map) => {
            for (k, item) in map {
                if avoid.contains(k) {
                    continue;
                }
                path.push(json!(k));
                if first_number(item, avoid, path) {
                    return true;
                }
                path.pop();
            }
            false
        }
        _ => false,
    }
}

fn at_mut<'a>(mut v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    for step in path {
        v = match step {
            Value::Number(i) => &mut v[i.as_u64().unwrap() as usize],
            Value::String(k) => &mut v[k.as_str()],
            _ => unreachable!(),
        };
    }
    v
}

#[test]
fn perturbed_results_fail() {
    let cases = all_cases();
    let (mut numbers, mut keys, mut errors, mut statuses, mut wrapped) = (0, 0, 0, 0, 0);
    let mut whole_output_ignored = 0;
    for case in &cases {
        let good = ActualResult::from_expected(case);
        let avoid = risky_keys(case);

        // Wrong status.
        let mut bad = good.clone();
        bad.status = if good.status == "SUCCEEDED" { "FAILED".into() } else { "SUCCEEDED".into() };
        assert!(!judge(case, &bad).pass, "{}: status change passed", case.name);
        statuses += 1;

        if let Some(output) = &case.expected.output {
            // Whole output replaced by something else entirely.
            let is_wildcard = output.as_str().is_some_and(|s| case.comparison.wildcards.iter().any(|w| w == s));
            let ignored = judge::Matcher::new(&case.comparison).is_ignored(&[judge::Seg::Key("output".into())]);
            if ignored {
                // The case ignores its whole output: anything passes.
                let bad = ActualResult::succeeded(json!({"unexpected": [output.clone()]}).to_string());
                assert!(judge(case, &bad).pass, "{}", case.name);
                whole_output_ignored += 1;
                continue;
            }
            if !is_wildcard {
                let bad = ActualResult::succeeded(json!({"unexpected": [output.clone()]}).to_string());
                assert!(!judge(case, &bad).pass, "{}: wrapped output passed", case.name);
                wrapped += 1;
            }
            // A changed number.
            let mut path = Vec::new();
            if first_number(output, &avoid, &mut path) {
                let mut changed = output.clone();
                let leaf = at_mut(&mut changed, &path);
                *leaf = json!(leaf.as_f64().unwrap() + 1.0);
                let bad = ActualResult::succeeded(changed.to_string());
                let v = judge(case, &bad);
                assert!(!v.pass, "{}: changed number at {path:?} passed", case.name);
                numbers += 1;
            }
            // A missing key.
            if let Value::Object(map) = output
                && let Some(k) = map.keys().find(|k| !avoid.contains(k))
            {
                let mut changed = map.clone();
                changed.remove(k);
                let v = judge(case, &ActualResult::succeeded(Value::Object(changed).to_string()));
                assert!(!v.pass, "{}: missing key {k} passed", case.name);
                assert!(v.reason.unwrap().contains("missing key"), "{}", case.name);
                keys += 1;
            }
        }
        let error_ignored = judge::Matcher::new(&case.comparison).is_ignored(&[judge::Seg::Key("error".into())]);
        if let Some(Value::String(error)) = &case.expected.error
            && !error_ignored
        {
            let mut bad = good.clone();
            bad.error = Some(format!("{error}Wrong"));
            let v = judge(case, &bad);
            assert!(!v.pass, "{}: wrong error name passed", case.name);
            assert!(v.reason.unwrap().starts_with("$.error"), "{}", case.name);
            errors += 1;
        }
    }
    assert_eq!(statuses, cases.len());
    assert!(whole_output_ignored < 10, "{whole_output_ignored} cases ignore their whole output");
    eprintln!("perturbed: {wrapped} wrapped, {numbers} numbers, {keys} keys, {errors} errors; {whole_output_ignored} ignore their output");
    assert!(wrapped > 600, "{wrapped}");
    assert!(numbers > 100, "{numbers}");
    assert!(keys > 300, "{keys}");
    assert!(errors > 60, "{errors}");
}

fn case_named(cases: &[Case], name: &str) -> Case {
    cases.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no case {name}")).clone()
}

/// Results an engine could really produce for corpus cases (raw names, real
/// request ids, its own formatting) pass after normalisation.
#[test]
fn engine_like_results_pass() {
    let cases = load("cases");
    let request_id = "3f9e2b8a-4c1d-4e5f-9a7b-0c1d2e3f4a5b";

    // Lambda function ARN failure: the cause is a JSON object text.
    let c = case_named(&cases, "error_handling.test_task_lambda.TestTaskLambda.test_raise_exception");
    let cause = json!({
        "errorMessage": "Some exception was raised.", "errorType": "Exception", "requestId": request_id,
        "stackTrace": ["  File \"/var/task/handler.py\", line 2, in handler\n    raise Exception(\"Some exception was raised.\")\n"],
    });
    let actual = ActualResult::failed(Some("Exception".into()), Some(cause.to_string()));
    let v = judge(&c, &actual);
    assert!(v.pass, "{v}");
    let mut no_trace = cause.clone();
    no_trace["stackTrace"] = json!([]);
    assert!(!judge(&c, &ActualResult::failed(Some("Exception".into()), Some(no_trace.to_string()))).pass);

    // lambda:invoke failure caught, in an EXPRESS machine: the requestId regex replacement.
    let c = case_named(&cases, "express.test_express_sync.TestExpressSync.test_catch");
    let inner = format!(
        "{{\"errorMessage\":\"Some exception was raised.\",\"errorType\":\"Exception\",\"requestId\":\"{request_id}\",\"stackTrace\":[\"  File \\\"/var/task/handler.py\\\", line 2, in handler\\n    raise Exception(\\\"Some exception was raised.\\\")\\n\"]}}"
    );
    let output = json!({"Error": "Exception", "Cause": inner});
    let v = judge(&c, &ActualResult::succeeded(output.to_string()));
    assert!(v.pass, "{v}");

    // Runtime error quoting the state input: <json-input:N>.
    let c = case_named(
        &cases,
        "scenarios.test_base_scenarios.TestBaseScenarios.test_invalid_jsonpath[INVALID_JSONPATH_IN_STRING_EXPR_JSONPATH]",
    );
    let cause = format!(
        "An error occurred while executing the state 'pass' (entered at the event id #2). The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{}'",
        c.input
    );
    let v = judge(&c, &ActualResult::failed(Some("States.Runtime".into()), Some(cause)));
    assert!(v.pass, "{v}");

    // Missing function: ARN rewritten to partition/region placeholders, Request ID rewritten.
    let c = case_named(&cases, "error_handling.test_task_service_lambda.TestTaskServiceLambda.test_no_such_function");
    let cause = "Function not found: arn:aws:lambda:us-east-1:111111111111:function:no_such_lambda_func_u0000001:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: 1d5e8c2a-0000-4e5f-9a7b-0c1d2e3f4a5b; Proxy: null)";
    let v = judge(&c, &ActualResult::failed(Some("Lambda.ResourceNotFoundException".into()), Some(cause.into())));
    assert!(v.pass, "{v}");
}

#[test]
fn report_tables_by_feature() {
    let cases = load("cases");
    let picked: Vec<&Case> = cases.iter().take(40).collect();
    let first = picked[0].name.clone();
    let runner = |case: &Case| {
        if case.name == first { ActualResult::with_status("ABORTED", None, None) } else { ActualResult::from_expected(case) }
    };
    let report = run_all(picked.iter().copied(), &runner);
    assert_eq!(report.total(), 40);
    assert_eq!(report.failed(), 1);
    let rows = report.by_feature();
    for f in &picked[0].features {
        let row = rows.iter().find(|r| &r.feature == f).unwrap();
        assert!(row.failed >= 1);
        assert_eq!(row.cases, row.passed + row.failed);
    }
    let md = report.to_markdown();
    assert!(md.contains("40 cases: 39 passed, 1 failed"), "{md}");
    assert!(md.contains(&format!("- `{first}`: status: expected")), "{md}");

    // A panicking runner fails the case instead of aborting the run.
    let panicking = |_: &Case| -> ActualResult { panic!("engine exploded") };
    let report = run_all(picked.iter().take(2).copied(), &panicking);
    assert_eq!(report.failed(), 2);
    assert!(report.outcomes[0].verdict.reason.as_ref().unwrap().contains("engine exploded"));

    // Results read from a JSON-lines file.
    let line = json!({"name": picked[1].name, "status": picked[1].expected.status,
        "output": ActualResult::from_expected(picked[1]).output});
    let runner = ResultsFileRunner::parse(&line.to_string()).unwrap();
    let report = run_all(picked.iter().take(2).copied(), &runner);
    assert!(!report.outcomes[0].verdict.pass, "no line: NOT_RUN");
    assert!(report.outcomes[1].verdict.pass, "{:?}", report.outcomes[1].verdict);
}
