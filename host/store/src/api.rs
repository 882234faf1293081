//! The storage API the server uses: async traits per concern, every call a
//! `Result<_, StoreError>`, over the one set of record types.
//!
//! [`Store`] (redb or memory, over a [`Backend`](crate::Backend)) implements
//! them all; another store (a database server, say) implements the same
//! traits. A write is made when its future is awaited (or, for the few
//! calls that answer a [`Commit`], when called); it resolves once durable.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use stepbox_engine::{Checkpoint, HistoryEvent, HistorySink};

use crate::backend::Table;
use crate::journal::{Begun, ExecutionJournal};
use crate::records::*;
use crate::store::{Commit, Store, decode, encode};
use crate::StoreError;

type R<T> = Result<T, StoreError>;

/// The account field of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:…`).
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|_| arn.starts_with("arn:"))
}

/// A change of an execution record, applied where the record is (in the
/// writer, for a store with one).
pub type Change = Box<dyn FnOnce(&mut ExecutionRecord) + Send>;
/// A change a journal's close may apply more than once (to the record as
/// the journal knew it, then to the stored one if that changed meanwhile).
pub type CloseChange = Box<dyn Fn(&mut ExecutionRecord) + Send>;

/// State machines with their versions and aliases.
#[async_trait]
pub trait StateMachines: Send + Sync {
    /// Inserts unless the ARN exists: then answers the existing record.
    async fn insert_state_machine(&self, record: StateMachineRecord) -> R<Result<(), StateMachineRecord>>;
    async fn get_state_machine(&self, arn: &str) -> R<Option<StateMachineRecord>>;
    /// Replaces an existing record; false when there is none.
    async fn update_state_machine(&self, record: StateMachineRecord) -> R<bool>;
    /// Deletes the state machine with its tags, versions and aliases (its
    /// executions stay); false when there was none.
    async fn delete_state_machine(&self, arn: &str) -> R<bool>;
    /// All state machines, oldest first.
    async fn list_state_machines(&self) -> R<Vec<StateMachineRecord>>;
    /// The state machines of `account` (their ARNs' account), oldest first:
    /// what one tenant of several sees.
    async fn list_state_machines_in(&self, account: &str) -> R<Vec<StateMachineRecord>> {
        let all = self.list_state_machines().await?;
        Ok(all.into_iter().filter(|r| arn_account(&r.arn) == Some(account)).collect())
    }

    /// Publishes `candidate` as its state machine's next version (assigning
    /// `number` and `arn`; numbers are never reused), unless a version of
    /// the same revision exists: then answers that one. The flag: created.
    async fn publish_version(&self, candidate: VersionRecord) -> R<(VersionRecord, bool)>;
    async fn get_version(&self, arn: &str) -> R<Option<VersionRecord>>;
    /// A state machine's versions, highest first.
    async fn list_versions(&self, state_machine_arn: &str) -> R<Vec<VersionRecord>>;
    async fn delete_version(&self, arn: &str) -> R<bool>;

    /// Inserts unless the ARN exists: then answers the existing record.
    async fn insert_alias(&self, record: AliasRecord) -> R<Result<(), AliasRecord>>;
    async fn get_alias(&self, arn: &str) -> R<Option<AliasRecord>>;
    /// Replaces an existing alias; false when there is none.
    async fn update_alias(&self, record: AliasRecord) -> R<bool>;
    async fn delete_alias(&self, arn: &str) -> R<bool>;
    /// A state machine's aliases, oldest first.
    async fn list_aliases(&self, state_machine_arn: &str) -> R<Vec<AliasRecord>>;
}

/// The history sink of one execution, which also closes it.
pub trait Journal: HistorySink {
    /// Writes what is pending, then applies `change` to the record, in one
    /// write; resolves with the changed record (None: no such execution).
    fn close(&self, change: CloseChange) -> Commit<Option<ExecutionRecord>>;
    /// [`close`](Self::close) with nobody waiting: a failure is logged and
    /// handed to `failed`.
    fn close_or_else(&self, change: CloseChange, failed: Box<dyn FnOnce(&StoreError) + Send>);
}

/// Executions with their histories, checkpoints and timers (`wake_at`).
#[async_trait]
pub trait Executions: Send + Sync {
    /// Starts recording a new execution (StartExecution's path: see
    /// [`ExecutionJournal::begin`]). Synchronous: it queues, never waits.
    fn begin(&self, record: ExecutionRecord) -> R<Begun<Arc<dyn Journal>>>;
    /// The journal of a recorded execution: `known` is the record as its
    /// caller just inserted it (None: a resumed one).
    fn journal(&self, arn: &str, known: Option<ExecutionRecord>) -> Arc<dyn Journal>;

    /// Inserts unless the ARN exists: then answers the existing record.
    async fn insert_execution(&self, record: ExecutionRecord) -> R<Result<(), ExecutionRecord>>;
    async fn get_execution(&self, arn: &str) -> R<Option<ExecutionRecord>>;
    /// Applies `change` to the execution and answers the result (None: no such execution).
    async fn update_execution(&self, arn: &str, change: Change) -> R<Option<ExecutionRecord>>;
    /// A page of a state machine's executions, newest first: up to `limit`
    /// that `keep` accepts, below the cursor `before` (None: from the
    /// newest); with the cursor of the next page when more may follow.
    async fn list_executions_page(
        &self,
        state_machine_arn: &str,
        before: Option<u64>,
        limit: usize,
        keep: &mut (dyn for<'r> FnMut(&'r ExecutionRecord) -> bool + Send),
    ) -> R<(Vec<ExecutionRecord>, Option<u64>)>;
    /// Every RUNNING Standard execution (what a restart resumes).
    async fn running_executions(&self) -> R<Vec<ExecutionRecord>>;

    async fn append_event(&self, execution_arn: &str, event: &HistoryEvent) -> R<()>;
    /// The execution's events ordered by id.
    async fn history(&self, execution_arn: &str) -> R<Vec<HistoryEvent>>;
    /// The largest event id recorded (0: none).
    async fn last_event_id(&self, execution_arn: &str) -> R<u64>;
    /// The event with the largest id (its terminal event, once recorded).
    async fn last_event(&self, execution_arn: &str) -> R<Option<HistoryEvent>>;
    /// The latest engine checkpoint of a RUNNING execution.
    async fn checkpoint(&self, execution_arn: &str) -> R<Option<Checkpoint>>;
    /// Replaces the execution's checkpoint and all its parts with
    /// `checkpoint` and its [`parts`](Checkpoint::parts) (see [`Store::save_checkpoint`]).
    async fn save_checkpoint(&self, execution_arn: &str, checkpoint: &Checkpoint) -> R<()>;
    /// Keeps each `(execution ARN, invocation)` with its execution (see
    /// [`Store::add_invocations`]). Synchronous: it queues, never waits.
    fn add_invocations(&self, batch: Vec<(String, Value)>) -> Commit<()>;
    /// The invocations kept for an execution, oldest first (None: no such
    /// execution here).
    async fn invocations(&self, execution_arn: &str) -> R<Option<Vec<Value>>>;

    /// Deletes closed executions that stopped before `cutoff`, with their
    /// histories; answers how many.
    async fn purge_closed_before(&self, cutoff: DateTime<Utc>) -> R<usize>;
    /// Deletes what writes left to delete in writes of their own (a big
    /// Map's finished parts: see [`Store::sweep_marked`]); answers how many
    /// prefixes it finished (0, after one read, when none is left).
    async fn sweep_marked(&self) -> R<usize>;

    /// Records a map run as it is now (it goes with its execution).
    async fn put_map_run(&self, record: &MapRunRecord) -> R<()>;
    async fn get_map_run(&self, arn: &str) -> R<Option<MapRunRecord>>;
    /// The map runs an execution started, oldest first.
    async fn map_runs_of(&self, execution_arn: &str) -> R<Vec<MapRunRecord>>;
}

/// Lambda functions with their code, published versions and aliases, and
/// precompiled artifacts.
#[async_trait]
pub trait Functions: Send + Sync {
    /// Stores the function and its wasm bytes together.
    async fn put_function(&self, record: &FunctionRecord, wasm: Arc<[u8]>) -> R<()>;
    /// Replaces the function's record, keeping its code.
    async fn put_function_record(&self, record: &FunctionRecord) -> R<()>;
    async fn get_function(&self, name: &str) -> R<Option<FunctionRecord>>;
    /// The wasm of a function (`NAME`) or of a published version (`NAME:N`).
    async fn function_code(&self, name: &str) -> R<Option<Vec<u8>>>;
    /// All functions, by name.
    async fn list_functions(&self) -> R<Vec<FunctionRecord>>;
    async fn delete_function(&self, name: &str) -> R<bool>;

    /// Replaces what was published for `function` (versions and aliases, the
    /// server's own shape), storing `codes` (`NAME:N`, wasm) beside it.
    async fn put_function_versions(&self, function: &str, published: &Value, codes: Vec<(String, Arc<[u8]>)>) -> R<()>;
    /// Every function's published versions and aliases, by function name.
    async fn function_versions(&self) -> R<Vec<(String, Value)>>;
    /// Deletes a function's versions with their code (`NAME:1`…`NAME:last`).
    async fn delete_function_versions(&self, function: &str, last: u64) -> R<()>;

    /// A precompiled artifact (keyed by the caller: wasm hash + engine hash).
    async fn put_artifact(&self, key: &str, bytes: Arc<[u8]>) -> R<()>;
    async fn artifact(&self, key: &str) -> R<Option<Vec<u8>>>;
    /// The keys of every stored artifact, in order.
    async fn artifact_keys(&self) -> R<Vec<String>>;
    /// Deletes every artifact whose key is not in `keep`; answers how many.
    async fn delete_artifacts_except(&self, keep: BTreeSet<String>) -> R<usize>;
}

/// Activities and the task tokens handed out to callbacks and workers.
#[async_trait]
pub trait Activities: Send + Sync {
    async fn put_activity(&self, record: &ActivityRecord) -> R<()>;
    async fn delete_activity(&self, arn: &str) -> R<bool>;
    async fn list_activities(&self) -> R<Vec<ActivityRecord>>;

    async fn put_task_token(&self, record: &TaskTokenRecord) -> R<()>;
    async fn get_task_token(&self, token: &str) -> R<Option<TaskTokenRecord>>;
    /// Consumes a token: answers it if it was there (exactly one caller wins).
    async fn take_task_token(&self, token: &str) -> R<Option<TaskTokenRecord>>;
    /// Every outstanding token.
    async fn task_tokens(&self) -> R<Vec<TaskTokenRecord>>;
}

/// Resource tags.
#[async_trait]
pub trait Tags: Send + Sync {
    /// Adds or overwrites tags of a resource (new keys after the others).
    async fn tag(&self, arn: &str, tags: &[(String, String)]) -> R<()>;
    async fn untag(&self, arn: &str, keys: &[String]) -> R<()>;
    /// A resource's tags, in the order they were first set.
    async fn tags(&self, arn: &str) -> R<Vec<(String, String)>>;
}

/// Everything a server keeps: one value implementing every concern.
#[async_trait]
pub trait Stores: StateMachines + Executions + Functions + Activities + Tags + crate::Items {
    /// Short description for logs (`redb at PATH`, `memory`).
    fn describe(&self) -> String;
    /// Whether what it holds outlives the process (a restart resumes its
    /// RUNNING executions and registers its functions again).
    fn persistent(&self) -> bool;
    /// Whether other hosts may write the same database (PostgreSQL): what
    /// one host created, another sees.
    fn shared(&self) -> bool {
        false
    }
    /// Whether this host owns running execution `arn` (always, unless
    /// shared: then through a lease).
    fn holds(&self, _arn: &str) -> bool {
        true
    }
    /// How long a lease lasts unless renewed (None: not shared).
    fn lease(&self) -> Option<std::time::Duration> {
        None
    }
    /// What wakes this host's waiters when other hosts notify it (None: not shared).
    fn wakeups(&self) -> Option<Arc<crate::Wakeups>> {
        None
    }
    /// Forgets the leases another host took over, answering their
    /// executions (see [`Store::check_leases`]).
    async fn check_leases(&self) -> R<Vec<String>> {
        Ok(Vec::new())
    }
    /// Takes over the executions of hosts whose leases expired (see [`Store::take_over`]).
    async fn take_over(&self) -> R<Vec<ExecutionRecord>> {
        Ok(Vec::new())
    }
    /// Sends `request` to the host running execution `arn` and answers its
    /// answer (None: handle it here; see [`Store::route`]).
    async fn route(&self, _arn: &str, _request: &str) -> R<Option<String>> {
        Ok(None)
    }
    /// Requests other hosts sent this one: (id, request).
    async fn requests(&self) -> R<Vec<(i64, String)>> {
        Ok(Vec::new())
    }
    async fn answer_request(&self, _id: i64, _answer: &str) -> R<()> {
        Ok(())
    }
    /// Records the answer to a task token of running execution `arn`
    /// under this host's lease (see [`Store::record_answer`]).
    async fn record_answer(&self, arn: &str, _token: &str, _signal: &str) -> R<()> {
        Err(StoreError::NotOwner(arn.to_string()))
    }
    /// The task token answers recorded for running execution `arn`.
    async fn answers(&self, _arn: &str) -> R<Vec<(String, String)>> {
        Ok(Vec::new())
    }
    async fn forget_answer(&self, _token: &str) -> R<()> {
        Ok(())
    }
    /// Offers an activity task to the workers of every host (not waited
    /// for; see [`Store::offer_activity_task`]). Nothing unless shared.
    fn offer_activity_task(&self, _activity: &str, _token: &str, _input: &str) {}
    /// Withdraws an activity task this host offered that no worker took
    /// (not waited for). Nothing unless shared.
    fn withdraw_activity_task(&self, _token: &str) {}
    /// Claims the oldest activity task of `activity` any host offered:
    /// (token, input), each claimed once. None unless shared.
    async fn claim_activity_task(&self, _activity: &str) -> R<Option<(String, String)>> {
        Ok(None)
    }
    /// Whether the last write failed and none succeeded since (a full disk).
    /// On a database several hosts share: every function's revision unless
    /// their digest is still `seen` (see
    /// [`Leases::function_revisions`](crate::Leases::function_revisions)).
    async fn function_revisions(&self, _seen: crate::Revisions) -> R<Option<(crate::Revisions, Vec<(String, i64)>)>> {
        Ok(None)
    }
    fn writes_failing(&self) -> bool;
    /// How long writes took from their submission until durable.
    fn commit_latency(&self) -> crate::LatencySnapshot {
        crate::LatencySnapshot::default()
    }
    /// Resolves once a (tiny) write is durable: whether the store writes now.
    async fn check_writable(&self) -> R<()>;
}

#[async_trait]
impl StateMachines for Store {
    async fn insert_state_machine(&self, record: StateMachineRecord) -> R<Result<(), StateMachineRecord>> {
        Store::insert_state_machine(self, record).await
    }
    async fn get_state_machine(&self, arn: &str) -> R<Option<StateMachineRecord>> {
        Store::get_state_machine(self, arn)
    }
    async fn update_state_machine(&self, record: StateMachineRecord) -> R<bool> {
        Store::update_state_machine(self, record).await
    }
    async fn delete_state_machine(&self, arn: &str) -> R<bool> {
        Store::delete_state_machine(self, arn).await
    }
    async fn list_state_machines(&self) -> R<Vec<StateMachineRecord>> {
        Store::list_state_machines(self)
    }
    async fn publish_version(&self, candidate: VersionRecord) -> R<(VersionRecord, bool)> {
        Store::publish_version(self, candidate).await
    }
    async fn get_version(&self, arn: &str) -> R<Option<VersionRecord>> {
        Store::get_version(self, arn)
    }
    async fn list_versions(&self, state_machine_arn: &str) -> R<Vec<VersionRecord>> {
        Store::list_versions(self, state_machine_arn)
    }
    async fn delete_version(&self, arn: &str) -> R<bool> {
        Store::delete_version(self, arn).await
    }
    async fn insert_alias(&self, record: AliasRecord) -> R<Result<(), AliasRecord>> {
        Store::insert_alias(self, record).await
    }
    async fn get_alias(&self, arn: &str) -> R<Option<AliasRecord>> {
        Store::get_alias(self, arn)
    }
    async fn update_alias(&self, record: AliasRecord) -> R<bool> {
        Store::update_alias(self, record).await
    }
    async fn delete_alias(&self, arn: &str) -> R<bool> {
        Store::delete_alias(self, arn).await
    }
    async fn list_aliases(&self, state_machine_arn: &str) -> R<Vec<AliasRecord>> {
        Store::list_aliases(self, state_machine_arn)
    }
}

impl Journal for ExecutionJournal {
    fn close(&self, change: CloseChange) -> Commit<Option<ExecutionRecord>> {
        self.close_boxed(change)
    }
    fn close_or_else(&self, change: CloseChange, failed: Box<dyn FnOnce(&StoreError) + Send>) {
        self.close_or_else_boxed(change, failed)
    }
}

#[async_trait]
impl Executions for Store {
    fn begin(&self, record: ExecutionRecord) -> R<Begun<Arc<dyn Journal>>> {
        Ok(match ExecutionJournal::begin(self, record)? {
            Begun::Exists(stored) => Begun::Exists(stored),
            Begun::Behind(inserted) => Begun::Behind(inserted),
            Begun::Recording { journal, recorded } => Begun::Recording { journal: Arc::new(journal), recorded },
        })
    }
    fn journal(&self, arn: &str, known: Option<ExecutionRecord>) -> Arc<dyn Journal> {
        Arc::new(match known {
            Some(record) => ExecutionJournal::started(self.clone(), record),
            None => ExecutionJournal::new(self.clone(), arn),
        })
    }
    async fn insert_execution(&self, record: ExecutionRecord) -> R<Result<(), ExecutionRecord>> {
        Store::insert_execution(self, record).await
    }
    async fn get_execution(&self, arn: &str) -> R<Option<ExecutionRecord>> {
        Store::get_execution(self, arn)
    }
    async fn update_execution(&self, arn: &str, change: Change) -> R<Option<ExecutionRecord>> {
        Store::update_execution(self, arn, change).await
    }
    async fn list_executions_page(
        &self,
        state_machine_arn: &str,
        before: Option<u64>,
        limit: usize,
        keep: &mut (dyn for<'r> FnMut(&'r ExecutionRecord) -> bool + Send),
    ) -> R<(Vec<ExecutionRecord>, Option<u64>)> {
        Store::list_executions_page(self, state_machine_arn, before, limit, &mut |r| keep(r))
    }
    async fn running_executions(&self) -> R<Vec<ExecutionRecord>> {
        Store::running_executions(self)
    }
    async fn append_event(&self, execution_arn: &str, event: &HistoryEvent) -> R<()> {
        Store::append_event(self, execution_arn, event).await
    }
    async fn history(&self, execution_arn: &str) -> R<Vec<HistoryEvent>> {
        Store::history(self, execution_arn)
    }
    async fn last_event_id(&self, execution_arn: &str) -> R<u64> {
        Store::last_event_id(self, execution_arn)
    }
    async fn last_event(&self, execution_arn: &str) -> R<Option<HistoryEvent>> {
        Store::last_event(self, execution_arn)
    }
    async fn checkpoint(&self, execution_arn: &str) -> R<Option<Checkpoint>> {
        Store::checkpoint(self, execution_arn)
    }
    async fn save_checkpoint(&self, execution_arn: &str, checkpoint: &Checkpoint) -> R<()> {
        Store::save_checkpoint(self, execution_arn, checkpoint).await
    }
    fn add_invocations(&self, batch: Vec<(String, Value)>) -> Commit<()> {
        Store::add_invocations(self, batch)
    }
    async fn invocations(&self, execution_arn: &str) -> R<Option<Vec<Value>>> {
        Store::invocations(self, execution_arn)
    }
    async fn purge_closed_before(&self, cutoff: DateTime<Utc>) -> R<usize> {
        Store::purge_closed_before(self, cutoff).await
    }
    async fn sweep_marked(&self) -> R<usize> {
        Store::sweep_marked(self).await
    }
    async fn put_map_run(&self, record: &MapRunRecord) -> R<()> {
        Store::put_map_run(self, record).await
    }
    async fn get_map_run(&self, arn: &str) -> R<Option<MapRunRecord>> {
        Store::get_map_run(self, arn)
    }
    async fn map_runs_of(&self, execution_arn: &str) -> R<Vec<MapRunRecord>> {
        Store::map_runs_of(self, execution_arn)
    }
}

#[async_trait]
impl Functions for Store {
    async fn put_function(&self, record: &FunctionRecord, wasm: Arc<[u8]>) -> R<()> {
        Store::put_function(self, record, wasm).await
    }
    async fn put_function_record(&self, record: &FunctionRecord) -> R<()> {
        Store::put_function_record(self, record).await
    }
    async fn get_function(&self, name: &str) -> R<Option<FunctionRecord>> {
        Store::get_function(self, name)
    }
    async fn function_code(&self, name: &str) -> R<Option<Vec<u8>>> {
        Store::function_code(self, name)
    }
    async fn list_functions(&self) -> R<Vec<FunctionRecord>> {
        Store::list_functions(self)
    }
    async fn delete_function(&self, name: &str) -> R<bool> {
        Store::delete_function(self, name).await
    }
    async fn put_function_versions(&self, function: &str, published: &Value, codes: Vec<(String, Arc<[u8]>)>) -> R<()> {
        Store::put_function_versions(self, function, published, codes).await
    }
    async fn function_versions(&self) -> R<Vec<(String, Value)>> {
        Store::function_versions(self)
    }
    async fn delete_function_versions(&self, function: &str, last: u64) -> R<()> {
        Store::delete_function_versions(self, function, last).await
    }
    async fn put_artifact(&self, key: &str, bytes: Arc<[u8]>) -> R<()> {
        Store::put_artifact(self, key, bytes).await
    }
    async fn artifact(&self, key: &str) -> R<Option<Vec<u8>>> {
        Store::artifact(self, key)
    }
    async fn artifact_keys(&self) -> R<Vec<String>> {
        Store::artifact_keys(self)
    }
    async fn delete_artifacts_except(&self, keep: BTreeSet<String>) -> R<usize> {
        Store::delete_artifacts_except(self, keep).await
    }
}

#[async_trait]
impl Activities for Store {
    async fn put_activity(&self, record: &ActivityRecord) -> R<()> {
        Store::put_activity(self, record).await
    }
    async fn delete_activity(&self, arn: &str) -> R<bool> {
        Store::delete_activity(self, arn).await
    }
    async fn list_activities(&self) -> R<Vec<ActivityRecord>> {
        Store::list_activities(self)
    }
    async fn put_task_token(&self, record: &TaskTokenRecord) -> R<()> {
        Store::put_task_token(self, record).await
    }
    async fn get_task_token(&self, token: &str) -> R<Option<TaskTokenRecord>> {
        Store::get_task_token(self, token)
    }
    async fn take_task_token(&self, token: &str) -> R<Option<TaskTokenRecord>> {
        Store::take_task_token(self, token).await
    }
    async fn task_tokens(&self) -> R<Vec<TaskTokenRecord>> {
        Store::task_tokens(self)
    }
}

#[async_trait]
impl Tags for Store {
    async fn tag(&self, arn: &str, tags: &[(String, String)]) -> R<()> {
        let (key, tags) = (arn.as_bytes().to_vec(), tags.to_vec());
        self.submit(move |w| {
            let mut list: Vec<(String, String)> = match w.get(Table::Tags, &key)? {
                Some(b) => decode("tags", &b)?,
                None => Vec::new(),
            };
            for (k, v) in tags {
                match list.iter_mut().find(|(key, _)| *key == k) {
                    Some(slot) => slot.1 = v,
                    None => list.push((k, v)),
                }
            }
            w.put(Table::Tags, &key, &encode(&list)?)
        })
        .await
    }
    async fn untag(&self, arn: &str, keys: &[String]) -> R<()> {
        let (key, keys) = (arn.as_bytes().to_vec(), keys.to_vec());
        self.submit(move |w| {
            let Some(b) = w.get(Table::Tags, &key)? else { return Ok(()) };
            let mut list: Vec<(String, String)> = decode("tags", &b)?;
            list.retain(|(k, _)| !keys.contains(k));
            w.put(Table::Tags, &key, &encode(&list)?)
        })
        .await
    }
    async fn tags(&self, arn: &str) -> R<Vec<(String, String)>> {
        Store::tags(self, arn)
    }
}

#[async_trait]
impl Stores for Store {
    fn describe(&self) -> String {
        Store::describe(self)
    }
    fn persistent(&self) -> bool {
        Store::persistent(self)
    }
    fn shared(&self) -> bool {
        Store::shared(self)
    }
    fn holds(&self, arn: &str) -> bool {
        Store::holds(self, arn)
    }
    fn lease(&self) -> Option<std::time::Duration> {
        Store::lease(self)
    }
    fn wakeups(&self) -> Option<Arc<crate::Wakeups>> {
        Store::wakeups(self)
    }
    async fn check_leases(&self) -> R<Vec<String>> {
        Store::check_leases(self)
    }
    async fn take_over(&self) -> R<Vec<ExecutionRecord>> {
        Store::take_over(self)
    }
    async fn route(&self, arn: &str, request: &str) -> R<Option<String>> {
        Store::route(self, arn, request).await
    }
    async fn requests(&self) -> R<Vec<(i64, String)>> {
        Store::requests(self)
    }
    async fn answer_request(&self, id: i64, answer: &str) -> R<()> {
        Store::answer_request(self, id, answer)
    }
    async fn record_answer(&self, arn: &str, token: &str, signal: &str) -> R<()> {
        Store::record_answer(self, arn, token, signal).await
    }
    async fn answers(&self, arn: &str) -> R<Vec<(String, String)>> {
        Store::answers(self, arn)
    }
    async fn forget_answer(&self, token: &str) -> R<()> {
        Store::forget_answer(self, token)
    }
    fn offer_activity_task(&self, activity: &str, token: &str, input: &str) {
        Store::offer_activity_task(self, activity, token, input)
    }
    fn withdraw_activity_task(&self, token: &str) {
        Store::withdraw_activity_task(self, token)
    }
    async fn claim_activity_task(&self, activity: &str) -> R<Option<(String, String)>> {
        Store::claim_activity_task(self, activity)
    }
    async fn function_revisions(&self, seen: crate::Revisions) -> R<Option<(crate::Revisions, Vec<(String, i64)>)>> {
        Store::function_revisions(self, seen)
    }
    fn writes_failing(&self) -> bool {
        Store::writes_failing(self)
    }
    fn commit_latency(&self) -> crate::LatencySnapshot {
        Store::commit_latency(self)
    }
    async fn check_writable(&self) -> R<()> {
        Store::check_writable(self).await
    }
}
