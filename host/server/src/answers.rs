//! Task token answers kept for a task that does not wait yet, on a database
//! several hosts share: an answer (SendTaskSuccess/Failure) to a token of an
//! execution this host owns is recorded in the database before it is
//! acknowledged (`Stores::record_answer`); if no task of this host waits on
//! the token yet and it is the token the execution's last checkpoint waits
//! on (the execution was just taken over and is resuming, or is about to
//! wait again), the answer is kept here and handed to the task as it
//! registers the token; any other token is refused as AWS refuses it. The
//! embedded store keeps an answer the same way when it arrives after a
//! restart before the resumed task waits again (see
//! `callbacks::signal`). A host that takes an execution over loads the
//! answers recorded for it (`Stores::answers`) before resuming it, so an
//! acknowledged answer is never lost with the host that took it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use stepbox_engine::callback::CallbackWaiter;
use stepbox_engine::{CallbackError, Callbacks, MemoryCallbacks, Signal, TaskToken};

/// Answers kept for tokens no task waits on yet: token → signal.
#[derive(Default)]
pub struct Answers {
    kept: Mutex<HashMap<String, Signal>>,
    /// Executions this host took again while a run of an earlier lease of
    /// theirs still went on here (stopped, so it closed its tokens): until
    /// the new run starts, an answer to a closed token is kept for it.
    restarting: Mutex<std::collections::HashSet<String>>,
    /// Activity tasks a worker took (ActivityStarted delivered), until their
    /// wait ends: on a shared database a resumed execution offers its task
    /// again, and a worker that took the earlier offer may still report its
    /// pick-up, so a second pick-up of one wait is refused (that worker
    /// looks for another task) instead of handing the task out twice.
    started: Mutex<std::collections::HashSet<String>>,
}

impl Answers {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Signal>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delivers `signal` to the task waiting on `token`, or (`keep`) keeps
    /// it for the task that will (a token nobody here knows, of an
    /// execution resuming). Under one lock with [`Handing::register`], so an
    /// answer is never kept just after its task registered.
    pub(crate) fn deliver_or_keep(
        &self,
        callbacks: &MemoryCallbacks,
        token: &str,
        signal: Signal,
        keep: bool,
    ) -> Result<(), CallbackError> {
        let mut kept = self.lock();
        match callbacks.signal(token, signal.clone()) {
            // A heartbeat never replaces a kept answer.
            Err(CallbackError::TaskDoesNotExist) if keep && matches!(signal, Signal::Heartbeat) => {
                kept.entry(token.to_string()).or_insert(signal);
                Ok(())
            }
            Err(CallbackError::TaskDoesNotExist) if keep => {
                kept.insert(token.to_string(), signal);
                Ok(())
            }
            Err(CallbackError::TaskTimedOut)
                if keep && TaskToken::parse(token).is_some_and(|(arn, _)| self.is_restarting(&arn)) =>
            {
                kept.insert(token.to_string(), signal);
                Ok(())
            }
            other => other,
        }
    }

    fn restarting(&self) -> MutexGuard<'_, std::collections::HashSet<String>> {
        self.restarting.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_restarting(&self, arn: &str) -> bool {
        self.restarting().contains(arn)
    }

    fn started(&self) -> MutexGuard<'_, std::collections::HashSet<String>> {
        self.started.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Execution `arn` is run anew here, once its run of an earlier lease ended.
    pub(crate) fn restart(&self, arn: &str) {
        self.restarting().insert(arn.to_string());
    }

    /// Execution `arn`'s new run starts.
    pub(crate) fn restarted(&self, arn: &str) {
        self.restarting().remove(arn);
    }

    /// Drops the answers kept for execution `arn`'s tasks (its run ended or
    /// suspended: a later run loads the recorded ones again).
    pub(crate) fn forget(&self, arn: &str) {
        self.lock().retain(|token, _| TaskToken::parse(token).is_none_or(|(a, _)| a != arn));
    }

    /// How many answers are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The engine's token registry: the server's, handing a task the answer
/// kept for its token as it registers it.
pub(crate) struct Handing {
    pub(crate) inner: Arc<MemoryCallbacks>,
    pub(crate) answers: Arc<Answers>,
}

impl Callbacks for Handing {
    fn register(&self, token: &str, execution_arn: &str) -> CallbackWaiter {
        self.answers.started().remove(token);
        let mut kept = self.answers.lock();
        let waiter = self.inner.register(token, execution_arn);
        if let Some(signal) = kept.remove(token) {
            // The waiter's channel holds it until the task looks.
            if let Err(e) = self.inner.signal(token, signal) {
                tracing::warn!(execution = execution_arn, error = %e, "cannot hand a kept answer to its task");
            }
        }
        waiter
    }

    fn signal(&self, token: &str, signal: Signal) -> Result<(), CallbackError> {
        if !matches!(signal, Signal::Started { .. }) {
            return self.inner.signal(token, signal);
        }
        let mut started = self.answers.started();
        if started.contains(token) {
            return Err(CallbackError::TaskTimedOut);
        }
        self.inner.signal(token, signal)?;
        started.insert(token.to_string());
        Ok(())
    }

    fn close(&self, token: &str) {
        self.answers.started().remove(token);
        self.inner.close(token)
    }
}
