//! `stepbox invoke`: one component run from the command line.

use stepbox_tests::stepbox;

#[test]
fn invoke_prints_output_and_logs() {
    let echo = stepbox_components::ECHO;
    let (code, out, _err) = stepbox(&["invoke", echo, "--input", r#"{"hello":"world"}"#]);
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    assert_eq!(out.trim(), r#"{"hello":"world"}"#);
}

#[test]
fn invoke_reports_named_errors_with_exit_code_1() {
    let hostile = stepbox_components::HOSTILE;
    let (code, out, err) =
        stepbox(&["invoke", hostile, "--input", r#"{"attack":"loop"}"#, "--timeout", "0.1"]);
    assert_eq!(code, std::process::ExitCode::from(1));
    assert!(out.is_empty());
    assert!(err.contains("Error: Sandbox.Timedout"), "{err}");
}

#[test]
fn invoke_rejects_bad_input_json() {
    let (code, _out, err) = stepbox(&["invoke", stepbox_components::ECHO, "--input", "{nope"]);
    assert_eq!(code, std::process::ExitCode::from(2));
    assert!(err.contains("not valid JSON"), "{err}");
}

fn functions_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    stepbox_components::export_to(dir.path()).unwrap();
    dir
}

const ORDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/workflows/order.asl.json");
const ORDER_INPUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/workflows/order.input.json");

#[test]
fn run_executes_the_example_order_workflow_on_components() {
    let functions = functions_dir();
    let input = format!("@{ORDER_INPUT}");
    let (code, out, err) =
        stepbox(&["run", ORDER, "--input", &input, "--functions", functions.path().to_str().unwrap()]);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    let output: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(output["total"], serde_json::json!(77.4));
    assert_eq!(output["decision"], "approved");
    let items = output["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|i| i["processed"] == true && i["line_total"].is_number()));
}

#[test]
fn run_with_history_prints_chained_aws_events() {
    let functions = functions_dir();
    let input = format!("@{ORDER_INPUT}");
    let (code, out, err) = stepbox(&[
        "run", ORDER, "--input", &input, "--functions", functions.path().to_str().unwrap(), "--history",
    ]);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["status"], "SUCCEEDED");
    let events = report["events"].as_array().unwrap();
    assert_eq!(events.first().unwrap()["type"], "ExecutionStarted");
    assert_eq!(events.last().unwrap()["type"], "ExecutionSucceeded");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["id"], serde_json::json!(i + 1), "ids are 1..n in order");
        let prev = e["previousEventId"].as_u64().unwrap();
        assert!(prev < e["id"].as_u64().unwrap());
    }
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.iter().filter(|t| **t == "MapIterationSucceeded").count(), 3);
    assert!(types.contains(&"LambdaFunctionSucceeded"));
}

#[test]
fn run_reports_a_caught_task_error_reaching_a_fail_state() {
    let functions = functions_dir();
    let (code, out, err) = stepbox(&[
        "run", ORDER, "--input", r#"{"id": "bad", "items": "not a list"}"#,
        "--functions", functions.path().to_str().unwrap(),
    ]);
    assert_eq!(code, std::process::ExitCode::from(1));
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("Execution FAILED") && err.contains("Error: OrderRejected"), "{err}");
}

/// One request id per invocation: the component's context, the Cause of its
/// failure and `lambda:invoke`'s response metadata all show the same one.
#[test]
fn run_reports_the_request_id_the_component_saw() {
    let functions = functions_dir();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ids.json");
    std::fs::write(
        &path,
        r#"{"StartAt": "Seen", "States": {
            "Seen": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                     "Parameters": {"FunctionName": "hostile", "Payload": {"attack": "context"}},
                     "ResultPath": "$.seen", "Next": "Fail"},
            "Fail": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:hostile",
                     "Parameters": {"attack": "fail-with-request-id"},
                     "Catch": [{"ErrorEquals": ["RequestIdError"], "ResultPath": "$.caught", "Next": "Done"}],
                     "End": true},
            "Done": {"Type": "Succeed"}}}"#,
    )
    .unwrap();
    let (code, out, err) =
        stepbox(&["run", path.to_str().unwrap(), "--input", "{}", "--functions", functions.path().to_str().unwrap()]);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    let output: serde_json::Value = serde_json::from_str(&out).unwrap();
    let seen = &output["seen"];
    let seen_id = seen["Payload"]["request_id"].as_str().unwrap();
    assert!(!seen_id.is_empty());
    assert_eq!(seen["SdkResponseMetadata"]["RequestId"], seen_id);
    assert_eq!(seen["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"], seen_id);
    let cause: serde_json::Value = serde_json::from_str(output["caught"]["Cause"].as_str().unwrap()).unwrap();
    let failed_id = cause["errorMessage"].as_str().unwrap();
    assert_eq!(cause["requestId"], failed_id, "{cause}");
    assert_ne!(failed_id, seen_id, "each invocation has its own id");
}

#[test]
fn run_refuses_an_invalid_definition_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(&path, r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}"#).unwrap();
    let (code, _out, err) = stepbox(&["run", path.to_str().unwrap()]);
    assert_eq!(code, std::process::ExitCode::from(2));
    assert!(err.contains("MISSING_TRANSITION_TARGET") && err.contains("/States/A/Next"), "{err}");

    let (code, out, _err) = stepbox(&["validate", path.to_str().unwrap()]);
    assert_eq!(code, std::process::ExitCode::from(1));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["result"], "FAIL");
    assert_eq!(report["diagnostics"][0]["code"], "MISSING_TRANSITION_TARGET");
    assert_eq!(report["diagnostics"][0]["location"], "/States/A/Next");

    let (code, out, _err) = stepbox(&["validate", ORDER]);
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    assert!(out.contains(r#""result": "OK""#), "{out}");
}

#[test]
fn graph_draws_a_definition_as_svg_or_dot() {
    let (code, out, _err) = stepbox(&["graph", ORDER]);
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    assert!(out.starts_with("<svg"), "{out}");
    let definition: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(ORDER).unwrap()).unwrap();
    let states = definition["States"].as_object().unwrap();
    let nested = states.values().filter_map(|s| s["ItemProcessor"]["States"].as_object()).map(|m| m.len()).sum::<usize>();
    assert_eq!(out.matches("data-state=").count(), states.len() + nested, "{out}");
    for name in states.keys() {
        assert!(out.contains(&format!("data-state=\"{name}\"")), "{name}");
    }

    let (code, out, _err) = stepbox(&["graph", ORDER, "--format", "dot"]);
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    assert!(out.starts_with("digraph") && out.contains("subgraph \"cluster_ProcessItems\""), "{out}");
    assert!(out.contains("\"IsBigOrder\" -> \"Approved\" [label=\"Default\"]"), "{out}");

    let (code, _out, err) = stepbox(&["graph", "no-such-file.json"]);
    assert_eq!(code, std::process::ExitCode::from(2));
    assert!(err.contains("no-such-file.json"), "{err}");
}

#[test]
fn help_lists_every_command() {
    let (code, out, _err) = stepbox(&["--help"]);
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    for command in ["invoke", "run", "validate", "graph"] {
        assert!(out.contains(command), "{out}");
    }
}

#[test]
fn serve_help_offers_turning_warm_instances_off() {
    let (code, out, _err) = stepbox(&["serve", "--help"]);
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    assert!(out.contains("--no-warm-instances"), "{out}");
    assert!(out.contains("idle CPU"), "{out}");
}

/// `serve` on a data directory another server holds stops at start-up with
/// an error that says the store is in use (not that it is damaged).
#[test]
fn serve_on_a_data_directory_in_use_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let _held = stepbox_store::open_dir(dir.path()).expect("the first server's store");
    let data = dir.path().to_str().unwrap();
    let (code, _out, err) = stepbox(&["serve", "--data", data, "--addr", "127.0.0.1:0"]);
    assert_ne!(code, std::process::ExitCode::SUCCESS);
    assert!(err.contains("stepbox.redb"), "{err}");
    assert!(err.contains("in use by another process"), "{err}");
}

#[test]
fn run_history_shows_assigned_variables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vars.json");
    std::fs::write(
        &path,
        r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"who.$": "$.name", "n": 1}, "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"hello.$": "$who"}, "End": true}}}"#,
    )
    .unwrap();
    let (code, out, err) = stepbox(&["run", path.to_str().unwrap(), "--input", r#"{"name": "ada"}"#, "--history"]);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["output"], serde_json::json!({"hello": "ada"}));
    let exited: Vec<&serde_json::Value> = report["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "PassStateExited")
        .map(|e| &e["stateExitedEventDetails"])
        .collect();
    assert_eq!(exited[0]["assignedVariables"], serde_json::json!({"who": "\"ada\"", "n": "1"}));
    assert_eq!(exited[0]["assignedVariablesDetails"], serde_json::json!({"truncated": false}));
    assert!(exited[1].get("assignedVariables").is_none());
}

/// `serve --database-url` of a server nobody answers at: one line saying
/// which database could not be reached and why (never the password), exit
/// code 2, no panic; run as the real binary is.
#[test]
fn serve_on_an_unreachable_database_exits_2_with_one_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stepbox-child"))
        .args(["serve", "--addr", "127.0.0.1:0", "--database-url", "postgres://stepbox:secret@127.0.0.1:1/stepbox"])
        .output()
        .expect("run stepbox serve");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: cannot connect to the database at 127.0.0.1:1/stepbox: "), "{err}");
    assert!(!err.contains("secret") && !err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty(), "nothing listens: {}", String::from_utf8_lossy(&out.stdout));
}

/// `serve --database-url` of a database a newer stepbox migrated: refused
/// with exit code 2, saying so; the database is left as it was.
#[test]
fn serve_on_a_database_with_a_newer_schema_refuses_it() {
    let url = crate::postgres::fresh_database();
    // Every migration of this stepbox, then one it does not know.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/host/store/migrations");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut later: Vec<String> = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    let known = later.len();
    later.push("CREATE TABLE stepbox_later (x integer)".into());
    let later: Vec<&str> = later.iter().map(String::as_str).collect();
    stepbox_store::PostgresBackend::migrate_with(&url, &later).expect("a later stepbox's schema");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stepbox-child"))
        .args(["serve", "--addr", "127.0.0.1:0", "--database-url", &url])
        .output()
        .expect("run stepbox serve");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let newer = format!("has stepbox schema version {}, newer than this stepbox knows ({known})", known + 1);
    assert!(err.contains(&newer), "{err}");
    let again = stepbox_store::PostgresBackend::migrate_with(&url, &later);
    assert_eq!(again.expect("still the later version"), Vec::<i32>::new());
}

const DISTRIBUTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/distributed-map/orders.asl.json");
const DISTRIBUTED_BUCKETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/distributed-map/buckets");

/// The distributed Map example: items read from a JSON Lines object in the
/// bucket directory, results written beside it in AWS's layout.
#[test]
fn run_reads_map_items_from_a_bucket_and_writes_the_results_there() {
    let functions = functions_dir();
    let buckets = tempfile::tempdir().unwrap();
    let orders = buckets.path().join("orders/incoming");
    std::fs::create_dir_all(&orders).unwrap();
    std::fs::copy(format!("{DISTRIBUTED_BUCKETS}/orders/incoming/orders.jsonl"), orders.join("orders.jsonl")).unwrap();
    let (code, out, err) = stepbox(&[
        "run", DISTRIBUTED, "--input", r#"{"max_orders": 3}"#, "--functions", functions.path().to_str().unwrap(),
        "--buckets", buckets.path().to_str().unwrap(),
    ]);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    let output: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(output["ResultWriterDetails"]["Bucket"], "orders");
    let manifest_key = output["ResultWriterDetails"]["Key"].as_str().unwrap();
    let read = |key: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(buckets.path().join("orders").join(key)).unwrap()).unwrap()
    };
    let manifest = read(manifest_key);
    assert_eq!(manifest["MapRunArn"], output["MapRunArn"]);
    let file = |status: &str| read(manifest["ResultFiles"][status][0]["Key"].as_str().unwrap());
    let succeeded = file("SUCCEEDED");
    let totals: Vec<f64> = succeeded
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str::<serde_json::Value>(e["Output"].as_str().unwrap()).unwrap()["total"].as_f64().unwrap())
        .collect();
    assert_eq!(totals, [31.2, 32.97]);
    let failed = file("FAILED");
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert_eq!(failed[0]["Error"], "InvalidOrder");
    assert_eq!(manifest["ResultFiles"]["PENDING"], serde_json::json!([]));
}

/// A JSONata string doubled in a recursion grows a gigabyte every few steps,
/// faster than the 5 s bound: the real binary's allocator counts what the
/// evaluation holds and stops it past its budget with AWS's memory refusal,
/// well before 2^40 bytes (without it, the process is killed for memory).
#[test]
fn a_jsonata_string_doubled_past_the_memory_budget_fails_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let definition = dir.path().join("doubling.asl.json");
    let expr = "($f := function($s, $n){ $n = 0 ? $s : $f($s & $s, $n - 1) }; $length($f('x', 40)))";
    let machine = serde_json::json!({"QueryLanguage": "JSONata", "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Output": format!("{{% {expr} %}}"), "End": true}}});
    std::fs::write(&definition, machine.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stepbox-child"))
        .arg("run")
        .arg(&definition)
        .output()
        .expect("run stepbox run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Error: States.QueryEvaluationError"), "{err}");
    assert!(
        err.contains(&format!("The JSONata expression '{expr}' specified for the field 'Output' threw an error during evaluation: Expression evaluation memory limit exceeded: Check for excessive memory usage")),
        "{err}"
    );
}
