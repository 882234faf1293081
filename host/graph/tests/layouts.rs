//! Every definition we have (the examples and the conformance corpus) lays
//! out with no overlapping boxes and no edge through a box, one box per state.

use std::path::Path;

use serde_json::Value;
use stepbox_graph::{Graph, Layout, check};

fn states_in(def: &Value) -> usize {
    let Some(states) = def.get("States").and_then(Value::as_object) else { return 0 };
    states
        .values()
        .map(|s| {
            let nested: usize = s
                .get("ItemProcessor")
                .or_else(|| s.get("Iterator"))
                .map(states_in)
                .unwrap_or(0)
                + s.get("Branches").and_then(Value::as_array).map_or(0, |bs| bs.iter().map(states_in).sum());
            1 + nested
        })
        .sum()
}

fn check_definition(what: &str, def: &Value) -> Vec<String> {
    let graph = Graph::from_definition(def);
    let layout = Layout::of(&graph);
    let mut out: Vec<String> = check::problems(&layout).into_iter().map(|p| format!("{what}: {p}")).collect();
    let boxes = layout.nodes.iter().filter(|n| matches!(n.kind, "state" | "group")).count();
    if boxes != states_in(def) {
        out.push(format!("{what}: {boxes} state boxes for {} states", states_in(def)));
    }
    out
}

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn example_workflows_lay_out_cleanly() {
    let mut problems = Vec::new();
    let mut seen = 0;
    for dir in ["examples/workflows", "examples/approval"] {
        for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().ends_with(".asl.json") {
                let def: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                problems.extend(check_definition(&path.display().to_string(), &def));
                seen += 1;
            }
        }
    }
    assert!(seen >= 2);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn corpus_definitions_lay_out_cleanly() {
    let mut problems = Vec::new();
    let mut seen = 0;
    for sub in ["cases", "cases_other_services"] {
        for path in stepbox_corpus::case_files(sub) {
            let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let Some(def) = case.get("definition").filter(|d| d.is_object()) else { continue };
            problems.extend(check_definition(&path.file_name().unwrap().to_string_lossy(), def));
            seen += 1;
        }
    }
    assert!(seen > 500, "only {seen} definitions");
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn nested_groups_hold_their_states_and_catch_edges_are_labelled() {
    let def: Value = serde_json::json!({
        "StartAt": "Fan",
        "States": {
            "Fan": {"Type": "Parallel", "Next": "Done", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops"}],
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
                    {"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
                        "ItemProcessor": {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "C"}, "C": {"Type": "Succeed"}}}}}}
                ]},
            "Oops": {"Type": "Fail"},
            "Done": {"Type": "Succeed"}
        }
    });
    let layout = Layout::of_definition(&def);
    let get = |name: &str| layout.nodes.iter().find(|n| n.name.as_deref() == Some(name)).unwrap();
    let inside = |inner: &str, outer: &str| {
        let (i, o) = (get(inner), get(outer));
        i.x >= o.x && i.y >= o.y && i.x + i.w <= o.x + o.w && i.y + i.h <= o.y + o.h
    };
    assert!(inside("A", "Fan") && inside("M", "Fan") && inside("B", "M") && inside("C", "M"));
    assert!(!inside("Done", "Fan"));
    let catch = layout.edges.iter().find(|e| e.kind == "catch").unwrap();
    assert_eq!((catch.from.as_str(), catch.to.as_str(), catch.label.as_deref()), ("Fan", "Oops", Some("Catch States.ALL")));
    assert!(check::problems(&layout).is_empty());
    let svg = stepbox_graph::to_svg(&layout);
    assert_eq!(svg.matches("data-state=").count(), 7);
    assert!(stepbox_graph::to_dot(&Graph::from_definition(&def)).contains("subgraph \"cluster_Fan\""));
}

#[test]
fn labels_of_neighbouring_edges_do_not_overlap() {
    let def: Value = serde_json::json!({
        "StartAt": "A2",
        "States": {
            "A2": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "A3"}], "Default": "A4"},
            "A3": {"Type": "Pass", "Next": "A4"},
            "A4": {"Type": "Succeed"}
        }
    });
    let layout = Layout::of_definition(&def);
    let boxes: Vec<(f64, f64, f64, f64)> = layout
        .edges
        .iter()
        .filter_map(|e| {
            let w = e.label.as_ref()?.chars().count() as f64 * 6.1 + 4.0;
            Some((e.label_at[0] - w / 2.0, e.label_at[1] - 6.0, e.label_at[0] + w / 2.0, e.label_at[1] + 6.0))
        })
        .collect();
    assert_eq!(boxes.len(), 2);
    let (a, b) = (boxes[0], boxes[1]);
    assert!(a.2 <= b.0 || b.2 <= a.0 || a.3 <= b.1 || b.3 <= a.1, "{a:?} overlaps {b:?}");
}
