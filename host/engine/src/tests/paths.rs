//! JSONPath forms AWS's path library (Jayway) takes that a strict grammar
//! refuses: they validate, and run with Jayway's results.

use super::*;

#[tokio::test]
async fn lenient_paths_validate_and_run() {
    let r = run_with(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
            "InputPath": " $.in ",
            "Parameters": {"total.$": "$.nums.sum()", "keys.$": "$.obj.keys()", "odd.$": "$.it's", "last.$": "$.nums.last()",
                           "sq.$": "$.['a b'][ 0 ]"},
            "OutputPath": "$ ", "End": true}}}),
        json!({"in": {"nums": [1, 2, 3.5], "obj": {"x": 1, "y": 2}, "it's": "quote", "a b": [7]}}),
        &[],
    )
    .await;
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded, "{:?}", r.outcome.cause);
    assert_eq!(
        r.outcome.output,
        Some(json!({"total": 6.5, "keys": ["x", "y"], "odd": "quote", "last": 3.5, "sq": 7}))
    );
}

#[tokio::test]
async fn intrinsics_print_doubles_as_java_does() {
    let r = run_with(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
            "Parameters": {"f.$": "States.Format('{} {} {}', $.big, $.small, $.one)", "j.$": "States.JsonToString($)"},
            "End": true}}}),
        json!({"big": 1e20, "small": 0.0001, "one": 1.0}),
        &[],
    )
    .await;
    assert_eq!(
        r.outcome.output,
        Some(json!({"f": "1.0E20 1.0E-4 1.0", "j": "{\"big\":1.0E20,\"small\":1.0E-4,\"one\":1.0}"}))
    );
}

/// A Parameters path over a null input fails as AWS fails it (a user's
/// execution: a Lambda's null output as the next Task's input, Parameters
/// `"Input.$": "$"`); constants and the context object still build.
#[tokio::test]
async fn a_parameters_path_over_a_null_input_is_a_runtime_error() {
    let machine = |parameters: Value| {
        json!({"StartAt": "Nothing", "States": {
            "Nothing": {"Type": "Pass", "Result": null, "Next": "P"},
            "P": {"Type": "Pass", "Parameters": parameters, "End": true}}})
    };
    for parameters in [json!({"Input.$": "$"}), json!({"a": {"b.$": "$.x"}})] {
        let r = run_with(machine(parameters.clone()), json!({}), &[]).await;
        assert_eq!(r.outcome.error.as_deref(), Some("States.Runtime"), "{parameters}");
        assert!(
            r.outcome.cause.as_deref().unwrap_or_default().ends_with("Unable to apply Path transformation to null or empty input."),
            "{parameters}: {:?}",
            r.outcome.cause
        );
    }
    for parameters in [json!({"a": 1}), json!({"name.$": "$$.State.Name"})] {
        let r = run_with(machine(parameters.clone()), json!({}), &[]).await;
        assert_eq!(r.outcome.status, ExecutionStatus::Succeeded, "{parameters}: {:?}", r.outcome.cause);
    }
}
