//! Bad requests next to a running execution: each gets its error shape and the
//! execution finishes undisturbed.

use aws_sdk_sfn::types::{ExecutionStatus, StateMachineType};
use serde_json::{Value, json};

use super::{Harness, create_machine, raw, sfn_request, on_both_stores, wait_closed};

on_both_stores!(bad_requests_do_not_disturb_running_executions);
async fn bad_requests_do_not_disturb_running_executions(h: Harness) {
    let slow = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
        "P": {"Type": "Pass", "Result": {"ok": true}, "End": true}}})
    .to_string();
    let sm = create_machine(&h, "steady", &slow, StateMachineType::Standard).await;
    let run = h.sfn.start_execution().state_machine_arn(&sm).name("steady").send().await.unwrap();

    let oversize = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Amz-Target: AWSStepFunctions.StartExecution\r\n\
         Content-Length: {}\r\n\r\n",
        stepbox_server::SFN_BODY_LIMIT + 1
    );
    let cases: Vec<(String, u16, &str)> = vec![
        (sfn_request("AWSStepFunctions.StartExecution", "{not json"), 400, "SerializationException"),
        (sfn_request("AWSStepFunctions.StartExecution", r#"{"stateMachineArn": 7}"#), 400, "SerializationException"),
        (sfn_request("AWSStepFunctions.StopExecution", r#"{"executionArn": "arn:aws:states:us-east-1:111111111111:execution:steady"}"#), 400, "InvalidArn"),
        (sfn_request("AWSStepFunctions.Explode", "{}"), 400, "UnknownOperationException"),
        (oversize, 413, "ValidationException"),
        ("GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(), 404, "UnknownOperationException"),
        (
            "POST /2015-03-31/functions/nope/invocations HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\n{bad}"
                .into(),
            404,
            "",
        ),
    ];
    for (request, status, kind) in cases {
        let (got, _, body) = raw(h.server.addr, &request).await;
        assert_eq!(got, status, "{request:?}: {body}");
        if !kind.is_empty() {
            let body: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{request:?}: {e}: {body}"));
            assert_eq!(body["__type"], kind, "{request:?}");
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        }
    }
    // Not HTTP at all: the connection is answered 400 and closed; the server goes on.
    let (got, _, _) = raw(h.server.addr, "\x16\x03\x01 not http\r\n\r\n").await;
    assert_eq!(got, 400);

    let done = wait_closed(&h, run.execution_arn()).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(done.output(), Some(r#"{"ok":true}"#));
    h.server.shutdown().await.unwrap();
}
