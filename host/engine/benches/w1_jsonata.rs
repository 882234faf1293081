//! W1 of the shared benchmark (a chain of 1000 Pass states that each compute
//! `tmp := {counter + 1, 'step N of NAME', name}` and merge it into the input)
//! written in JSONPath (Parameters + intrinsics + ResultPath, as
//! the shared benchmark kit's gen_workloads.py has it) and in JSONata (one Output
//! expression, as host/bench/jsonata/gen_w1.py has it), run alternately on
//! the engine alone (no sandbox: W1 has no Task) and reported as the median
//! transitions/s of each and their ratio. Target: JSONata within 3x.
//!
//! STEPBOX_BENCH_ROUNDS (default 15) rounds of 5 executions per language.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use stepbox_asl::StateMachine;
use stepbox_engine::*;

const STATES: usize = 1000;

struct NoTasks;

impl TaskInvoker for NoTasks {
    fn invoke(&self, _: TaskRequest) -> BoxFuture<'static, Result<Value, TaskFailure>> {
        Box::pin(async { Err(TaskFailure::new("NoTasks", "W1 has no Task state")) })
    }
}

fn chain(body: Value) -> serde_json::Map<String, Value> {
    let mut states = serde_json::Map::new();
    for i in 0..STATES {
        let mut s = body.clone();
        if i + 1 == STATES {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("P{:04}", i + 1));
        }
        states.insert(format!("P{i:04}"), s);
    }
    states
}

fn jsonpath() -> Value {
    json!({"StartAt": "P0000", "States": chain(json!({"Type": "Pass",
        "Parameters": {"counter.$": "States.MathAdd($.tmp.counter, 1)",
                       "label.$": "States.Format('step {} of {}', $.tmp.counter, $.name)",
                       "name.$": "$.name"},
        "ResultPath": "$.tmp"}))})
}

fn jsonata() -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": "P0000", "States": chain(json!({"Type": "Pass",
        "Output": "{% $merge([$states.input, {'tmp': {'counter': $states.input.tmp.counter + 1, \
                   'label': 'step ' & $states.input.tmp.counter & ' of ' & $states.input.name, \
                   'name': $states.input.name}}]) %}"}))})
}

fn main() {
    let rounds: usize = std::env::var("STEPBOX_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(15);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let engine = Engine::new(Arc::new(NoTasks), clock);
    let input = json!({"name": "bench", "data": {"a": 1, "b": [1, 2, 3], "c": {"d": "e"}}, "tmp": {"counter": 0}});
    let machines = [("JSONPath", jsonpath()), ("JSONata", jsonata())]
        .map(|(name, def)| (name, Arc::new(StateMachine::from_value(&def).expect("valid W1"))));
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        for (k, (_, sm)) in machines.iter().enumerate() {
            let t = Instant::now();
            for _ in 0..5 {
                let out = rt.block_on(engine.start(sm.clone(), input.clone(), ExecutionOptions::default(), Arc::new(NullSink)));
                let out = out.output.expect("W1 succeeds");
                assert_eq!(out["tmp"]["counter"], STATES);
                assert_eq!(out["tmp"]["label"], format!("step {} of bench", STATES - 1));
                assert_eq!(out["data"]["c"]["d"], "e");
            }
            rates[k].push(5.0 * STATES as f64 / t.elapsed().as_secs_f64());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (jp, ja) = (median(&mut rates[0]), median(&mut rates[1]));
    println!("W1 JSONPath: {jp:>10.0} transitions/s (median of {rounds} rounds of 5 executions)");
    println!("W1 JSONata:  {ja:>10.0} transitions/s");
    println!("JSONPath / JSONata: {:.2}x (target <= 3x)", jp / ja);
}
