//! An INLINE Map and a Parallel killed mid-state: `kill -9` of `stepbox
//! serve` while some iterations (branches) have finished and others wait on
//! an HTTP endpoint; after the restart the state goes on where it was: the
//! endpoint counts its calls, and no iteration or branch that had finished
//! calls it again, while the output holds every result in its place.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use serde_json::{Value, json};

use super::{ROLE, Server, check_history, serve, wait_closed};

const ITEMS: u64 = 12;

/// Calls by `N` of `GET /k/N`: the first call of an odd `N` answers only
/// after a minute (the server is killed meanwhile), every other at once,
/// with `{"k": N}`.
#[derive(Clone, Default)]
pub(super) struct Endpoint {
    calls: Arc<Mutex<HashMap<u64, usize>>>,
    answered: Arc<Mutex<HashMap<u64, usize>>>,
}

impl Endpoint {
    pub(super) async fn start(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let this = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let this = this.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let this = this.clone();
                        async move { Ok::<_, std::convert::Infallible>(this.answer(req.uri().path()).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        });
        addr
    }

    async fn answer(&self, path: &str) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
        let n: u64 = path.rsplit('/').next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX);
        let first = {
            let mut calls = self.calls.lock().unwrap();
            let c = calls.entry(n).or_default();
            *c += 1;
            *c == 1
        };
        if first && n % 2 == 1 {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        *self.answered.lock().unwrap().entry(n).or_default() += 1;
        let body = http_body_util::Full::new(bytes::Bytes::from(json!({"k": n}).to_string()));
        hyper::Response::builder().header("content-type", "application/json").body(body).unwrap()
    }

    pub(super) fn calls(&self, n: u64) -> usize {
        self.calls.lock().unwrap().get(&n).copied().unwrap_or(0)
    }

    fn answered(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.answered.lock().unwrap().keys().copied().collect();
        v.sort_unstable();
        v
    }
}

/// An HTTP Task whose endpoint is `endpoint`'s value under `field`
/// (`ApiEndpoint`, or `ApiEndpoint.$` for a path or intrinsic).
pub(super) fn call(field: &str, endpoint: String) -> Value {
    json!({"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": {
        field: endpoint,
        "Method": "GET",
        "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:111111111111:connection/c/1"}},
        "ResultSelector": {"k.$": "$.ResponseBody.k"}, "End": true})
}

fn map_definition(addr: std::net::SocketAddr) -> Value {
    json!({"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": ITEMS,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Call",
                "States": {"Call": call("ApiEndpoint.$", format!("States.Format('http://{addr}/k/{{}}', $.n)"))}},
            "Next": "Done"},
        "Done": {"Type": "Pass", "End": true}
    }})
}

fn parallel_definition(addr: std::net::SocketAddr) -> Value {
    let branches: Vec<Value> = (0..4)
        .map(|n| json!({"StartAt": format!("Call{n}"), "States": {format!("Call{n}"): call("ApiEndpoint", format!("http://{addr}/k/{}", 100 + n))}}))
        .collect();
    json!({"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "Branches": branches, "End": true}}})
}

/// Starts `definition` on `input`, kills the server once the endpoint
/// answered `fast` (and a moment more, for their ends to be written),
/// restarts it, and returns the execution's output once closed, its
/// history, and the restarted server.
pub(super) async fn kill_mid_state(
    name: &str,
    definition: Value,
    input: Value,
    endpoint: &Endpoint,
    fast: &[u64],
) -> (Value, Vec<aws_sdk_sfn::types::HistoryEvent>, Server) {
    let tmp = tempfile::tempdir().unwrap();
    let (data, functions, log) = (tmp.path().join("data"), tmp.path().join("functions"), tmp.path().join("serve.log"));
    stepbox_components::export_to(&functions).unwrap();
    let mut server = serve(&data, &functions, &log);
    let sfn = crate::clients::sfn(&server.endpoint);
    let sm = sfn.create_state_machine().name(name).definition(definition.to_string()).role_arn(ROLE).send().await.expect("CreateStateMachine");
    let arn = sfn.start_execution().state_machine_arn(sm.state_machine_arn()).input(input.to_string()).send().await.expect("StartExecution");
    let arn = arn.execution_arn().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while endpoint.answered() != fast {
        assert!(Instant::now() < deadline, "{name}: answered {:?}", endpoint.answered());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.child.kill().expect("kill -9");
    let _ = server.child.wait();
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();

    let server = serve(&data, &functions, &log);
    let sfn = crate::clients::sfn(&server.endpoint);
    let done = wait_closed(&sfn, &arn).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{name}: {done:?}\n{log_text}");
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    let history = sfn.get_execution_history().execution_arn(&arn).max_results(1000).send().await.expect("GetExecutionHistory");
    assert!(history.next_token().is_none(), "{name}: one page");
    check_history(&arn, history.events());
    (output, history.events().to_vec(), server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_inline_map_runs_again_only_the_iterations_that_had_not_finished() {
    let endpoint = Endpoint::default();
    let addr = endpoint.start().await;
    let items: Vec<Value> = (0..ITEMS).map(|n| json!({"n": n})).collect();
    let even: Vec<u64> = (0..ITEMS).filter(|n| n % 2 == 0).collect();
    let (output, events, _server) = kill_mid_state("inline-map", map_definition(addr), json!({"items": items}), &endpoint, &even).await;
    let expected: Vec<Value> = (0..ITEMS).map(|k| json!({"k": k})).collect();
    assert_eq!(output, Value::Array(expected), "every item's result, in its place");
    for n in 0..ITEMS {
        let want = if n % 2 == 0 { 1 } else { 2 };
        assert_eq!(endpoint.calls(n), want, "item {n}: a finished iteration runs once, one cut off runs again");
    }
    let count = |t: HistoryEventType| events.iter().filter(|e| *e.r#type() == t).count();
    assert_eq!(count(HistoryEventType::MapIterationSucceeded), ITEMS as usize, "one success per item");
    assert_eq!(count(HistoryEventType::MapStateSucceeded), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_parallel_runs_again_only_the_branches_that_had_not_finished() {
    let endpoint = Endpoint::default();
    let addr = endpoint.start().await;
    let (output, events, _server) = kill_mid_state("parallel", parallel_definition(addr), json!({}), &endpoint, &[100, 102]).await;
    assert_eq!(output, json!([{"k": 100}, {"k": 101}, {"k": 102}, {"k": 103}]), "every branch's result, in its place");
    assert_eq!([100, 101, 102, 103].map(|n| endpoint.calls(n)), [1, 2, 1, 2], "a finished branch runs once");
    let exited = events.iter().filter(|e| *e.r#type() == HistoryEventType::ParallelStateExited).count();
    assert_eq!(exited, 1);
}
