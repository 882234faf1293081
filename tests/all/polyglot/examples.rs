//! examples/workflows/polyglot.asl.json with `stepbox run`: a Rust task
//! (transform), a JavaScript task in a Map (examples/lambda-js/label) and a
//! Python task (examples/lambda-python/shipping) whose error a Catch matches.

use serde_json::{Value, json};
use stepbox_tests::stepbox;
use stepbox_toolchain::{Runtime, Source};

use super::{build, kept};

const WORKFLOW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/workflows/polyglot.asl.json");
const INPUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/workflows/polyglot.input.json");

fn example(dir: &str) -> Source {
    Source::Dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(dir))
}

/// transform.wasm, label.wasm and shipping.wasm in a directory for `--functions`.
fn functions() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let transform = stepbox_components::bytes("transform").unwrap();
    let label = build(Runtime::Nodejs22, "index.handler", &example("lambda-js/label")).unwrap();
    let shipping = build(Runtime::Python312, "app.handler", &example("lambda-python/shipping")).unwrap();
    for (name, wasm) in [("transform", transform), ("label", label), ("shipping", shipping)] {
        std::fs::write(dir.path().join(format!("{name}.wasm")), wasm).unwrap();
    }
    dir
}

fn run(functions: &tempfile::TempDir, input: &Value) -> (std::process::ExitCode, String, String) {
    let input = input.to_string();
    let artifacts = kept("polyglot-artifacts");
    let dir = functions.path().to_str().unwrap();
    stepbox(&["run", WORKFLOW, "--input", &input, "--functions", dir, "--cache-dir", artifacts.to_str().unwrap()])
}

#[test]
fn the_polyglot_example_runs_rust_javascript_and_python_tasks() {
    let functions = functions();
    let input: Value = serde_json::from_str(&std::fs::read_to_string(INPUT).unwrap()).unwrap();
    let (code, out, err) = run(&functions, &input);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    let output: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(output["items"][0]["label"], "3 x SKU-1 (4.50)");
    assert_eq!(output["items"][1]["label"], "1 x SKU-2 (12.00)");
    assert_eq!(output["shipping"], json!({"carrier": "DHL", "cost": 6.9, "free": false}));

    // A Map of 100 items, each labelled by a fresh JavaScript instance.
    let items: Vec<Value> = (0..100).map(|i| json!({"sku": format!("SKU-{i}"), "price": 2.0, "qty": 1})).collect();
    let big = json!({"id": "order-100", "address": {"country": "FR"}, "tax_rate": 0, "items": items});
    let (code, out, err) = run(&functions, &big);
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    let output: Value = serde_json::from_str(&out).unwrap();
    let labels: Vec<&str> = output["items"].as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert_eq!(labels.len(), 100);
    assert_eq!(labels[99], "1 x SKU-99 (2.00)");
    assert_eq!(output["shipping"], json!({"carrier": "Colissimo", "cost": 0, "free": true}));

    // The Python task's AddressMissing is caught by its class name; the
    // Fail state's cause is Lambda's Python envelope.
    let (code, _, err) = run(&functions, &json!({"id": "order-8", "tax_rate": 0, "items": []}));
    assert_eq!(code, std::process::ExitCode::from(1));
    assert!(err.contains("OrderHeld"), "{err}");
    assert!(err.contains(r#"\"errorType\":\"AddressMissing\""#) || err.contains(r#""errorType":"AddressMissing""#), "{err}");
    assert!(err.contains("order order-8 has no shipping address"), "{err}");
}
