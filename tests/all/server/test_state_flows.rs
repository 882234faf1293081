//! TestState on Map and Parallel states through aws-sdk-sfn: AWS runs them
//! only with a mock, which stands for the whole state's result; the state's
//! items, tolerated failures (`mapIterationFailureCount`), ItemReader data
//! (`mapItemReaderData`), error source (`errorCausedByState`), and states
//! inside them named by `stateName`, with the context AWS fills in.

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::operation::test_state::TestStateOutput;
use aws_sdk_sfn::types::{InspectionLevel, MockErrorOutput, MockInput, TestExecutionStatus, TestStateConfiguration};
use serde_json::{Value, json};

use super::Harness;

fn parse(text: Option<&str>) -> Value {
    serde_json::from_str(text.expect("a JSON text")).unwrap()
}

fn result(text: &str) -> MockInput {
    MockInput::builder().result(text).build()
}

fn error_output(error: &str, cause: &str) -> MockInput {
    MockInput::builder().error_output(MockErrorOutput::builder().error(error).cause(cause).build()).build()
}

fn config() -> aws_sdk_sfn::types::builders::TestStateConfigurationBuilder {
    TestStateConfiguration::builder()
}

/// A Map over `$.items` whose iterations call a Task nothing provides.
fn map(extra: Value) -> Value {
    let mut m = json!({"Type": "Map", "ItemsPath": "$.items",
        "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Process",
            "States": {"Process": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}},
        "ResultPath": "$.results", "Next": "Done"});
    m.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    m
}

async fn run(h: &Harness, definition: &Value, input: &str, mock: MockInput, configuration: Option<TestStateConfiguration>) -> TestStateOutput {
    h.sfn
        .test_state()
        .definition(definition.to_string())
        .input(input)
        .mock(mock)
        .set_state_configuration(configuration)
        .inspection_level(InspectionLevel::Debug)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_or_parallel_runs_only_with_a_mock_whose_result_has_their_shape() {
    let h: Harness = super::start().await;
    let parallel = json!({"Type": "Parallel", "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}], "End": true});
    for definition in [map(json!({})), parallel.clone()] {
        let err = h.sfn.test_state().definition(definition.to_string()).input("{}").send().await.unwrap_err().into_service_error();
        assert_eq!(err.code(), Some("InvalidDefinition"));
        assert_eq!(
            err.message(),
            Some("TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]")
        );
    }
    let refused = |definition: Value, mock: &'static str| {
        let h = &h;
        async move { h.sfn.test_state().definition(definition.to_string()).input(r#"{"items": []}"#).mock(result(mock)).send().await.unwrap_err().into_service_error() }
    };
    assert_eq!(refused(map(json!({})), r#"{"a": 1}"#).await.message(), Some("Mocked result must be an array."));
    let writer = map(json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b", "Prefix": "p"}}}));
    assert_eq!(refused(writer, "[1]").await.message(), Some("Mocked result must be a JSON object."));
    assert_eq!(refused(map(json!({})), "[1,").await.message(), Some("Mocked result must be valid JSON"));
    let err = refused(parallel.clone(), "[1]").await;
    assert_eq!(err.code(), Some("ValidationException"));
    assert!(err.message().unwrap().contains("one element for each of the Parallel state's 2 branches"), "{err:?}");

    let out = run(&h, &parallel, r#"{"x": 1}"#, result(r#"[{"a": 1}, {"b": 2}]"#), None).await;
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Succeeded);
    assert_eq!(parse(out.output()), json!([{"a": 1}, {"b": 2}]));
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mocked_map_shows_its_items_at_each_step_and_its_limits() {
    let h: Harness = super::start().await;
    let definition = map(json!({"MaxConcurrency": 2, "ToleratedFailureCountPath": "$.tolerate",
        "ItemBatcher": {"MaxItemsPerBatch": 2}, "ResultSelector": {"count.$": "States.ArrayLength($)"}}));
    let input = r#"{"items": ["a", "b", "c"], "tolerate": 1}"#;
    let out = run(&h, &definition, input, result(r#"[10, 20, 30]"#), None).await;
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Succeeded, "{:?}", out.cause());
    assert_eq!(out.next_state(), Some("Done"));
    assert_eq!(parse(out.output())["results"], json!({"count": 3}));
    let data = out.inspection_data().unwrap();
    assert_eq!(parse(data.after_items_path()), json!(["a", "b", "c"]));
    let selected = json!([{"value": "a", "index": 0}, {"value": "b", "index": 1}, {"value": "c", "index": 2}]);
    assert_eq!(parse(data.after_item_selector()), selected);
    let batched = parse(data.after_item_batcher());
    assert_eq!(batched.as_array().map(Vec::len), Some(2), "{batched}");
    assert_eq!(batched[0]["Items"], json!([{"value": "a", "index": 0}, {"value": "b", "index": 1}]));
    assert_eq!((data.max_concurrency(), data.tolerated_failure_count()), (Some(2), Some(1)));
    assert_eq!(parse(data.after_result_selector()), json!({"count": 3}));

    // Items that are not an array fail the Map before any iteration.
    let out = run(&h, &definition, r#"{"items": 5, "tolerate": 1}"#, result("[]"), None).await;
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Failed);
    assert_eq!(out.error(), Some("States.QueryEvaluationError"), "{:?}", out.cause());
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_iterations_beyond_the_tolerance_raise_the_threshold_error() {
    let h: Harness = super::start().await;
    let catch = json!([{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "Next": "TooMany"}]);
    let input = r#"{"items": [1, 2, 3, 4]}"#;
    let failures = |n: i32| Some(config().map_iteration_failure_count(n).build());
    // ToleratedFailurePercentage 50 of four items: two may fail, three may not.
    let definition = map(json!({"ToleratedFailurePercentage": 50, "Catch": catch}));
    let out = run(&h, &definition, input, result("[1, 2, 3, 4]"), failures(2)).await;
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Succeeded, "{:?}", out.cause());
    let out = run(&h, &definition, input, result("[1, 2, 3, 4]"), failures(3)).await;
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::CaughtError);
    assert_eq!(out.error(), Some("States.ExceedToleratedFailureThreshold"));
    assert_eq!(out.next_state(), Some("TooMany"));
    // With no tolerance, one failed iteration is too many.
    let definition = map(json!({"Catch": catch}));
    let out = run(&h, &definition, input, result("[1, 2, 3, 4]"), failures(1)).await;
    assert_eq!(out.error(), Some("States.ExceedToleratedFailureThreshold"));
    let err = h
        .sfn
        .test_state()
        .definition(definition.to_string())
        .input(input)
        .mock(result("[]"))
        .state_configuration(config().map_iteration_failure_count(5).build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.message().unwrap().contains("cannot exceed the number of items of the Map state (4)"), "{err:?}");
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_from_a_state_inside_reaches_the_maps_catch_and_retry() {
    let h: Harness = super::start().await;
    let definition = map(json!({
        "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 1}],
        "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Failed"}]}));
    let caused_by = |state: &str| Some(config().error_caused_by_state(state).build());
    let out = run(&h, &definition, r#"{"items": [1]}"#, error_output("States.TaskFailed", "boom"), caused_by("Process")).await;
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::CaughtError);
    assert_eq!((out.next_state(), out.error(), out.cause()), (Some("Failed"), Some("States.TaskFailed"), Some("boom")));
    assert_eq!(parse(out.output())["error"], json!({"Error": "States.TaskFailed", "Cause": "boom"}));
    let out = run(&h, &definition, r#"{"items": [1]}"#, error_output("States.Timeout", "slow"), caused_by("Process")).await;
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Retriable);
    let err = h
        .sfn
        .test_state()
        .definition(definition.to_string())
        .input(r#"{"items": [1]}"#)
        .mock(error_output("E", "c"))
        .state_configuration(config().error_caused_by_state("Elsewhere").build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("ValidationException"));
    assert!(err.message().unwrap().contains("'Elsewhere' is not a state of the tested Map state"), "{err:?}");
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_map_reads_its_items_from_map_item_reader_data() {
    let h: Harness = super::start().await;
    let definition = json!({"Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
            "Parameters": {"Bucket": "orders", "Key": "today.csv"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Ship",
            "States": {"Ship": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}},
        "End": true});
    let data = config().map_item_reader_data("id,qty\n1,5\n2,7\n").map_iteration_failure_count(2);
    let out = run(&h, &definition, "{}", result(r#"[{"ok": true}, {"ok": true}]"#), Some(data.build())).await;
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Succeeded, "{:?}", out.cause());
    let data = out.inspection_data().unwrap();
    assert_eq!(parse(data.after_items_path()), json!([{"id": "1", "qty": "5"}, {"id": "2", "qty": "7"}]));
    // Three failures of two items cannot be.
    let too_many = config().map_item_reader_data("id,qty\n1,5\n2,7\n").map_iteration_failure_count(3).build();
    let err = h.sfn.test_state().definition(definition.to_string()).mock(result("[]")).state_configuration(too_many).send().await;
    assert_eq!(err.unwrap_err().into_service_error().code(), Some("ValidationException"));
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_inside_a_map_is_tested_as_its_first_iteration_runs_it() {
    let h: Harness = super::start().await;
    let machine = json!({"QueryLanguage": "JSONata", "StartAt": "Each", "States": {
        "Each": {"Type": "Map", "Items": "{% $states.input.items %}", "ItemProcessor": {"StartAt": "Tag", "States": {
            "Tag": {"Type": "Pass", "Output": {"index": "{% $states.context.Map.Item.Index %}",
                "value": "{% $states.context.Map.Item.Value %}", "doubled": "{% $states.input * 2 %}"}, "Next": "Ship"},
            "Ship": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": "ship", "Payload": {"retry": "{% $states.context.State.RetryCount %}",
                    "token": "{% $states.context.Task.Token %}"}}, "End": true}}}, "End": true}}});
    let out = h.sfn.test_state().definition(machine.to_string()).state_name("Tag").input("21").send().await.unwrap();
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Succeeded, "{:?}", out.cause());
    assert_eq!(out.next_state(), Some("Ship"));
    assert_eq!(parse(out.output()), json!({"index": 0, "value": 21, "doubled": 42}));

    // A given context's State and Task members, and retrierRetryCount as $$.State.RetryCount.
    let ship = |context: Option<&str>, retries: Option<i32>| {
        h.sfn
            .test_state()
            .definition(machine.to_string())
            .state_name("Ship")
            .input("{}")
            .mock(result(r#"{"StatusCode": 200, "Payload": {}}"#))
            .set_context(context.map(str::to_string))
            .set_state_configuration(retries.map(|r| config().retrier_retry_count(r).build()))
            .inspection_level(InspectionLevel::Debug)
            .send()
    };
    let out = ship(Some(r#"{"Task": {"Token": "tok-1"}, "State": {"RetryCount": 4}}"#), None).await.unwrap();
    assert_eq!(parse(out.inspection_data().unwrap().after_arguments())["Payload"], json!({"retry": 4, "token": "tok-1"}));
    let out = ship(Some(r#"{"Task": {"Token": "tok-2"}}"#), Some(2)).await.unwrap();
    assert_eq!(parse(out.inspection_data().unwrap().after_arguments())["Payload"], json!({"retry": 2, "token": "tok-2"}));
    h.server.shutdown().await.unwrap();
}
