//! The stepbox interpreter: runs compiled ASL state machines
//! ([`stepbox_asl::StateMachine`]) on tokio, talking to tasks, time and
//! history only through the [`TaskInvoker`], [`Clock`] and [`HistorySink`] traits.
//!
//! ```text
//! let engine = Engine::new(Arc::new(my_invoker), Arc::new(TokioClock));
//! let sm = Arc::new(StateMachine::parse(json)?);
//! let outcome = engine.start(sm, input, ExecutionOptions { name, state_machine_name, .. }, Arc::new(VecSink::new())).await;
//! // outcome.status: Succeeded | Failed | TimedOut | Aborted; outcome.output / error / cause
//! ```
//!
//! * Task resources: `arn:aws:lambda:R:A:function:NAME[:QUALIFIER]` (the result is
//!   the function output; history uses `LambdaFunction*` events) and
//!   `arn:aws:states:::lambda:invoke` (`Parameters.FunctionName` in any Lambda form,
//!   `Payload`; the result is wrapped like AWS: `ExecutedVersion`, `Payload`,
//!   `SdkHttpMetadata`, `SdkResponseMetadata`, `StatusCode`). Any other resource is
//!   passed to the invoker verbatim as `function_name`.
//! * A [`TaskFailure`] becomes Error = `error`, Cause = Lambda's JSON envelope
//!   (see [`TaskFailure::aws_cause`]).
//! * Data-flow errors are `States.Runtime` & co. with AWS's
//!   "An error occurred while executing the state 'X' (entered at the event id #N). …" cause.
//! * Map iterations and Parallel branches run as tokio tasks (bounded by
//!   MaxConcurrency, or [`EngineConfig::max_map_concurrency`] when it is 0).
//!   A DISTRIBUTED Map's iterations record no events in the parent history
//!   (MapRunStarted/MapRunSucceeded/MapRunFailed are); with a [`MapRuns`]
//!   service (`Services::map_runs`, the server's) each is a child execution
//!   it starts, else they run inside the parent as an INLINE Map's do.
//!   A Map's ItemReader and ResultWriter use [`Objects`] (`Services::objects`).
//! * JSONPath workflow variables (`Assign`, `$name` references) are supported;
//!   JSONata expressions are not evaluated yet (such states fail with
//!   `States.QueryEvaluationError`).
//! * Tests use [`ManualClock`] (virtual time) so waits, timeouts and retry
//!   back-offs run instantly, and a [`SeededRandom`] ([`Engine::with_random`])
//!   to make Retry's full jitter repeatable.

pub mod callback;
pub mod clock;
pub mod durable;
mod exec;
pub mod execution;
pub mod history;
pub mod map_runs;
pub mod mock;
pub mod objects;
pub mod random;
pub mod services;
pub mod task;

pub use clock::{BoxFuture, Clock, ClockHold, HOLD_GRACE, ManualClock, TokioClock};
pub use durable::{Checkpoint, Part, Progress, Resume, StateProgress};
pub use exec::{Engine, EngineConfig};
pub use execution::{ExecutionOptions, ExecutionOutcome, ExecutionStatus, StopRequest};
pub use mock::{MockedResponse, Mocks, TaskMocks};
pub use map_runs::{Continues, MapChild, MapRun, MapRunLimits, MapRunStart, MapRunStatus, MapRuns};
pub use objects::{ObjectFailure, ObjectInfo, Objects};
pub use random::{Random, SeededRandom, ThreadRandom};
pub use history::{Details, EventType, HistoryEvent, HistorySink, NullSink, VecSink};
pub use callback::{CallbackError, Callbacks, MemoryCallbacks, Signal, TaskToken};
pub use services::{
    Activities, ActivityRecord, ActivityTask, ChildOutcome, ChildRequest, ChildRunner, Executions,
    LocalExecutions, MemoryActivities, Services, StartedChild,
};
pub use stepbox_asl::resource::{Pattern, Resource, Target};
pub use task::{
    Heartbeat, TaskContext, TaskFailure, TaskInvoker, TaskRequest, lambda_invoke_result, split_function_name,
};

#[cfg(test)]
mod durable_tests;
#[cfg(test)]
mod tests;
