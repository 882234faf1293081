//! The stepbox interpreter: runs compiled ASL state machines
//! ([`stepbox_asl::StateMachine`]) on tokio, talking to tasks, time and
//! history only through the [`TaskInvoker`], [`Clock`] and [`HistorySink`] traits.

pub mod clock;
mod exec;
pub mod history;
pub mod task;

pub use clock::{BoxFuture, Clock, ManualClock, TokioClock};
pub use exec::{Engine, EngineConfig, ExecutionOptions, ExecutionOutcome, ExecutionStatus};
pub use history::{EventType, HistoryEvent, HistorySink, NullSink, VecSink};
pub use task::{
    Target, TaskContext, TaskFailure, TaskInvoker, TaskRequest, lambda_invoke_result,
    split_function_name,
};

#[cfg(test)]
mod tests;
