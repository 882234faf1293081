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
