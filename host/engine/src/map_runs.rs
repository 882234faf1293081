//! Distributed Map runs as a service: with [`Services::map_runs`](crate::Services::map_runs)
//! set, a DISTRIBUTED Map runs each item (or ItemBatcher batch) as a child
//! execution the service starts (the server records STANDARD children as
//! executions of their own), at most the run's current MaxConcurrency at
//! once; the service keeps the map run's counts for DescribeMapRun and may
//! change its limits while it runs (UpdateMapRun). Without the service the
//! children run inside the parent execution, as an INLINE Map's iterations.

use crate::clock::BoxFuture;
use crate::execution::ExecutionStatus;
use crate::services::ChildOutcome;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::Arc;
use stepbox_asl::StateMachine;

/// AWS's upper bound on a distributed Map's MaxConcurrency.
pub const MAX_CHILDREN_AT_ONCE: u32 = 10_000;

/// A map run's limits, which UpdateMapRun may change while it runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapRunLimits {
    /// Children running at once (0: the engine's default bound).
    pub max_concurrency: u32,
    pub tolerated_failure_count: Option<f64>,
    pub tolerated_failure_percentage: Option<f64>,
}

/// How a map run ended (or that it runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapRunStatus {
    Running,
    Succeeded,
    Failed,
    Aborted,
}

impl MapRunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MapRunStatus::Running => "RUNNING",
            MapRunStatus::Succeeded => "SUCCEEDED",
            MapRunStatus::Failed => "FAILED",
            MapRunStatus::Aborted => "ABORTED",
        }
    }
}

/// Whether a map run is new or continues one recorded before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continues {
    /// A new map run: every child runs.
    New,
    /// The execution resumed after a restart: finished children keep their
    /// outcome, running ones are waited for, the others run.
    Resumed,
    /// The execution was redriven: succeeded children keep their output,
    /// failed and aborted ones are redriven, the others run.
    Redriven,
}

/// A map run about to start its children.
#[derive(Clone)]
pub struct MapRunStart {
    /// `arn:aws:states:R:A:mapRun:MACHINE/LABEL:ID`.
    pub map_run_arn: String,
    /// The parent execution.
    pub execution_arn: String,
    /// `arn:aws:states:R:A:stateMachine:MACHINE/LABEL`: the children's state machine.
    pub child_state_machine_arn: String,
    /// `ProcessorConfig.ExecutionType` EXPRESS (else STANDARD).
    pub express: bool,
    pub processor: Arc<StateMachine>,
    /// The processor as a definition of its own (what a recorded child keeps).
    pub processor_definition: Arc<str>,
    pub limits: MapRunLimits,
    /// Children (executions) and the items they take (more with ItemBatcher).
    pub executions: usize,
    pub items: usize,
    /// A ResultWriter writes the children's results.
    pub writes_results: bool,
    pub continues: Continues,
    pub start_date: DateTime<Utc>,
}

/// One child of a map run.
pub struct MapChild {
    /// Its execution name (ResultWriter's files name it too).
    pub name: String,
    pub input: Value,
    /// The items it takes (its batch's size, else 1).
    pub items: usize,
}

/// The name of child `index` of map run `map_run_arn`: the same for the
/// same run and index, so a continued run finds the children it started.
pub fn child_name(map_run_arn: &str, index: usize) -> String {
    let id = map_run_arn.rsplit(':').next().unwrap_or_default();
    let fnv = |seed: u64| {
        let mut h = seed;
        for b in id.bytes().chain(index.to_le_bytes()) {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        h
    };
    let (a, b) = (fnv(0xcbf29ce484222325), fnv(0x84222325cbf29ce4));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Starts map runs (the server: DescribeMapRun, ListMapRuns, UpdateMapRun).
pub trait MapRuns: Send + Sync {
    fn begin(&self, start: MapRunStart) -> Arc<dyn MapRun>;
}

/// One running map run.
pub trait MapRun: Send + Sync {
    /// Its limits as they are now and as they change.
    fn limits(&self) -> tokio::sync::watch::Receiver<MapRunLimits>;
    /// Runs one child to its end. Dropping the future before then aborts
    /// the child (the map run failed or the parent stopped).
    fn run_child(&self, child: MapChild) -> BoxFuture<'static, ChildOutcome>;
    /// The run ended with `status` (children not run stay pending).
    fn end(&self, status: MapRunStatus);
    /// A child (taking `items` items) that finished with `status` before a
    /// restart, whose recorded outcome the resumed run takes instead of
    /// running it again (an EXPRESS child: nothing else keeps it).
    fn finished_before(&self, _items: usize, _status: ExecutionStatus) {}
}
