//! What a Task state's resource asks for on this entry: whom to call with
//! which payload, how it waits, and which history events its attempts record.

use super::integration::{Family, Kind};
use super::timeouts::Limits;
use crate::exec::running::{Exec, Frame};
use crate::exec::failure::Failure;
use crate::exec::step::Step;
use crate::history::EventType;
use crate::task::{TaskContext, TaskRequest, split_function_name};
use serde_json::{Value, json};
use std::time::Duration;
use std::sync::Arc;
use stepbox_asl::compact;
use stepbox_asl::resource::{Resource, Target};

pub(super) struct Plan<'a> {
    pub(super) resource: &'a Arc<Resource>,
    pub(super) kind: Kind,
    pub(super) family: Family,
    pub(super) function_name: String,
    pub(super) qualifier: Option<String>,
    /// What the task is given (`Payload` of `lambda:invoke`, else the parameters).
    pub(super) payload: Value,
    /// Whom a too-large result is blamed on.
    pub(super) who: &'a str,
    /// The effective input: the integration's parameters.
    pub(super) eff: Value,
    pub(super) limits: Limits,
}

impl<'a> Plan<'a> {
    pub(super) fn new(resource: &'a Arc<Resource>, eff: Value, limits: Limits) -> Self {
        let kind = Kind::of(resource);
        let (function_name, qualifier, payload, who, family) = match &resource.target {
            Target::LambdaFunction { name, qualifier, .. } => {
                (name.clone(), qualifier.clone(), eff.clone(), resource.arn.as_str(), Family::Lambda)
            }
            Target::LambdaInvoke => {
                let (n, q, payload) = lambda_invoke_call(&eff);
                (n, q, payload, "lambda", Family::Task)
            }
            _ => (
                resource.arn.clone(),
                None,
                eff.clone(),
                resource.arn.as_str(),
                if matches!(kind, Kind::Activity) {
                    Family::Activity
                } else {
                    Family::Task
                },
            ),
        };
        Plan { resource, kind, family, function_name, qualifier, payload, who, eff, limits }
    }

    /// The invoker's request for attempt `retry_count`.
    pub(super) fn request(&self, s: &Step<'_>, retry_count: u32, request_id: &str) -> TaskRequest {
        TaskRequest {
            function_name: self.function_name.clone(),
            qualifier: self.qualifier.clone(),
            resource: self.resource.clone(),
            input: self.payload.clone(),
            jsonata: s.st.query_language == stepbox_asl::QueryLanguage::Jsonata,
            context: TaskContext {
                execution_name: s.ex.name.clone(),
                execution_arn: s.ex.arn.clone(),
                state_name: s.st.name.clone(),
                retry_count,
                remaining_time: self.limits.timeout_s.map(Duration::from_secs),
                task_token: s.entry.token.clone(),
                request_id: request_id.to_string(),
            },
            heartbeat: None,
        }
    }

    /// The failure a timeout of the named kind is: a Lambda function's
    /// reports no cause.
    pub(super) fn timeout(&self, name: &str) -> Failure {
        if self.family == Family::Lambda {
            Failure { error: Some(name.to_string()), cause: None, nulls: false }
        } else {
            Failure::new(name, "")
        }
    }

    /// `LambdaFunctionScheduled`/`Started` or `TaskScheduled`/`Started`
    /// (an activity records its own once it is queued).
    pub(super) fn record_scheduled(&self, ex: &Exec, frame: &mut Frame) {
        let Limits { timeout_s, heartbeat_s } = self.limits;
        match self.family {
            Family::Lambda => {
                ex.emit(frame, EventType::LambdaFunctionScheduled, || {
                    let mut d = json!({"resource": self.resource.arn, "input": compact(&self.payload), "inputDetails": {"truncated": false}});
                    if let Some(t) = timeout_s {
                        d["timeoutInSeconds"] = json!(t);
                    }
                    Some(d)
                });
                ex.emit(frame, EventType::LambdaFunctionStarted, || None);
            }
            Family::Task => {
                let (res_type, res_name) = (&self.resource.service, &self.resource.action);
                ex.emit(frame, EventType::TaskScheduled, || {
                    let mut d = json!({"resourceType": res_type, "resource": if res_name.is_empty() { &self.resource.arn } else { res_name },
                        "region": ex.config.identity.region, "parameters": compact(&self.eff)});
                    if let Some(t) = timeout_s {
                        d["timeoutInSeconds"] = json!(t);
                    }
                    if let Some(h) = heartbeat_s {
                        d["heartbeatInSeconds"] = json!(h);
                    }
                    Some(d)
                });
                ex.emit(frame, EventType::TaskStarted, || {
                    Some(json!({"resourceType": res_type, "resource": res_name}))
                });
            }
            // Scheduled once the activity is known to exist; started when a worker takes it.
            Family::Activity => {}
        }
    }

    pub(super) fn record_succeeded(&self, ex: &Exec, frame: &mut Frame, v: &Value) {
        let (res_type, res_name) = (&self.resource.service, &self.resource.action);
        match self.family {
            Family::Lambda => {
                ex.emit(frame, EventType::LambdaFunctionSucceeded, || {
                    Some(json!({"output": compact(v), "outputDetails": {"truncated": false}}))
                });
            }
            Family::Task => {
                ex.emit(frame, EventType::TaskSucceeded, || {
                    Some(json!({"resourceType": res_type, "resource": res_name, "output": compact(v), "outputDetails": {"truncated": false}}))
                });
            }
            Family::Activity => {
                ex.emit(frame, EventType::ActivitySucceeded, || {
                    Some(json!({"output": compact(v), "outputDetails": {"truncated": false}}))
                });
            }
        }
    }

    pub(super) fn record_failed(&self, ex: &Exec, frame: &mut Frame, f: &Failure, timed_out: bool) {
        let ty = match (self.family, timed_out) {
            (Family::Lambda, true) => EventType::LambdaFunctionTimedOut,
            (Family::Lambda, false) => EventType::LambdaFunctionFailed,
            (Family::Task, true) => EventType::TaskTimedOut,
            (Family::Task, false) => EventType::TaskFailed,
            (Family::Activity, true) => EventType::ActivityTimedOut,
            (Family::Activity, false) => EventType::ActivityFailed,
        };
        ex.emit(frame, ty, || {
            let mut d = f.as_output_lower();
            if self.family == Family::Task {
                d["resourceType"] = json!(self.resource.service);
                d["resource"] = json!(self.resource.action);
            }
            Some(d)
        });
    }
}

/// `lambda:invoke`'s function, qualifier and payload: `FunctionName` in
/// any Lambda form, `Qualifier`, and `Payload` (a string payload is sent as
/// raw bytes: JSON text becomes its value).
fn lambda_invoke_call(eff: &Value) -> (String, Option<String>, Value) {
    let fname = eff
        .get("FunctionName")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let (n, mut q) = split_function_name(fname);
    if let Some(Value::String(qq)) = eff.get("Qualifier") {
        q = Some(qq.clone());
    }
    let payload = match eff.get("Payload") {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(s)) => {
            serde_json::from_str::<Value>(s).unwrap_or_else(|_| Value::String(s.clone()))
        }
        Some(v) => v.clone(),
    };
    (n, q, payload)
}
