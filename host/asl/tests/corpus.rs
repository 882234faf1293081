//! Corpus-driven tests: every definition AWS accepted must parse and validate.

use serde_json::Value;
use stepbox_asl::StateMachine;

/// Every case of the corpus subdirectory `sub`, by file name (the corpus is
/// vendored in `tests/conformance`; a missing one fails the test).
fn cases(sub: &str) -> Vec<(String, Value)> {
    stepbox_corpus::case_files(sub)
        .into_iter()
        .map(|p| {
            let txt = std::fs::read_to_string(&p).expect("read case");
            let v: Value = serde_json::from_str(&txt).expect("case json");
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect()
}

#[test]
fn every_accepted_definition_parses() {
    let mut all = cases("cases");
    all.extend(cases("cases_other_services"));
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
