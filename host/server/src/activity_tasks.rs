//! Activity tasks on a database several hosts share: the host running an
//! execution offers its activity task to every host's workers through the
//! database (`Stores::offer_activity_task`, with its other writes), and
//! GetActivityTask on any host claims the oldest task of its activity
//! there, each task once (`Stores::claim_activity_task`: `SKIP LOCKED`).
//! The pick-up (ActivityStarted) and the worker's answers reach the host
//! that runs the execution as any task token's answer does (see
//! [`crate::routing`]). A long poll is woken by the hosts' notification of
//! an offer, or looks again at the store's slow fallback.
//!
//! Where one host writes (redb, memory), the engine's in-memory queues
//! ([`MemoryActivities`]) hand tasks out as before.

use std::sync::Arc;

use serde_json::{Value, json};
use stepbox_engine::{Activities, ActivityTask, BoxFuture, MemoryActivities, Signal};
use stepbox_store::Stores;

use crate::AppState;
use crate::sfn::ApiError;

/// The engine's activity queues on a shared database.
pub(crate) struct SharedActivities {
    /// The activities this host knows (CreateActivity, adopted from the store).
    pub(crate) local: Arc<MemoryActivities>,
    pub(crate) store: Arc<dyn Stores>,
}

impl Activities for SharedActivities {
    fn schedule(&self, activity_arn: &str, task: ActivityTask) -> BoxFuture<'static, bool> {
        let (local, store, arn) = (self.local.clone(), self.store.clone(), activity_arn.to_string());
        Box::pin(async move {
            if local.describe(&arn).is_none() && !adopt(&local, &*store, &arn).await {
                return false;
            }
            store.offer_activity_task(&arn, &task.token, &task.input);
            true
        })
    }

    fn withdraw(&self, _activity_arn: &str, token: &str) {
        self.store.withdraw_activity_task(token);
    }
}

/// Activity `arn`, which this host does not know, created on another host
/// since this one last looked: adopted, if it is stored. A store that cannot
/// be read now does not fail the task (its offer is written with the
/// execution's events, which wait for the database as they do).
async fn adopt(local: &MemoryActivities, store: &dyn Stores, arn: &str) -> bool {
    match store.list_activities().await {
        Ok(stored) => match stored.into_iter().find(|a| a.arn == arn) {
            Some(a) => {
                local.create(&a.arn, &a.name, a.creation_date);
                true
            }
            None => false,
        },
        Err(e) => {
            tracing::warn!(activity = arn, error = %e, "cannot read the stored activities; offering the task");
            true
        }
    }
}

/// GetActivityTask on a shared database: the oldest task of activity `arn`
/// any host offered, claimed here and its pick-up recorded by the host
/// running its execution; waits up to the long poll for one. A claimed task
/// whose state ended meanwhile (its token answers TaskDoesNotExist or
/// TaskTimedOut) is skipped.
pub(crate) async fn get(state: &AppState, arn: &str, worker: Option<String>) -> Result<Value, ApiError> {
    let Some(wake) = state.store.wakeups() else {
        return Err(ApiError::internal("activity tasks are shared only on a database several hosts share".into()));
    };
    let deadline = tokio::time::Instant::now() + state.activity_poll;
    loop {
        // Listening before looking: an offer committed meanwhile is not missed.
        let offered = wake.activity_tasks().notified();
        tokio::pin!(offered);
        offered.as_mut().enable();
        while let Some((token, input)) = state.store.claim_activity_task(arn).await.map_err(ApiError::store_unreadable)? {
            let started = Signal::Started { worker_name: worker.clone() };
            match crate::callbacks::signal(state, &token, started).await {
                Ok(_) => return Ok(json!({"taskToken": token, "input": input})),
                Err(e) if matches!(e.kind, "TaskDoesNotExist" | "TaskTimedOut") => {}
                Err(e) => return Err(e),
            }
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Ok(json!({}));
        }
        tokio::select! {
            _ = &mut offered => {}
            _ = tokio::time::sleep(left.min(wake.fallback)) => {}
        }
    }
}
