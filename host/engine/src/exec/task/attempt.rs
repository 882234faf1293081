//! A Task's attempts: each one scheduled under TimeoutSeconds, run through
//! its integration, and retried after a back-off; in a durable run each
//! step is checkpointed so a restart continues the attempt in flight.

use super::integration::{self, Kind};
use super::lambda::wrap_invoke_result;
use super::plan::Plan;
use super::ProgressLog;
use crate::clock::BoxFuture;
use crate::durable::{Checkpoint, StateProgress};
use crate::exec::running::Frame;
use crate::exec::failure::Failure;
use crate::exec::io::data_limit;
use crate::exec::step::Step;
use crate::exec::variables::Variables;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::time::Duration;
use stepbox_asl::RuntimeError;

/// An attempt's end: its result, or its failure and whether it timed out.
pub(super) type Attempt = Result<Value, (Failure, bool)>;

pub(super) struct Attempts<'a> {
    s: &'a Step<'a>,
    plan: &'a Plan<'a>,
    /// What a restart left of this state, then this run's own progress.
    progress: StateProgress,
    /// Attempts per retrier.
    counts: Vec<u32>,
    retry_count: u32,
    log: ProgressLog<'a>,
    /// The attempt in flight at a restart continues rather than starting over.
    resumed: bool,
}

impl<'a> Attempts<'a> {
    pub(super) fn new(s: &'a Step<'a>, plan: &'a Plan<'a>, input: &Value, vars: &Variables) -> Self {
        let (st, entry) = (s.st, s.entry);
        // What a restart left of this state (durable top-level states only).
        let progress = entry.resumed.clone().unwrap_or_default();
        let counts = if progress.retry_counts.len() == st.retry.len() {
            progress.retry_counts.clone()
        } else {
            vec![0u32; st.retry.len()]
        };
        let base = (entry.top && (plan.kind.waits_outside() || !st.retry.is_empty()))
            .then(|| Checkpoint::entered(&st.name, &input, vars.values().clone(), entry.id, entry.at));
        Attempts {
            s,
            plan,
            retry_count: progress.retries,
            resumed: progress.scheduled_at.is_some(),
            progress,
            counts,
            log: ProgressLog { ex: s.ex, base },
        }
    }

    pub(super) fn retry_count(&self) -> u32 {
        self.retry_count
    }

    /// Runs the next attempt. An `Err` fails the state at once (no retry:
    /// the activity does not exist).
    pub(super) async fn run(&mut self, frame: &mut Frame) -> Result<Attempt, Failure> {
        let ex = self.s.ex;
        if let Some(at) = self.progress.retry_at.take() {
            ex.clock.sleep_until(at).await;
        }
        let scheduled_at = match self.progress.scheduled_at {
            Some(t) if self.resumed => t,
            _ => ex.clock.now(),
        };
        // TimeoutSeconds runs from scheduling to the end of the attempt.
        let mut total = self.plan.limits.timeout_s.map(|t| {
            if self.resumed {
                ex.clock.sleep_until(scheduled_at + chrono::Duration::seconds(t as i64))
            } else {
                ex.clock.sleep(Duration::from_secs(t))
            }
        });
        let token = self.token();
        if self.log.is_on() && self.plan.kind.waits_outside() && !self.resumed {
            self.handing_out(scheduled_at, &token);
        }
        if !self.handed_out() {
            self.plan.record_scheduled(ex, frame);
        }
        let result = self.call(frame, token, &mut total).await?;
        Ok(match result {
            Ok(v) => match data_limit(ex, self.plan.who, &v) {
                Ok(()) => Ok(v),
                Err(f) => Err((f, false)),
            },
            Err(e) => Err(e),
        })
    }

    /// The attempt's task token: an activity's own (kept across a restart),
    /// else the state's.
    fn token(&self) -> Option<String> {
        match self.plan.kind {
            Kind::Activity => Some(
                self.progress
                    .token
                    .clone()
                    .filter(|_| self.resumed)
                    .unwrap_or_else(|| crate::callback::TaskToken::new(&self.s.ex.arn, &self.s.st.name)),
            ),
            _ => self.s.entry.token.clone(),
        }
    }

    /// Checkpoints an attempt that is about to wait on the outside world.
    fn handing_out(&mut self, scheduled_at: DateTime<Utc>, token: &Option<String>) {
        let child_name = match self.plan.kind {
            Kind::StartExecution(_) => Some(
                self.plan
                    .eff
                    .get("Name")
                    .and_then(Value::as_str)
                    .map_or_else(stepbox_asl::uuid_v4, str::to_string),
            ),
            _ => None,
        };
        self.progress = StateProgress {
            retry_counts: self.counts.clone(),
            retries: self.retry_count,
            scheduled_at: Some(scheduled_at),
            token: token.clone(),
            child_name,
            ..StateProgress::default()
        };
        self.log.save(&self.progress);
    }

    /// Handed out before the restart: its scheduling events are recorded.
    fn handed_out(&self) -> bool {
        self.resumed && self.progress.submitted.is_some()
    }

    /// The attempt itself, through the resource's integration.
    async fn call(
        &mut self,
        frame: &mut Frame,
        token: Option<String>,
        total: &mut Option<BoxFuture<'static, ()>>,
    ) -> Result<Attempt, Failure> {
        let (s, plan) = (self.s, self.plan);
        if let Some(m) = s.ex.mocks.as_ref().and_then(|m| m.response(&s.st.name, self.retry_count)) {
            return super::mocked::answer(s, plan, frame, m);
        }
        let request_id = stepbox_asl::uuid_v4();
        let req = plan.request(s, self.retry_count, &request_id);
        let wrap = |v| wrap_invoke_result(s.ex, &plan.resource.target, &plan.eff, &request_id, v);
        let handed_out = self.handed_out();
        let call = integration::Call {
            ex: s.ex,
            frame,
            resource: &plan.resource.arn,
            res_type: &plan.resource.service,
            res_name: &plan.resource.action,
            params: &plan.eff,
            timeout_s: plan.limits.timeout_s,
            heartbeat_s: plan.limits.heartbeat_s,
            progress: &mut self.progress,
            log: &self.log,
            handed_out,
            resumed: self.resumed,
        };
        Ok(match plan.kind {
            Kind::Invoke => match integration::invoke(s.ex, req, total, plan.limits.heartbeat_s).await {
                Ok(v) => Ok(wrap(v)),
                Err(integration::Stop::Failed(f)) => Err((f, false)),
                Err(integration::Stop::TimedOut(name)) => Err((plan.timeout(name), true)),
            },
            Kind::WaitForTaskToken => {
                let token = token.unwrap_or_default();
                call.wait_for_token(req, &token, total, wrap).await
            }
            Kind::Activity => match call.activity(&plan.payload, &token.unwrap_or_default(), total).await {
                Ok(r) => r,
                Err(integration::NoActivity(msg)) => return Err(s.rt(RuntimeError::runtime(msg))),
            },
            Kind::StartExecution(p) => call.start_execution(p, token.as_deref(), total).await,
            Kind::SendTaskOutcome(what) => call.send_task_outcome(what),
        })
    }

    /// After failure `f`: the back-off before the next attempt (checkpointed
    /// first: a restart keeps both counts), or `f` when no retrier is left.
    pub(super) async fn retry(&mut self, f: Failure) -> Result<(), Failure> {
        let ex = self.s.ex;
        let Some(d) = ex.retry_delay(self.s.st, &f, &mut self.counts) else {
            return Err(f);
        };
        self.retry_count += 1;
        self.resumed = false;
        self.progress = StateProgress {
            retry_counts: self.counts.clone(),
            retries: self.retry_count,
            retry_at: chrono::Duration::from_std(d).ok().map(|d| ex.clock.now() + d),
            ..StateProgress::default()
        };
        self.log.save(&self.progress);
        self.progress.retry_at = None;
        ex.clock.sleep(d).await;
        Ok(())
    }
}
