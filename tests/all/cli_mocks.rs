//! `stepbox run` and `serve` with Step Functions Local's mock configuration
//! and wait-time scale.

use serde_json::{Value, json};
use stepbox_tests::stepbox;

const MOCK_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/all/server/mocks/MockConfigFile.json");

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// No function is registered: the test case answers the Task, retried twice
/// after 30 s back-offs that the wait-time scale removes.
#[test]
fn run_a_test_case_of_a_mock_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let machine = json!({"StartAt": "Charge", "States": {"Charge": {"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:111111111111:function:charge",
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 30, "MaxAttempts": 2}], "End": true}}});
    let definition = write(&dir, "order.asl.json", &machine.to_string());
    let args = ["run", &definition, "--mock-config", MOCK_CONFIG, "--test-case", "ChargeOnly", "--state-machine-name", "OrderFlow"];
    let (code, out, err) = stepbox(&[&args[..], &["--wait-time-scale", "0", "--history"]].concat());
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["output"], json!({"charged": 42, "currency": "EUR"}));
    let failed = report["events"].as_array().unwrap().iter().filter(|e| e["type"] == "LambdaFunctionFailed").count();
    assert_eq!(failed, 2);

    let (code, _out, err) = stepbox(&["run", &definition, "--mock-config", MOCK_CONFIG, "--test-case", "Nope", "--state-machine-name", "OrderFlow"]);
    assert_eq!(code, std::process::ExitCode::from(2));
    assert!(err.contains("no test case 'Nope'"), "{err}");
}

#[test]
fn an_invalid_mock_configuration_fails_at_start_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(&dir, "mocks.json", r#"{"StateMachines": {}, "MockedResponses": {"R": {"0": {"Throw": {"Error": "E"}}}}}"#);
    let (code, _out, err) = stepbox(&["serve", "--in-memory", "--addr", "127.0.0.1:0", "--mock-config", &bad]);
    assert_eq!(code, std::process::ExitCode::from(2));
    assert!(err.contains("mocks.json") && err.contains("$.MockedResponses.R['0'].Throw") && err.contains("'Cause'"), "{err}");

    let machine = write(&dir, "m.json", r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#);
    let (code, _out, err) = stepbox(&["run", &machine, "--mock-config", &bad, "--test-case", "C"]);
    assert_eq!(code, std::process::ExitCode::from(2));
    assert!(err.contains("$.MockedResponses.R['0'].Throw"), "{err}");
}

#[test]
fn wait_time_scale_is_a_number_from_0_to_1() {
    let (code, _out, err) = stepbox(&["serve", "--in-memory", "--wait-time-scale", "2"]);
    assert_eq!(code, std::process::ExitCode::from(2));
    assert!(err.contains("not a number from 0 to 1"), "{err}");
    let (code, out, _err) = stepbox(&["serve", "--help"]);
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    assert!(out.contains("--mock-config") && out.contains("SFN_MOCK_CONFIG") && out.contains("WAIT_TIME_SCALE"), "{out}");
}

#[test]
fn run_binds_a_service_integration_to_a_function() {
    let dir = tempfile::tempdir().unwrap();
    stepbox_components::export_to(dir.path()).unwrap();
    let machine = json!({"StartAt": "Send", "States": {"Send": {"Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage", "Parameters": {"QueueUrl": "q", "MessageBody.$": "$.m"}, "End": true}}});
    let definition = write(&dir, "send.asl.json", &machine.to_string());
    let functions = dir.path().to_str().unwrap();
    let (code, out, err) =
        stepbox(&["run", &definition, "--input", r#"{"m":"hi"}"#, "--functions", functions, "--bind", "sqs:sendMessage=echo"]);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    let output: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(output, json!({"Resource": "arn:aws:states:::sqs:sendMessage", "Parameters": {"QueueUrl": "q", "MessageBody": "hi"}}));

    let (code, _out, err) = stepbox(&["run", &definition, "--bind", "lambda:invoke=echo"]);
    assert_eq!(code, std::process::ExitCode::from(2));
    assert!(err.contains("not a service integration"), "{err}");
    let (code, _out, err) = stepbox(&["run", &definition, "--input", r#"{"m":"hi"}"#]);
    assert_eq!(code, std::process::ExitCode::from(1));
    assert!(err.contains("States.Runtime") && err.contains("--bind arn:aws:states:::sqs:sendMessage=FUNCTION"), "{err}");
}

/// `run --dynamodb-table`: the run's items live in memory, shared by its
/// states; a bad spec is refused before anything runs.
#[test]
fn run_with_a_built_in_dynamodb_table() {
    let dir = tempfile::tempdir().unwrap();
    let machine = json!({"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": "Jobs", "Item": {"id": {"N": "7"}, "state": {"S": "new"}}}, "ResultPath": null, "Next": "Claim"},
        "Claim": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {"TableName": "Jobs", "Key": {"id": {"N": "7"}}, "UpdateExpression": "SET #s = :claimed",
                "ConditionExpression": "#s = :new", "ExpressionAttributeNames": {"#s": "state"},
                "ExpressionAttributeValues": {":new": {"S": "new"}, ":claimed": {"S": "claimed"}}, "ReturnValues": "ALL_NEW"},
            "ResultSelector": {"item.$": "$.Attributes"}, "End": true}}});
    let definition = write(&dir, "jobs.asl.json", &machine.to_string());
    let (code, out, err) = stepbox(&["run", &definition, "--dynamodb-table", "Jobs=id:N"]);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out, json!({"item": {"id": {"N": "7"}, "state": {"S": "claimed"}}}));

    let (code, _, err) = stepbox(&["run", &definition, "--dynamodb-table", "Jobs=id:X"]);
    assert_ne!(code, std::process::ExitCode::SUCCESS);
    assert!(err.contains("a key attribute's type is S, N or B"), "{err}");
}

/// `--testing-config`: the bindings, tables, buckets and wait-time scale of
/// a TOML file, flags added on top; a bad file names itself and the place.
#[test]
fn run_with_a_testing_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    stepbox_components::export_to(dir.path()).unwrap();
    std::fs::create_dir_all(dir.path().join("buckets/in")).unwrap();
    std::fs::write(dir.path().join("buckets/in/m.txt"), "from a bucket").unwrap();
    let machine = json!({"StartAt": "Wait", "States": {
        "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Read"},
        "Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": "in", "Key": "m.txt"}, "ResultSelector": {"m.$": "$.Body"}, "ResultPath": "$.read", "Next": "Put"},
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": "Jobs", "Item": {"id": {"N": "7"}}}, "ResultPath": null, "Next": "Send"},
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "q", "MessageBody.$": "$.read.m"}, "End": true}}});
    let definition = write(&dir, "flow.asl.json", &machine.to_string());
    let config = write(&dir, "testing.toml", "wait_time_scale = 0\nbuckets = \"buckets\"\n\n[bind]\n\"sqs:sendMessage\" = \"echo\"\n\n[dynamodb_tables]\nJobs = \"id:N\"\n");
    let functions = dir.path().to_str().unwrap();
    let started = std::time::Instant::now();
    let (code, out, err) = stepbox(&["run", &definition, "--functions", functions, "--testing-config", &config]);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(600), "the hour's Wait is scaled to nothing");
    let output: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(output["Parameters"], json!({"QueueUrl": "q", "MessageBody": "from a bucket"}));

    // A flag's table replaces the file's: a string key refuses the number.
    let (code, _out, err) = stepbox(&["run", &definition, "--functions", functions, "--testing-config", &config, "--dynamodb-table", "Jobs=id"]);
    assert_eq!(code, std::process::ExitCode::from(1), "{err}");
    assert!(err.contains("DynamoDB"), "{err}");

    let bad = write(&dir, "bad.toml", "wait_time_scale = 0\n[bind]\n\"sqs:sendMessage\" = \"echo\"\n[queues]\nq = 1\n");
    let (code, _out, err) = stepbox(&["run", &definition, "--testing-config", &bad]);
    assert_eq!(code, std::process::ExitCode::from(2));
    assert!(err.contains("bad.toml") && err.contains("line 4") && err.contains("queues"), "{err}");
    let bad = write(&dir, "scale.toml", "wait_time_scale = 3\n");
    let (code, _out, err) = stepbox(&["serve", "--in-memory", "--testing-config", &bad]);
    assert_eq!(code, std::process::ExitCode::from(2));
    assert!(err.contains("scale.toml") && err.contains("not a number from 0 to 1"), "{err}");
}
