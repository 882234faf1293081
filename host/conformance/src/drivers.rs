//! Playing the test's part in the corpus's callback, activity and
//! nested-execution cases (`cases_other_services/`).
//!
//! Those LocalStack tests run a second actor next to the execution: a thread
//! that reads the SQS message carrying `$$.Task.Token` and answers it (with
//! heartbeats, success or failure), an activity consumer calling
//! GetActivityTask/SendTask*, or a target state machine that a
//! `states:startExecution` Task starts. [`Role::of`] names that actor per
//! test (read from the test code); [`Driver`] plays it against the engine:
//! an SQS stand-in invoker, activity workers and the target machines.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use stepbox_asl::StateMachine;
use stepbox_engine::{
    BoxFuture, Callbacks, Clock, LocalExecutions, MemoryActivities, MemoryCallbacks, Services,
    Signal, TaskFailure, TaskInvoker, TaskRequest,
};

use crate::case::Case;
use crate::engine::{ACCOUNT, REGION};

const SQS_SEND: &str = "arn:aws:states:::sqs:sendMessage";

/// What the test did with each task token it received through SQS.
#[derive(Debug, Clone, PartialEq)]
pub enum SqsAnswer {
    /// SendTaskHeartbeat `heartbeats` times, then SendTaskSuccess with the
    /// whole message body as output.
    BodyAfterHeartbeats { heartbeats: usize },
    /// SendTaskSuccess with the body's `Message` field as output.
    MessageField,
    /// SendTaskFailure with these fields (absent in the "no error field" tests).
    Failure { error: Option<&'static str>, cause: Option<&'static str> },
    /// Nobody answers (timeout and heartbeat-timeout tests).
    Silent,
}

/// What an activity consumer did.
#[derive(Debug, Clone, PartialEq)]
pub enum ActivityWorker {
    /// Returned the input as output.
    Echo { worker_name: Option<&'static str> },
    /// Failed with `Programmatic Error` and the input as cause.
    Fail,
    /// Took the task and never answered.
    Idle,
}

/// The test's part in a case.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    Sqs(SqsAnswer),
    /// The activity exists and a consumer polls it.
    Activity(ActivityWorker),
    /// The activity was deleted before the execution started.
    DeletedActivity,
    /// Target state machines a `startExecution` Task may start.
    Targets(Target),
    /// `test_sync_with_task_token`: the `.sync` child posts the parent's
    /// token to SQS, where a worker machine answers it with SendTaskSuccess
    /// (the message's `Message`) while the child still waits.
    SyncAnsweredThroughSqs,
    /// Only `aws-sdk:sfn` calls with made-up tokens: nothing to play.
    Nothing,
    /// The DynamoDB tests: the table the input names exists (hash key `id`,
    /// as the tests create it) unless the test is about a missing one.
    DynamoDb { table_exists: bool },
}

/// The target state machine a nested-execution test created.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// `BASE_PASS_RESULT`: a Pass state with `{"Arg1": "argument1"}`.
    PassResult,
    /// `BASE_RAISE_FAILURE`: a Fail state raising `SomeFailure`.
    RaiseFailure,
    /// `LAMBDA_WAIT_WITH_TIMEOUT_SECONDS`: a 60 s Lambda under TimeoutSeconds 5.
    LambdaTimeout,
    /// `SQS_SEND_MESSAGE_AND_WAIT`: sends `{"Message", "TaskToken"}` to SQS, then waits 60 s.
    SqsSendAndWait,
    /// None (the ARN does not exist).
    Missing,
}

impl Role {
    /// The role for a case of `cases_other_services/`, if this runner plays it.
    pub fn of(case: &Case) -> Option<Role> {
        // `dir.module.Class.test[param]#execN`
        let test = case.name.split('#').next().unwrap_or_default();
        let (test, param) = match test.split_once('[') {
            Some((t, p)) => (t, p.trim_end_matches(']')),
            None => (test, ""),
        };
        let method = test.rsplit('.').next().unwrap_or_default();
        if test.to_ascii_lowercase().contains("dynamodb") {
            return Some(Role::DynamoDb { table_exists: !method.contains("no_such_table") });
        }
        let role = match method {
            "test_activity_task" => Role::Activity(ActivityWorker::Echo { worker_name: Some("BASE_ID_ACTIVITY_CONSUMER") }),
            "test_activity_task_no_worker_name" => Role::Activity(ActivityWorker::Echo { worker_name: None }),
            "test_activity_task_failure" => Role::Activity(ActivityWorker::Fail),
            "test_activity_task_start_timeout" => Role::Activity(ActivityWorker::Idle),
            "test_activity_task_on_deleted" => Role::DeletedActivity,
            "test_multiple_executions_and_heartbeat_notifications" | "test_multiple_heartbeat_notifications" => {
                Role::Sqs(SqsAnswer::BodyAfterHeartbeats { heartbeats: 10 })
            }
            "test_sqs_wait_for_task_token_call_chain" => Role::Sqs(SqsAnswer::MessageField),
            "test_sqs_failure_in_wait_for_task_tok_no_error_field" => {
                Role::Sqs(SqsAnswer::Failure { error: None, cause: None })
            }
            "test_sqs_failure_in_wait_for_task_tok" | "test_sqs_wait_for_task_token_task_failure" => {
                Role::Sqs(SqsAnswer::Failure { error: Some("Failure error"), cause: Some("Failure cause") })
            }
            "test_sqs_wait_for_task_token_no_token_parameter"
            | "test_heartbeat_timeout"
            | "test_heartbeat_no_timeout"
            | "test_heartbeat_path_timeout" => Role::Sqs(SqsAnswer::Silent),
            "test_start_execution_sync"
            | "test_start_execution_sync2"
            | "test_sfn_start_execution_sync"
            | "test_start_execution_input_json"
            | "test_sfn_start_execution_implicit_json_serialisation" => Role::Targets(Target::PassResult),
            "test_start_execution_sync_delegate_failure" => Role::Targets(Target::RaiseFailure),
            "test_start_execution_sync_delegate_timeout" => Role::Targets(Target::LambdaTimeout),
            "test_start_execution_no_such_arn" => Role::Targets(Target::Missing),
            "test_sync_with_task_token" => Role::SyncAnsweredThroughSqs,
            "test_sfn_send_task_outcome_with_no_such_token" => Role::Nothing,
            // Fails on its HeartbeatSecondsPath before calling anything.
            "test_invalid_jsonpath" if param == "ST.INVALID_JSONPATH_IN_HEARTBEATSECONDSPATH" => Role::Nothing,
            _ => return None,
        };
        Some(role)
    }
}

/// The cases of `cases_other_services/` a role is known for.
pub fn driver_cases(cases: &[Case]) -> Vec<&Case> {
    cases.iter().filter(|c| Role::of(c).is_some()).collect()
}

/// The activity ARN a case's definition uses (its first activity resource).
fn activity_arn(case: &Case) -> Option<String> {
    fn walk(v: &Value) -> Option<String> {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("Resource")
                    && r.contains(":activity:")
                {
                    return Some(r.clone());
                }
                o.values().find_map(walk)
            }
            Value::Array(a) => a.iter().find_map(walk),
            _ => None,
        }
    }
    walk(&case.definition)
}

/// A case's engine services and invoker wrapper, with the test's actor running.
pub struct Driver {
    pub services: Services,
    /// The case's bucket directory (ItemReader and ResultWriter cases).
    _buckets: Option<BucketDir>,
    role: Option<Role>,
    callbacks: Arc<MemoryCallbacks>,
    clock: Arc<dyn Clock>,
    /// The input's `TableName` (the DynamoDB tests' table).
    input_table: Option<String>,
}

impl Driver {
    /// Sets up the role's services; call inside the runtime that runs the
    /// execution (activity workers are spawned on it).
    pub fn new(case: &Case, clock: Arc<dyn Clock>) -> Driver {
        let role = Role::of(case);
        let callbacks = Arc::new(MemoryCallbacks::new());
        let mut services = Services { callbacks: callbacks.clone(), ..Default::default() };
        match &role {
            Some(Role::Activity(worker)) => {
                let activities = Arc::new(MemoryActivities::new());
                if let Some(arn) = activity_arn(case) {
                    let name = arn.rsplit(':').next().unwrap_or_default().to_string();
                    activities.create(&arn, &name, clock.now());
                    tokio::spawn(work(activities.clone(), callbacks.clone(), arn, worker.clone()));
                }
                services.activities = Some(activities);
            }
            Some(Role::DeletedActivity) => services.activities = Some(Arc::new(MemoryActivities::new())),
            Some(Role::Targets(target)) => services.executions = Some(targets(case, *target)),
            Some(Role::SyncAnsweredThroughSqs) => services.executions = Some(targets(case, Target::SqsSendAndWait)),
            _ => {}
        }
        let buckets = BucketDir::for_case(case);
        if let Some(b) = &buckets {
            services.objects = Some(Arc::new(stepbox_invoker::Buckets::new(&b.0)));
        }
        let input_table = case.input.get("TableName").and_then(Value::as_str).map(str::to_string);
        Driver { services, _buckets: buckets, role, callbacks, clock, input_table }
    }

    /// Wraps the case's invoker: SQS `sendMessage` resources reach the test's actor.
    pub fn invoker(&self, inner: Arc<dyn TaskInvoker>) -> Arc<dyn TaskInvoker> {
        match &self.role {
            Some(Role::Sqs(answer)) => Arc::new(SqsStandIn {
                inner,
                answer: answer.clone(),
                callbacks: self.callbacks.clone(),
                clock: self.clock.clone(),
            }),
            Some(Role::SyncAnsweredThroughSqs) => Arc::new(SqsStandIn {
                inner,
                answer: SqsAnswer::MessageField,
                callbacks: self.callbacks.clone(),
                clock: self.clock.clone(),
            }),
            Some(Role::DynamoDb { table_exists }) => {
                let name = self.input_table.clone().unwrap_or_default();
                let schemas = match stepbox_invoker::dynamodb::TableSchema::parse(&format!("{name}=id")) {
                    Ok(schema) if *table_exists => vec![schema],
                    _ => Vec::new(),
                };
                let items = Arc::new(stepbox_invoker::dynamodb::MemoryItems::default());
                Arc::new(DynamoStandIn { inner, tables: stepbox_invoker::dynamodb::Tables::new(schemas, items) })
            }
            _ => inner,
        }
    }
}

/// The cases of `cases_other_services/` that need S3 only as a Map's
/// ItemReader or ResultWriter (not as Task integrations).
pub fn bucket_cases(cases: &[Case]) -> Vec<&Case> {
    cases.iter().filter(|c| uses_buckets(c)).collect()
}

fn uses_buckets(case: &Case) -> bool {
    case.needs.iter().any(|n| n == "s3") && !case.needs.iter().any(|n| n == "aws-sdk:s3")
}

/// A case's bucket directory: the objects its test uploaded (`s3_objects`)
/// and the buckets its ResultWriters name, under a fresh temporary
/// directory removed on drop.
struct BucketDir(std::path::PathBuf);

impl BucketDir {
    fn for_case(case: &Case) -> Option<BucketDir> {
        if !uses_buckets(case) {
            return None;
        }
        let dir = std::env::temp_dir().join(format!("stepbox-case-buckets-{}", stepbox_asl::uuid_v4()));
        let text = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        for o in &case.s3_objects {
            let path = dir.join(text(o, "Bucket")).join(text(o, "Key"));
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).ok()?;
            }
            std::fs::write(&path, text(o, "Body")).ok()?;
        }
        for bucket in written_buckets(&case.definition) {
            std::fs::create_dir_all(dir.join(bucket)).ok()?;
        }
        Some(BucketDir(dir))
    }
}

impl Drop for BucketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The buckets a definition's ResultWriters write to (given as constants).
fn written_buckets(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match v {
        Value::Object(o) => {
            if let Some(Value::String(b)) = o.get("ResultWriter").and_then(|w| w.get("Parameters")).and_then(|p| p.get("Bucket")) {
                out.push(b.clone());
            }
            o.values().for_each(|x| out.extend(written_buckets(x)));
        }
        Value::Array(a) => a.iter().for_each(|x| out.extend(written_buckets(x))),
        _ => {}
    }
    out
}

/// The built-in DynamoDB integrations on the table a test created.
struct DynamoStandIn {
    inner: Arc<dyn TaskInvoker>,
    tables: stepbox_invoker::dynamodb::Tables,
}

impl TaskInvoker for DynamoStandIn {
    fn invoke(&self, req: TaskRequest) -> BoxFuture<'static, Result<Value, TaskFailure>> {
        match self.tables.handle(&req.resource, req.input.clone(), ACCOUNT) {
            Some(call) => call,
            None => self.inner.invoke(req),
        }
    }
}

/// An activity consumer: takes tasks (each as it arrives) and answers them.
async fn work(activities: Arc<MemoryActivities>, callbacks: Arc<MemoryCallbacks>, arn: String, worker: ActivityWorker) {
    while let Some(task) = activities.poll(&arn, Duration::from_secs(3600)).await {
        let name = match &worker {
            ActivityWorker::Echo { worker_name } => worker_name.map(str::to_string),
            _ => Some("BASE_ID_ACTIVITY_CONSUMER".to_string()),
        };
        let _ = callbacks.signal(&task.token, Signal::Started { worker_name: name });
        let answer = match &worker {
            ActivityWorker::Echo { .. } => {
                Signal::Succeeded(serde_json::from_str(&task.input).unwrap_or(Value::Null))
            }
            ActivityWorker::Fail => {
                Signal::Failed { error: Some("Programmatic Error".into()), cause: Some(task.input.clone()) }
            }
            ActivityWorker::Idle => continue,
        };
        let _ = callbacks.signal(&task.token, answer);
    }
}

fn target_definition(case: &Case, target: Target) -> Option<Value> {
    Some(match target {
        Target::PassResult => json!({"Comment": "BASE_PASS_RESULT", "StartAt": "State_1",
            "States": {"State_1": {"Type": "Pass", "Result": {"Arg1": "argument1"}, "End": true}}}),
        Target::RaiseFailure => json!({"Comment": "BASE_RAISE_FAILURE", "StartAt": "RaiseFailure",
            "States": {"RaiseFailure": {"Type": "Fail", "Error": "SomeFailure",
                "Cause": "This state machines raises a 'SomeFailure' failure."}}}),
        Target::LambdaTimeout => {
            let function = case.lambdas.keys().next()?;
            json!({"Comment": "LAMBDA_WAIT_WITH_TIMEOUT_SECONDS", "StartAt": "Start",
                "States": {"Start": {"Type": "Task", "TimeoutSeconds": 5,
                    "Resource": format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"), "End": true}}})
        }
        Target::SqsSendAndWait => json!({"Comment": "SQS_SEND_MESSAGE_AND_WAIT", "StartAt": "SendSQS",
            "States": {
                "SendSQS": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                    "Parameters": {"QueueUrl.$": "$.QueueUrl",
                        "MessageBody": {"Message": "SQS_SEND_MESSAGE_AND_WAIT", "TaskToken.$": "$.TaskToken"}},
                    "Next": "WaitState"},
                "WaitState": {"Type": "Wait", "Seconds": 60, "End": true}}}),
        Target::Missing => return None,
    })
}

/// The target machine under the ARN the case's input names (a missing
/// target registers nothing, so the ARN does not exist).
fn targets(case: &Case, target: Target) -> Arc<LocalExecutions> {
    let executions = Arc::new(LocalExecutions::new());
    let arn = case
        .input
        .get("StateMachineArn")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| find_state_machine_arn(&case.definition));
    if let (Some(arn), Some(def)) = (arn, target_definition(case, target))
        && let Ok(sm) = StateMachine::from_value(&def)
    {
        executions.insert(&arn, Arc::new(sm));
    }
    executions
}

fn find_state_machine_arn(v: &Value) -> Option<String> {
    match v {
        Value::Object(o) => o
            .get("StateMachineArn")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| o.values().find_map(find_state_machine_arn)),
        Value::Array(a) => a.iter().find_map(find_state_machine_arn),
        _ => None,
    }
}

/// SQS as the test saw it: `sendMessage` delivers the body to the test's
/// actor, which answers the token inside it.
struct SqsStandIn {
    inner: Arc<dyn TaskInvoker>,
    answer: SqsAnswer,
    callbacks: Arc<MemoryCallbacks>,
    clock: Arc<dyn Clock>,
}

impl TaskInvoker for SqsStandIn {
    fn invoke(&self, req: TaskRequest) -> BoxFuture<'static, Result<Value, TaskFailure>> {
        if !req.resource.arn.starts_with(SQS_SEND) {
            return self.inner.invoke(req);
        }
        let body = match req.input.get("MessageBody") {
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
            Some(v) => v.clone(),
            None => Value::Null,
        };
        let token = body.get("TaskToken").and_then(Value::as_str).map(str::to_string);
        if let Some(token) = token {
            let signals: Vec<Signal> = match &self.answer {
                SqsAnswer::BodyAfterHeartbeats { heartbeats } => std::iter::repeat_n(Signal::Heartbeat, *heartbeats)
                    .chain(std::iter::once(Signal::Succeeded(body.clone())))
                    .collect(),
                SqsAnswer::MessageField => vec![Signal::Succeeded(body.get("Message").cloned().unwrap_or(Value::Null))],
                SqsAnswer::Failure { error, cause } => vec![Signal::Failed {
                    error: error.map(str::to_string),
                    cause: cause.map(str::to_string),
                }],
                SqsAnswer::Silent => vec![],
            };
            let callbacks = self.callbacks.clone();
            let clock = self.clock.clone();
            tokio::spawn(async move {
                // The message is read a moment after it is sent (the task submits first).
                clock.sleep(Duration::from_millis(100)).await;
                for s in signals {
                    let _ = callbacks.signal(&token, s);
                }
            });
        }
        let id = stepbox_asl::uuid_v4();
        Box::pin(async move {
            let text = match &body {
                Value::String(s) => s.clone(),
                other => stepbox_asl::compact(other),
            };
            let md5 = stepbox_asl::hash::hash("MD5", text.as_bytes()).unwrap_or_default();
            Ok(json!({"MD5OfMessageBody": md5, "MessageId": id}))
        })
    }
}
