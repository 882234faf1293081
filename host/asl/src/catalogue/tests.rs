use super::*;
use crate::path::JsonPath;
use serde_json::json;
use std::collections::HashSet;

const FIELDS: [Field; 31] = {
    use Field::*;
    [
        SecondsPath, TimestampPath, TimeoutSecondsPath, HeartbeatSecondsPath, MaxConcurrencyPath,
        ToleratedFailureCountPath, ToleratedFailurePercentagePath, ItemsPath, MaxItemsPerBatchPath,
        MaxInputBytesPerBatchPath, InputPath, OutputPath, ResultPath, PayloadPath, ParametersInput, IntrinsicArgument,
        ChoiceVariable, ErrorPath, CausePath, Seconds, Timestamp, TimeoutSeconds, HeartbeatSeconds,
        MaxConcurrency, ToleratedFailureCount, ToleratedFailurePercentage, Items, Expression, Condition,
        Error, Cause,
    ]
};

#[test]
fn every_field_has_one_row_for_every_kind_of_bad_value() {
    let mut seen = HashSet::new();
    for r in ROWS.iter() {
        assert!(seen.insert((r.field, r.bad)), "two rows for {:?} {:?}", r.field, r.bad);
        assert_eq!(r.sample.is_none(), r.bad == Bad::Missing, "{:?} {:?}", r.field, r.bad);
    }
    assert_eq!(ROWS.len(), FIELDS.len() * Bad::ALL.len());
    for f in FIELDS {
        for b in Bad::ALL {
            assert!(row(f, b).is_some(), "{f:?} {b:?}");
        }
    }
}

#[test]
fn every_template_names_only_known_placeholders() {
    for r in ROWS.iter() {
        if let Outcome::Fails { cause, .. } = r.outcome {
            let filled = fill(cause, r.field, &Facts::default());
            assert!(!filled.contains('{'), "{:?} {:?}: {cause}", r.field, r.bad);
        }
    }
}

#[test]
fn causes_are_filled_with_values_as_aws_prints_them() {
    let p = JsonPath::parse("$.wait.s").unwrap();
    let v = json!(1.5);
    let e = fail(Field::SecondsPath, Bad::Fractional, Facts::path(&p).value(&v)).unwrap();
    assert_eq!(e.error, "States.Runtime");
    assert_eq!(e.cause, "The SecondsPath parameter cannot be parsed as a long value: $.wait.s == 1.5");
    let v = json!("NoNumber");
    let e = fail(Field::ToleratedFailureCountPath, Bad::WrongType, Facts::path(&p).value(&v)).unwrap();
    assert_eq!(e.cause, "The ToleratedFailureCountPath field refers to value \"NoNumber\" which is not a valid integer: $.wait.s");
    let e = error(Field::InputPath, Bad::Missing, Facts::path(&p));
    assert_eq!(e.cause, "Invalid path '$.wait.s' : No results for path: $['wait']['s']");
    let v = json!({"a": 1e20});
    let e = error(Field::Items, Bad::WrongType, Facts { expr: Some("$x"), value: Some(&v), ..Facts::default() });
    assert_eq!(
        e.cause,
        "The JSONata expression '$x' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was 'object' for value: {\"a\":1.0E20}"
    );
    assert!(fail(Field::MaxConcurrencyPath, Bad::Fractional, Facts::path(&p)).is_none());
}

#[test]
fn checks_classify_values() {
    use check::long;
    assert_eq!(long(&json!(-3)), Ok(-3));
    assert_eq!(long(&json!(2.0)), Err(Bad::Fractional));
    assert_eq!(long(&json!(9_223_372_036_854_775_808u64)), Err(Bad::TooLargeForLong));
    assert_eq!(long(&json!(1e300)), Err(Bad::TooLargeForLong));
    assert_eq!(long(&json!([])), Err(Bad::EmptyArray));
    assert_eq!(long(&json!({})), Err(Bad::EmptyObject));
    assert_eq!(long(&json!([1])), Err(Bad::WrongType));
    let p = JsonPath::parse("$.n").unwrap();
    let input = json!({});
    let limit = |f, v: serde_json::Value| check::map_limit_path(f, &p, Some(&v), &input);
    assert_eq!(limit(Field::ToleratedFailureCountPath, json!("3")).unwrap(), 3.0);
    assert!(limit(Field::ToleratedFailureCountPath, json!(1.5)).is_err());
    assert_eq!(limit(Field::MaxConcurrencyPath, json!(1.5)).unwrap(), 1.5);
    // A whole double is a fraction-kind value, not one past a long.
    assert_eq!(limit(Field::MaxConcurrencyPath, json!(2.0)).unwrap(), 2.0);
    assert_eq!(limit(Field::ToleratedFailurePercentagePath, json!(2.0)).unwrap(), 2.0);
    assert!(limit(Field::ToleratedFailureCountPath, json!(2.0)).is_err());
    assert_eq!(limit(Field::ToleratedFailurePercentagePath, json!(12.5)).unwrap(), 12.5);
    let e = limit(Field::ToleratedFailurePercentagePath, json!(9_223_372_036_854_775_808u64)).unwrap_err();
    assert_eq!(e.cause, "ToleratedFailurePercentage must be between 0 and 100.");
    let e = limit(Field::MaxConcurrencyPath, json!(-2)).unwrap_err();
    assert_eq!(e.cause, "Expected non-negative integer for MaxConcurrency, got '-2' instead.");
}
