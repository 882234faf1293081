//! JSONata states on the engine: Arguments, Output, Assign, Choice
//! Condition, Map Items, Catch, and the variable scopes.

use super::*;

#[tokio::test]
async fn arguments_output_and_assign_before_output() {
    let r = run_with(
        json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": lambda("echo"),
                  "Arguments": {"n": "{% $states.input.n + 1 %}", "static": "x"},
                  "Assign": {"seen": "{% $states.result.n %}", "old": "{% $total %}"},
                  "Output": {"result": "{% $states.result %}", "count": "{% $total %}"}, "Next": "P"},
            "P": {"Type": "Pass", "Output": {"seen": "{% $seen %}", "old": "{% $old %}"}, "End": true}}}),
        json!({"n": 1}),
        &[],
    )
    .await;
    // $total is undefined: Assign's and Output's reads of it fail before P.
    assert_eq!(r.outcome.status, ExecutionStatus::Failed);
    assert_eq!(r.outcome.error.as_deref(), Some("States.QueryEvaluationError"));
    let cause = r.outcome.cause.unwrap();
    assert!(cause.contains("'$total' specified for the field 'Assign/old' returned nothing (undefined)"), "{cause}");

    let r = run_with(
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"total": 5}, "Next": "T"},
            "T": {"Type": "Task", "Resource": lambda("echo"),
                  "Arguments": {"n": "{% $states.input.n + 1 %}", "static": "x"},
                  "Assign": {"total": "{% $total + 1 %}", "seen": "{% $states.result.n %}"},
                  "Output": {"result": "{% $states.result %}", "count": "{% $total %}"}, "Next": "P"},
            "P": {"Type": "Pass", "Output": {"in": "{% $states.input %}", "count": "{% $total %}", "seen": "{% $seen %}"}, "End": true}}}),
        json!({"n": 1}),
        &[],
    )
    .await;
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded, "{:?}", r.outcome.cause);
    // Output saw $total as it was on entry (5); P sees the assignment (6).
    assert_eq!(
        r.outcome.output,
        Some(json!({"in": {"result": {"n": 2, "static": "x"}, "count": 5}, "count": 6, "seen": 2}))
    );
    assert_eq!(r.fake.calls.lock().unwrap()[0].input, json!({"n": 2, "static": "x"}));
}

#[tokio::test]
async fn choice_conditions_and_catch_error_output() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
                {"Condition": "{% $states.input.n > 10 %}", "Next": "Big", "Assign": {"size": "big"}}],
              "Default": "T", "Assign": {"size": "small"}},
        "Big": {"Type": "Succeed", "Output": "{% $size %}"},
        "T": {"Type": "Task", "Resource": lambda("boom"), "End": true,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught",
                         "Assign": {"err": "{% $states.errorOutput.Error %}"},
                         "Output": {"cause": "{% $exists($states.errorOutput.Cause) %}", "size": "{% $size %}"}}]},
        "Caught": {"Type": "Pass", "Output": {"out": "{% $states.input %}", "err": "{% $err %}"}, "End": true}}});
    let big = run_with(def.clone(), json!({"n": 11}), &[]).await;
    assert_eq!(big.outcome.output, Some(json!("big")));
    let small = run_with(def, json!({"n": 1}), &[("boom", Behaviour::Fail("Oops", "it broke"))]).await;
    assert_eq!(
        small.outcome.output,
        Some(json!({"out": {"cause": true, "size": "small"}, "err": "Oops"}))
    );
    let bad = run_with(
        json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Condition": "{% 'yes' %}", "Next": "S"}]},
            "S": {"Type": "Succeed"}}}),
        json!({}),
        &[],
    )
    .await;
    assert_eq!(bad.outcome.error.as_deref(), Some("States.QueryEvaluationError"));
}

#[tokio::test]
async fn map_items_selector_and_inner_scopes() {
    let r = run_with(
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"outer": 1}, "Next": "M"},
            "M": {"Type": "Map", "Items": "{% $states.input.xs %}", "MaxConcurrency": "{% 2 %}",
                  "ItemSelector": {"v": "{% $states.context.Map.Item.Value * 10 %}", "i": "{% $states.context.Map.Item.Index %}"},
                  "ItemProcessor": {"StartAt": "In", "States": {
                      "In": {"Type": "Pass", "Assign": {"outer": 99}, "Output": {"v": "{% $states.input.v + $outer %}"}, "End": true}}},
                  "Output": {"results": "{% $states.result %}", "outer": "{% $outer %}"}, "End": true}}}),
        json!({"xs": [1, 2]}),
        &[],
    )
    .await;
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded, "{:?}", r.outcome.cause);
    // The iterations read $outer (1); their assignment to it does not leak out.
    assert_eq!(r.outcome.output, Some(json!({"results": [{"v": 11}, {"v": 21}], "outer": 1})));

    let r = run_with(
        json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {
            "M": {"Type": "Map", "Items": "{% 'string' %}", "End": true,
                  "ItemProcessor": {"StartAt": "In", "States": {"In": {"Type": "Pass", "End": true}}}}}}),
        json!({}),
        &[],
    )
    .await;
    assert_eq!(r.outcome.error.as_deref(), Some("States.QueryEvaluationError"));
    assert!(r.outcome.cause.unwrap().ends_with(
        "The JSONata expression ''string'' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'string' for value: \"string\""
    ));
}

#[tokio::test]
async fn wait_seconds_expression_and_fail_fields() {
    let r = run_with(
        json!({"QueryLanguage": "JSONata", "StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": "{% $states.input.s %}", "Next": "F"},
            "F": {"Type": "Fail", "Error": "{% 'E.' & $states.input.s %}", "Cause": "static"}}}),
        json!({"s": 30}),
        &[],
    )
    .await;
    assert_eq!(r.clock.now(), t0() + chrono::Duration::seconds(30));
    assert_eq!((r.outcome.error.as_deref(), r.outcome.cause.as_deref()), (Some("E.30"), Some("static")));
}

/// `assignedVariables` of each `…StateExited` event, by state name.
fn assigned_in_history(r: &Run) -> Vec<(String, Option<Value>)> {
    r.sink
        .events()
        .iter()
        .filter(|e| e.event_type.as_str().ends_with("StateExited"))
        .map(|e| {
            let d = e.details_json().expect("exit details");
            if d.get("assignedVariables").is_some() {
                assert_eq!(d["assignedVariablesDetails"], json!({"truncated": false}));
            }
            (d["name"].as_str().unwrap().to_string(), d.get("assignedVariables").cloned())
        })
        .collect()
}

#[tokio::test]
async fn assigned_variables_appear_in_state_exited_events() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"n": "{% $states.input.n %}", "obj": {"k": [1, "two"]}}, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Condition": "{% $n > 10 %}", "Next": "B"}],
              "Default": "T", "Assign": {"size": "small"}},
        "B": {"Type": "Pass", "End": true},
        "T": {"Type": "Task", "Resource": lambda("boom"), "Next": "Done",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done",
                         "Assign": {"err": "{% $states.errorOutput.Error %}"}}]},
        "Done": {"Type": "Pass", "End": true}}});
    let r = run_with(def, json!({"n": 1}), &[("boom", Behaviour::Fail("Oops", "it broke"))]).await;
    assert_eq!(
        assigned_in_history(&r),
        vec![
            ("A".into(), Some(json!({"n": "1", "obj": "{\"k\":[1,\"two\"]}"}))),
            ("C".into(), Some(json!({"size": "\"small\""}))),
            ("T".into(), Some(json!({"err": "\"Oops\""}))),
            ("Done".into(), None),
        ]
    );

    // JSONPath Assign, and a Parallel branch's assignment in its own event.
    let r = run_with(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"x.$": "$.v", "s": "lit"}, "Next": "E"},
            "E": {"Type": "Pass", "Assign": {}, "Next": "P"},
            "P": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "In", "States": {"In": {"Type": "Pass", "Assign": {"y": 2}, "End": true}}}]}}}),
        json!({"v": [true]}),
        &[],
    )
    .await;
    assert_eq!(
        assigned_in_history(&r),
        vec![
            ("A".into(), Some(json!({"x": "[true]", "s": "\"lit\""}))),
            ("E".into(), None),
            ("In".into(), Some(json!({"y": "2"}))),
            ("P".into(), None),
        ]
    );
}

#[tokio::test]
async fn variable_size_limits_in_both_languages() {
    // 256 KiB of JSON text: a string of 262,142 characters plus its quotes.
    let big = "x".repeat(256 * 1024 - 2);
    let half = "x".repeat(128 * 1024);
    let cases = [
        // One variable over 256 KiB.
        (json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"v": "{% $states.input.big & 'y' %}"}, "End": true}}}), "'v'"),
        (json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Parameters": {"s.$": "States.Format('{}y', $.big)"}, "Assign": {"v.$": "$.s"}, "End": true}}}), "'v'"),
        // Two variables, each under the limit, over it together in one Assign.
        (json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"a": "{% $states.input.half %}", "b": "{% $states.input.half %}"}, "End": true}}}), "combined size"),
        (json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"a.$": "$.half", "b.$": "$.half"}, "End": true}}}), "combined size"),
    ];
    for (def, expected) in cases {
        let r = run_with(def, json!({"big": big, "half": half}), &[]).await;
        assert_eq!(r.outcome.error.as_deref(), Some("States.Runtime"), "{expected}");
        let cause = r.outcome.cause.unwrap();
        assert!(cause.contains(expected), "{cause}");
        assert!(cause.contains("state 'A'"), "{cause}");
    }
    // Exactly 256 KiB is allowed.
    let ok = run_with(
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"v": "{% $states.input.big %}"}, "Next": "B"},
            "B": {"Type": "Pass", "Output": "{% $length($v) %}", "End": true},
        }}),
        json!({"big": big}),
        &[],
    )
    .await;
    assert_eq!(ok.outcome.output, Some(json!(big.len())));

    // The execution total: 41 variables of 256 KiB exceed 10 MiB; a Map
    // iteration's variables count while it runs.
    for language in ["JSONata", "JSONPath"] {
        let (value, fresh) = if language == "JSONata" {
            (json!("{% $states.input.big %}"), json!({"v40": "{% $v1 %}"}))
        } else {
            (json!("$.big"), json!({"v40.$": "$v1"}))
        };
        let key = |i: usize| if language == "JSONata" { format!("v{i}") } else { format!("v{i}.$") };
        let mut states = serde_json::Map::new();
        for i in 0..40 {
            states.insert(format!("S{i}"), json!({"Type": "Pass", "Assign": {key(i): value}, "Next": format!("S{}", i + 1)}));
        }
        // Reassigning v0 replaces it: still 10 MiB in total.
        states.insert("S40".into(), json!({"Type": "Pass", "Assign": {key(0): value}, "Next": "M"}));
        states.insert("M".into(), json!({"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "In", "States": {
            "In": {"Type": "Pass", "Assign": fresh, "End": true}}}}));
        let items = if language == "JSONata" { json!({"Items": "{% [1] %}"}) } else { json!({"ItemsPath": "$.one"}) };
        states["M"].as_object_mut().unwrap().extend(items.as_object().unwrap().clone());
        let def = json!({"QueryLanguage": language, "StartAt": "S0", "States": states});
        let r = run_with(def, json!({"big": big, "one": [1]}), &[]).await;
        assert_eq!(r.outcome.error.as_deref(), Some("States.Runtime"), "{language}");
        let cause = r.outcome.cause.unwrap();
        assert!(cause.contains("total size") && cause.contains("state 'In'"), "{language}: {cause}");
    }
}
