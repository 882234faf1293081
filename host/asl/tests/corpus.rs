//! Corpus-driven tests: every definition AWS accepted must parse and validate.

use serde_json::Value;
use std::path::PathBuf;
use stepbox_asl::StateMachine;

fn corpus_dir() -> Option<PathBuf> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    [
        here.join("../../../shared/conformance"),
        PathBuf::from("/work/shared/conformance"),
        here.join("../../shared/conformance"),
    ]
    .into_iter()
    .find(|c| c.join("cases").is_dir())
}

fn cases(sub: &str) -> Vec<(String, Value)> {
    let Some(dir) = corpus_dir() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir.join(sub)) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") {
            let txt = std::fs::read_to_string(&p).expect("read case");
            let v: Value = serde_json::from_str(&txt).expect("case json");
            out.push((p.file_name().unwrap().to_string_lossy().into_owned(), v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_accepted_definition_parses() {
    let mut all = cases("cases");
    all.extend(cases("cases_other_services"));
    if all.is_empty() {
        eprintln!("conformance corpus not found; skipping");
        return;
    }
    let mut failures = Vec::new();
    for (name, case) in &all {
        let def = serde_json::to_string(&case["definition"]).unwrap();
        if let Err(d) = StateMachine::parse(&def) {
            failures.push(format!(
                "{name}: {}",
                stepbox_asl::invalid_definition_message(&d)
            ));
        }
    }
    for f in &failures {
        eprintln!("{f}");
    }
    println!(
        "{} of {} corpus definitions parse",
        all.len() - failures.len(),
        all.len()
    );
    assert!(
        failures.is_empty(),
        "{} definitions rejected",
        failures.len()
    );
}
