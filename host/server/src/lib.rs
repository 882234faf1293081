//! `stepbox serve`: a local, AWS-compatible endpoint.
//!
//! * Step Functions over awsJson1_0: `POST /` with `X-Amz-Target:
//!   AWSStepFunctions.<Operation>` (see [`sfn`]). The Host header is ignored,
//!   so the SDK's `sync-` endpoint prefix for StartSyncExecution reaches the
//!   same server.
//! * A Lambda-compatible REST-JSON function API under `/2015-03-31/functions`
//!   (tags under `/2017-03-31/tags`; see [`lambda`]); functions created there
//!   are what Task states' Lambda ARNs resolve to (one [`Registry`] shared
//!   with the engine).
//! * `GET /health`.
//! * `GET /metrics` (Prometheus' text format; see [`metrics`]).
//! * The web console under `/console/` (see [`console`]).
//!
//! State lives in `stepbox-store`, behind its [`Stores`] traits: in memory
//! ([`AppState::in_memory`]), or in the embedded database
//! ([`AppState::durable`]), where Standard executions survive restarts (see
//! [`durable`]).

mod activity_tasks;
pub mod answers;
pub mod callbacks;
mod conn;
mod console;
pub mod durable;
pub mod items;
pub mod lambda;
mod map_runs;
mod metrics;
mod nested;
mod routing;
pub mod sfn;
mod shape;
pub mod tenants;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use stepbox_engine::{Clock, Engine, MemoryActivities, MemoryCallbacks, Services, TokioClock};
use stepbox_invoker::{HttpPolicy, SandboxInvoker};
use stepbox_sandbox::Registry;
use stepbox_types::Identity;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use conn::ConnectionLimits;
pub use stepbox_store::{ExecutionRecord, StateMachineRecord, StoreError, Stores};

/// Largest request body for the Step Functions API (definitions up to 1 MiB, inputs 256 KiB).
pub const SFN_BODY_LIMIT: usize = 2 << 20;
/// Largest request body for the function API: Lambda's, a base64 ZipFile of up to 50 MB.
pub const LAMBDA_BODY_LIMIT: usize = 69_905_067;

/// How much an in-memory server's store holds before it evicts closed
/// executions, oldest first (`serve --memory-budget-mib`).
pub const DEFAULT_MEMORY_BUDGET_MIB: u64 = 512;

/// Server identity and limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The region and account of the ARNs the server makes.
    pub identity: Identity,
    /// How long shutdown waits for open connections to finish their requests.
    pub shutdown_grace: Duration,
    /// Hosts HTTP Tasks may reach besides loopback (`*`: any).
    pub http_allow: Vec<String>,
    /// Step Functions Local's mock configuration: its test cases run when
    /// StartExecution names `…:stateMachine:NAME#CASE`.
    pub mock_config: Option<Arc<stepbox_mocks::MockConfig>>,
    /// Wait states' and Retry back-offs' scale, in [0, 1] (see
    /// [`EngineConfig::wait_time_scale`](stepbox_engine::EngineConfig::wait_time_scale)).
    pub wait_time_scale: f64,
    /// Service integrations that run registered functions (`serve --bind`).
    pub bindings: stepbox_invoker::Bindings,
    /// The local S3 buckets of the built-in S3 integrations (`serve --buckets`).
    pub buckets: Option<std::path::PathBuf>,
    /// The key schemas of the built-in DynamoDB integrations' tables
    /// (`serve --dynamodb-table`); their items are kept in the store.
    pub tables: Vec<stepbox_invoker::dynamodb::TableSchema>,
    /// Connections open at once and how long a request may take to arrive.
    pub connections: ConnectionLimits,
    /// With tenants (`serve --tenants FILE`) every request is authenticated
    /// and acts as its tenant's account; without, single-user mode.
    pub tenants: Option<Arc<tenants::TenantSet>>,
    /// `GET /metrics` is served unsigned to loopback peers (else: admin keys only).
    pub metrics_from_loopback: bool,
    /// The fuel budget per invocation of the functions made through the
    /// function API without a `stepbox:fuel` tag (`serve --fuel N`); none:
    /// they are not counted. See [`lambda::fuel`].
    pub default_fuel: Option<u64>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            identity: Identity::default(),
            shutdown_grace: Duration::from_secs(10),
            http_allow: Vec::new(),
            mock_config: None,
            wait_time_scale: 1.0,
            bindings: stepbox_invoker::Bindings::default(),
            buckets: None,
            tables: Vec::new(),
            connections: ConnectionLimits::default(),
            tenants: None,
            metrics_from_loopback: true,
            default_fuel: None,
        }
    }
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ServerConfig>,
    pub engine: Arc<Engine>,
    pub registry: Registry,
    pub store: Arc<dyn Stores>,
    /// Activities and their task queues (shared with the engine).
    pub activities: Arc<MemoryActivities>,
    /// GetActivityTask's long-poll wait ([`callbacks::ACTIVITY_POLL`]; shorter in tests).
    pub activity_poll: Duration,
    pub(crate) running: Arc<sfn::Running>,
    pub(crate) functions: Arc<lambda::FunctionTable>,
    pub(crate) definitions: Arc<sfn::Definitions>,
    /// The store's executions side: Standard executions are event-sourced into it.
    pub durability: Arc<durable::Durability>,
    /// Task tokens waited on (shared with the engine; the console lists them).
    pub(crate) callbacks: Arc<MemoryCallbacks>,
    /// Recent function invocations, Task states' included (the console shows them).
    pub(crate) invocations: Arc<console::Invocations>,
    /// Wall time (the engine's clock): request signatures are checked against it.
    pub clock: Arc<dyn Clock>,
    /// With tenants: each account's configuration (see [`for_account`](Self::for_account)).
    pub(crate) accounts: Arc<tenants::AccountConfigs>,
    /// Distributed Map runs (DescribeMapRun, ListMapRuns, UpdateMapRun).
    pub(crate) map_runs: Arc<map_runs::MapRunTable>,
}

impl AppState {
    /// A server state on `store` whose engine runs Task states on
    /// `registry`'s functions. On a persistent store, call
    /// [`recover`](Self::recover) inside the runtime before serving.
    pub fn new(config: ServerConfig, registry: Registry, store: Arc<dyn Stores>, durable_config: durable::DurableConfig) -> Self {
        let durability = durable::Durability::new(store.clone(), durable_config);
        Self::build(config, registry, store, durability)
    }

    /// A server state keeping everything in memory (`serve --in-memory`),
    /// within the default budget ([`DEFAULT_MEMORY_BUDGET_MIB`]).
    pub fn in_memory(config: ServerConfig, registry: Registry) -> Self {
        let store = Arc::new(stepbox_store::Store::memory_with_budget(DEFAULT_MEMORY_BUDGET_MIB << 20));
        Self::new(config, registry, store, durable::DurableConfig::default())
    }

    fn build(
        config: ServerConfig,
        registry: Registry,
        store: Arc<dyn Stores>,
        durability: Arc<durable::Durability>,
    ) -> Self {
        let accounts: Arc<tenants::AccountConfigs> = Default::default();
        let functions = Arc::new(lambda::FunctionTable::with_default_fuel(config.default_fuel));
        accounts.metrics.bind(&config.identity.account, Arc::downgrade(&functions));
        let invocations = Arc::new(console::Invocations::new(accounts.metrics.clone(), store.clone()));
        let mut invoker = SandboxInvoker::new(registry.clone())
            .with_observer(invocations.clone())
            .with_identity(config.identity.clone())
            .with_http_policy(HttpPolicy { allowed_hosts: config.http_allow.clone() })
            .with_bindings(config.bindings.clone())
            .with_buckets(config.buckets.clone().map(stepbox_invoker::Buckets::new))
            .with_tables((!config.tables.is_empty()).then(|| {
                stepbox_invoker::dynamodb::Tables::new(config.tables.clone(), Arc::new(items::StoreItems(store.clone())))
            }));
        let table = Arc::downgrade(&functions);
        invoker = invoker.with_function_states(Arc::new(move |name| table.upgrade()?.unavailable(name)));
        let table = Arc::downgrade(&functions);
        invoker = invoker.with_routes(Arc::new(move |name, qualifier| table.upgrade()?.route(name, qualifier)));
        let table = Arc::downgrade(&functions);
        invoker = invoker.with_reservations(Arc::new(move |name| table.upgrade()?.reservations.slots(name)));
        if let Some(set) = config.tenants.clone() {
            let table = Arc::downgrade(&functions);
            invoker = invoker.with_owners(Arc::new(move |name| table.upgrade()?.owner(name)));
            let (slots, table) = (accounts.clone(), Arc::downgrade(&functions));
            invoker = invoker.with_admission(Arc::new(move |account| {
                let limit = set.current().by_account(account)?.quotas.concurrent_invocations;
                let reserved = table.upgrade()?.reserved_by(Some(account));
                Some(slots.concurrency.slots(account, lambda::concurrency::unreserved(limit, reserved)))
            }));
        }
        let clock: Arc<dyn Clock> = Arc::new(TokioClock);
        let activities = Arc::new(MemoryActivities::with_clock(clock.clone()));
        let nested = Arc::new(nested::ServerExecutions::default());
        let callbacks = Arc::new(MemoryCallbacks::new());
        let map_runs = Arc::new(map_runs::MapRunTable::new(nested.clone()));
        let services = Services {
            callbacks: Arc::new(answers::Handing { inner: callbacks.clone(), answers: durability.answers.clone() }),
            activities: Some(if store.shared() {
                Arc::new(activity_tasks::SharedActivities { local: activities.clone(), store: store.clone() })
            } else {
                activities.clone() as Arc<dyn stepbox_engine::Activities>
            }),
            executions: Some(nested.clone()),
            objects: config
                .buckets
                .clone()
                .map(|dir| Arc::new(stepbox_invoker::Buckets::new(dir)) as Arc<dyn stepbox_engine::Objects>),
            map_runs: Some(map_runs.clone()),
        };
        let engine = Engine::with_config(
            Arc::new(invoker),
            clock.clone(),
            stepbox_engine::EngineConfig {
                identity: config.identity.clone(),
                wait_time_scale: config.wait_time_scale,
                ..Default::default()
            },
        )
        .with_services(services);
        for name in registry.names().into_iter().filter(|n| !n.contains(':')) {
            if let Some(f) = registry.get(&name) {
                functions.adopt(&config, &f);
            }
        }
        let state = AppState {
            config: Arc::new(config),
            engine: Arc::new(engine),
            registry,
            store,
            activities,
            activity_poll: callbacks::ACTIVITY_POLL,
            running: Default::default(),
            functions,
            definitions: Default::default(),
            durability,
            callbacks,
            invocations,
            clock,
            accounts,
            map_runs,
        };
        let _ = nested.parts.set(nested::Parts {
            engine: Arc::downgrade(&state.engine),
            config: state.config.clone(),
            registry: state.registry.clone(),
            store: state.store.clone(),
            activities: state.activities.clone(),
            activity_poll: state.activity_poll,
            running: state.running.clone(),
            functions: state.functions.clone(),
            definitions: state.definitions.clone(),
            durability: state.durability.clone(),
            callbacks: state.callbacks.clone(),
            invocations: state.invocations.clone(),
            clock: state.clock.clone(),
            accounts: state.accounts.clone(),
            map_runs: state.map_runs.clone(),
        });
        lambda::attach_adopted_environments(&state);
        state
    }

    /// A server state on a durable store: call [`recover`](Self::recover)
    /// inside the runtime before serving.
    pub fn durable(
        config: ServerConfig,
        registry: Registry,
        store: stepbox_store::Store,
        durable_config: durable::DurableConfig,
    ) -> Self {
        registry.keep_artifacts_in(durable::StoredArtifacts::new(store.clone()));
        let shared = store.shared().then(|| store.clone());
        let state = AppState::new(config, registry, Arc::new(store), durable_config);
        if let Some(store) = shared {
            lambda::follow_shared(store, &state.functions, &state.registry);
        }
        state
    }

    /// This state as one tenant's requests see it: every ARN it makes is in
    /// `account`. The state itself when `account` is the server's.
    pub fn for_account(&self, account: &str) -> AppState {
        if account == self.config.identity.account {
            return self.clone();
        }
        AppState { config: self.accounts.get(&self.config, account), ..self.clone() }
    }

    /// With tenants, the account a request's lists are scoped to (its
    /// state's, see [`for_account`](Self::for_account)); none in single-user mode.
    pub(crate) fn scope_account(&self) -> Option<&str> {
        self.config.tenants.as_ref().map(|_| self.config.identity.account.as_str())
    }

    /// With tenants, the slots of this account's invocations (`concurrent_invocations`).
    pub(crate) fn invocation_slots(&self) -> Option<stepbox_invoker::Slots> {
        let t = self.tenant()?;
        let reserved = self.functions.reserved_by(Some(&t.account));
        let limit = lambda::concurrency::unreserved(t.quotas.concurrent_invocations, reserved);
        Some(self.accounts.concurrency.slots(&t.account, limit))
    }

    /// With tenants, the tenant whose account this state is in (as the
    /// tenants file says now).
    pub(crate) fn tenant(&self) -> Option<tenants::Tenant> {
        let set = self.config.tenants.as_ref()?;
        set.current().by_account(&self.config.identity.account).cloned()
    }

    /// On a persistent store, registers its functions again and resumes
    /// every RUNNING Standard execution; starts the timers and retention
    /// sweep. Returns how many executions were RUNNING.
    pub async fn recover(&self) -> Result<usize, StoreError> {
        if !self.store.persistent() {
            self.durability.run_background(self);
            return Ok(0);
        }
        durable::recover(self, &self.durability).await
    }
}

/// A response body.
pub type Body = Full<Bytes>;

/// Serve on `listener` until `shutdown` turns true, then stop accepting,
/// let open connections finish (up to [`ServerConfig::shutdown_grace`]) and return.
pub async fn serve(listener: TcpListener, state: AppState, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, "stepbox server listening");
    state.durability.run_background(&state);
    let mut connections = tokio::task::JoinSet::new();
    let open = Arc::new(conn::OpenConnections::default());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let slot = match open.admit(peer.ip(), &state.config.connections) {
                    Ok(slot) => slot,
                    Err(refused) => {
                        tracing::warn!(%peer, ?refused, "connection refused: too many open");
                        continue;
                    }
                };
                connections.spawn(serve_connection(stream, peer, slot, state.clone(), shutdown.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stopped(&mut shutdown) => break,
        }
    }
    tracing::info!(open = connections.len(), "shutting down: waiting for open connections");
    let grace = state.config.shutdown_grace;
    if tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} }).await.is_err() {
        tracing::warn!("connections still open after the grace period; closing them");
        connections.abort_all();
    }
    // In memory, executions cannot outlive the server; durable ones resume at the next start.
    if !state.store.persistent() {
        state.running.abort_all();
    }
    state.durability.stop();
    tracing::info!("stepbox server stopped");
    Ok(())
}

/// One connection, holding its `slot` among the open ones until it closes.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    slot: conn::Slot,
    state: AppState,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let header_read_timeout = state.config.connections.header_read_timeout;
    let service = hyper::service::service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(state, req, peer).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => { if let Err(e) = r { tracing::debug!(error = %e, "connection error"); } }
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
    drop(slot);
}

/// Resolves once `rx` turns true (or its sender is gone).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// A server running on a background task (tests, embedding).
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// Bind `addr` (port 0 for any) and serve in the background.
    pub async fn start(addr: SocketAddr, state: AppState) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, state.clone(), rx));
        Ok(RunningServer { addr, state, stop, task })
    }

    /// `http://ADDR`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful shutdown.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await?
    }
}

async fn handle(state: AppState, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let target = header(&req, "x-amz-target").unwrap_or_default();
    let request_id = stepbox_asl::uuid_v4();
    let mut response = route(state, req.map(ReqBody::Streaming), &request_id, peer).await;
    if let Ok(v) = hyper::header::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", v);
    }
    tracing::info!(
        %peer, %method, %path, target = %target, status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "request"
    );
    response
}

/// One request whose body has been read, answered as the server answers it
/// from `peer` (the request router without a connection: its fuzz target).
#[doc(hidden)]
pub async fn answer(state: AppState, req: Request<Bytes>, peer: SocketAddr) -> Response<Body> {
    route(state, req.map(ReqBody::Read), &stepbox_asl::uuid_v4(), peer).await
}

async fn route(state: AppState, req: Request<ReqBody>, request_id: &str, peer: SocketAddr) -> Response<Body> {
    let path = req.uri().path().to_string();
    let metrics = path == "/metrics" && req.method() == Method::GET;
    if metrics && state.config.metrics_from_loopback && peer.ip().is_loopback() {
        return metrics::serve(&state);
    }
    if path == "/health" && (req.method() == Method::GET || req.method() == Method::HEAD) {
        return json_response(StatusCode::OK, "application/json", &serde_json::json!({"status": "ok"}));
    }
    if path == "/console" || path.starts_with("/console/") {
        // With tenants, the console's data endpoints are signed (the page
        // signs with the key entered in it) and answer the caller's account.
        if state.config.tenants.is_none() || !console::signed(&path) {
            return console::handle(state, req).await;
        }
        let req = match tenants::authenticate(&state, req).await {
            Ok(req) => req,
            Err(refused) => return refused,
        };
        let state = match req.extensions().get::<tenants::Caller>().and_then(|c| c.account()) {
            Some(account) => state.for_account(account),
            None => state,
        };
        return console::handle(state, req).await;
    }
    let req = match tenants::authenticate(&state, req).await {
        Ok(req) => req,
        Err(refused) => return refused,
    };
    let state = match req.extensions().get::<tenants::Caller>().and_then(|c| c.account()) {
        Some(account) => state.for_account(account),
        None => state,
    };
    if metrics {
        return metrics::handle(&state, &req);
    }
    if path.starts_with("/2015-03-31/functions")
        || lambda::concurrency::is_concurrency_path(&path)
        || lambda::is_tags_path(&path)
    {
        return lambda::handle(state, req, request_id).await;
    }
    if req.method() == Method::GET && path.trim_end_matches('/') == "/2016-08-19/account-settings" {
        return lambda::account_settings(&state).await;
    }
    if req.method() == Method::POST && (path == "/" || path.is_empty()) {
        return sfn::handle(state, req).await;
    }
    json_response(
        StatusCode::NOT_FOUND,
        "application/json",
        &serde_json::json!({"__type": "UnknownOperationException", "message": format!("no route for {} {path}", req.method())}),
    )
}

pub(crate) fn header<B>(req: &Request<B>, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// A request's body: still arriving, or already read (to check its signature).
pub(crate) enum ReqBody {
    Streaming(Incoming),
    Read(Bytes),
}

/// Why a request body could not be read.
pub(crate) enum BodyError {
    TooLarge(usize),
    /// Not all of it arrived within [`ConnectionLimits::body_read_timeout`].
    TimedOut(Duration),
    Io(String),
}

/// The request's body, refused unread when its declared length is over
/// `limit` and cut off once more than `limit` bytes or `timeout` have passed.
pub(crate) async fn read_body(req: Request<ReqBody>, limit: usize, timeout: Duration) -> Result<Bytes, BodyError> {
    let declared_length =
        req.headers().get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let body = match req.into_body() {
        ReqBody::Read(bytes) if bytes.len() > limit => return Err(BodyError::TooLarge(limit)),
        ReqBody::Read(bytes) => return Ok(bytes),
        ReqBody::Streaming(body) => body,
    };
    if let Some(len) = declared_length
        && len > limit
    {
        return Err(BodyError::TooLarge(limit));
    }
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Err(_) => Err(BodyError::TimedOut(timeout)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(BodyError::TooLarge(limit)),
        Ok(Err(e)) => Err(BodyError::Io(e.to_string())),
    }
}

/// What a client that sent its body too slowly is told.
pub(crate) fn body_timeout_message(timeout: Duration) -> String {
    format!("the request body did not arrive within {} s", timeout.as_secs_f64())
}

pub(crate) fn json_response(status: StatusCode, content_type: &str, body: &serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(serde_json::to_vec(body).unwrap_or_default())));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// Epoch seconds with millisecond precision, as awsJson1_0 and the SDKs expect.
pub(crate) fn epoch(t: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    serde_json::json!(t.timestamp_millis() as f64 / 1000.0)
}
