//! Reserved concurrency (Put/Get/DeleteFunctionConcurrency) through
//! aws-sdk-lambda: validated against the tenant's concurrent_invocations,
//! enforced on Invoke and on Task states.

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_sfn::types::ExecutionStatus;

use super::ROLE;
use super::quotas::{create_slow, with_acme_quotas};
use super::tenants::{ACME, GLOBEX, start_tenants};
use crate::clients;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_concurrency_is_validated_against_the_tenants_concurrency_and_reported() {
    let (server, _) = start_tenants(&with_acme_quotas("concurrent_invocations = 10")).await;
    let (acme, globex) = (clients::lambda_once(&server.endpoint(), ACME), clients::lambda_once(&server.endpoint(), GLOBEX));
    create_slow(&acme, "a").await;
    create_slow(&acme, "b").await;
    let put = |f: &'static str, n: i32| acme.put_function_concurrency().function_name(f).reserved_concurrent_executions(n).send();

    let e = put("a", 10).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValueException"), "{e:?}");
    assert_eq!(
        e.message(),
        Some("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [1].")
    );
    assert_eq!(put("a", 2).await.expect("within the tenant's").reserved_concurrent_executions(), Some(2));
    let e = put("b", 8).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValueException"), "2 + 8 leaves none unreserved: {e:?}");
    put("b", 7).await.expect("2 + 7 leaves one");
    put("a", 3).await.expect_err("3 + 7 leaves none");
    put("a", 1).await.expect("lowering a reservation");

    let got = acme.get_function_concurrency().function_name("a").send().await.unwrap();
    assert_eq!(got.reserved_concurrent_executions(), Some(1));
    let f = acme.get_function().function_name("b").send().await.unwrap();
    assert_eq!(f.concurrency().and_then(|c| c.reserved_concurrent_executions()), Some(7));
    acme.delete_function_concurrency().function_name("b").send().await.expect("DeleteFunctionConcurrency");
    let got = acme.get_function_concurrency().function_name("b").send().await.unwrap();
    assert_eq!(got.reserved_concurrent_executions(), None);
    let f = acme.get_function().function_name("b").send().await.unwrap();
    assert!(f.concurrency().is_none(), "{f:?}");

    let e = globex.put_function_concurrency().function_name("a").reserved_concurrent_executions(1).send().await.unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFoundException"), "another tenant's function: {e:?}");
    let e = globex.get_function_concurrency().function_name("a").send().await.unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFoundException"), "{e:?}");
    let e = acme.put_function_concurrency().function_name("nothing").reserved_concurrent_executions(1).send().await.unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFoundException"), "{e:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocations_past_a_reservation_are_throttled_and_tasks_fail_as_lambda_throttles() {
    let (server, _) = start_tenants(&with_acme_quotas("concurrent_invocations = 10")).await;
    let endpoint = server.endpoint();
    let lambda = clients::lambda_once(&endpoint, ACME);
    create_slow(&lambda, "slow").await;
    lambda.put_function_concurrency().function_name("slow").reserved_concurrent_executions(1).send().await.unwrap();

    let busy = tokio::spawn(lambda.invoke().function_name("slow").payload(Blob::new(r#"{"ms": 2000}"#)).send());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let e = lambda.invoke().function_name("slow").payload(Blob::new(r#"{"ms": 1}"#)).send().await.unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(429));
    match e.into_service_error() {
        aws_sdk_lambda::operation::invoke::InvokeError::TooManyRequestsException(t) => {
            assert_eq!(t.reason(), Some(&aws_sdk_lambda::types::ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded));
            assert_eq!(t.message(), Some("Rate Exceeded."));
        }
        other => panic!("expected TooManyRequestsException, got {other:?}"),
    }
    busy.await.unwrap().expect("the invocation holding the one slot");
    lambda.invoke().function_name("slow").payload(Blob::new(r#"{"ms": 1}"#)).send().await.expect("the slot is free again");

    // Two Map items at once on one slot: the second Task is throttled (Lambda.TooManyRequestsException), ...
    let sfn = clients::sfn_as(&endpoint, ACME);
    let task = |retry: serde_json::Value| {
        serde_json::json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "S", "States": {"S": {"Type": "Task", "Retry": retry,
                "Resource": "arn:aws:lambda:us-east-1:111111111111:function:slow", "End": true}}}}}})
        .to_string()
    };
    let run = |name: &'static str, definition: String| {
        let sfn = sfn.clone();
        async move {
            let m = sfn.create_state_machine().name(name).definition(definition).role_arn(ROLE).send().await.unwrap();
            let started = sfn
                .start_execution()
                .state_machine_arn(m.state_machine_arn())
                .input(r#"[{"ms": 1500}, {"ms": 1500}]"#)
                .send()
                .await
                .unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                let d = sfn.describe_execution().execution_arn(started.execution_arn()).send().await.unwrap();
                if *d.status() != ExecutionStatus::Running {
                    return d;
                }
                assert!(std::time::Instant::now() < deadline, "still running: {d:?}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    let d = run("unretried", task(serde_json::json!([]))).await;
    assert_eq!(*d.status(), ExecutionStatus::Failed, "{d:?}");
    assert_eq!(d.error(), Some("Lambda.TooManyRequestsException"), "{d:?}");
    // The refused Invoke and the throttled Task are both counted.
    let samples = super::metrics::scrape(server.addr).await;
    let labels = [("tenant", "acme"), ("quota", "reserved_concurrency")];
    assert_eq!(super::metrics::value(&samples, "stepbox_throttles_total", &labels), 2.0);
    // ... and a Retry on it waits for the slot.
    let retry = serde_json::json!([{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 10, "BackoffRate": 1}]);
    let d = run("retried", task(retry)).await;
    assert_eq!(*d.status(), ExecutionStatus::Succeeded, "{d:?}");

    // Reserved 0 throttles every invocation; without a reservation none is.
    lambda.put_function_concurrency().function_name("slow").reserved_concurrent_executions(0).send().await.unwrap();
    let e = lambda.invoke().function_name("slow").payload(Blob::new(r#"{"ms": 1}"#)).send().await.unwrap_err();
    assert_eq!(e.code(), Some("TooManyRequestsException"), "{e:?}");
    lambda.delete_function_concurrency().function_name("slow").send().await.unwrap();
    lambda.invoke().function_name("slow").payload(Blob::new(r#"{"ms": 1}"#)).send().await.expect("no reservation");
    server.shutdown().await.unwrap();
}
