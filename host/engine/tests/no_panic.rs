//! Robustness: the engine never panics, whatever the input, for every corpus
//! definition (inputs mutated at random).

mod common;

use serde_json::{Value, json};
use std::sync::Arc;
use stepbox_asl::StateMachine;
use stepbox_engine::{Engine, ExecutionOptions, ManualClock, VecSink};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(v: &mut Value, rng: &mut Rng) {
    let pool = [
        json!(null),
        json!(-1),
        json!(0),
        json!(1.5),
        json!("x"),
        json!("2024-01-01T00:00:00Z"),
        json!([]),
        json!({}),
        json!([1, "a"]),
        json!(true),
        json!(1e300),
    ];
    match v {
        Value::Object(o) if !o.is_empty() && rng.below(3) > 0 => {
            let keys: Vec<String> = o.keys().cloned().collect();
            let k = keys[rng.below(keys.len())].clone();
            if rng.below(4) == 0 {
                o.remove(&k);
            } else {
                mutate(o.get_mut(&k).unwrap(), rng)
            }
        }
        Value::Array(a) if !a.is_empty() && rng.below(3) > 0 => {
            let i = rng.below(a.len());
            mutate(&mut a[i], rng)
        }
        other => *other = pool[rng.below(pool.len())].clone(),
    }
}

#[test]
fn engine_survives_mutated_inputs() {
    // The corpus vendored in tests/conformance (or $STEPBOX_CONFORMANCE_DIR).
    let files = stepbox_corpus::case_files("cases");
    let mut rng = Rng(0x2545F4914F6CDD1D);
    let mut runs = 0;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for f in files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let Ok(sm) = StateMachine::from_value(&case["definition"]) else {
            continue;
        };
        let sm = Arc::new(sm);
        for _ in 0..3 {
            let mut input = case["input"].clone();
            mutate(&mut input, &mut rng);
            rt.block_on(async {
                let clock = ManualClock::auto(chrono::Utc::now());
                let tasks = common::CorpusLambdas::new(clock.clone(), &case["lambdas"]);
                let engine = Engine::new(tasks, clock);
                let opts = ExecutionOptions {
                    name: "fuzz".into(),
                    state_machine_name: "sm".into(),
                    ..Default::default()
                };
                let fut = engine.start(sm.clone(), input, opts, Arc::new(VecSink::new()));
                // A wall-clock bound only: virtual time makes waits instant.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(10), fut).await;
            });
            runs += 1;
        }
    }
    println!("{runs} mutated executions ran without panicking");
    assert!(runs > 0);
}
