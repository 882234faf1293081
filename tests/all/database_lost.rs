//! A PostgreSQL database lost while the server runs: requests that need it
//! fail with the reason, an execution whose writes were lost waits, and
//! once the database is back the server goes on without a restart and the
//! execution finishes from what it committed. The database is reached
//! through a [`Proxy`] that can be cut (as a database that went away).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use tokio::sync::watch;

const ROLE: &str = "arn:aws:iam::111111111111:role/stepbox";

/// A loopback TCP proxy to `upstream`. While cut it closes every
/// connection it holds and each new one at once. It runs on a thread of
/// its own, as a database server does: the store waits for the database
/// on the server's runtime threads (a proxy task there could starve).
struct Proxy {
    addr: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
}

impl Proxy {
    fn start(upstream: String) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, cuts) = (Arc::new(AtomicBool::new(false)), watch::channel(0).0);
        let (is_cut, cut_rx) = (cut.clone(), cuts.subscribe());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        std::thread::spawn(move || runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((mut client, _)) = listener.accept().await {
                if is_cut.load(SeqCst) {
                    continue; // dropped: closed at once
                }
                let (upstream, mut cut_rx) = (upstream.clone(), cut_rx.clone());
                cut_rx.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        }));
        Proxy { addr, cut, cuts }
    }

    fn cut(&self) {
        self.cut.store(true, SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.cut.store(false, SeqCst);
    }
}

/// `url` with its `HOST:PORT` replaced by `addr`, and that `HOST:PORT`.
fn through(url: &str, addr: std::net::SocketAddr) -> (String, String) {
    let at = url.find('@').expect("a URL with a user") + 1;
    let end = at + url[at..].find('/').expect("a URL with a database");
    (format!("{}{addr}{}", &url[..at], &url[end..]), url[at..end].to_string())
}

/// An HTTP endpoint that counts its calls and answers each after `delay`.
async fn counting_endpoint(delay: Duration) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (addr, calls) = (listener.local_addr().unwrap(), Arc::new(AtomicUsize::new(0)));
    let counted = calls.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
                    let n = counted.fetch_add(1, SeqCst) + 1;
                    async move {
                        tokio::time::sleep(delay).await;
                        let body = http_body_util::Full::new(bytes::Bytes::from(format!(r#"{{"call":{n}}}"#)));
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder().header("content-type", "application/json").body(body).unwrap(),
                        )
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    (addr, calls)
}

/// Through the API, on PostgreSQL: a StartExecution made while the
/// database is gone fails with the reason (and starts nothing); reads are
/// InternalServerError, never "does not exist"; an execution whose close
/// was lost is not resumed while the database stays away, and once it is
/// back it resumes from what it committed, runs its Task once more
/// (at-least-once, as after a crash) and finishes with a whole history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_database_goes_away_refuses_starts_and_finishes_its_executions_once_it_is_back() {
    use stepbox_server::durable::DurableConfig;
    use stepbox_server::{AppState, RunningServer, ServerConfig};

    let url = crate::postgres::fresh_database();
    let (_, upstream) = through(&url, "127.0.0.1:1".parse().unwrap());
    let proxy = Proxy::start(upstream);
    let (url, _) = through(&url, proxy.addr);
    let store = stepbox_store::open_postgres(&url).expect("open through the proxy");
    let registry = stepbox_sandbox::Registry::new(stepbox_tests::shared_sandbox().clone());
    let state = AppState::durable(ServerConfig::default(), registry, store, DurableConfig::default());
    state.recover().await.unwrap();
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state.clone()).await.unwrap();
    let sfn = crate::clients::sfn(&server.endpoint());
    let (endpoint, calls) = counting_endpoint(Duration::from_millis(600)).await;
    let def = serde_json::json!({"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": {
            "ApiEndpoint": format!("http://{endpoint}/work"), "Method": "GET",
            "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:111111111111:connection/c/1"}},
            "ResultSelector": {"call.$": "$.ResponseBody.call"}, "Next": "Done"},
        "Done": {"Type": "Pass", "End": true}
    }});
    let sm = sfn.create_state_machine().name("caller").definition(def.to_string()).role_arn(ROLE).send().await.unwrap();
    let start = |name: &'static str| sfn.start_execution().state_machine_arn(sm.state_machine_arn()).name(name).send();
    let calling = start("calling").await.expect("StartExecution");
    // The database goes away while its Task waits for the answer: its close is lost.
    tokio::time::sleep(Duration::from_millis(150)).await;
    proxy.cut();
    let store = state.durability.store.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !store.writes_failing() {
        assert!(Instant::now() < deadline, "no write failed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let gone_since = Instant::now();
    let refused = start("refused").await.expect_err("a start without the database");
    assert_eq!(refused.code(), Some("InternalServerError"), "{refused:?}");
    let message = refused.message().unwrap_or_default().to_string();
    assert!(message.contains("cannot connect to the database at"), "{refused:?}");
    match sfn.describe_execution().execution_arn(calling.execution_arn()).send().await {
        Ok(d) => panic!("read without the database: {d:?}"),
        Err(e) => assert_eq!(e.code(), Some("InternalServerError"), "{e:?}"),
    }
    let unknown = sm.state_machine_arn().replace(":caller", ":never-created");
    let e = sfn.describe_state_machine().state_machine_arn(unknown).send().await.expect_err("unreadable");
    assert_eq!(e.code(), Some("InternalServerError"), "{e:?}");
    // Longer than the server's retry period: still one call.
    tokio::time::sleep(Duration::from_millis(2800).saturating_sub(gone_since.elapsed())).await;
    assert_eq!(calls.load(SeqCst), 1, "resumed while the database was away");
    proxy.restore();

    let deadline = Instant::now() + Duration::from_secs(30);
    let described = loop {
        let d = sfn.describe_execution().execution_arn(calling.execution_arn()).send().await;
        if let Ok(d) = &d
            && d.status() == &ExecutionStatus::Succeeded
        {
            break d.clone();
        }
        assert!(Instant::now() < deadline, "never finished: {d:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(described.output(), Some(r#"{"call":2}"#), "the lost answer's Task ran once more");
    assert_eq!(calls.load(SeqCst), 2);
    let history = sfn.get_execution_history().execution_arn(calling.execution_arn()).max_results(1000).send().await.unwrap();
    let events = history.events();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.id(), i as i64 + 1, "ids in order without a hole: {events:?}");
    }
    let count = |ty: HistoryEventType| events.iter().filter(|e| e.r#type() == &ty).count();
    assert_eq!(count(HistoryEventType::ExecutionStarted), 1);
    assert_eq!(count(HistoryEventType::ExecutionSucceeded), 1);
    assert_eq!(events.last().map(|e| e.r#type()), Some(&HistoryEventType::ExecutionSucceeded));
    let gone = sfn
        .describe_execution()
        .execution_arn(calling.execution_arn().replace(":calling", ":refused"))
        .send()
        .await
        .expect_err("the refused start left nothing");
    assert_eq!(gone.code(), Some("ExecutionDoesNotExist"));
    server.shutdown().await.unwrap();
}
