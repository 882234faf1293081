//! Robustness: parsers never panic, whatever the input.

use proptest::prelude::*;
use serde_json::{Value, json};
use stepbox_asl::{Intrinsic, JsonPath, Scope, StateMachine, Template};

const ALPHABET: &str = "$.[]*?()@'\"\\,:-0123456789abcSt=<>!&|~/ {}";

fn path_like() -> impl Strategy<Value = String> {
    let chars: Vec<char> = ALPHABET.chars().collect();
    proptest::collection::vec(proptest::sample::select(chars), 0..40).prop_map(|v| {
        let mut s: String = v.into_iter().collect();
        s.insert(0, '$');
        s
    })
}

fn intrinsic_like() -> impl Strategy<Value = String> {
    let funcs = vec![
        "States.Format(",
        "States.Array(",
        "States.MathAdd(",
        "States.StringSplit(",
        "States.UUID(",
        "States.Hash(",
        "States.ArrayRange(",
    ];
    let chars: Vec<char> = ALPHABET.chars().collect();
    (
        proptest::sample::select(funcs),
        proptest::collection::vec(proptest::sample::select(chars), 0..40),
    )
        .prop_map(|(f, v)| format!("{f}{}", v.into_iter().collect::<String>()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn jsonpath_parse_and_eval_never_panics(s in path_like()) {
        if let Ok(p) = JsonPath::parse(&s) {
            let doc = json!({"a": [1, {"b": 2}, "x"], "b": {"c": null}, "": 0});
            let _ = p.eval(&doc);
            let _ = p.canonical();
            let mut d2 = doc.clone();
            if p.is_definite() { let _ = p.set(&mut d2, json!(1)); }
        }
        let _ = JsonPath::parse_reference(&s);
    }

    #[test]
    fn intrinsic_parse_and_eval_never_panics(s in intrinsic_like()) {
        if let Ok(i) = Intrinsic::parse(&s) {
            let input = json!({"a": [1, 2], "s": "x,y", "n": 3});
            let ctx = json!({});
            let _ = i.evaluate(&Scope::new(&input, &ctx));
        }
    }

    #[test]
    fn template_compile_never_panics(k in "[a-z]{1,3}(\\.\\$)?", s in path_like()) {
        let mut m = serde_json::Map::new();
        m.insert(k, Value::String(s));
        if let Ok(t) = Template::compile(&Value::Object(m)) {
            let _ = t.eval(&Scope::new(&json!({"a": 1}), &json!({})));
        }
    }
}

/// xorshift for deterministic mutations
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

fn mutate(v: &mut Value, rng: &mut Rng, depth: usize) {
    let replacements = [
        json!(null),
        json!(1),
        json!(-1),
        json!("$.x"),
        json!("States.Format('{}')"),
        json!([]),
        json!({}),
        json!(true),
        json!("x"),
        json!(1.5),
    ];
    match v {
        Value::Object(o) if !o.is_empty() && depth < 12 => {
            let keys: Vec<String> = o.keys().cloned().collect();
            let k = keys[rng.below(keys.len())].clone();
            match rng.below(5) {
                0 => {
                    o.remove(&k);
                }
                1 => {
                    o.insert(k, replacements[rng.below(replacements.len())].clone());
                }
                2 => {
                    o.insert(
                        format!("{k}X"),
                        replacements[rng.below(replacements.len())].clone(),
                    );
                }
                _ => mutate(o.get_mut(&k).unwrap(), rng, depth + 1),
            }
        }
        Value::Array(a) if !a.is_empty() && depth < 12 => {
            let i = rng.below(a.len());
            if rng.below(4) == 0 {
                a.remove(i);
            } else {
                mutate(&mut a[i], rng, depth + 1)
            }
        }
        other => *other = replacements[rng.below(replacements.len())].clone(),
    }
}

#[test]
fn mutated_corpus_definitions_never_panic() {
    // The first 400 definitions of the corpus (vendored in tests/conformance).
    let defs: Vec<Value> = stepbox_corpus::case_files("cases")
        .into_iter()
        .take(400)
        .map(|p| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            v["definition"].clone()
        })
        .collect();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut rejected = 0;
    let mut total = 0;
    for d in &defs {
        for _ in 0..8 {
            let mut m = d.clone();
            for _ in 0..=rng.below(3) {
                mutate(&mut m, &mut rng, 0);
            }
            total += 1;
            if StateMachine::from_value(&m).is_err() {
                rejected += 1;
            }
            // raw text corruption too
            let mut txt = serde_json::to_string(&m).unwrap().into_bytes();
            if !txt.is_empty() {
                let i = rng.below(txt.len());
                txt[i] = b"{}[]\",:$"[rng.below(8)];
                let _ = StateMachine::parse(&String::from_utf8_lossy(&txt));
            }
        }
    }
    println!("{rejected} of {total} mutated definitions rejected");
    assert!(
        rejected > 0,
        "mutations should produce some invalid definitions"
    );
}
