//! Which running executions this host owns, on a database several hosts
//! share (see [`Leases`](crate::Leases)): every write of an execution's
//! journal carries the epoch held here and is refused once another host
//! took the lease over.

use super::*;

/// Execution ARN → (number, epoch) of the leases this host holds.
#[derive(Default)]
pub(crate) struct Held(Mutex<std::collections::HashMap<Box<str>, (u64, u64)>>);

impl Held {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<Box<str>, (u64, u64)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn hold(&self, arn: &str, seq: u64, epoch: u64) {
        self.lock().insert(arn.into(), (seq, epoch));
    }
    pub(crate) fn release(&self, arn: &str) {
        self.lock().remove(arn);
    }
    /// Releases `arn` unless this host took it again since (at a later epoch).
    fn release_at(&self, arn: &str, epoch: u64) {
        let mut held = self.lock();
        if held.get(arn).is_some_and(|&(_, e)| e == epoch) {
            held.remove(arn);
        }
    }
    pub(crate) fn get(&self, arn: &str) -> Option<(u64, u64)> {
        self.lock().get(arn).copied()
    }
}

/// Most leases one takeover takes (the rest at the next one).
const TAKE_AT_ONCE: usize = 256;

/// How long a routed request's sender waits for an answer in all.
const ROUTE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl Store {
    /// Whether this host owns execution `arn` (always, where one host writes).
    pub fn holds(&self, arn: &str) -> bool {
        !self.shared || self.held.get(arn).is_some()
    }

    /// The epoch at which this host holds execution `arn`'s lease (0: none,
    /// or one host writes): a journal opened now writes at that epoch.
    pub(crate) fn epoch_of(&self, arn: &str) -> u64 {
        if !self.shared {
            return 0;
        }
        self.held.get(arn).map_or(0, |(_, epoch)| epoch)
    }

    /// Stops renewing this host's liveness, as if it had died: other
    /// hosts take its executions over once its lease expired (tests).
    #[doc(hidden)]
    pub fn stop_renewing(&self) {
        if let Some(leases) = self.backend.leases() {
            leases.stop_renewing();
        }
    }

    /// What wakes this host's waiters (None: one host writes).
    pub fn wakeups(&self) -> Option<Arc<crate::backend::Wakeups>> {
        self.backend.leases().map(|l| l.wakeups())
    }

    /// How long a lease lasts unless renewed (None: one host writes).
    pub fn lease(&self) -> Option<std::time::Duration> {
        self.backend.leases().map(|l| l.duration())
    }

    /// Inside the writer: refuses a write of execution `arn`'s journal
    /// unless this host still holds its lease at the journal's `epoch` (0:
    /// the epoch held now, which the journal keeps). A run of an earlier
    /// epoch (this host lost the lease and took it again since, while that
    /// run still went on) is refused too: only the run resumed at the
    /// epoch held writes.
    pub(crate) fn check_lease(&self, w: &mut dyn Write, arn: &str, epoch: &AtomicU64) -> Result<(), StoreError> {
        let not_owner = || StoreError::NotOwner(arn.to_string());
        let Some((seq, held)) = self.held.get(arn) else { return Err(not_owner()) };
        let mine = match epoch.load(Ordering::Relaxed) {
            0 => {
                epoch.store(held, Ordering::Relaxed);
                held
            }
            e => e,
        };
        if mine != held {
            return Err(not_owner());
        }
        if w.lease_check(&keys::execution(seq), mine)? {
            return Ok(());
        }
        self.held.release_at(arn, mine);
        Err(not_owner())
    }

    /// Forgets the leases another host took over, answering their
    /// executions (a run of one still going on here can write nothing more).
    pub fn check_leases(&self) -> Result<Vec<String>, StoreError> {
        let Some(leases) = self.backend.leases() else { return Ok(Vec::new()) };
        let held: Vec<(Box<str>, u64, u64)> = self.held.lock().iter().map(|(a, &(s, e))| (a.clone(), s, e)).collect();
        let keys: Vec<Vec<u8>> = held.iter().map(|(_, seq, _)| keys::execution(*seq).to_vec()).collect();
        let found = leases.check(&keys)?;
        let mut lost = Vec::new();
        for (arn, seq, epoch) in held {
            let key = keys::execution(seq);
            // A lease not found is one being given (not committed yet) or ended.
            if found.iter().any(|(k, e, mine)| k.as_slice() == key && (!mine || *e != epoch)) {
                tracing::warn!(execution = %arn, "lease taken over by another host");
                self.held.release_at(&arn, epoch);
                lost.push(arn.into());
            }
        }
        Ok(lost)
    }

    /// Takes over the running executions whose owner's lease expired,
    /// answering their records (to be resumed as after a crash). A lease
    /// whose record cannot be read now is given up again, to be taken over
    /// at a later round (by this host or another): none is left owned by a
    /// live host that does not run it.
    pub fn take_over(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        let Some(leases) = self.backend.leases() else { return Ok(Vec::new()) };
        let taken = leases.take_expired(TAKE_AT_ONCE)?;
        let moved = !taken.is_empty();
        let mut resumed = Vec::new();
        for (key, epoch) in taken {
            let seq = sequence_of(&key);
            let record = self.read(|r| r.get(Table::Executions, &key)?.map(|b| executions::decode_in(r, &b)).transpose());
            match record {
                Ok(Some(record)) if record.is_running() => {
                    self.held.hold(&record.arn, seq, epoch);
                    resumed.push(record);
                }
                // Closed (or gone) meanwhile: the lease ends.
                Ok(_) => drop(self.submit(move |w| w.lease_drop(&key))),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read an execution taken over; giving its lease up");
                    if let Err(e) = leases.abandon(&key) {
                        tracing::warn!(error = %e, "cannot give up a lease (it expires with this host)");
                    }
                }
            }
        }
        // Once held here: a request routed here is applied, not sent back.
        if moved && let Err(e) = leases.moved() {
            tracing::warn!(error = %e, "cannot tell the other hosts that executions moved here");
        }
        Ok(resumed)
    }

    /// Inside the writer, on a shared database: an update that made
    /// execution `arn` run again (RedriveExecution) gives this host its lease.
    pub(crate) fn lease_reopened(&self, w: &mut dyn Write, arn: &str) -> Result<(), StoreError> {
        let Some(seq) = executions::sequence_in(w, None, arn)? else { return Ok(()) };
        let key = keys::execution(seq);
        w.put(Table::Running, &key, b"")?;
        if let Some(epoch) = w.lease_new(&key)? {
            self.held.hold(arn, seq, epoch);
        }
        Ok(())
    }

    /// Records `signal`, the answer to task token `token` of running
    /// execution `arn`, under the lease this host holds (refused with
    /// [`StoreError::NotOwner`] once another host took it over): durable
    /// before the answer is acknowledged, handed to the task by whichever
    /// host runs the execution next.
    pub fn record_answer(&self, arn: &str, token: &str, signal: &str) -> Commit<()> {
        let (arn, token, signal, store) = (arn.to_string(), token.to_string(), signal.to_string(), self.clone());
        self.submit(move |w| {
            let Some((seq, epoch)) = store.held.get(&arn) else { return Err(StoreError::NotOwner(arn)) };
            let key = keys::execution(seq);
            if !w.lease_check(&key, epoch)? {
                store.held.release_at(&arn, epoch);
                return Err(StoreError::NotOwner(arn));
            }
            w.answer_put(&key, &token, &signal)
        })
    }

    /// The task token answers recorded for running execution `arn`: (token, signal).
    pub fn answers(&self, arn: &str) -> Result<Vec<(String, String)>, StoreError> {
        let Some(leases) = self.backend.leases() else { return Ok(Vec::new()) };
        let Some(seq) = self.read(|r| executions::sequence_in(r, None, arn))? else { return Ok(Vec::new()) };
        leases.answers(&keys::execution(seq))
    }

    /// Every function's revision unless their digest is still `seen`
    /// (see [`Leases::function_revisions`](crate::Leases::function_revisions));
    /// None where one host writes.
    pub fn function_revisions(&self, seen: crate::Revisions) -> Result<Option<(crate::Revisions, Vec<(String, i64)>)>, StoreError> {
        match self.backend.leases() {
            Some(leases) => leases.function_revisions(seen),
            None => Ok(None),
        }
    }

    /// Deletes the answer recorded for `token` (its task refused it).
    pub fn forget_answer(&self, token: &str) -> Result<(), StoreError> {
        match self.backend.leases() {
            Some(leases) => leases.forget_answer(token),
            None => Ok(()),
        }
    }

    /// Sends `request` to the host that owns running execution `arn` and
    /// waits for its answer. None: this host owns it, or none does (it is
    /// not running): the caller handles the request here. Follows the
    /// execution when another host takes it over meanwhile.
    pub async fn route(&self, arn: &str, request: &str) -> Result<Option<String>, StoreError> {
        let Some(leases) = self.backend.leases() else { return Ok(None) };
        let Some(seq) = self.read(|r| executions::sequence_in(r, None, arn))? else { return Ok(None) };
        let key = keys::execution(seq);
        let mut host = match leases.owner(&key)? {
            Some((host, false)) => host,
            _ => return Ok(None),
        };
        let id = leases.send(&host, request)?;
        let wake = leases.wakeups();
        let started = std::time::Instant::now();
        loop {
            // Listening before looking: a notification sent meanwhile is not missed.
            let (answered, moved) = (wake.answers.notified(), wake.moved.notified());
            tokio::pin!(answered, moved);
            answered.as_mut().enable();
            moved.as_mut().enable();
            if let Some(answer) = leases.answer_to(id)? {
                return Ok(Some(answer));
            }
            if started.elapsed() > ROUTE_TIMEOUT {
                leases.withdraw(id)?;
                return Err(StoreError::Database(format!("the host running execution {arn} did not answer")));
            }
            // An answer (this one's or another's) is looked for at once; where
            // the execution runs, once leases moved, or at the slow fallback.
            let recheck = tokio::select! {
                _ = &mut answered => false,
                _ = &mut moved => true,
                _ = tokio::time::sleep(wake.fallback) => true,
            };
            if !recheck {
                continue;
            }
            match leases.owner(&key)? {
                Some((now, false)) if now != host => {
                    leases.readdress(id, &now)?;
                    host = now;
                }
                Some((_, false)) => {}
                // Taken over by this host, or closed: handled here.
                Some((_, true)) | None => {
                    leases.withdraw(id)?;
                    return Ok(None);
                }
            }
        }
    }

    /// The requests other hosts sent this one: (id, request).
    pub fn requests(&self) -> Result<Vec<(i64, String)>, StoreError> {
        match self.backend.leases() {
            Some(leases) => leases.requests(),
            None => Ok(Vec::new()),
        }
    }

    pub fn answer_request(&self, id: i64, answer: &str) -> Result<(), StoreError> {
        match self.backend.leases() {
            Some(leases) => leases.answer(id, answer),
            None => Ok(()),
        }
    }

    /// Offers activity task `token` (its `input`) to the workers of
    /// `activity` on every host of a shared database: queued with this
    /// host's writes (in order with the execution's events), not waited
    /// for; the hosts are notified once it commits. Nothing where one host
    /// writes (its activity queues are in memory).
    pub fn offer_activity_task(&self, activity: &str, token: &str, input: &str) {
        if !self.shared {
            return;
        }
        let (activity, token, input) = (activity.to_string(), token.to_string(), input.to_string());
        drop(self.submit(move |w| w.activity_offer(&activity, &token, &input)));
    }

    /// Withdraws activity task `token` if this host offered it and no
    /// worker took it yet (its state ended first); not waited for.
    pub fn withdraw_activity_task(&self, token: &str) {
        if !self.shared {
            return;
        }
        let token = token.to_string();
        drop(self.submit(move |w| w.activity_withdraw(&token)));
    }

    /// Claims the oldest activity task of `activity` offered by any host:
    /// (token, input); each is claimed once. None where one host writes.
    pub fn claim_activity_task(&self, activity: &str) -> Result<Option<(String, String)>, StoreError> {
        match self.backend.leases() {
            Some(leases) => leases.claim_activity_task(activity),
            None => Ok(None),
        }
    }
}
