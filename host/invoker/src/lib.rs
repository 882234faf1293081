//! Connects the interpreter to the sandbox: a Task state's function name
//! (from a Lambda ARN or `lambda:invoke`'s `FunctionName`) resolves to the
//! component registered under that name, which runs in a fresh instance
//! under the function's limits. Sandbox failures keep the names Lambda uses
//! (`Sandbox.Timedout`…); the engine wraps them as AWS wraps a failing Lambda.

use std::sync::Arc;

mod bindings;
pub mod buckets;
pub mod dynamodb;
mod http;
mod s3;
pub use bindings::{BadBinding, Bindings};
pub use buckets::Buckets;
pub use http::{HTTP_INVOKE, HttpPolicy};

use stepbox_engine::{BoxFuture, Pattern, Target, TaskFailure, TaskInvoker, TaskRequest};
use stepbox_sandbox::{Invocation, RegisteredFunction, Registry, Request, TaskContext};
use stepbox_types::{Arn, Identity};

/// Told of every function invocation a Task state makes, with its logs
/// (the server keeps recent ones for its console).
pub trait InvocationObserver: Send + Sync {
    fn observed(&self, function: &RegisteredFunction, context: &TaskContext, invocation: &Invocation);

    /// A Task's invocation for `account` met a concurrency limit: `quota` is
    /// `concurrent_invocations` (no slot of the account was free: it waited
    /// for one) or `reserved_concurrency` (its function's reservation was
    /// full: it failed `Lambda.TooManyRequestsException`).
    fn throttled(&self, _account: &str, _quota: &'static str) {}
}

/// Runs Task states as registered components.
#[derive(Clone)]
pub struct SandboxInvoker {
    registry: Registry,
    /// The region and account of function ARNs in error messages.
    identity: Arc<Identity>,
    /// Hosts HTTP Tasks may reach.
    http: Arc<HttpPolicy>,
    /// Service integrations bound to functions.
    bindings: Arc<Bindings>,
    /// Where the built-in S3 integrations keep objects (`--buckets`).
    buckets: Option<Arc<Buckets>>,
    /// Told of each invocation.
    observer: Option<Arc<dyn InvocationObserver>>,
    /// With several tenants: the account owning a function, by name; a Task
    /// runs only its own account's functions.
    owner: Option<FunctionOwner>,
    /// With several tenants: the slots an account's invocations wait for.
    admission: Option<Admission>,
    /// Why a function that exists cannot run yet (its Lambda State).
    unavailable: Option<FunctionState>,
    /// Which version an alias with weighted routing runs this time.
    routes: Option<FunctionRoutes>,
    /// The slots of functions with reserved concurrency, by name.
    reservations: Option<FunctionSlots>,
    /// The built-in DynamoDB integrations' tables (`--dynamodb-table`).
    tables: Option<dynamodb::Tables>,
}

/// The slots an account's Task invocations each hold one of while they run.
pub type Admission = Arc<dyn Fn(&str) -> Option<Slots>+ Send + Sync>;

/// An account's invocation slots, and how many invocations wait for one.
#[derive(Clone)]
pub struct Slots {
    pub semaphore: Arc<tokio::sync::Semaphore>,
    pub waiting: Arc<std::sync::atomic::AtomicUsize>,
}

impl Slots {
    /// One slot, counted among the waiting while it waits.
    pub async fn acquire(self) -> Result<tokio::sync::OwnedSemaphorePermit, tokio::sync::AcquireError> {
        if let Ok(permit) = self.semaphore.clone().try_acquire_owned() {
            return Ok(permit);
        }
        struct Waiting(Arc<std::sync::atomic::AtomicUsize>);
        impl Drop for Waiting {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _waiting = Waiting(self.waiting.clone());
        self.semaphore.acquire_owned().await
    }
}

/// The slots of function NAME when it has reserved concurrency: a Task
/// past them fails `Lambda.TooManyRequestsException`, as a throttled Lambda does.
pub type FunctionSlots = Arc<dyn Fn(&str) -> Option<Arc<tokio::sync::Semaphore>> + Send + Sync>;

/// The account that owns function NAME, if any.
pub type FunctionOwner = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The Lambda State (`Pending`, `Failed`) of function NAME when it exists
/// but has no code to run (a function built from source), else None.
pub type FunctionState = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// For function NAME invoked with qualifier Q: the qualifier to run instead
/// this time (a version an alias routes a share of its invocations to).
pub type FunctionRoutes = Arc<dyn Fn(&str, &str) -> Option<String> + Send + Sync>;

impl SandboxInvoker {
    pub fn new(registry: Registry) -> Self {
        SandboxInvoker {
            registry,
            identity: Arc::new(Identity::default()),
            http: Arc::new(HttpPolicy::default()),
            bindings: Arc::new(Bindings::default()),
            buckets: None,
            observer: None,
            owner: None,
            admission: None,
            unavailable: None,
            routes: None,
            reservations: None,
            tables: None,
        }
    }

    /// Tells `observer` of every invocation.
    pub fn with_observer(mut self, observer: Arc<dyn InvocationObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Each Lambda Task invocation first waits for a permit of its
    /// execution's account's semaphore (so only that account's work queues).
    pub fn with_admission(mut self, admission: Admission) -> Self {
        self.admission = Some(admission);
        self
    }

    /// A Task calling a function `state` says is not ready fails as Step
    /// Functions reports Lambda's conflict (Lambda.ResourceConflictException).
    pub fn with_function_states(mut self, state: FunctionState) -> Self {
        self.unavailable = Some(state);
        self
    }

    /// An alias's invocations run the version `routes` picks for each.
    pub fn with_routes(mut self, routes: FunctionRoutes) -> Self {
        self.routes = Some(routes);
        self
    }

    /// A function with reserved concurrency runs on its own slots (not its
    /// account's): a Task finding none free fails `Lambda.TooManyRequestsException`.
    pub fn with_reservations(mut self, reservations: FunctionSlots) -> Self {
        self.reservations = Some(reservations);
        self
    }

    /// Tasks run only the functions `owner` says are their execution's account's.
    pub fn with_owners(mut self, owner: FunctionOwner) -> Self {
        self.owner = Some(owner);
        self
    }

    /// The tables of the built-in DynamoDB integrations (`--dynamodb-table`).
    pub fn with_tables(mut self, tables: Option<dynamodb::Tables>) -> Self {
        self.tables = tables;
        self
    }

    /// The bucket directory of the built-in S3 integrations (`--buckets`).
    pub fn with_buckets(mut self, buckets: Option<Buckets>) -> Self {
        self.buckets = buckets.map(Arc::new);
        self
    }

    /// Service integrations that run registered functions (`--bind`).
    pub fn with_bindings(mut self, bindings: Bindings) -> Self {
        self.bindings = Arc::new(bindings);
        self
    }

    /// Hosts `arn:aws:states:::http:invoke` Tasks may reach besides loopback.
    pub fn with_http_policy(mut self, policy: HttpPolicy) -> Self {
        self.http = Arc::new(policy);
        self
    }

    /// Region and account used in error messages' function ARNs.
    pub fn with_identity(mut self, identity: Identity) -> Self {
        self.identity = Arc::new(identity);
        self
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl TaskInvoker for SandboxInvoker {
    fn invoke(&self, req: TaskRequest) -> BoxFuture<'static, Result<serde_json::Value, TaskFailure>> {
        if req.resource.target == Target::HttpInvoke && req.resource.pattern == Pattern::RequestResponse {
            let policy = self.http.clone();
            return Box::pin(async move { http::invoke(&req.input, &policy).await });
        }
        if req.resource.target == Target::Service {
            return self.service(req);
        }
        let registry = self.registry.clone();
        let observer = self.observer.clone();
        // Errors name the execution's own account (a tenant's, with several).
        let identity = match Arn::parse(&req.context.execution_arn) {
            Ok(arn) => Arc::new(Identity::new(arn.region(), arn.account())),
            Err(_) => self.identity.clone(),
        };
        let foreign = self.owner.as_ref().is_some_and(|owner| owner(&req.function_name).as_deref() != Some(&identity.account));
        let unavailable = self.unavailable.clone().filter(|_| !foreign);
        let routes = self.routes.clone();
        let reserved = if foreign { None } else { self.reservations.as_ref().and_then(|r| r(&req.function_name)) };
        let slots = match reserved {
            Some(_) => None,
            None => self.admission.as_ref().and_then(|admit| admit(&identity.account)),
        };
        Box::pin(async move {
            // A version or alias runs what the function API registered as `NAME:QUALIFIER`.
            let function = match req.qualifier.as_deref() {
                _ if foreign => None,
                None | Some("$LATEST") => registry.get(&req.function_name),
                Some(q) => {
                    let routed = routes.as_ref().and_then(|r| r(&req.function_name, q));
                    registry.get(&format!("{}:{}", req.function_name, routed.as_deref().unwrap_or(q)))
                }
            };
            let not_ready = match (&function, req.qualifier.as_deref(), &unavailable) {
                (None, None | Some("$LATEST"), Some(state)) => state(&req.function_name),
                _ => None,
            };
            if let Some(state) = not_ready {
                return Err(TaskFailure::new(
                    "Lambda.ResourceConflictException",
                    format!(
                        "The operation cannot be performed at this time. The function is currently in the following \
                         state: {state} (Service: AWSLambda; Status Code: 409; Error Code: ResourceConflictException; \
                         Request ID: {}; Proxy: null)",
                        stepbox_asl::uuid_v4()
                    ),
                ));
            }
            let Some(function) = function else {
                let function_arn = Arn::new("lambda", &identity, &format!("function:{}", req.function_name));
                let qualifier = req.qualifier.as_deref().unwrap_or("$LATEST");
                return Err(TaskFailure::new(
                    "Lambda.ResourceNotFoundException",
                    format!(
                        "Function not found: {function_arn}:{qualifier} (Service: AWSLambda; Status Code: 404; \
                         Error Code: ResourceNotFoundException; Request ID: {}; Proxy: null)",
                        stepbox_asl::uuid_v4()
                    ),
                ));
            };
            let throttle = |quota| {
                if let Some(o) = &observer {
                    o.throttled(&identity.account, quota);
                }
            };
            let _reserved = match reserved {
                Some(slots) => Some(slots.try_acquire_owned().map_err(|_| {
                    throttle("reserved_concurrency");
                    throttled()
                })?),
                None => None,
            };
            let _slot = match slots {
                Some(slots) => {
                    let slot = match slots.semaphore.clone().try_acquire_owned() {
                        Ok(free) => Ok(free),
                        Err(_) => {
                            throttle("concurrent_invocations");
                            slots.acquire().await
                        }
                    };
                    Some(slot.map_err(|_| TaskFailure::new("States.Runtime", "the server is stopping"))?)
                }
                None => None,
            };
            run(&registry, &function, req, observer.as_deref()).await
        })
    }
}

impl SandboxInvoker {
    /// A service integration: its bound function, else a built-in one,
    /// else nothing provides it.
    fn service(&self, mut req: TaskRequest) -> BoxFuture<'static, Result<serde_json::Value, TaskFailure>> {
        let Some(name) = self.bindings.function_for(&req.resource).map(str::to_string) else {
            if let (Some(buckets), Some(action)) = (self.buckets.clone(), s3::action(&req.resource)) {
                return Box::pin(async move { s3::call(&buckets, action, &req.input).await });
            }
            let account = Arn::parse(&req.context.execution_arn).map(|a| a.account().to_string()).unwrap_or_default();
            if let Some(call) = self.tables.as_ref().and_then(|t| t.handle(&req.resource, req.input.clone(), &account)) {
                return call;
            }
            let failure = bindings::unprovided(&req.resource, BUILT_IN);
            return Box::pin(async move { Err(failure) });
        };
        let registry = self.registry.clone();
        let observer = self.observer.clone();
        Box::pin(async move {
            let Some(function) = registry.get(&name) else {
                return Err(bindings::missing_function(&req.resource, &name));
            };
            req.input = bindings::request(&req.resource, std::mem::take(&mut req.input), req.jsonata);
            run(&registry, &function, req, observer.as_deref()).await
        })
    }
}

/// A Task's invocation of a function at its reserved concurrency, as Step
/// Functions reports a throttled Lambda.
fn throttled() -> TaskFailure {
    TaskFailure::new(
        "Lambda.TooManyRequestsException",
        format!(
            "Rate Exceeded. (Service: AWSLambda; Status Code: 429; Error Code: TooManyRequestsException; \
             Request ID: {}; Proxy: null)",
            stepbox_asl::uuid_v4()
        ),
    )
}

/// The built-in service integrations an unprovided one's error lists.
const BUILT_IN: &str = "s3:getObject and s3:putObject, also as aws-sdk:s3, on local buckets with --buckets DIR; \
                        dynamodb:getItem, putItem, updateItem and deleteItem, also as aws-sdk:dynamodb with query and scan, \
                        on tables declared with --dynamodb-table NAME=HASH[,RANGE]";

/// Runs `req` on registered function `function` and reads its JSON output.
async fn run(
    registry: &Registry,
    function: &RegisteredFunction,
    req: TaskRequest,
    observer: Option<&dyn InvocationObserver>,
) -> Result<serde_json::Value, TaskFailure> {
    let input = req.input.to_string();
    let context = TaskContext {
        execution_name: req.context.execution_name,
        execution_arn: req.context.execution_arn,
        state_name: req.context.state_name,
        retry_count: req.context.retry_count,
        task_token: req.context.task_token,
        request_id: req.context.request_id,
    };
    let observed = observer.map(|o| (o, context.clone()));
    let invocation = registry
        .sandbox()
        .invoke(
            &function.function,
            Request { input: &input, context, limits: &function.limits, on_heartbeat: req.heartbeat.map(|h| h.0) },
        )
        .await;
    if let Some((o, context)) = observed {
        o.observed(function, &context, &invocation);
    }
    match invocation.result {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            TaskFailure::new("Lambda.Unknown", format!("The function returned output that is not JSON: {e}"))
        }),
        Err(e) => Err(TaskFailure {
            stack_trace: e.stack_trace().to_vec(),
            ..TaskFailure::new(e.error_name(), e.cause())
        }),
    }
}
