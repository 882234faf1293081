//! The HTTP Task (`arn:aws:states:::http:invoke`) against a local hyper server.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use stepbox_asl::StateMachine;
use stepbox_engine::{Engine, ExecutionOptions, ExecutionStatus, TokioClock, VecSink};
use stepbox_invoker::{HttpPolicy, SandboxInvoker};
use stepbox_sandbox::Registry;
use stepbox_tests::shared_sandbox;

/// Answers with what it received: method, path and query, one header, the body.
async fn echo_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let method = req.method().to_string();
                    let uri = req.uri().to_string();
                    let header = req.headers().get("x-order").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let status = if uri.starts_with("/missing") { 404 } else { 200 };
                    let reply = json!({"method": method, "uri": uri, "x-order": header,
                        "body": String::from_utf8_lossy(&body)});
                    let resp = hyper::Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from(reply.to_string())))
                        .unwrap();
                    Ok::<_, Infallible>(resp)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

async fn run(params: Value, policy: HttpPolicy) -> stepbox_engine::ExecutionOutcome {
    let def = json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
        "Resource": "arn:aws:states:::http:invoke", "Parameters": params, "End": true}}});
    let sm = Arc::new(StateMachine::from_value(&def).unwrap());
    let invoker = SandboxInvoker::new(Registry::new(shared_sandbox().clone())).with_http_policy(policy);
    let engine = Engine::new(Arc::new(invoker), Arc::new(TokioClock));
    let opts = ExecutionOptions { name: "e".into(), state_machine_name: "sm".into(), ..Default::default() };
    engine.start(sm, json!({}), opts, Arc::new(VecSink::new())).await
}

#[tokio::test]
async fn http_task_sends_method_query_headers_and_body() {
    let addr = echo_server().await;
    let o = run(
        json!({"ApiEndpoint": format!("http://{addr}/orders"), "Method": "POST",
            "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:111111111111:connection/c/1"},
            "Headers": {"x-order": "7"}, "QueryParameters": {"q": "a b", "n": 2},
            "RequestBody": {"item": "pen"}}),
        HttpPolicy::default(),
    )
    .await;
    assert_eq!(o.status, ExecutionStatus::Succeeded, "{o:?}");
    let out = o.output.unwrap();
    assert_eq!(out["StatusCode"], 200);
    assert_eq!(out["StatusText"], "OK");
    assert_eq!(out["Headers"]["content-type"], json!(["application/json"]));
    let body = &out["ResponseBody"];
    assert_eq!(body["method"], "POST");
    assert_eq!(body["uri"], "/orders?q=a%20b&n=2");
    assert_eq!(body["x-order"], "7");
    assert_eq!(serde_json::from_str::<Value>(body["body"].as_str().unwrap()).unwrap(), json!({"item": "pen"}));
}

#[tokio::test]
async fn http_task_errors_are_named() {
    let addr = echo_server().await;
    let o = run(json!({"ApiEndpoint": format!("http://{addr}/missing"), "Method": "GET"}), HttpPolicy::default()).await;
    assert_eq!(o.error.as_deref(), Some("States.Http.StatusCode.404"));
    // Nothing listens there: a socket error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let o = run(json!({"ApiEndpoint": format!("http://{closed}/"), "Method": "GET"}), HttpPolicy::default()).await;
    assert_eq!(o.error.as_deref(), Some("States.Http.Socket"));
    // Hosts outside loopback need the allow-list.
    let o = run(json!({"ApiEndpoint": "http://example.invalid/", "Method": "GET"}), HttpPolicy::default()).await;
    assert_eq!(o.error.as_deref(), Some("States.Http.Socket"));
    assert!(o.cause.unwrap().contains("not allowed"));
}
