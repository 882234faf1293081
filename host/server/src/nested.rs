//! Nested executions: a `states:startExecution` Task state starts its child
//! through the server's own StartExecution, so the child is an ordinary
//! execution (listed, described, with its history and abortable).

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use serde_json::{Map, Value, json};
use stepbox_engine::services::state_machine_does_not_exist;
use stepbox_engine::{
    BoxFuture, ChildOutcome, ChildRequest, ChildRunner, Engine, ExecutionStatus, Executions, MemoryActivities, StartedChild,
    TaskFailure,
};
use stepbox_sandbox::Registry;
use stepbox_store::Stores;
use stepbox_types::{Arn, ExecutionArn};

use crate::{AppState, ServerConfig};

/// How often a `.sync` parent looks at its child's record.
const CHILD_POLL: Duration = Duration::from_millis(20);

/// Everything of [`AppState`]; the engine (which holds this service) only
/// weakly: no cycle.
pub(crate) struct Parts {
    pub engine: Weak<Engine>,
    pub config: Arc<ServerConfig>,
    pub registry: Registry,
    pub store: Arc<dyn Stores>,
    pub activities: Arc<MemoryActivities>,
    pub activity_poll: Duration,
    pub running: Arc<crate::sfn::Running>,
    pub functions: Arc<crate::lambda::FunctionTable>,
    pub definitions: Arc<crate::sfn::Definitions>,
    /// Children are recorded executions too.
    pub durability: Arc<crate::durable::Durability>,
    pub callbacks: Arc<stepbox_engine::MemoryCallbacks>,
    pub invocations: Arc<crate::console::Invocations>,
    pub clock: Arc<dyn stepbox_engine::Clock>,
    pub accounts: Arc<crate::tenants::AccountConfigs>,
    pub map_runs: Arc<crate::map_runs::MapRunTable>,
}

/// [`Executions`] over the server's StartExecution.
#[derive(Default)]
pub(crate) struct ServerExecutions {
    pub parts: OnceLock<Parts>,
}

impl ServerExecutions {
    /// The server's state, once it is built (the engine is held weakly).
    pub(crate) fn state(&self) -> Option<AppState> {
        let p = self.parts.get()?;
        Some(AppState {
            config: p.config.clone(),
            engine: p.engine.upgrade()?,
            registry: p.registry.clone(),
            store: p.store.clone(),
            activities: p.activities.clone(),
            activity_poll: p.activity_poll,
            running: p.running.clone(),
            functions: p.functions.clone(),
            definitions: p.definitions.clone(),
            // A child is recorded too: on a durable server it resumes after
            // a restart, and its resumed parent re-attaches to it by name.
            durability: p.durability.clone(),
            callbacks: p.callbacks.clone(),
            invocations: p.invocations.clone(),
            clock: p.clock.clone(),
            accounts: p.accounts.clone(),
            map_runs: p.map_runs.clone(),
        })
    }
}

/// A record's status once the execution has ended.
fn status(s: &str) -> Option<ExecutionStatus> {
    s.parse::<ExecutionStatus>().ok().filter(|s| s.is_closed())
}

impl Executions for ServerExecutions {
    fn start(&self, _: &dyn ChildRunner, req: ChildRequest) -> BoxFuture<'static, Result<StartedChild, TaskFailure>> {
        // The parent runs through an AppState, which holds the engine.
        let Some(state) = self.state() else {
            return Box::pin(std::future::ready(Err(TaskFailure::new("States.Runtime", "the server is not ready"))));
        };
        // With tenants, a child runs in its parent's account, and only there.
        let state = match state.config.tenants.is_some().then(|| stepbox_store::arn_account(&req.parent_execution_arn)).flatten() {
            Some(account) if !crate::tenants::scope::in_account(&req.state_machine_arn, account) => {
                let failure = TaskFailure::new(
                    "StepFunctions.AccessDeniedException",
                    format!(
                        "User: arn:aws:iam::{account}:root is not authorized to perform: states:StartExecution on \
                         resource: {} because no resource-based policy allows the states:StartExecution action",
                        req.state_machine_arn
                    ),
                );
                return Box::pin(std::future::ready(Err(failure)));
            }
            Some(account) => state.for_account(account),
            None => state,
        };
        Box::pin(async move { start_child(&state, req).await })
    }
}

async fn start_child(state: &AppState, req: ChildRequest) -> Result<StartedChild, TaskFailure> {
    let mut m = Map::new();
    m.insert("stateMachineArn".into(), json!(req.state_machine_arn));
    if let Some(n) = &req.name {
        m.insert("name".into(), json!(n));
    }
    m.insert("input".into(), json!(stepbox_asl::compact(&req.input)));
    if let Some(arn) = existing_child(state, &req).await? {
        return attach(state, arn).await;
    }
    let started = match crate::sfn::start_execution_request(state, &m).await {
        Ok(v) => v,
        Err(e) if e.kind == "StateMachineDoesNotExist" => return Err(state_machine_does_not_exist(&req.state_machine_arn)),
        Err(e) => {
            return Err(TaskFailure::new(
                format!("StepFunctions.{}Exception", e.kind),
                format!(
                    "{} (Service: AWSStepFunctions; Status Code: {}; Error Code: {}; Request ID: {}; Proxy: null)",
                    e.message,
                    e.status.as_u16(),
                    e.kind,
                    stepbox_asl::uuid_v4()
                ),
            ));
        }
    };
    let arn = started["executionArn"].as_str().unwrap_or_default().to_string();
    attach(state, arn).await
}

/// A failed read of the store, as the child's Task fails with it.
fn unreadable(e: stepbox_store::StoreError) -> TaskFailure {
    TaskFailure::new("States.Runtime", format!("the store could not be read: {e}"))
}

/// The execution a resumed parent started before the restart, if any.
async fn existing_child(state: &AppState, req: &ChildRequest) -> Result<Option<String>, TaskFailure> {
    let Some(name) = req.name.as_deref().filter(|_| req.reattach) else { return Ok(None) };
    let Some(sm_name) = Arn::parse(&req.state_machine_arn).ok().and_then(|a| a.resource_fields().next().map(str::to_string))
    else {
        return Ok(None);
    };
    let arn = ExecutionArn::new(&state.config.identity, &sm_name, name).to_string();
    Ok(state.store.get_execution(&arn).await.map_err(unreadable)?.map(|_| arn))
}

/// Follows execution `arn` until it ends.
async fn attach(state: &AppState, arn: String) -> Result<StartedChild, TaskFailure> {
    let record = state
        .store
        .get_execution(&arn)
        .await
        .map_err(unreadable)?
        .ok_or_else(|| TaskFailure::new("States.Runtime", "child execution vanished"))?;
    let store = state.store.clone();
    let clock = state.engine.clock().clone();
    let child_arn = arn.clone();
    let finished = Box::pin(async move {
        loop {
            match store.get_execution(&child_arn).await {
                Ok(Some(r)) => {
                    if let Some(s) = status(&r.status) {
                        return ChildOutcome {
                            status: s,
                            output: r.output.as_deref().and_then(|o| serde_json::from_str::<Value>(o).ok()),
                            error: r.error,
                            cause: r.cause,
                            stop_date: r.stop_date.unwrap_or_else(|| clock.now()),
                        };
                    }
                }
                Ok(None) => {
                    return ChildOutcome {
                        status: ExecutionStatus::Aborted,
                        output: None,
                        error: None,
                        cause: None,
                        stop_date: clock.now(),
                    };
                }
                // The store cannot be read now (a full disk): look again.
                Err(e) => tracing::warn!(execution = %child_arn, error = %e, "cannot read a child execution"),
            }
            tokio::time::sleep(CHILD_POLL).await;
        }
    });
    Ok(StartedChild {
        execution_arn: arn,
        state_machine_arn: record.state_machine_arn,
        name: record.name,
        start_date: record.start_date,
        finished,
    })
}
