//! TestState through aws-sdk-sfn: one state, its output, next state and data flow.

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{InspectionLevel, TestExecutionStatus};
use serde_json::{Value, json};

use super::{Harness, ROLE, create_function, on_both_stores};

fn parse(text: Option<&str>) -> Value {
    serde_json::from_str(text.expect("a JSON text")).unwrap()
}

on_both_stores!(test_state_reports_output_next_state_and_data_flow);
async fn test_state_reports_output_next_state_and_data_flow(h: Harness) {
    // A Pass state at DEBUG: every data-flow step.
    let pass = json!({"Type": "Pass", "InputPath": "$.order", "Parameters": {"id.$": "$.id", "twice.$": "States.MathAdd($.id, $.id)"},
        "ResultPath": "$.computed", "Next": "Ship"});
    let out = h
        .sfn
        .test_state()
        .definition(pass.to_string())
        .role_arn(ROLE)
        .input(r#"{"order":{"id":21},"keep":true}"#)
        .inspection_level(InspectionLevel::Debug)
        .send()
        .await
        .unwrap();
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Succeeded);
    assert_eq!(out.next_state(), Some("Ship"));
    assert_eq!(parse(out.output()), json!({"order": {"id": 21}, "keep": true, "computed": {"id": 21, "twice": 42}}));
    let data = out.inspection_data().unwrap();
    assert_eq!(parse(data.input()), json!({"order": {"id": 21}, "keep": true}));
    assert_eq!(parse(data.after_input_path()), json!({"id": 21}));
    assert_eq!(parse(data.after_parameters()), json!({"id": 21, "twice": 42}));
    assert_eq!(parse(data.result()), json!({"id": 21, "twice": 42}));
    assert_eq!(parse(data.after_result_path()), parse(out.output()));

    // A Task runs the registered component; INFO carries no inspection data.
    create_function(&h, "processed", "processed").await;
    let task = json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:processed",
        "ResultSelector": {"done.$": "$.processed"}, "End": true});
    let out = h.sfn.test_state().definition(task.to_string()).role_arn(ROLE).input(r#"{"id":1}"#).send().await.unwrap();
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Succeeded, "{out:?}");
    assert_eq!(parse(out.output()), json!({"done": true}));
    assert_eq!(out.next_state(), None);
    assert!(out.inspection_data().is_none());
    let out = h
        .sfn
        .test_state()
        .definition(task.to_string())
        .role_arn(ROLE)
        .input(r#"{"id":1}"#)
        .inspection_level(InspectionLevel::Trace)
        .send()
        .await
        .unwrap();
    let data = out.inspection_data().unwrap();
    assert_eq!(parse(data.result()), json!({"id": 1, "processed": true}));
    assert_eq!(parse(data.after_result_selector()), json!({"done": true}));

    // Failures: a matching retrier answers RETRIABLE, a catcher CAUGHT_ERROR, else FAILED.
    let mut failing = task.clone();
    failing["Retry"] = json!([{"ErrorEquals": ["InvalidInput"], "MaxAttempts": 2}]);
    let out = h.sfn.test_state().definition(failing.to_string()).role_arn(ROLE).input("[1]").send().await.unwrap();
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Retriable, "{out:?}");
    assert_eq!(out.error(), Some("InvalidInput"));
    let out = h
        .sfn
        .test_state()
        .definition(json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:processed",
            "InputPath": "$.x", "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Recover"}], "End": true}).to_string())
        .role_arn(ROLE)
        .input(r#"{"x":[1]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::CaughtError, "{out:?}");
    assert_eq!(out.next_state(), Some("Recover"));
    assert_eq!(out.error(), Some("InvalidInput"));
    let output = parse(out.output());
    assert_eq!(output["x"], json!([1]));
    assert_eq!(output["err"]["Error"], "InvalidInput");
    let out = h
        .sfn
        .test_state()
        .definition(json!({"Type": "Fail", "Error": "Nope", "Cause": "because"}).to_string())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Failed);
    assert_eq!((out.error(), out.cause()), (Some("Nope"), Some("because")));

    // Choice picks the next state; a whole machine with stateName tests that state.
    let choice = json!({"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}], "Default": "Small"});
    let out = h.sfn.test_state().definition(choice.to_string()).role_arn(ROLE).input(r#"{"n":11}"#).send().await.unwrap();
    assert_eq!((out.next_state(), out.output()), (Some("Big"), Some(r#"{"n":11}"#)));
    let machine = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Result": 7, "End": true}}});
    let out = h.sfn.test_state().definition(machine.to_string()).state_name("B").role_arn(ROLE).send().await.unwrap();
    assert_eq!((out.next_state(), out.output()), (None, Some("7")));

    // Bad input.
    let err = h.sfn.test_state().definition(r#"{"Type": "Pass", "Next": 5}"#).role_arn(ROLE).send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_definition(), "{err:?}");
    let err = h.sfn.test_state().definition(machine.to_string()).state_name("Z").role_arn(ROLE).send().await.unwrap_err().into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");
    assert!(err.message().unwrap().contains("'Z'"), "{err:?}");
    h.server.shutdown().await.unwrap();
}

on_both_stores!(test_state_seeds_variables_and_reports_them_after_the_state);
async fn test_state_seeds_variables_and_reports_them_after_the_state(h: Harness) {
    // JSONata: the state reads a seeded variable and assigns another.
    let state = json!({"QueryLanguage": "JSONata", "Type": "Pass",
        "Assign": {"total": "{% $price * $states.input.qty %}"}, "Output": {"unit": "{% $price %}"}, "End": true});
    let out = h
        .sfn
        .test_state()
        .definition(state.to_string())
        .role_arn(ROLE)
        .input(r#"{"qty":3}"#)
        .variables(r#"{"price":5}"#)
        .inspection_level(InspectionLevel::Debug)
        .send()
        .await
        .unwrap();
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Succeeded, "{out:?}");
    assert_eq!(parse(out.output()), json!({"unit": 5}));
    assert_eq!(parse(out.inspection_data().unwrap().variables()), json!({"price": 5, "total": 15}));

    // JSONPath: seeded variables reach Parameters.
    let state = json!({"Type": "Pass", "Parameters": {"who.$": "$name"}, "End": true});
    let out = h
        .sfn
        .test_state()
        .definition(state.to_string())
        .role_arn(ROLE)
        .variables(r#"{"name":"ada"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(parse(out.output()), json!({"who": "ada"}));

    let err = h.sfn.test_state().definition(state.to_string()).role_arn(ROLE).variables("[1]").send().await.unwrap_err();
    assert_eq!(err.into_service_error().code(), Some("ValidationException"));
    h.server.shutdown().await.unwrap();
}
