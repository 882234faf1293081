//! Where the server keeps state machines and executions. Everything goes
//! through the [`Store`] trait so a durable store can replace [`MemoryStore`].

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use stepbox_engine::HistoryEvent;

/// A state machine as CreateStateMachine/UpdateStateMachine left it.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineRecord {
    pub arn: String,
    pub name: String,
    pub definition: String,
    pub role_arn: String,
    /// `STANDARD` or `EXPRESS`.
    pub kind: String,
    pub description: String,
    pub creation_date: DateTime<Utc>,
    pub revision_id: String,
}

/// One execution: its request, status and (once closed) result.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRecord {
    pub arn: String,
    pub name: String,
    pub state_machine_arn: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT` or `ABORTED`.
    pub status: String,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_date: DateTime<Utc>,
    pub stop_date: Option<DateTime<Utc>>,
}

/// Persistence of state machines, executions and their histories.
pub trait Store: Send + Sync {
    /// Insert `record` unless its ARN exists: then return the existing one.
    fn insert_state_machine(&self, record: StateMachineRecord) -> Result<(), StateMachineRecord>;
    fn get_state_machine(&self, arn: &str) -> Option<StateMachineRecord>;
    /// Replace an existing record; false when there is none.
    fn update_state_machine(&self, record: StateMachineRecord) -> bool;
    fn delete_state_machine(&self, arn: &str) -> bool;
    /// All state machines, oldest first.
    fn list_state_machines(&self) -> Vec<StateMachineRecord>;

    /// Insert `record` unless its ARN exists: then return the existing one.
    fn insert_execution(&self, record: ExecutionRecord) -> Result<(), ExecutionRecord>;
    fn get_execution(&self, arn: &str) -> Option<ExecutionRecord>;
    /// Apply `change` to the execution; false when there is none.
    fn update_execution(&self, arn: &str, change: &mut dyn FnMut(&mut ExecutionRecord)) -> bool;
    /// Executions of a state machine, newest first.
    fn list_executions(&self, state_machine_arn: &str) -> Vec<ExecutionRecord>;
    fn append_event(&self, execution_arn: &str, event: HistoryEvent);
    /// The execution's events ordered by id.
    fn history(&self, execution_arn: &str) -> Vec<HistoryEvent>;

    /// Add or overwrite tags of a resource.
    fn tag(&self, arn: &str, tags: &[(String, String)]);
    fn untag(&self, arn: &str, keys: &[String]);
    /// A resource's tags, in the order they were first set.
    fn tags(&self, arn: &str) -> Vec<(String, String)>;
}

#[derive(Default)]
struct Tables {
    state_machines: Vec<StateMachineRecord>,
    executions: HashMap<String, ExecutionRecord>,
    /// Execution ARNs per state machine, in start order.
    by_machine: HashMap<String, Vec<String>>,
    histories: HashMap<String, Vec<HistoryEvent>>,
    tags: HashMap<String, Vec<(String, String)>>,
}

/// Keeps everything in memory (lost on restart).
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemoryStore {
    fn insert_state_machine(&self, record: StateMachineRecord) -> Result<(), StateMachineRecord> {
        let mut t = self.lock();
        if let Some(existing) = t.state_machines.iter().find(|s| s.arn == record.arn) {
            return Err(existing.clone());
        }
        t.state_machines.push(record);
        Ok(())
    }

    fn get_state_machine(&self, arn: &str) -> Option<StateMachineRecord> {
        self.lock().state_machines.iter().find(|s| s.arn == arn).cloned()
    }

    fn update_state_machine(&self, record: StateMachineRecord) -> bool {
        let mut t = self.lock();
        match t.state_machines.iter_mut().find(|s| s.arn == record.arn) {
            Some(slot) => {
                *slot = record;
                true
            }
            None => false,
        }
    }

    fn delete_state_machine(&self, arn: &str) -> bool {
        let mut t = self.lock();
        let before = t.state_machines.len();
        t.state_machines.retain(|s| s.arn != arn);
        t.tags.remove(arn);
        before != t.state_machines.len()
    }

    fn list_state_machines(&self) -> Vec<StateMachineRecord> {
        self.lock().state_machines.clone()
    }

    fn insert_execution(&self, record: ExecutionRecord) -> Result<(), ExecutionRecord> {
        let mut t = self.lock();
        if let Some(existing) = t.executions.get(&record.arn) {
            return Err(existing.clone());
        }
        t.by_machine.entry(record.state_machine_arn.clone()).or_default().push(record.arn.clone());
        t.histories.insert(record.arn.clone(), Vec::new());
        t.executions.insert(record.arn.clone(), record);
        Ok(())
    }

    fn get_execution(&self, arn: &str) -> Option<ExecutionRecord> {
        self.lock().executions.get(arn).cloned()
    }

    fn update_execution(&self, arn: &str, change: &mut dyn FnMut(&mut ExecutionRecord)) -> bool {
        match self.lock().executions.get_mut(arn) {
            Some(record) => {
                change(record);
                true
            }
            None => false,
        }
    }

    fn list_executions(&self, state_machine_arn: &str) -> Vec<ExecutionRecord> {
        let t = self.lock();
        t.by_machine
            .get(state_machine_arn)
            .map(|arns| arns.iter().rev().filter_map(|a| t.executions.get(a).cloned()).collect())
            .unwrap_or_default()
    }

    fn append_event(&self, execution_arn: &str, event: HistoryEvent) {
        if let Some(events) = self.lock().histories.get_mut(execution_arn) {
            events.push(event);
        }
    }

    fn history(&self, execution_arn: &str) -> Vec<HistoryEvent> {
        let mut events = self.lock().histories.get(execution_arn).cloned().unwrap_or_default();
        events.sort_by_key(|e| e.id);
        events
    }

    fn tag(&self, arn: &str, tags: &[(String, String)]) {
        let mut t = self.lock();
        let list = t.tags.entry(arn.to_string()).or_default();
        for (k, v) in tags {
            match list.iter_mut().find(|(key, _)| key == k) {
                Some(slot) => slot.1 = v.clone(),
                None => list.push((k.clone(), v.clone())),
            }
        }
    }

    fn untag(&self, arn: &str, keys: &[String]) {
        if let Some(list) = self.lock().tags.get_mut(arn) {
            list.retain(|(k, _)| !keys.contains(k));
        }
    }

    fn tags(&self, arn: &str) -> Vec<(String, String)> {
        self.lock().tags.get(arn).cloned().unwrap_or_default()
    }
}
