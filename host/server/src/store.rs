//! Where the server keeps state machines and executions. Everything goes
//! through the [`Store`] trait so a durable store can replace [`MemoryStore`].

use std::collections::HashMap;
use std::sync::Mutex;

use stepbox_engine::HistoryEvent;

// The records are the durable store's, so the server and its stores share
// one definition of each (the memory store keeps them as they are).
pub use stepbox_store::{AliasRecord, ExecutionRecord, Route, StateMachineRecord, VersionRecord};

/// Persistence of state machines, executions and their histories.
// Inserts answer with the existing record (what the caller needs for idempotency checks).
#[allow(clippy::result_large_err)]
pub trait Store: Send + Sync {
    /// Insert `record` unless its ARN exists: then return the existing one.
    fn insert_state_machine(&self, record: StateMachineRecord) -> Result<(), StateMachineRecord>;
    fn get_state_machine(&self, arn: &str) -> Option<StateMachineRecord>;
    /// [`get_state_machine`](Self::get_state_machine), telling a failed
    /// read (a durable store on a full disk) from no such state machine.
    fn read_state_machine(&self, arn: &str) -> Result<Option<StateMachineRecord>, stepbox_store::StoreError> {
        Ok(self.get_state_machine(arn))
    }
    /// Replace an existing record; false when there is none.
    fn update_state_machine(&self, record: StateMachineRecord) -> bool;
    /// Delete a state machine with its versions and aliases; false when there is none.
    fn delete_state_machine(&self, arn: &str) -> bool;
    /// All state machines, oldest first.
    fn list_state_machines(&self) -> Vec<StateMachineRecord>;

    /// Publish `candidate` as its state machine's next version (the store assigns
    /// `number` and `arn`), unless a version of the same revision exists: then
    /// return that one. The flag says whether a version was created.
    fn publish_version(&self, candidate: VersionRecord) -> (VersionRecord, bool);
    fn get_version(&self, arn: &str) -> Option<VersionRecord>;
    /// A state machine's versions, newest first.
    fn list_versions(&self, state_machine_arn: &str) -> Vec<VersionRecord>;
    fn delete_version(&self, arn: &str) -> bool;

    /// Insert `record` unless its ARN exists: then return the existing one.
    fn insert_alias(&self, record: AliasRecord) -> Result<(), AliasRecord>;
    fn get_alias(&self, arn: &str) -> Option<AliasRecord>;
    /// Replace an existing alias; false when there is none.
    fn update_alias(&self, record: AliasRecord) -> bool;
    fn delete_alias(&self, arn: &str) -> bool;
    /// A state machine's aliases, oldest first.
    fn list_aliases(&self, state_machine_arn: &str) -> Vec<AliasRecord>;

    /// Insert `record` unless its ARN exists: then return the existing one.
    fn insert_execution(&self, record: ExecutionRecord) -> Result<(), ExecutionRecord>;
    fn get_execution(&self, arn: &str) -> Option<ExecutionRecord>;
    /// [`get_execution`](Self::get_execution), telling a failed read (a
    /// durable store on a full disk) from no such execution.
    fn read_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, stepbox_store::StoreError> {
        Ok(self.get_execution(arn))
    }
    /// Apply `change` to the execution; false when there is none.
    fn update_execution(&self, arn: &str, change: &mut dyn FnMut(&mut ExecutionRecord)) -> bool;
    /// A page of a state machine's executions, newest first: up to `limit`
    /// that `keep` accepts, below the cursor `before` (None: from the
    /// newest). Returns them and, when more may follow, the cursor of the
    /// next page: executions started meanwhile never shift or repeat in it.
    fn list_executions_page(
        &self,
        state_machine_arn: &str,
        before: Option<u64>,
        limit: usize,
        keep: &mut dyn FnMut(&ExecutionRecord) -> bool,
    ) -> (Vec<ExecutionRecord>, Option<u64>);
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
    /// Versions per state machine, oldest first.
    versions: HashMap<String, Vec<VersionRecord>>,
    /// The last version number handed out per state machine.
    version_counters: HashMap<String, u64>,
    aliases: Vec<AliasRecord>,
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
        t.versions.remove(arn);
        t.version_counters.remove(arn);
        t.aliases.retain(|a| a.state_machine_arn != arn);
        before != t.state_machines.len()
    }

    fn list_state_machines(&self) -> Vec<StateMachineRecord> {
        self.lock().state_machines.clone()
    }

    fn publish_version(&self, mut candidate: VersionRecord) -> (VersionRecord, bool) {
        let mut t = self.lock();
        let machine = candidate.state_machine_arn.clone();
        if let Some(existing) =
            t.versions.get(&machine).and_then(|vs| vs.iter().find(|v| v.revision_id == candidate.revision_id))
        {
            return (existing.clone(), false);
        }
        let counter = t.version_counters.entry(machine.clone()).or_insert(0);
        *counter += 1;
        candidate.number = *counter;
        candidate.arn = format!("{machine}:{}", candidate.number);
        t.versions.entry(machine).or_default().push(candidate.clone());
        (candidate, true)
    }

    fn get_version(&self, arn: &str) -> Option<VersionRecord> {
        let (machine, _) = arn.rsplit_once(':')?;
        self.lock().versions.get(machine)?.iter().find(|v| v.arn == arn).cloned()
    }

    fn list_versions(&self, state_machine_arn: &str) -> Vec<VersionRecord> {
        self.lock().versions.get(state_machine_arn).map(|vs| vs.iter().rev().cloned().collect()).unwrap_or_default()
    }

    fn delete_version(&self, arn: &str) -> bool {
        let Some((machine, _)) = arn.rsplit_once(':') else { return false };
        let mut t = self.lock();
        let Some(versions) = t.versions.get_mut(machine) else { return false };
        let before = versions.len();
        versions.retain(|v| v.arn != arn);
        before != versions.len()
    }

    fn insert_alias(&self, record: AliasRecord) -> Result<(), AliasRecord> {
        let mut t = self.lock();
        if let Some(existing) = t.aliases.iter().find(|a| a.arn == record.arn) {
            return Err(existing.clone());
        }
        t.aliases.push(record);
        Ok(())
    }

    fn get_alias(&self, arn: &str) -> Option<AliasRecord> {
        self.lock().aliases.iter().find(|a| a.arn == arn).cloned()
    }

    fn update_alias(&self, record: AliasRecord) -> bool {
        let mut t = self.lock();
        match t.aliases.iter_mut().find(|a| a.arn == record.arn) {
            Some(slot) => {
                *slot = record;
                true
            }
            None => false,
        }
    }

    fn delete_alias(&self, arn: &str) -> bool {
        let mut t = self.lock();
        let before = t.aliases.len();
        t.aliases.retain(|a| a.arn != arn);
        before != t.aliases.len()
    }

    fn list_aliases(&self, state_machine_arn: &str) -> Vec<AliasRecord> {
        self.lock().aliases.iter().filter(|a| a.state_machine_arn == state_machine_arn).cloned().collect()
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

    /// The cursor is a position in the state machine's start order.
    fn list_executions_page(
        &self,
        state_machine_arn: &str,
        before: Option<u64>,
        limit: usize,
        keep: &mut dyn FnMut(&ExecutionRecord) -> bool,
    ) -> (Vec<ExecutionRecord>, Option<u64>) {
        let t = self.lock();
        let Some(arns) = t.by_machine.get(state_machine_arn) else {
            return (Vec::new(), None);
        };
        let end = before.map_or(arns.len(), |b| (b as usize).min(arns.len()));
        let mut out = Vec::new();
        for position in (0..end).rev() {
            if let Some(record) = t.executions.get(&arns[position]).filter(|r| keep(r)) {
                out.push(record.clone());
                if out.len() >= limit {
                    return (out, (position > 0).then_some(position as u64));
                }
            }
        }
        (out, None)
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
