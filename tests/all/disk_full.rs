//! A full disk: the writes made while it is full fail with the reason (and
//! nothing half-written stays), and once there is room the store and the
//! server go on without a restart. The store's file is wrapped in a
//! [`FillableFile`] that fails writes on demand, as a full disk does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use chrono::{TimeZone, Utc};
use stepbox_engine::{Details, EventType, HistoryEvent, HistorySink as _};
use stepbox_store::{Begun, ExecutionJournal, ExecutionRecord, RedbBackend, Storage, Store};

fn t(s: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
}

fn execution(name: &str, start: i64) -> ExecutionRecord {
    ExecutionRecord {
        arn: format!("arn:aws:states:us-east-1:1:execution:sm:{name}"),
        name: name.into(),
        state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:sm".into(),
        status: "RUNNING".into(),
        input: "{}".into(),
        start_date: t(start),
        definition: "{}".into(),
        ..Default::default()
    }
}

/// Event `id` of a history, after event `id - 1`.
fn event(id: u64, event_type: EventType) -> HistoryEvent {
    let (timestamp, details) = (Utc::now(), Details::None);
    HistoryEvent { id, previous_event_id: id - 1, timestamp, event_type, details }
}

/// Storage for a store file at `path` that fails like a full disk while
/// `full` is set.
fn fillable(path: &std::path::Path, full: &Arc<AtomicBool>) -> Storage {
    let (path, full) = (path.to_path_buf(), full.clone());
    Arc::new(move || {
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        Ok(Box::new(FillableFile { file, full: full.clone() }) as Box<dyn stepbox_store::StorageBackend>)
    })
}

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

/// A store file whose writes, growth and syncs fail while `full` is set, as
/// on a full disk.
#[derive(Debug)]
struct FillableFile {
    file: std::fs::File,
    full: Arc<AtomicBool>,
}

impl FillableFile {
    fn check(&self) -> Result<(), std::io::Error> {
        match self.full.load(SeqCst) {
            true => Err(std::io::Error::from_raw_os_error(28)),
            false => Ok(()),
        }
    }
}

impl stepbox_store::StorageBackend for FillableFile {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.file.metadata()?.len())
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, out, offset)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        if len > self.len()? {
            self.check()?;
        }
        self.file.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.check()?;
        self.file.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.check()?;
        std::os::unix::fs::FileExt::write_all_at(&self.file, data, offset)
    }
}

/// A full disk fails the writes made while it is full, with the reason;
/// reads go on; an execution whose history write failed gets no later
/// entries (its history keeps no hole; it stays as last committed, which
/// the next start resumes); and once there is room the store writes
/// again, without a restart (redb refuses every write after an I/O error
/// until the database is opened again: the writer does that).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_fails_writes_while_the_disk_is_full_and_writes_again_once_there_is_room() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let full = Arc::new(AtomicBool::new(false));
    let store = Store::new(Arc::new(RedbBackend::open_on(&path, 1 << 20, Some(fillable(&path, &full))).unwrap()));
    let unchanged = |r: &mut ExecutionRecord| r.wake_at = None;

    let e = execution("a", 1);
    let Ok(Begun::Recording { journal, recorded }) = ExecutionJournal::begin(&store, e.clone()) else {
        panic!("a new execution")
    };
    journal.record(event(1, EventType::ExecutionStarted));
    journal.record(event(2, EventType::PassStateEntered));
    recorded.await.unwrap().unwrap();
    journal.close(unchanged).await.unwrap();

    full.store(true, SeqCst);
    journal.record(event(3, EventType::PassStateExited));
    let err = journal.close(unchanged).await.unwrap_err().to_string();
    assert!(err.contains("No space left on device"), "{err}");
    let err = store.insert_execution(execution("b", 2)).await.unwrap_err().to_string();
    assert!(err.contains("No space left on device"), "{err}");

    full.store(false, SeqCst);
    // The store writes again (its writer may wait out the last reopen's pause).
    let c = execution("c", 3);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match store.insert_execution(c.clone()).await {
            Ok(inserted) => break inserted.unwrap(),
            Err(e) if Instant::now() < deadline => {
                assert!(e.to_string().contains("No space left on device"), "{e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the store never wrote again: {e}"),
        }
    }
    assert!(store.get_execution(&c.arn).unwrap().is_some());
    // Event 3 was lost: event 4 must not follow event 2.
    journal.record(event(4, EventType::SucceedStateEntered));
    assert!(journal.close(unchanged).await.is_err());
    assert_eq!(store.history(&e.arn).unwrap().len(), 2, "no hole in the history");
    let running: Vec<String> = store.running_executions().unwrap().into_iter().map(|r| r.arn).collect();
    assert_eq!(running, [e.arn.clone(), c.arn.clone()], "a is left for the next start to resume");
    assert!(store.get_execution(&format!("{}b", &c.arn[..c.arn.len() - 1])).unwrap().is_none());
}

const ROLE: &str = "arn:aws:iam::111111111111:role/stepbox";

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
                        Ok::<_, std::convert::Infallible>(hyper::Response::builder().header("content-type", "application/json").body(body).unwrap())
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    (addr, calls)
}

/// Through the API: a StartExecution made while the disk is full fails
/// with the reason (and starts nothing); an execution whose last writes
/// were lost while it ran is not resumed while the disk stays full (its
/// Task would only run again to lose its answer again), and once there is
/// room it is resumed from what it committed, runs its Task once more
/// (at-least-once, as after a crash) and finishes with a history AWS's
/// rules accept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_a_full_disk_refuses_starts_and_finishes_its_executions_once_there_is_room() {
    use stepbox_server::durable::DurableConfig;
    use stepbox_server::{AppState, RunningServer, ServerConfig};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stepbox.redb");
    let full = Arc::new(AtomicBool::new(false));
    let backend = RedbBackend::open_on(&path, 1 << 20, Some(fillable(&path, &full))).unwrap();
    let store = Store::open(Arc::new(backend)).unwrap();
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
    // The disk fills while its Task waits for the answer: its close is lost.
    tokio::time::sleep(Duration::from_millis(150)).await;
    full.store(true, SeqCst);
    // Until its close (after the 600 ms answer) has failed.
    let store = state.durability.store.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !store.writes_failing() {
        assert!(Instant::now() < deadline, "no write failed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Once a write has failed, a start runs nothing before its record is
    // written (the first start after the disk filled may still have run
    // ahead of its record, at least once, as after a crash).
    let refused = start("refused").await.expect_err("a start on a full disk");
    let message = refused.message().unwrap_or_default().to_string();
    assert!(message.contains("No space left on device"), "{refused:?}");
    // Reading an execution while the store cannot be read is a server
    // error, not "does not exist".
    let full_since = Instant::now();
    match sfn.describe_execution().execution_arn(calling.execution_arn()).send().await {
        Ok(d) => assert_eq!(d.status(), &ExecutionStatus::Running),
        Err(e) => assert_eq!(e.code(), Some("InternalServerError"), "{e:?}"),
    }
    // Nor can it say a state machine does not exist (this one is in no cache).
    let unknown = sm.state_machine_arn().replace(":caller", ":never-created");
    let e = sfn.describe_state_machine().state_machine_arn(unknown).send().await.expect_err("unreadable");
    assert_eq!(e.code(), Some("InternalServerError"), "{e:?}");
    // Longer than the server's retry period: still one call.
    tokio::time::sleep(Duration::from_millis(2800).saturating_sub(full_since.elapsed())).await;
    assert_eq!(calls.load(SeqCst), 1, "resumed while the disk was full");
    full.store(false, SeqCst);

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
    for pair in events.windows(2) {
        assert!(pair[1].previous_event_id() < pair[1].id(), "{events:?}");
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
