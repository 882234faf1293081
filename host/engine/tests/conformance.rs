//! Runs the recorded-against-AWS corpus cases that need no external service
//! (or only Lambda, re-implemented in-process) and compares the results.

mod common;

use regex::Regex;
use serde_json::Value;
use std::sync::Arc;
use stepbox_asl::StateMachine;
use stepbox_engine::{Engine, ExecutionOptions, ManualClock, VecSink};

fn selected(case: &Value) -> bool {
    let feats: Vec<&str> = case["features"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    if feats.contains(&"QueryLanguage:JSONata") {
        return false;
    }
    let needs = case["needs"].as_array().map(|a| a.len()).unwrap_or(0);
    needs == 0 || true_if_lambda_only(case)
}

fn true_if_lambda_only(case: &Value) -> bool {
    case["needs"]
        .as_array()
        .is_some_and(|a| a.iter().all(|n| n == "lambda"))
}

/// Normalises an actual value the way the snapshot library did.
fn normalise(v: &Value, case: &Value) -> Value {
    let mut s = serde_json::to_string(v).unwrap();
    if let Some(reps) = case["comparison"]["replacements"].as_array() {
        for r in reps {
            if let (Some(p), Some(rep)) = (r["pattern"].as_str(), r["replacement"].as_str())
                && let Ok(re) = Regex::new(p)
            {
                s = re.replace_all(&s, regex::NoExpand(rep)).into_owned();
            }
        }
    }
    s = s
        .replace("arn:aws:", "arn:<partition>:")
        .replace("us-east-1", "<region>");
    serde_json::from_str(&s).unwrap_or(Value::String(s))
}

fn token_regex(expected: &str) -> Option<Regex> {
    let tok = Regex::new(r"<[A-Za-z0-9_\-]+(:\d+)?>|\bdate\b").unwrap();
    if !tok.is_match(expected) {
        return None;
    }
    let mut pat = String::from("(?s)^");
    let mut last = 0;
    for m in tok.find_iter(expected) {
        pat.push_str(&regex::escape(&expected[last..m.start()]));
        pat.push_str(".*");
        last = m.end();
    }
    pat.push_str(&regex::escape(&expected[last..]));
    pat.push('$');
    Regex::new(&pat).ok()
}

fn matches(
    expected: &Value,
    actual: &Value,
    ignore: &[String],
    wild: &[String],
) -> Result<(), String> {
    match (expected, actual) {
        (Value::String(e), _) if wild.iter().any(|w| w == e) || e == "date" || e == "timestamp" => {
            Ok(())
        }
        (Value::String(e), Value::String(a)) => {
            if e == a {
                return Ok(());
            }
            if let Some(re) = token_regex(e)
                && re.is_match(a)
            {
                return Ok(());
            }
            Err(format!("string {e:?} != {a:?}"))
        }
        (Value::Object(_), Value::String(a)) | (Value::Array(_), Value::String(a)) => {
            match serde_json::from_str::<Value>(a) {
                Ok(p) if !p.is_string() => matches(expected, &p, ignore, wild),
                _ => Err(format!("expected structure, got string {a:?}")),
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            if e.as_f64() == a.as_f64() {
                Ok(())
            } else {
                Err(format!("number {e} != {a}"))
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!("array length {} != {}", e.len(), a.len()));
            }
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                matches(x, y, ignore, wild).map_err(|m| format!("[{i}] {m}"))?;
            }
            Ok(())
        }
        (Value::Object(e), Value::Object(a)) => {
            for (k, x) in e {
                if ignore.contains(k) {
                    continue;
                }
                match a.get(k) {
                    Some(y) => matches(x, y, ignore, wild).map_err(|m| format!(".{k} {m}"))?,
                    None => return Err(format!("missing key {k}")),
                }
            }
            for k in a.keys() {
                if !e.contains_key(k) && !ignore.contains(k) {
                    return Err(format!("unexpected key {k}"));
                }
            }
            Ok(())
        }
        _ => {
            if expected == actual {
                Ok(())
            } else {
                Err(format!("{expected} != {actual}"))
            }
        }
    }
}

fn check(case: &Value, outcome: &stepbox_engine::ExecutionOutcome) -> Result<(), String> {
    let exp = &case["expected"];
    let ignore: Vec<String> = case["comparison"]["ignore_paths"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str())
                .filter_map(|p| p.strip_prefix("$.."))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let wild: Vec<String> = case["comparison"]["wildcards"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let status = exp["status"].as_str().unwrap_or_default();
    if outcome.status.as_str() != status {
        return Err(format!(
            "status {} != {status} (error={:?} cause={:?})",
            outcome.status.as_str(),
            outcome.error,
            outcome
                .cause
                .as_deref()
                .map(|c| c.chars().take(300).collect::<String>())
        ));
    }
    if status == "SUCCEEDED" {
        let actual = normalise(outcome.output.as_ref().unwrap_or(&Value::Null), case);
        return matches(&exp["output"], &actual, &ignore, &wild)
            .map_err(|m| format!("output: {m}"));
    }
    let e_err = exp.get("error").cloned().unwrap_or(Value::Null);
    let a_err = outcome
        .error
        .clone()
        .map(Value::String)
        .unwrap_or(Value::Null);
    matches(&e_err, &normalise(&a_err, case), &ignore, &wild).map_err(|m| format!("error: {m}"))?;
    if ignore.iter().any(|i| i == "Cause" || i == "cause") {
        return Ok(());
    }
    let e_cause = exp.get("cause").cloned().unwrap_or(Value::Null);
    let a_cause = outcome
        .cause
        .clone()
        .map(Value::String)
        .unwrap_or(Value::Null);
    let a_cause = normalise(&a_cause, case);
    // Stack traces are Python-specific.
    let mut ign = ignore.clone();
    ign.push("stackTrace".into());
    matches(&e_cause, &a_cause, &ign, &wild).map_err(|m| format!("cause: {m}"))
}

async fn run_case(case: &Value) -> Result<(), String> {
    let def = serde_json::to_string(&case["definition"]).unwrap();
    let sm = StateMachine::parse(&def)
        .map_err(|d| format!("parse: {}", stepbox_asl::invalid_definition_message(&d)))?;
    let start = case["source"]["last_validated_date"]
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&chrono::Utc))
        .or_else(|| {
            let r = case["source"]["recorded_date"].as_str()?;
            chrono::NaiveDateTime::parse_from_str(r, "%d-%m-%Y, %H:%M:%S")
                .ok()
                .map(|n| n.and_utc())
        })
        .unwrap_or_else(chrono::Utc::now);
    let clock = ManualClock::auto(start);
    let tasks = common::CorpusLambdas::new(clock.clone(), &case["lambdas"]);
    let engine = Engine::new(tasks, clock.clone());
    let name = case["execution_name"]
        .as_str()
        .unwrap_or("exec")
        .to_string();
    let sm_name = case["state_machine"]["name"]
        .as_str()
        .unwrap_or("sm")
        .to_string();
    let express = case["state_machine"]["type"].as_str() == Some("EXPRESS");
    let opts = ExecutionOptions {
        execution_arn: express.then(|| {
            format!(
                "arn:aws:states:us-east-1:111111111111:express:{sm_name}:{name}:{}",
                stepbox_asl::uuid_v4()
            )
        }),
        name,
        state_machine_name: sm_name,
        role_arn: Some("arn:aws:iam::111111111111:role/sfn_role".into()),
        ..Default::default()
    };
    let sink = Arc::new(VecSink::new());
    let fut = engine.start(Arc::new(sm), case["input"].clone(), opts, sink.clone());
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(20), fut)
        .await
        .map_err(|_| "wall-clock timeout".to_string())?;
    // History ids are chained.
    let ev = sink.events();
    for (i, e) in ev.iter().enumerate() {
        if e.id != i as u64 + 1 || e.previous_event_id >= e.id {
            return Err(format!(
                "bad event ids at {i}: {:?}",
                (e.id, e.previous_event_id)
            ));
        }
    }
    check(case, &outcome)?;
    // Event sequence (only where ordering is deterministic: no Map/Parallel).
    let expected: Vec<&str> = case["history_event_types"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    if !expected.is_empty() {
        let actual = sink.types();
        if !expected
            .iter()
            .any(|t| t.starts_with("Map") || t.starts_with("Parallel"))
        {
            if actual != expected {
                return Err(format!("history: expected {expected:?}, got {actual:?}"));
            }
        } else {
            // Branches interleave: compare as multisets.
            let (mut e, mut a) = (expected.clone(), actual.clone());
            e.sort();
            a.sort();
            if e != a {
                return Err(format!(
                    "history (unordered): expected {expected:?}, got {actual:?}"
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn corpus_conformance() {
    let filter = std::env::var("STEPBOX_CASE").ok();
    // The corpus vendored in tests/conformance (or $STEPBOX_CONFORMANCE_DIR).
    let files = stepbox_corpus::case_files("cases");
    let mut pass = 0;
    let mut fails = Vec::new();
    let mut total = 0;
    let (mut pure_total, mut pure_pass) = (0, 0);
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if filter
            .as_ref()
            .is_some_and(|flt| !name.contains(flt.as_str()))
        {
            continue;
        }
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        if !selected(&case) {
            continue;
        }
        total += 1;
        let pure = case["needs"].as_array().is_some_and(|a| a.is_empty());
        pure_total += pure as usize;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        match rt.block_on(run_case(&case)) {
            Ok(()) => {
                pass += 1;
                pure_pass += pure as usize;
            }
            Err(e) => fails.push(format!("{name}: {e}")),
        }
    }
    for f in &fails {
        println!("FAIL {f}");
    }
    println!("conformance (needs=[]): {pure_pass}/{pure_total}");
    println!("conformance (needs=[] or [lambda], fake Lambdas): {pass}/{total}");
    println!(
        "conformance: {pass} passed, {} failed of {total} selected cases",
        fails.len()
    );
    if filter.is_none() && total > 0 {
        assert!(
            pass * 100 >= total * 95,
            "conformance below 95%: {pass}/{total}"
        );
    }
}
