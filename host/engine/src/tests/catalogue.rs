//! Walks the whole run-time error catalogue: every row (a field and a kind
//! of bad value) becomes a definition and an input, runs on the engine, and
//! must end as the row says (its error and cause, or accepted).

use super::*;
use stepbox_asl::catalogue::{Bad, Facts, Field, Outcome, ROWS, Row, fill, render};

/// A definition reading `$.v` (or `$states.input.v`) in `field`, with the
/// state named `S`.
fn scaffold(field: Field) -> Value {
    use Field::*;
    let map = |extra: Value| {
        let mut m = json!({"Type": "Map", "ItemsPath": "$.items", "End": true,
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}});
        m.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        m
    };
    let jsonata_map = |extra: Value| {
        let mut m = map(extra);
        m.as_object_mut().unwrap().remove("ItemsPath");
        m.as_object_mut().unwrap().entry("Items").or_insert(json!("{% $states.input.items %}"));
        m
    };
    let e = "{% $states.input.v %}";
    let s = match field {
        SecondsPath => json!({"Type": "Wait", "SecondsPath": "$.v", "End": true}),
        TimestampPath => json!({"Type": "Wait", "TimestampPath": "$.v", "End": true}),
        TimeoutSecondsPath => json!({"Type": "Task", "Resource": lambda("echo"), "TimeoutSecondsPath": "$.v", "End": true}),
        HeartbeatSecondsPath => json!({"Type": "Task", "Resource": lambda("echo"), "HeartbeatSecondsPath": "$.v", "End": true}),
        MaxConcurrencyPath => map(json!({"MaxConcurrencyPath": "$.v"})),
        ToleratedFailureCountPath => map(json!({"ToleratedFailureCountPath": "$.v"})),
        ToleratedFailurePercentagePath => map(json!({"ToleratedFailurePercentagePath": "$.v"})),
        ItemsPath => map(json!({"ItemsPath": "$.v"})),
        MaxItemsPerBatchPath => map(json!({"ItemBatcher": {"MaxItemsPerBatchPath": "$.v"}})),
        MaxInputBytesPerBatchPath => map(json!({"ItemBatcher": {"MaxInputBytesPerBatchPath": "$.v"}})),
        InputPath => json!({"Type": "Pass", "InputPath": "$.v", "End": true}),
        OutputPath => json!({"Type": "Pass", "OutputPath": "$.v", "End": true}),
        ResultPath => json!({"Type": "Pass", "Result": 1, "ResultPath": "$.v.r", "End": true}),
        PayloadPath => json!({"Type": "Pass", "Parameters": {"x.$": "$.v"}, "End": true}),
        ParametersInput => json!({"Type": "Pass", "InputPath": "$.v", "Parameters": {"x.$": "$"}, "End": true}),
        IntrinsicArgument => json!({"Type": "Pass", "Parameters": {"x.$": "States.MathAdd($.v, 1)"}, "End": true}),
        ChoiceVariable => json!({"Type": "Choice", "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Next": "A"}], "Default": "A"}),
        ErrorPath => json!({"Type": "Fail", "ErrorPath": "$.v"}),
        CausePath => json!({"Type": "Fail", "Error": "E", "CausePath": "$.v"}),
        Seconds => json!({"Type": "Wait", "Seconds": e, "End": true}),
        Timestamp => json!({"Type": "Wait", "Timestamp": e, "End": true}),
        TimeoutSeconds => json!({"Type": "Task", "Resource": lambda("echo"), "TimeoutSeconds": e, "End": true}),
        HeartbeatSeconds => json!({"Type": "Task", "Resource": lambda("echo"), "HeartbeatSeconds": e, "End": true}),
        MaxConcurrency => jsonata_map(json!({"MaxConcurrency": e})),
        ToleratedFailureCount => jsonata_map(json!({"ToleratedFailureCount": e})),
        ToleratedFailurePercentage => jsonata_map(json!({"ToleratedFailurePercentage": e})),
        Items => jsonata_map(json!({"Items": e})),
        Expression => json!({"Type": "Pass", "Output": e, "End": true}),
        Condition => json!({"Type": "Choice", "Choices": [{"Condition": e, "Next": "A"}], "Default": "A"}),
        Error => json!({"Type": "Fail", "Error": e}),
        Cause => json!({"Type": "Fail", "Error": "E", "Cause": e}),
    };
    let mut def = json!({"StartAt": "S", "States": {"S": s}});
    if matches!(field, ChoiceVariable | Condition) {
        def["States"]["A"] = json!({"Type": "Pass", "End": true});
    }
    if field.is_jsonata() {
        def["QueryLanguage"] = json!("JSONata");
    }
    def
}

/// A value as a JSONata expression yields it (a JavaScript number).
fn as_jsonata(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.as_i64().is_none() && n.is_u64() => json!(n.as_f64().unwrap()),
        other => other.clone(),
    }
}

/// The cause a failing row's outcome gives for this scaffold.
fn expected_cause(row: &Row, template: &str, input: &Value) -> String {
    let path = stepbox_asl::JsonPath::parse(if row.field == Field::ResultPath { "$.v.r" } else { "$.v" }).unwrap();
    let value = row.sample.as_ref().map(|v| if row.field.is_jsonata() { as_jsonata(v) } else { v.clone() });
    let facts = Facts {
        path: Some(&path),
        value: value.as_ref(),
        input: Some(input),
        expr: Some("$states.input.v"),
        field: match row.field {
            Field::PayloadPath => Some("x.$"),
            _ => None,
        },
        function: Some("States.MathAdd"),
        call: Some("States.MathAdd($.v, 1)"),
    };
    fill(template, row.field, &facts)
}

/// The cause without AWS's "An error occurred while executing the state …" prefix.
fn bare(cause: &str) -> &str {
    match cause.find("). ") {
        Some(i) if cause.starts_with("An error occurred while executing the state") => &cause[i + 3..],
        _ => cause,
    }
}

async fn run_row(row: &Row) -> Result<(), String> {
    let mut input = json!({"items": [1, 2]});
    if let Some(v) = &row.sample {
        input["v"] = v.clone();
    }
    let r = run_with(scaffold(row.field), input.clone(), &[]).await;
    let o = &r.outcome;
    let got = (o.error.as_deref(), o.cause.as_deref().map(bare));
    match row.outcome {
        Outcome::Fails { error, cause } => {
            let want = expected_cause(row, cause, &input);
            if o.status != ExecutionStatus::Failed || got != (Some(error), Some(want.as_str())) {
                return Err(format!("want {error}: {want}\n got {:?} {got:?}", o.status));
            }
        }
        Outcome::Accepted => {
            let fail_field = matches!(row.field, Field::ErrorPath | Field::CausePath | Field::Error | Field::Cause);
            if fail_field {
                let sample = row.sample.as_ref().unwrap();
                let shown = render::raw(&if row.field.is_jsonata() { as_jsonata(sample) } else { sample.clone() });
                let seen = if matches!(row.field, Field::ErrorPath | Field::Error) { got.0 } else { got.1 };
                if seen != Some(shown.as_str()) {
                    return Err(format!("want the Fail state to show {shown}, got {got:?}"));
                }
            } else if o.status != ExecutionStatus::Succeeded {
                return Err(format!("want success, got {:?} {got:?}", o.status));
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn every_row_of_the_catalogue_runs_as_it_says() {
    let mut wrong = Vec::new();
    for row in ROWS.iter() {
        if let Err(e) = run_row(row).await {
            wrong.push(format!("{:?} {:?}: {e}", row.field, row.bad));
        }
    }
    assert!(wrong.is_empty(), "{} of {} rows:\n{}", wrong.len(), ROWS.len(), wrong.join("\n"));
    assert_eq!(ROWS.len(), 31 * Bad::ALL.len());
}

/// The texts AWS gives, spelled out (the walk above fills the table's
/// templates; these pin the templates themselves).
#[tokio::test]
async fn causes_read_as_aws_writes_them() {
    let cases = [
        (json!({"Type": "Wait", "SecondsPath": "$.s", "End": true}), json!({"s": -5}),
         "States.Runtime", "The SecondsPath parameter references a negative value: $.s == -5"),
        (json!({"Type": "Wait", "SecondsPath": "$.s", "End": true}), json!({"s": "10"}),
         "States.Runtime", "The SecondsPath parameter cannot be parsed as a long value: $.s == 10"),
        (json!({"Type": "Wait", "SecondsPath": "$.s", "End": true}), json!({"s": 1e20}),
         "States.Runtime", "The SecondsPath parameter cannot be parsed as a long value: $.s == 1.0E20"),
        (json!({"Type": "Wait", "SecondsPath": "$.s", "End": true}), json!({}),
         "States.Runtime", "The SecondsPath parameter does not reference an input value: $.s"),
        (json!({"Type": "Wait", "TimestampPath": "$.t", "End": true}), json!({}),
         "States.Runtime", "The TimestampPath parameter does not reference an input value: $.t"),
        (json!({"Type": "Wait", "TimestampPath": "$.t", "End": true}), json!({"t": "yesterday"}),
         "States.Runtime", "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: $.t == yesterday"),
        (json!({"Type": "Map", "ItemsPath": "$.i", "MaxConcurrencyPath": "$.m", "End": true,
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}), json!({"i": [], "m": -3}),
         "States.Runtime", "Expected non-negative integer for MaxConcurrency, got '-3' instead."),
        (json!({"Type": "Map", "ItemsPath": "$.i", "ToleratedFailurePercentagePath": "$.p", "End": true,
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}), json!({"i": [], "p": true}),
         "States.Runtime", "The ToleratedFailurePercentagePath field refers to value \"true\" which is not a valid float: $.p"),
        (json!({"Type": "Map", "ItemsPath": "$.i", "ToleratedFailureCountPath": "$.c", "End": true,
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}), json!({"i": [], "c": 2.5}),
         "States.Runtime", "The ToleratedFailureCountPath field refers to value \"2.5\" which is not a valid integer: $.c"),
        // The innermost call with the path, as written.
        (json!({"Type": "Pass", "Parameters": {"a.$": "States.Format('{}', States.Array($.optionalProperty))"}, "End": true}),
         json!({"requiredProperty": 1}),
         "States.Runtime", "The function 'States.Array($.optionalProperty)' had the following error: The JsonPath argument for the field '$.optionalProperty' could not be found in the input '{\"requiredProperty\":1}'"),
        (json!({"Type": "Pass", "Parameters": {"a.$": "States.Array($.optionalProperty)"}, "End": true}), json!({"requiredProperty": 1}),
         "States.Runtime", "The function 'States.Array($.optionalProperty)' had the following error: The JsonPath argument for the field '$.optionalProperty' could not be found in the input '{\"requiredProperty\":1}'"),
    ];
    for (state, input, error, cause) in cases {
        let def = json!({"StartAt": "S", "States": {"S": state}});
        let r = run_with(def, input, &[]).await;
        assert_eq!(r.outcome.error.as_deref(), Some(error));
        assert_eq!(r.outcome.cause.as_deref().map(bare), Some(cause));
    }
}
