use super::*;
use serde_json::json;

const DOC_EXAMPLE: &str = r#"{
  "StateMachines": {"LambdaSQSIntegration": {"TestCases": {
    "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
    "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"},
    "HybridPath": {"LambdaState": "MockedLambdaSuccess"}}}},
  "MockedResponses": {
    "MockedLambdaSuccess": {"0": {"Return": {"StatusCode": 200, "Payload": {"body": "hi"}}}},
    "MockedSQSSuccess": {"0": {"Return": {"MessageId": "m-1"}}},
    "MockedLambdaRetry": {
      "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "not ready"}},
      "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "timed out"}},
      "3": {"Return": {"StatusCode": 200}}}}
}"#;

fn machine() -> StateMachine {
    StateMachine::parse(
        &json!({"StartAt": "LambdaState", "States": {
            "LambdaState": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"}, "Next": "Fan"},
            "Fan": {"Type": "Map", "ItemProcessor": {"StartAt": "SQSState", "States": {
                "SQSState": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": true}}}, "Next": "Done"},
            "Done": {"Type": "Pass", "End": true}}})
        .to_string(),
    )
    .expect("a valid machine")
}

fn invalid_at(text: &str) -> String {
    match MockConfig::parse(text) {
        Err(MockConfigError::Invalid { path, .. }) => path,
        other => panic!("expected an invalid configuration, got {other:?}"),
    }
}

#[test]
fn attempts_pick_the_range_that_covers_them() {
    let config = MockConfig::parse(DOC_EXAMPLE).expect("the documented example parses");
    let case = config.test_case("LambdaSQSIntegration", "RetryPath", &machine()).expect("a case");
    let error = |n| match case.response("LambdaState", n) {
        Some(Ok(MockedResponse::Throw { error, .. })) => error,
        other => panic!("attempt {n}: {other:?}"),
    };
    assert_eq!(error(0), "Lambda.ResourceNotReadyException");
    assert_eq!(error(1), "Lambda.TimeoutException");
    assert_eq!(error(2), "Lambda.TimeoutException");
    assert_eq!(case.response("LambdaState", 3), Some(Ok(MockedResponse::Return(json!({"StatusCode": 200})))));
    let past = case.response("LambdaState", 4).expect("mocked").expect_err("no attempt 4");
    assert!(past.contains("attempt 4") && past.contains("MockedLambdaRetry"), "{past}");
    assert_eq!(case.response("Done", 0), None, "an unmocked state runs");
}

#[test]
fn a_case_must_name_task_states_of_the_machine() {
    let config = MockConfig::parse(DOC_EXAMPLE).unwrap();
    assert!(config.test_case("LambdaSQSIntegration", "HybridPath", &machine()).is_ok());
    let other = StateMachine::parse(r#"{"StartAt":"X","States":{"X":{"Type":"Pass","Next":"SQSState"},"SQSState":{"Type":"Pass","End":true}}}"#).unwrap();
    let err = config.test_case("LambdaSQSIntegration", "HappyPath", &other).unwrap_err().to_string();
    assert!(err.contains("'LambdaState', 'SQSState'"), "{err}");
    let err = config.test_case("LambdaSQSIntegration", "Nope", &machine()).unwrap_err().to_string();
    assert!(err.contains("'Nope'") && err.contains("'HappyPath'"), "{err}");
    let err = config.test_case("Other", "HappyPath", &machine()).unwrap_err().to_string();
    assert!(err.contains("'Other'") && err.contains("'LambdaSQSIntegration'"), "{err}");
}

#[test]
fn errors_name_their_place() {
    let base = |responses: serde_json::Value| json!({"StateMachines": {}, "MockedResponses": responses}).to_string();
    assert_eq!(invalid_at(&base(json!({"R": {"0-1": {"Throw": {"Error": "E"}}}}))), "$.MockedResponses.R['0-1'].Throw");
    assert_eq!(invalid_at(&base(json!({"R": {"0": {"Return": 1}, "2": {"Return": 2}}}))), "$.MockedResponses.R['2']");
    assert_eq!(invalid_at(&base(json!({"R": {"0": {"Return": 1}, "0-1": {"Return": 2}}}))), "$.MockedResponses.R['0-1']");
    assert_eq!(invalid_at(&base(json!({"R": {"x": {"Return": 1}}}))), "$.MockedResponses.R.x");
    assert_eq!(invalid_at(&base(json!({"R": {"0": {"Return": 1, "Throw": {}}}}))), "$.MockedResponses.R['0']");
    assert_eq!(invalid_at(&base(json!({"R": {"0": {"Throw": {"Error": 5, "Cause": ""}}}}))), "$.MockedResponses.R['0'].Throw.Error");
    assert_eq!(invalid_at(&base(json!({"R": {}}))), "$.MockedResponses.R");
    let unknown = json!({"StateMachines": {"M": {"TestCases": {"C": {"S": "Missing"}}}}, "MockedResponses": {}});
    assert_eq!(invalid_at(&unknown.to_string()), "$.StateMachines.M.TestCases.C.S");
    assert_eq!(invalid_at(r#"{"StateMachines": {}, "MockedResponse": {}}"#), "$.MockedResponse");
    assert_eq!(invalid_at(r#"{"StateMachines": {}}"#), "$");
    assert!(matches!(MockConfig::parse("{"), Err(MockConfigError::NotJson(_))));
}
