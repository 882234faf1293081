//! Function invocations, for the console and `stepbox logs`, with duration,
//! error and the tail of their logs: each function's last [`PER_FUNCTION`]
//! (from the function API's Invoke and from Task states inside workflows),
//! in memory; and each recorded (Standard) execution's, kept with the
//! execution in the store (at most [`stepbox_store::INVOCATIONS_PER_EXECUTION`],
//! the newest), so they outlive a restart and every host of a shared
//! database sees them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use stepbox_sandbox::{Invocation, RegisteredFunction, TaskContext};
use stepbox_store::{StoreError, Stores};

/// Invocations kept per function, newest first.
pub const PER_FUNCTION: usize = 100;
/// Bytes of each invocation's log kept (its end, as Lambda's `LogType: Tail`).
pub const LOG_TAIL: usize = 4096;

/// One invocation, as the console shows it.
#[derive(Debug, Clone)]
struct Record {
    time: chrono::DateTime<chrono::Utc>,
    function: String,
    memory_mb: u64,
    /// The most memory the guest held, in MB (rounded up).
    max_memory_used_mb: u64,
    context: TaskContext,
    duration_ms: f64,
    error: Option<(String, String)>,
    log_tail: String,
    log_dropped_bytes: u64,
}

impl Record {
    fn to_json(&self) -> Value {
        json!({
            "time": crate::epoch(self.time),
            "functionName": self.function,
            "requestId": self.context.request_id,
            "executionArn": (!self.context.execution_arn.is_empty()).then_some(&self.context.execution_arn),
            "stateName": (!self.context.state_name.is_empty()).then_some(&self.context.state_name),
            "retryCount": self.context.retry_count,
            "durationMs": self.duration_ms,
            "memorySizeMb": self.memory_mb,
            "maxMemoryUsedMb": self.max_memory_used_mb,
            "error": self.error.as_ref().map(|e| &e.0),
            "cause": self.error.as_ref().map(|e| &e.1),
            "logTail": self.log_tail,
            "logDroppedBytes": self.log_dropped_bytes,
        })
    }
}

/// The recent invocations of every function.
pub struct Invocations {
    by_function: Mutex<HashMap<String, VecDeque<Record>>>,
    /// Told of every invocation too.
    metrics: Arc<crate::metrics::Metrics>,
    /// Where executions' invocations are kept.
    store: Arc<dyn Stores>,
}

impl Invocations {
    pub(crate) fn new(metrics: Arc<crate::metrics::Metrics>, store: Arc<dyn Stores>) -> Self {
        Invocations { by_function: Default::default(), metrics, store }
    }

    /// Keeps `invocation` of `function` (the function's base name: versions share it).
    pub fn record(&self, function: &RegisteredFunction, context: &TaskContext, invocation: &Invocation) {
        self.metrics.invoked(function, context, invocation);
        let name = function.name.split(':').next().unwrap_or(&function.name).to_string();
        let record = Record {
            time: chrono::Utc::now(),
            function: name.clone(),
            memory_mb: function.limits.memory_bytes >> 20,
            max_memory_used_mb: invocation.max_memory_used.div_ceil(1 << 20),
            context: TaskContext { task_token: None, ..context.clone() },
            duration_ms: invocation.duration.as_secs_f64() * 1000.0,
            error: invocation.result.as_ref().err().map(|e| (e.error_name().to_string(), e.cause().to_string())),
            log_tail: invocation.logs.tail(LOG_TAIL).to_string(),
            log_dropped_bytes: invocation.logs.dropped_bytes + (invocation.logs.text.len().saturating_sub(LOG_TAIL)) as u64,
        };
        // An Express execution is not stored, nor its logs (the store looked
        // each one up in vain, in the writer's transaction: a tenth of a
        // million-child map run's time).
        let stored = !context.execution_arn.is_empty()
            && !stepbox_types::ExecutionArn::parse(&context.execution_arn).is_ok_and(|a| a.is_express());
        if stored {
            // Not awaited by the Task: a log is not worth waiting for a commit
            // (writes are applied in order, after the execution's record); a
            // failed one is logged, and this host still has it in memory.
            let commit = self.store.add_invocations(vec![(context.execution_arn.clone(), record.to_json())]);
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let arn = context.execution_arn.clone();
                rt.spawn(async move {
                    if let Err(e) = commit.await {
                        tracing::warn!(execution = %arn, error = %e, "cannot keep a Task invocation's log with its execution");
                    }
                });
            }
        }
        let mut all = self.by_function.lock().unwrap_or_else(|e| e.into_inner());
        let list = all.entry(name).or_default();
        list.push_front(record);
        list.truncate(PER_FUNCTION);
    }

    /// A function's recent invocations, newest first.
    pub fn of_function(&self, name: &str) -> Vec<Value> {
        let all = self.by_function.lock().unwrap_or_else(|e| e.into_inner());
        all.get(name).map(|l| l.iter().map(Record::to_json).collect()).unwrap_or_default()
    }

    /// The invocations an execution's Task states made, oldest first: the
    /// ones kept with it, then any of this host's recent ones not stored yet
    /// (or at all: an Express execution's).
    pub async fn of_execution(&self, execution_arn: &str) -> Result<Vec<Value>, StoreError> {
        let mut out = self.store.invocations(execution_arn).await?.unwrap_or_default();
        let stored: HashSet<String> = out.iter().filter_map(|i| i["requestId"].as_str().map(str::to_string)).collect();
        let all = self.by_function.lock().unwrap_or_else(|e| e.into_inner());
        let mut recent: Vec<&Record> = all
            .values()
            .flatten()
            .filter(|r| r.context.execution_arn == execution_arn && !stored.contains(&r.context.request_id))
            .collect();
        recent.sort_by_key(|r| r.time);
        out.extend(recent.into_iter().map(Record::to_json));
        Ok(out)
    }
}

impl stepbox_invoker::InvocationObserver for Invocations {
    fn observed(&self, function: &RegisteredFunction, context: &TaskContext, invocation: &Invocation) {
        self.record(function, context, invocation);
    }

    fn throttled(&self, account: &str, quota: &'static str) {
        self.metrics.throttled(account, quota);
    }
}
