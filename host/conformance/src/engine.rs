//! Running corpus cases on stepbox itself: the interpreter
//! (`stepbox-engine`) with Task states executed as WebAssembly components in
//! the sandbox (`stepbox-invoker`), under virtual time.
//!
//! * [`EngineRunner`]: a [`CaseRunner`] that parses the definition, registers
//!   the case's Lambda functions (each corpus function name bound to its
//!   example component, compiled once per runner), and runs the execution on
//!   a current-thread runtime with [`ManualClock::auto`], so Wait states,
//!   retry back-offs and `TimeoutSeconds` take no real time.
//! * [`engine_cases`] / [`needs_jsonata`] / [`run_suite`] / [`SuiteSummary`]:
//!   the selection the `run` subcommand and the integration test use, and the
//!   figures they report (JSONPath pass rate, JSONata cases apart, Python
//!   traceback differences counted both ways).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;
use stepbox_asl::StateMachine;
use stepbox_engine::{Engine, ExecutionOptions, ExecutionOutcome, ManualClock, NullSink};
use stepbox_invoker::SandboxInvoker;
use stepbox_sandbox::{Function, Limits, MAX_PAYLOAD_BYTES, Registry, Sandbox, SandboxConfig};
use stepbox_types::Identity;

use crate::case::Case;
use crate::judge::{ActualResult, JudgeOptions, judge_with};
use crate::report::{CaseOutcome, Report};
use crate::runner::{CaseRunner, run_all_with};

/// The account, region and role the corpus definitions and replacements use.
pub const ACCOUNT: &str = "111111111111";
pub const REGION: &str = "us-east-1";
pub const ROLE_ARN: &str = "arn:aws:iam::111111111111:role/sfn_role";

/// Status reported when the definition does not validate (AWS rejects it at
/// CreateStateMachine with `InvalidDefinition`, so no execution exists).
pub const INVALID_DEFINITION: &str = "INVALID_DEFINITION";

/// The limits every corpus function gets: Lambda's maximum timeout, so the
/// Task state's own `TimeoutSeconds` decides, and Lambda's default 128 MiB.
pub fn corpus_function_limits() -> Limits {
    Limits {
        timeout: Duration::from_secs(900),
        memory_bytes: 128 << 20,
        fuel: None,
        // The engine enforces the 256 KiB state payload limit itself
        // (States.DataLimitExceeded with AWS's cause); let larger function
        // results through to it.
        max_output_bytes: 16 * MAX_PAYLOAD_BYTES,
        max_log_bytes: 64 * 1024,
        scratch_dir: false,
        env: Default::default(),
    }
}

/// Runs cases on the stepbox engine over the wasm sandbox.
pub struct EngineRunner {
    sandbox: Sandbox,
    /// Component crate name (`lambda-identity`) → compiled function.
    compiled: Mutex<HashMap<&'static str, Arc<Function>>>,
    limits: Limits,
    /// Real-time bound on one execution (a hung case fails instead of stalling the run).
    wall_timeout: Duration,
}

impl EngineRunner {
    /// A runner with its own sandbox (in-memory artifacts, no fuel counting).
    pub fn new() -> anyhow::Result<Self> {
        let sandbox = Sandbox::new(SandboxConfig {
            cache_dir: None,
            max_concurrent_instances: 64,
            max_memory_bytes: 128 << 20,
            fuel: false,
            ..SandboxConfig::default()
        })?;
        Ok(Self::with_sandbox(sandbox))
    }

    pub fn with_sandbox(sandbox: Sandbox) -> Self {
        EngineRunner {
            sandbox,
            compiled: Mutex::new(HashMap::new()),
            limits: corpus_function_limits(),
            wall_timeout: Duration::from_secs(60),
        }
    }

    /// Real-time bound on one execution (default 60 s).
    pub fn wall_timeout(mut self, d: Duration) -> Self {
        self.wall_timeout = d;
        self
    }

    /// The compiled component, compiling it on first use.
    fn component(&self, component: &'static str) -> Result<Arc<Function>, String> {
        let mut compiled = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = compiled.get(component) {
            return Ok(f.clone());
        }
        let wasm = stepbox_components::bytes(&component.replace('-', "_"))
            .map_err(|e| format!("component {component}: {e}"))?;
        let function = self.sandbox.compile(&wasm).map_err(|e| format!("compiling {component}: {e}"))?;
        compiled.insert(component, function.clone());
        Ok(function)
    }

    /// A registry holding the case's functions under their corpus names.
    fn registry_for(&self, case: &Case) -> Result<Registry, String> {
        let registry = Registry::new(self.sandbox.clone());
        for binding in case.function_bindings()? {
            let function = self.component(binding.component)?;
            registry.insert(&binding.function_name, function, self.limits.clone());
        }
        Ok(registry)
    }

    /// Run one case and return the engine's outcome (`Err` when the
    /// definition is invalid or the runner could not set up).
    pub fn execute(&self, case: &Case) -> Result<ExecutionOutcome, ActualResult> {
        let sm = StateMachine::parse(&case.definition_json()).map_err(|diags| {
            ActualResult::with_status(
                INVALID_DEFINITION,
                Some("InvalidDefinition".into()),
                Some(stepbox_asl::invalid_definition_message(&diags)),
            )
        })?;
        let registry = self
            .registry_for(case)
            .map_err(|e| ActualResult::with_status("NOT_RUN", Some("RunnerSetup".into()), Some(e)))?;
        let invoker: Arc<dyn stepbox_engine::TaskInvoker> =
            Arc::new(SandboxInvoker::new(registry).with_identity(Identity::new(REGION, ACCOUNT)));

        let express = case.is_express();
        let sm_name = case.state_machine.name.clone();
        let name = case.execution_name.clone();
        let opts = ExecutionOptions {
            execution_arn: express.then(|| {
                let id = express_execution_id(case).unwrap_or_else(stepbox_asl::uuid_v4);
                format!("arn:aws:states:{REGION}:{ACCOUNT}:express:{sm_name}:{name}:{id}")
            }),
            name,
            state_machine_name: sm_name,
            role_arn: Some(ROLE_ARN.into()),
            ..Default::default()
        };
        let start = start_time(case);
        let input = case.input.clone();
        let wall_timeout = self.wall_timeout;

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ActualResult::with_status("NOT_RUN", Some("RunnerSetup".into()), Some(e.to_string())))?;
        rt.block_on(async move {
            let clock = ManualClock::auto(start);
            // Callback, activity and nested-execution cases get the test's actor.
            let driver = crate::drivers::Driver::new(case, clock.clone());
            let held = Arc::new(HeldWhileRunning { inner: invoker, clock: clock.clone() });
            let engine = Engine::new(driver.invoker(held), clock).with_services(driver.services.clone());
            let run = engine.start(Arc::new(sm), input, opts, Arc::new(NullSink));
            tokio::time::timeout(wall_timeout, run).await.map_err(|_| {
                ActualResult::with_status(
                    "NOT_FINISHED",
                    Some("RunnerWallTimeout".into()),
                    Some(format!("no result within {} s of real time", wall_timeout.as_secs())),
                )
            })
        })
    }
}

/// Holds the virtual clock while a task runs on the sandbox's threads: the
/// current-thread runtime looks idle meanwhile, and the clock must not jump
/// past the task's TimeoutSeconds while a loaded machine runs it (a Lambda
/// that sleeps for real still times out, after [`stepbox_engine::HOLD_GRACE`]).
struct HeldWhileRunning {
    inner: Arc<dyn stepbox_engine::TaskInvoker>,
    clock: Arc<ManualClock>,
}

impl stepbox_engine::TaskInvoker for HeldWhileRunning {
    fn invoke(&self, req: stepbox_engine::TaskRequest) -> stepbox_engine::BoxFuture<'static, Result<Value, stepbox_engine::TaskFailure>> {
        let hold = self.clock.hold();
        let run = self.inner.invoke(req);
        Box::pin(async move {
            let out = run.await;
            drop(hold);
            out
        })
    }
}

impl CaseRunner for EngineRunner {
    fn run(&self, case: &Case) -> ActualResult {
        match self.execute(case) {
            Ok(outcome) => outcome_to_actual(&outcome),
            Err(actual) => actual,
        }
    }
}

/// The id part of the recorded express execution ARN
/// (`arn:…:express:SM:NAME:ID`), when the case's comparison names it.
///
/// AWS generates that id at StartExecution; the tests put a transformer
/// `ID → <…ExecArn_Part2_0idx>` on the value they got back, which the corpus
/// recorded as a replacement. Like the state machine and execution names, it
/// is part of the execution's identity, so the runner starts the execution
/// with it (the engine takes the ARN as an option).
pub fn express_execution_id(case: &Case) -> Option<String> {
    case.comparison
        .replacements
        .iter()
        .find(|r| {
            r.replacement.contains("ExecArn_Part2")
                && r.pattern.len() == 36
                && r.pattern.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        })
        .map(|r| r.pattern.clone())
}

/// The engine's outcome as the judge reads it.
pub fn outcome_to_actual(outcome: &ExecutionOutcome) -> ActualResult {
    ActualResult {
        status: outcome.status.as_str().to_string(),
        output: outcome.output.as_ref().map(Value::to_string),
        error: outcome.error.clone(),
        cause: outcome.cause.clone(),
    }
}

/// The virtual start time: when the case was recorded (some inputs were
/// computed from the wall clock then), else when it was last validated, else now.
pub fn start_time(case: &Case) -> DateTime<Utc> {
    let recorded = case
        .source
        .recorded_date
        .as_deref()
        .and_then(|r| NaiveDateTime::parse_from_str(r, "%d-%m-%Y, %H:%M:%S").ok())
        .map(|n| n.and_utc());
    let validated = || {
        case.source
            .last_validated_date
            .as_deref()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&Utc))
    };
    recorded.or_else(validated).unwrap_or_else(Utc::now)
}

/// Cases the engine can run: those needing no service, or only Lambda.
pub fn engine_cases(cases: &[Case]) -> Vec<&Case> {
    cases.iter().filter(|c| c.needs_only(&["lambda"])).collect()
}

/// Whether the case needs JSONata: tagged `QueryLanguage:JSONata`, or its
/// definition selects JSONata somewhere or holds a `{% … %}` expression.
pub fn needs_jsonata(case: &Case) -> bool {
    fn walk(v: &Value) -> bool {
        match v {
            Value::String(s) => {
                let t = s.trim();
                t.starts_with("{%") && t.ends_with("%}")
            }
            Value::Array(a) => a.iter().any(walk),
            Value::Object(o) => {
                o.iter().any(|(k, v)| (k == "QueryLanguage" && v.as_str() == Some("JSONata")) || walk(v))
            }
            _ => false,
        }
    }
    case.has_feature("QueryLanguage:JSONata") || walk(&case.definition)
}

/// The reason given to a failure that only differs by Lambda stack traces
/// (Python tracebacks a wasm component cannot produce).
pub const PYTHON_TRACEBACK: &str = "python-traceback";

/// Pass figures of a suite run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuiteSummary {
    /// Cases not needing JSONata.
    pub jsonpath_total: usize,
    pub jsonpath_passed: usize,
    /// JSONPath failures that pass once stack traces are ignored.
    pub jsonpath_traceback: usize,
    /// Of the JSONPath cases: those using variables (`Variables:*`).
    pub jsonpath_variables_total: usize,
    pub jsonpath_variables_passed: usize,
    /// Cases needing JSONata.
    pub jsonata_total: usize,
    pub jsonata_passed: usize,
    /// JSONata failures that pass once stack traces are ignored.
    pub jsonata_traceback: usize,
    /// Of the JSONata cases: those also using variables.
    pub jsonata_variables_total: usize,
    pub jsonata_variables_passed: usize,
}

impl SuiteSummary {
    /// JSONPath pass rate in percent, stack traces compared (corpus rules).
    pub fn jsonpath_pct(&self) -> f64 {
        pct(self.jsonpath_passed, self.jsonpath_total)
    }

    /// JSONPath pass rate in percent when `python-traceback` failures count as passes.
    pub fn jsonpath_pct_ignoring_tracebacks(&self) -> f64 {
        pct(self.jsonpath_passed + self.jsonpath_traceback, self.jsonpath_total)
    }

    /// JSONata pass rate in percent, stack traces compared (corpus rules).
    pub fn jsonata_pct(&self) -> f64 {
        pct(self.jsonata_passed, self.jsonata_total)
    }

    /// JSONata pass rate in percent when `python-traceback` failures count as passes.
    pub fn jsonata_pct_ignoring_tracebacks(&self) -> f64 {
        pct(self.jsonata_passed + self.jsonata_traceback, self.jsonata_total)
    }

    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "JSONPath: {}/{} passed ({:.1}%); {}/{} ({:.1}%) counting the {} {} failures as passes",
            self.jsonpath_passed,
            self.jsonpath_total,
            self.jsonpath_pct(),
            self.jsonpath_passed + self.jsonpath_traceback,
            self.jsonpath_total,
            self.jsonpath_pct_ignoring_tracebacks(),
            self.jsonpath_traceback,
            PYTHON_TRACEBACK,
        );
        let _ = writeln!(
            s,
            "  of which JSONPath variables (Assign, $var): {}/{} passed",
            self.jsonpath_variables_passed, self.jsonpath_variables_total
        );
        let _ = writeln!(
            s,
            "JSONata: {}/{} passed ({:.1}%); {}/{} ({:.1}%) counting the {} {} failures as passes",
            self.jsonata_passed,
            self.jsonata_total,
            self.jsonata_pct(),
            self.jsonata_passed + self.jsonata_traceback,
            self.jsonata_total,
            self.jsonata_pct_ignoring_tracebacks(),
            self.jsonata_traceback,
            PYTHON_TRACEBACK,
        );
        let _ = writeln!(
            s,
            "  of which JSONata with variables: {}/{} passed",
            self.jsonata_variables_passed, self.jsonata_variables_total
        );
        s
    }
}

fn pct(n: usize, d: usize) -> f64 {
    if d == 0 { 0.0 } else { 100.0 * n as f64 / d as f64 }
}

/// Run `cases` through `runner` and judge them with the corpus rules. A
/// failure that passes with stack traces ignored gets the reason
/// `python-traceback: <first difference>`; a failing JSONata case gets the
/// prefix `jsonata:`. Returns the report (with those reasons) and the figures.
pub fn run_suite(
    cases: &[&Case],
    runner: &dyn CaseRunner,
    on_case: &mut dyn FnMut(&CaseOutcome),
) -> (Report, SuiteSummary) {
    let strict = JudgeOptions::default();
    let lenient = JudgeOptions { ignore_stack_traces: true, ..JudgeOptions::default() };
    let mut summary = SuiteSummary::default();
    let mut report = Report::default();
    for case in cases {
        let mut one = run_all_with(std::iter::once(*case), runner, &strict, &mut |_| {});
        let Some(mut outcome) = one.outcomes.pop() else { continue };
        let jsonata = needs_jsonata(case);
        let variables = case.has_feature("Variables:*");
        let traceback = !outcome.verdict.pass && judge_with(case, &outcome.actual, &lenient).pass;
        if traceback {
            let first = outcome.verdict.reason.take().unwrap_or_default();
            outcome.verdict.reason = Some(format!("{PYTHON_TRACEBACK}: {first}"));
        }
        if jsonata {
            summary.jsonata_total += 1;
            summary.jsonata_passed += outcome.verdict.pass as usize;
            summary.jsonata_variables_total += variables as usize;
            summary.jsonata_variables_passed += (variables && outcome.verdict.pass) as usize;
            summary.jsonata_traceback += traceback as usize;
            if !outcome.verdict.pass {
                let first = outcome.verdict.reason.take().unwrap_or_default();
                outcome.verdict.reason = Some(format!("jsonata: {first}"));
            }
        } else {
            summary.jsonpath_total += 1;
            summary.jsonpath_passed += outcome.verdict.pass as usize;
            summary.jsonpath_traceback += traceback as usize;
            summary.jsonpath_variables_total += variables as usize;
            summary.jsonpath_variables_passed += (variables && outcome.verdict.pass) as usize;
        }
        on_case(&outcome);
        report.outcomes.push(outcome);
    }
    (report, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(definition: Value, features: &[&str], replacements: Value) -> Case {
        serde_json::from_value(serde_json::json!({
            "name": "t",
            "source": {"recorded_date": "13-12-2023, 07:10:32"},
            "definition": definition,
            "input": {},
            "expected": {"status": "SUCCEEDED", "output": {}},
            "features": features,
            "state_machine": {"name": "sm", "type": "EXPRESS"},
            "execution_name": "e",
            "comparison": {"replacements": replacements},
        }))
        .unwrap()
    }

    #[test]
    fn jsonata_detection() {
        let jsonpath = serde_json::json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
        assert!(!needs_jsonata(&case(jsonpath.clone(), &["State:Pass"], Value::Array(vec![]))));
        assert!(needs_jsonata(&case(jsonpath, &["QueryLanguage:JSONata"], Value::Array(vec![]))));
        let state_level = serde_json::json!({"StartAt": "P", "States": {"P": {
            "Type": "Pass", "QueryLanguage": "JSONata", "End": true}}});
        assert!(needs_jsonata(&case(state_level, &[], Value::Array(vec![]))));
        let expression = serde_json::json!({"StartAt": "P", "States": {"P": {
            "Type": "Pass", "Assign": {"x": "{% $states.input %}"}, "End": true}}});
        assert!(needs_jsonata(&case(expression, &[], Value::Array(vec![]))));
    }

    #[test]
    fn express_id_and_start_time() {
        let def = serde_json::json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
        let reps = serde_json::json!([
            {"pattern": "exec_u0000003", "replacement": "<ExpressExecArn_Part1_0idx>"},
            {"pattern": "00000000-0000-4000-8000-000000000004", "replacement": "<ExpressExecArn_Part2_0idx>"}
        ]);
        let c = case(def.clone(), &[], reps);
        assert_eq!(express_execution_id(&c).as_deref(), Some("00000000-0000-4000-8000-000000000004"));
        assert_eq!(express_execution_id(&case(def, &[], serde_json::json!([]))), None);
        assert_eq!(start_time(&c).to_rfc3339(), "2023-12-13T07:10:32+00:00");
    }
}
