//! The interpreter. An [`Engine`] runs executions; [`drive`] sets one up
//! and races it against its timeout, StopExecution and suspension;
//! [`machine`] runs a state machine state by state; each kind of state has
//! its module ([`state`] for Pass, Succeed, Fail and Choice, [`wait`],
//! [`task`], [`parallel`], [`map`] with [`fanout`] and [`batch`]), and
//! [`jsonata`] holds the JSONata side of each step.

mod batch;
mod children;
mod drive;
mod running;
mod failure;
mod fanout;
mod item_inputs;
mod io;
mod jsonata;
mod machine;
mod map;
mod fan_progress;
mod parallel;
mod parts;
mod reader;
mod retry;
mod size;
mod state;
mod step;
mod task;
mod values;
mod variables;
mod wait;
mod writer;

use crate::clock::{BoxFuture, Clock};
use crate::durable::{Progress, Resume};
use crate::execution::{ExecutionOptions, ExecutionOutcome};
use crate::history::HistorySink;
use crate::random::{Random, ThreadRandom};
use crate::services::{ChildRunner, Services};
use crate::task::TaskInvoker;
use serde_json::Value;
use std::sync::Arc;
use stepbox_asl::StateMachine;
use stepbox_types::Identity;

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The region and account of the ARNs the engine makes.
    pub identity: Identity,
    /// Upper bound on concurrently running Map iterations when MaxConcurrency is 0.
    pub max_map_concurrency: usize,
    /// Maximum size in bytes of a state result (AWS: 256 KiB).
    pub payload_limit: usize,
    /// What Wait states' waits and Retry back-offs are multiplied by, in
    /// [0, 1] (Step Functions Local's `WAIT_TIME_SCALE`): 0 skips them, 1
    /// (the default) waits in full. TimeoutSeconds, HeartbeatSeconds and the
    /// execution's timeout are not scaled.
    pub wait_time_scale: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            identity: Identity::default(),
            max_map_concurrency: 1000,
            payload_limit: 256 * 1024,
            wait_time_scale: 1.0,
        }
    }
}

/// The interpreter: runs executions against a task invoker and a clock.
#[derive(Clone)]
pub struct Engine {
    tasks: Arc<dyn TaskInvoker>,
    clock: Arc<dyn Clock>,
    config: Arc<EngineConfig>,
    services: Services,
    /// Retry jitter's randomness.
    random: Arc<dyn Random>,
}

impl Engine {
    pub fn new(tasks: Arc<dyn TaskInvoker>, clock: Arc<dyn Clock>) -> Self {
        Engine {
            tasks,
            clock,
            config: Arc::new(EngineConfig::default()),
            services: Services::default(),
            random: Arc::new(ThreadRandom),
        }
    }
    pub fn with_config(
        tasks: Arc<dyn TaskInvoker>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Self {
        Engine {
            tasks,
            clock,
            config: Arc::new(config),
            services: Services::default(),
            random: Arc::new(ThreadRandom),
        }
    }
    /// Replaces the callback, activity and nested-execution services.
    pub fn with_services(mut self, services: Services) -> Self {
        self.services = services;
        self
    }
    /// Replaces where Retry's full jitter draws from (default: [`ThreadRandom`]).
    pub fn with_random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }
    pub fn services(&self) -> &Services {
        &self.services
    }
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Runs one execution to completion.
    pub async fn start(
        &self,
        sm: Arc<StateMachine>,
        input: Value,
        mut opts: ExecutionOptions,
        sink: Arc<dyn HistorySink>,
    ) -> ExecutionOutcome {
        opts.suspend_waits_over = None;
        match self.drive(sm, input, opts, sink, None).await {
            Progress::Finished(outcome) => outcome,
            Progress::Suspended { .. } => unreachable!("suspension is off"),
        }
    }

    /// Runs a new execution until it finishes or suspends in a long Wait
    /// (see [`ExecutionOptions::suspend_waits_over`]). A sink that
    /// [wants checkpoints](HistorySink::wants_checkpoints) gets one per
    /// top-level state, so the run can be [resumed](Self::resume).
    pub async fn start_durable(
        &self,
        sm: Arc<StateMachine>,
        input: Value,
        opts: ExecutionOptions,
        sink: Arc<dyn HistorySink>,
    ) -> Progress {
        self.drive(sm, input, opts, sink, None).await
    }

    /// Continues a RUNNING execution from its recorded state (see
    /// [`crate::durable`]): no `ExecutionStarted` again, event ids continue,
    /// the execution timeout still counts from the original start.
    pub async fn resume(
        &self,
        sm: Arc<StateMachine>,
        from: Resume,
        opts: ExecutionOptions,
        sink: Arc<dyn HistorySink>,
    ) -> Progress {
        let input = from.input.clone();
        self.drive(sm, input, opts, sink, Some(from)).await
    }
}

/// A child execution runs on its parent's engine.
impl ChildRunner for Engine {
    fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn run(
        &self,
        sm: Arc<StateMachine>,
        input: Value,
        opts: ExecutionOptions,
        sink: Arc<dyn HistorySink>,
    ) -> BoxFuture<'static, ExecutionOutcome> {
        let engine = self.clone();
        Box::pin(async move { engine.start(sm, input, opts, sink).await })
    }
}
