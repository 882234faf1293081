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
    fn get(&self, arn: &str) -> Option<(u64, u64)> {
        self.lock().get(arn).copied()
    }
}

/// Most leases one takeover takes (the rest at the next one).
const TAKE_AT_ONCE: usize = 256;

/// How often a routed request's sender looks for its answer.
const ROUTE_POLL: std::time::Duration = std::time::Duration::from_millis(20);
/// How often it looks whether the execution's owner changed (a host died
/// and another took the execution over).
const ROUTE_RECHECK: std::time::Duration = std::time::Duration::from_millis(500);
/// How long it waits for an answer in all.
const ROUTE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl Store {
    /// Whether this host owns execution `arn` (always, where one host writes).
    pub fn holds(&self, arn: &str) -> bool {
        !self.shared || self.held.get(arn).is_some()
    }

    /// How long a lease lasts unless renewed (None: one host writes).
    pub fn lease(&self) -> Option<std::time::Duration> {
        self.backend.leases().map(|l| l.duration())
    }

    /// Inside the writer: refuses a write of execution `arn`'s journal
    /// unless this host still holds its lease at the epoch it took.
    pub(crate) fn check_lease(&self, w: &mut dyn Write, arn: &str) -> Result<(), StoreError> {
        let Some((seq, epoch)) = self.held.get(arn) else {
            return Err(StoreError::Database(format!("execution {arn} is not owned by this host")));
        };
        if w.lease_check(&keys::execution(seq), epoch)? {
            return Ok(());
        }
        self.held.release(arn);
        Err(StoreError::Database(format!("execution {arn} was taken over by another host")))
    }

    /// Renews this host's liveness and forgets the leases another host took.
    pub fn renew_leases(&self) -> Result<(), StoreError> {
        let Some(leases) = self.backend.leases() else { return Ok(()) };
        let held: Vec<(Box<str>, u64, u64)> = self.held.lock().iter().map(|(a, &(s, e))| (a.clone(), s, e)).collect();
        let keys: Vec<Vec<u8>> = held.iter().map(|(_, seq, _)| keys::execution(*seq).to_vec()).collect();
        let found = leases.renew(&keys)?;
        for (arn, seq, epoch) in held {
            let key = keys::execution(seq);
            // A lease not found is one being given (not committed yet) or ended.
            if found.iter().any(|(k, e, mine)| k.as_slice() == key && (!mine || *e != epoch)) {
                tracing::warn!(execution = %arn, "lease taken over by another host");
                self.held.release(&arn);
            }
        }
        Ok(())
    }

    /// Takes over the running executions whose owner's lease expired,
    /// answering their records (to be resumed as after a crash).
    pub fn take_over(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        let Some(leases) = self.backend.leases() else { return Ok(Vec::new()) };
        let taken = leases.take_expired(TAKE_AT_ONCE)?;
        let mut resumed = Vec::new();
        for (key, epoch) in taken {
            let seq = sequence_of(&key);
            let record = self.read(|r| r.get(Table::Executions, &key)?.map(|b| executions::decode_in(r, &b)).transpose())?;
            match record {
                Some(record) if record.is_running() => {
                    self.held.hold(&record.arn, seq, epoch);
                    resumed.push(record);
                }
                // Closed (or gone) meanwhile: the lease ends.
                _ => drop(self.submit(move |w| w.lease_drop(&key))),
            }
        }
        Ok(resumed)
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
        let started = std::time::Instant::now();
        let mut checked = started;
        loop {
            tokio::time::sleep(ROUTE_POLL).await;
            if let Some(answer) = leases.answer_to(id)? {
                return Ok(Some(answer));
            }
            if started.elapsed() > ROUTE_TIMEOUT {
                leases.withdraw(id)?;
                return Err(StoreError::Database(format!("the host running execution {arn} did not answer")));
            }
            if checked.elapsed() < ROUTE_RECHECK {
                continue;
            }
            checked = std::time::Instant::now();
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
}
