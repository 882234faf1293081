//! Parsing and validation of definitions: the model built and the diagnostics given.

use super::*;
use serde_json::json;

fn parse(v: Value) -> Result<StateMachine, Vec<Diagnostic>> {
    StateMachine::from_value(&v)
}

#[test]
fn simple() {
    let sm = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}})).unwrap();
    assert_eq!(sm.start().name, "A");
    assert_eq!(sm.start().next, Some(1));
    assert_eq!(sm.index_of("B"), Some(1));
}

#[test]
fn diagnostics() {
    let e = parse(json!({"StartAt": "pass1", "States": {"pass1": {"Type": "Pass", "Next": "pass3"}, "pass2": {"Type": "Pass", "End": true}}})).unwrap_err();
    let msg = crate::error::invalid_definition_message(&e);
    assert!(
        msg.contains(
            "MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at /States/pass1/Next"
        ),
        "{msg}"
    );
    let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}})).unwrap_err();
    assert_eq!(e[0].code, "MISSING_END_STATE");
    let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "B": {"Type": "Pass", "End": true}}})).unwrap_err();
    assert_eq!(e[0].message, "State \"B\" is not reachable.");
    assert_eq!(e[0].location, "/States/B");
    let e = parse(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Resource": "x"}}}),
    )
    .unwrap_err();
    assert_eq!(e[0].code, "SCHEMA_VALIDATION_FAILED");
    let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}})).unwrap_err();
    assert_eq!(e[0].code, "SCHEMA_VALIDATION_FAILED");
    let e = parse(
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
        "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}}}),
    )
    .unwrap_err();
    assert!(e[0].location.ends_with("/Retry[0]/ErrorEquals"));
    let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Parameters": {"x.$": "States.Bogus()"}}}})).unwrap_err();
    assert_eq!(e[0].location, "/States/A/Parameters/x.$");
    let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "ResultPath": "$.a[*]"}}})).unwrap_err();
    assert_eq!(e[0].location, "/States/A/ResultPath");
    assert_eq!(
        StateMachine::parse("{nope").unwrap_err()[0].code,
        "INVALID_JSON_DESCRIPTION"
    );
    let e = parse(json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "Z"}], "Default": "Q"}}})).unwrap_err();
    assert!(e.iter().any(|d| d.location == "/States/C/Choices[0]/Next"));
}

#[test]
fn names_resources_and_warnings() {
    let e = parse(
        json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}]}}}),
    )
    .unwrap_err();
    assert_eq!(e[0].code, "DUPLICATE_STATE_NAME");
    let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "not-an-arn", "End": true}}})).unwrap_err();
    assert_eq!(e[0].code, "INVALID_RESOURCE");
    assert_eq!(e[0].location, "/States/A/Resource");
    // A resource no ARN of its kind looks like is refused when the definition loads.
    let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::sqs", "End": true}}})).unwrap_err();
    assert_eq!((e[0].code, e[0].location.as_str()), ("INVALID_RESOURCE", "/States/A/Resource"));
    assert_eq!(e[0].message, "Value is not a valid resource ARN: arn:aws:states:::sqs");
    assert_eq!(
        StateMachine::parse("  ").unwrap_err()[0].code,
        "MISSING_DESCRIPTION"
    );
    let sm = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "F", "Parameters": {"x": "$.y"}, "Result": {"a.$": "$.b"}},
        "F": {"Type": "Fail", "Error": "$.e"}}})).unwrap();
    let codes: Vec<&str> = sm.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, vec!["NO_DOLLAR", "PASS_RESULT_IS_STATIC", "NO_PATH"]);
    assert_eq!(sm.warnings[0].location, "/States/A/Parameters/x");
    let long = "x".repeat(81);
    let e =
        parse(json!({"StartAt": long, "States": {long.clone(): {"Type": "Succeed"}}})).unwrap_err();
    assert_eq!(e[0].code, "INVALID_STATE_NAME");
}

#[test]
fn map_and_parallel() {
    let sm = parse(json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemsPath": "$.items", "Parameters": {"v.$": "$$.Map.Item.Value"}, "MaxConcurrency": 2,
              "Iterator": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "Next": "Par"},
        "Par": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}]}
    }})).unwrap();
    let StateKind::Map(m) = &sm.states[0].kind else {
        panic!()
    };
    assert!(m.legacy_iterator);
    assert!(m.item_selector.is_some());
    assert!(sm.states[0].parameters.is_none());
    assert!(sm.states[0].uses_context);
    let StateKind::Parallel { branches } = &sm.states[1].kind else {
        panic!()
    };
    assert_eq!(branches.len(), 1);
}

#[test]
fn error_matching() {
    let all = vec!["States.ALL".to_string()];
    assert!(error_matches(&all, "Exception"));
    assert!(error_matches(&all, "States.Timeout"));
    assert!(!error_matches(&all, "States.Runtime"));
    let tf = vec!["States.TaskFailed".to_string()];
    assert!(error_matches(&tf, "Lambda.Unknown"));
    assert!(!error_matches(&tf, "States.Timeout"));
}

/// The query-language rules in AWS's words and places
/// (validate-state-machine-definition, recorded in floci-io/floci issue 2968).
#[test]
fn query_language_refusals_read_as_aws_writes_them() {
    let first = |v: Value| {
        let e = parse(v).unwrap_err();
        (e[0].code, e[0].message.clone(), e[0].location.clone())
    };
    // A JSONata field in a JSONPath state, also inside a Map that declares
    // JSONata: its states take the machine's language.
    let jsonata_field = "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported for the 'JSONata' QueryLanguage";
    assert_eq!(
        first(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Output": {"v": 1}, "End": true}}})),
        ("SCHEMA_VALIDATION_FAILED", jsonata_field.to_string(), "/States/P".to_string())
    );
    let nested = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "QueryLanguage": "JSONata", "Items": [1],
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "Output": {"v": 1}, "End": true}}}, "End": true}}});
    assert_eq!(first(nested), ("SCHEMA_VALIDATION_FAILED", jsonata_field.to_string(), "/States/M/ItemProcessor/States/P".to_string()));
    // A field no state of the type takes keeps the generic words.
    let (_, message, _) = first(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Bogus": 1, "End": true}}}));
    assert_eq!(message, "The field \"Bogus\" is not supported by Step Functions");
    // JSONPath declared by a state of a JSONata machine: at the state.
    assert_eq!(
        first(json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}})),
        ("SCHEMA_VALIDATION_FAILED", "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine".to_string(), "/States/P".to_string())
    );
    // An ItemProcessor (or Iterator) declaring a language at all.
    for key in ["ItemProcessor", "Iterator"] {
        let v = json!({"StartAt": "M", "States": {"M": {"Type": "Map", key: {"QueryLanguage": "JSONPath", "StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}});
        assert_eq!(first(v), ("SCHEMA_VALIDATION_FAILED", "Field 'QueryLanguage' is not supported".to_string(), format!("/States/M/{key}")));
    }
}

/// AWS's terminal-state rule (validate-state-machine-definition, recorded in
/// floci-io/floci pull request 2786): a machine with no state that ends has
/// no terminal state, after its other diagnostics and instead of the
/// unreachable states; one whose only terminal state is unreachable names it.
#[test]
fn terminal_states_are_judged_as_aws_judges_them() {
    let codes = |v: Value| parse(v).unwrap_err().iter().map(|d| (d.code, d.message.clone(), d.location.clone())).collect::<Vec<_>>();
    let end = || ("MISSING_END_STATE", "Workflow has no terminal state".to_string(), String::new());
    let lp = json!({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}});
    assert_eq!(codes(json!({"StartAt": "A", "States": lp.clone()})), vec![end()]);
    let mut with_x = lp.clone();
    with_x["X"] = json!({"Type": "Pass", "Next": "A"});
    assert_eq!(codes(json!({"StartAt": "A", "States": with_x})), vec![end()]);
    let mut with_c = lp;
    with_c["C"] = json!({"Type": "Succeed"});
    assert_eq!(
        codes(json!({"StartAt": "A", "States": with_c})),
        vec![("MISSING_TRANSITION_TARGET", "State \"C\" is not reachable.".to_string(), "/States/C".to_string())]
    );
    assert_eq!(
        codes(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "NOPE"}}})),
        vec![("MISSING_TRANSITION_TARGET", "Missing 'Next' target: NOPE".to_string(), "/States/A/Next".to_string()), end()]
    );
    // As ValidateStateMachineDefinition lists it: no location at all.
    let d = &parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}})).unwrap_err()[0];
    assert_eq!(d.to_json(), json!({"severity": "ERROR", "code": "MISSING_END_STATE", "message": "Workflow has no terminal state"}));
}

/// A field of the language on a state type that does not take it, in AWS's
/// words (validate-state-machine-definition, recorded in floci-io/floci issue
/// 2735); a name no state takes keeps the generic words.
#[test]
fn a_field_on_the_wrong_state_type_reads_as_aws_writes_it() {
    for (state, field) in [
        (json!({"Type": "Pass", "TimeoutSeconds": 5, "End": true}), "TimeoutSeconds"),
        (json!({"Type": "Pass", "Catch": [], "End": true}), "Catch"),
        (json!({"Type": "Wait", "Seconds": 1, "Retry": [], "End": true}), "Retry"),
        (json!({"Type": "Succeed", "Catch": []}), "Catch"),
    ] {
        let e = parse(json!({"StartAt": "A", "States": {"A": state}})).unwrap_err();
        assert_eq!((e[0].message.as_str(), e[0].location.as_str()), (format!("Field '{field}' is not supported").as_str(), "/States/A"));
    }
}

/// Reachability as AWS judges it: a state nothing routes to, even with a
/// StartAt naming no state (cfn-lint issue 4074: of `Pass One → Success`
/// only Pass One); CreateStateMachine's message places MISSING_END_STATE
/// "at null" (floci-io/floci issue 2735).
#[test]
fn unreachable_states_are_those_nothing_routes_to() {
    let e = parse(json!({"StartAt": "Not sure", "States": {"Pass One": {"Type": "Pass", "Next": "Success"}, "Success": {"Type": "Succeed"}}}))
        .unwrap_err();
    assert_eq!(
        crate::error::invalid_definition_message(&e),
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: Not sure at /StartAt, MISSING_TRANSITION_TARGET: State \"Pass One\" is not reachable. at /States/Pass One'"
    );
    let e = parse(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}})).unwrap_err();
    assert_eq!(crate::error::invalid_definition_message(&e), "Invalid State Machine Definition: 'MISSING_END_STATE: Workflow has no terminal state at null'");
}

/// A Map's number fields checked as AWS checks them (validate-state-machine-
/// definition, recorded in floci-io/floci issue 3733).
#[test]
fn map_number_fields_are_refused_in_aws_words() {
    let ip = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let dist = json!({"StartAt": "P", "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "States": {"P": {"Type": "Pass", "End": true}}});
    let first = |ql: &str, fields: Value, processor: &Value| {
        let mut m = json!({"Type": "Map", "ItemProcessor": processor, "End": true});
        for (k, v) in fields.as_object().unwrap() {
            m[k] = v.clone();
        }
        let e = parse(json!({"QueryLanguage": ql, "StartAt": "M", "States": {"M": m}})).unwrap_err();
        (e[0].message.clone(), e[0].location.clone())
    };
    let at = |m: &str, l: &str| (m.to_string(), l.to_string());
    assert_eq!(
        first("JSONPath", json!({"MaxConcurrency": 2, "MaxConcurrencyPath": "$.n"}), &ip),
        at("There should only be one of the following fields: [MaxConcurrency, MaxConcurrencyPath]", "/States/M")
    );
    assert_eq!(first("JSONPath", json!({"ToleratedFailureCount": -1}), &ip), at("Minimum value is 0", "/States/M/ToleratedFailureCount"));
    assert_eq!(first("JSONPath", json!({"ToleratedFailurePercentage": -1}), &ip), at("Minimum value is 0.0", "/States/M/ToleratedFailurePercentage"));
    assert_eq!(first("JSONPath", json!({"ToleratedFailurePercentage": 101}), &ip), at("Maximum value is 100.0", "/States/M/ToleratedFailurePercentage"));
    assert_eq!(
        first("JSONPath", json!({"ToleratedFailureCountPath": "$$.Execution.Input.n"}), &ip),
        at("Value is not a Reference Path", "/States/M/ToleratedFailureCountPath")
    );
    assert_eq!(
        first("JSONPath", json!({"ItemBatcher": {"MaxItemsPerBatch": 2, "MaxItemsPerBatchPath": "$.n"}}), &dist),
        at("There should only be one of the following fields: [MaxItemsPerBatch, MaxItemsPerBatchPath]", "/States/M/ItemBatcher")
    );
    assert_eq!(
        first("JSONata", json!({"ItemBatcher": {"MaxItemsPerBatchPath": "$.n"}}), &dist),
        at("The QueryLanguage is set to 'JSONata', but field 'MaxItemsPerBatchPath' is only supported for the 'JSONPath' QueryLanguage", "/States/M/ItemBatcher")
    );
    assert_eq!(
        first("JSONata", json!({"MaxConcurrencyPath": "$.n"}), &ip),
        at("The QueryLanguage is set to 'JSONata', but field 'MaxConcurrencyPath' is only supported for the 'JSONPath' QueryLanguage", "/States/M")
    );
    // What AWS accepts still validates: a path, a literal in range, the
    // context object in ItemsPath.
    let ok = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$$.Execution.Input.items", "MaxConcurrencyPath": "$.n",
        "ToleratedFailurePercentage": 100, "ItemProcessor": ip, "End": true}}});
    parse(ok).unwrap();
}

/// ItemReader's `ReaderConfig.MaxItems`: AWS bounds it at 100,000,000 and
/// checks it as the other Map numbers (floci-io/floci issue 3733).
#[test]
fn reader_config_max_items_is_bounded_as_aws_bounds_it() {
    let dist = json!({"StartAt": "P", "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "States": {"P": {"Type": "Pass", "End": true}}});
    let def = |ql: &str, config: Value| {
        json!({"QueryLanguage": ql, "StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": dist, "End": true,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": config,
                "Parameters": {"Bucket": "b", "Key": "k"}}}}})
    };
    let first = |ql: &str, config: Value| {
        let e = parse(def(ql, config)).unwrap_err();
        (e[0].message.clone(), e[0].location.clone())
    };
    let at = |m: &str, l: &str| (m.to_string(), l.to_string());
    let rc = "/States/M/ItemReader/ReaderConfig";
    assert_eq!(first("JSONPath", json!({"InputType": "JSON", "MaxItems": 100_000_001})), at("Maximum value is 100000000", &format!("{rc}/MaxItems")));
    assert_eq!(first("JSONPath", json!({"InputType": "JSON", "MaxItems": -1})), at("Minimum value is 0", &format!("{rc}/MaxItems")));
    assert_eq!(
        first("JSONPath", json!({"InputType": "JSON", "MaxItems": 1, "MaxItemsPath": "$.n"})),
        at("There should only be one of the following fields: [MaxItems, MaxItemsPath]", rc)
    );
    assert_eq!(
        first("JSONata", json!({"InputType": "JSON", "MaxItemsPath": "$.n"})),
        at("The QueryLanguage is set to 'JSONata', but field 'MaxItemsPath' is only supported for the 'JSONPath' QueryLanguage", rc)
    );
    parse(def("JSONPath", json!({"InputType": "JSON", "MaxItems": 100_000_000}))).unwrap();
    parse(def("JSONPath", json!({"InputType": "JSON", "MaxItemsPath": "$.n"}))).unwrap();
    parse(def("JSONata", json!({"InputType": "JSON", "MaxItems": "{% $states.input.n %}"}))).unwrap();
}
