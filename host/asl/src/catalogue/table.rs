//! The table: for every [`Field`] and every [`Bad`] kind of value, a
//! sample of such a value and what AWS does with it.
//!
//! Cause templates name what they print in braces: `{path}` as written,
//! `{canonical}` (`$['a']`), `{value}` (a string as its text, else JSON),
//! `{json}`, `{type}` (`string`, `number`…), `{input}`, `{expr}`,
//! `{field}`, `{function}` and `{call}`; see [`super::fill`].

use super::{Bad, Field};
use crate::error::errors::{
    INTRINSIC_FAILURE, QUERY_EVALUATION_ERROR as QUERY, RESULT_PATH_MATCH_FAILURE, RUNTIME,
};
use serde_json::{Value, json};
use std::sync::LazyLock;

/// What AWS does with a bad value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The value is taken (truncated, clamped or used as it is).
    Accepted,
    /// The state fails with this error; the cause is a template.
    Fails { error: &'static str, cause: &'static str },
}

/// Where a row's outcome is known from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A recorded AWS execution in the conformance corpus shows it.
    Recorded,
    /// LocalStack's interpreter raises it (its texts follow AWS's recordings),
    /// or a public report of AWS's message does.
    LocalStack,
    /// The same family of field has it recorded or in LocalStack; this one
    /// follows it.
    Family,
    /// No recording or reference shows it: stepbox's own choice, kept.
    Kept,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub field: Field,
    pub bad: Bad,
    /// A value of this kind for the field (`None` for [`Bad::Missing`]).
    pub sample: Option<Value>,
    pub outcome: Outcome,
    pub source: Source,
}

/// Every row: each field has one for each kind of bad value.
pub static ROWS: LazyLock<Vec<Row>> = LazyLock::new(build);

const fn fails(error: &'static str, cause: &'static str) -> Outcome {
    Outcome::Fails { error, cause }
}

const ACCEPTED: Outcome = Outcome::Accepted;

/// The sample of a kind of bad value where a number is wanted.
fn number_sample(bad: Bad) -> Option<Value> {
    Some(match bad {
        Bad::Missing => return None,
        Bad::Null => Value::Null,
        Bad::WrongType => json!("abc"),
        Bad::Negative => json!(-1),
        Bad::Fractional => json!(1.5),
        Bad::OutOfRange => json!(4_294_967_296u64),
        Bad::TooLargeForLong => json!(9_223_372_036_854_775_808u64),
        Bad::MalformedTimestamp => json!("2024-13-01T00:00:00Z"),
        Bad::EmptyArray => json!([]),
        Bad::EmptyObject => json!({}),
    })
}

/// One field's rows from groups of kinds sharing an outcome; `range` is
/// the field's out-of-range sample.
fn field(rows: &mut Vec<Row>, field: Field, range: Value, groups: &[(&[Bad], Outcome, Source)]) {
    for bad in Bad::ALL {
        let (outcome, source) = groups
            .iter()
            .find(|(bads, ..)| bads.contains(&bad))
            .map(|(_, o, s)| (*o, *s))
            .unwrap_or_else(|| panic!("{field:?} has no row for {bad:?}"));
        let sample = match bad {
            Bad::OutOfRange => Some(range.clone()),
            // Where a string is wanted, a string is no wrong type.
            Bad::WrongType if matches!(field, Field::Error | Field::Cause) => Some(json!(true)),
            _ => number_sample(bad),
        };
        rows.push(Row { field, bad, sample, outcome, source });
    }
}

use Bad::*;
use Source::*;

/// Every kind but these.
fn others(but: &[Bad]) -> &'static [Bad] {
    let v: Vec<Bad> = Bad::ALL.into_iter().filter(|b| !but.contains(b)).collect();
    Box::leak(v.into_boxed_slice())
}

const NOT_LONG: &[Bad] = &[Null, WrongType, Fractional, TooLargeForLong, MalformedTimestamp, EmptyArray, EmptyObject];
const NOT_NUMBER: &[Bad] = &[Null, WrongType, MalformedTimestamp, EmptyArray, EmptyObject];

const NO_RESULTS: Outcome = fails(RUNTIME, "Invalid path '{path}' : No results for path: {canonical}");
const NOT_FOUND: Outcome =
    fails(RUNTIME, "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{input}'");
const UNDEFINED: Outcome =
    fails(QUERY, "The JSONata expression '{expr}' specified for the field '{field}' returned nothing (undefined).");
const TOO_LONG: Outcome = fails(RUNTIME, "Wait state delay is too long.");

const fn unexpected(expected_cause: &'static str) -> Outcome {
    fails(QUERY, expected_cause)
}

fn build() -> Vec<Row> {
    let mut rows = Vec::new();
    wait(&mut rows);
    task(&mut rows);
    map(&mut rows);
    paths(&mut rows);
    jsonata(&mut rows);
    rows
}

fn wait(rows: &mut Vec<Row>) {
    field(rows, Field::SecondsPath, json!(4_294_967_296u64), &[
        (&[Missing], fails(RUNTIME, "The SecondsPath parameter does not reference an input value: {path}"), LocalStack),
        (NOT_LONG, fails(RUNTIME, "The SecondsPath parameter cannot be parsed as a long value: {path} == {value}"), LocalStack),
        (&[Negative], fails(RUNTIME, "The SecondsPath parameter references a negative value: {path} == {value}"), LocalStack),
        (&[OutOfRange], TOO_LONG, Recorded),
    ]);
    let invalid_timestamp = fails(
        RUNTIME,
        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {path} == {value}",
    );
    field(rows, Field::TimestampPath, json!("2200-01-01T00:00:00Z"), &[
        (&[Missing], fails(RUNTIME, "The TimestampPath parameter does not reference an input value: {path}"), LocalStack),
        (others(&[Missing, OutOfRange]), invalid_timestamp, Recorded),
        (&[OutOfRange], TOO_LONG, Recorded),
    ]);
    field(rows, Field::Seconds, json!(4_294_967_296u64), &[
        (&[Missing], UNDEFINED, Family),
        (NOT_NUMBER, unexpected("The JSONata expression '{expr}' specified for the field 'Seconds' returned an unexpected result type. Expected 'number', but was '{type}' for value: {json}"), Family),
        (&[Negative, Fractional, OutOfRange, TooLargeForLong], unexpected("The JSONata expression '{expr}' specified for the field 'Seconds' returned an unexpected result type. Expected 'non-negative integer', but was '{type}' for value: {json}"), Kept),
    ]);
    field(rows, Field::Timestamp, json!("2200-01-01T00:00:00Z"), &[
        (&[Missing], UNDEFINED, Family),
        (others(&[Missing, OutOfRange]), fails(QUERY, "The Timestamp parameter does not reference a valid ISO-8601 extended offset date-time format string: {expr} == {value}"), LocalStack),
        (&[OutOfRange], TOO_LONG, Family),
    ]);
}

fn task(rows: &mut Vec<Row>) {
    for (path, field_name, expr) in [
        (Field::TimeoutSecondsPath, "The TimeoutSecondsPath value must be a positive integer: {json}", Field::TimeoutSeconds),
        (Field::HeartbeatSecondsPath, "The HeartbeatSecondsPath value must be a positive integer: {json}", Field::HeartbeatSeconds),
    ] {
        let not_positive = fails(RUNTIME, field_name);
        field(rows, path, json!(0), &[
            (&[Missing], NO_RESULTS, Recorded),
            (&[Null, WrongType, Negative, OutOfRange, MalformedTimestamp, EmptyArray, EmptyObject], not_positive, Kept),
            (&[Fractional, TooLargeForLong], ACCEPTED, Kept),
        ]);
        let positive = if expr == Field::TimeoutSeconds {
            "The TimeoutSeconds value must be a positive integer: {json}"
        } else {
            "The HeartbeatSeconds value must be a positive integer: {json}"
        };
        field(rows, expr, json!(0), &[
            (&[Missing], UNDEFINED, Family),
            (NOT_NUMBER, unexpected("The JSONata expression '{expr}' specified for the field '{field}' returned an unexpected result type. Expected 'number', but was '{type}' for value: {json}"), Family),
            (&[Negative, Fractional, OutOfRange], fails(RUNTIME, positive), Kept),
            (&[TooLargeForLong], ACCEPTED, Kept),
        ]);
    }
}

fn map(rows: &mut Vec<Row>) {
    field(rows, Field::MaxConcurrencyPath, json!(0), &[
        (&[Missing], NOT_FOUND, Kept),
        (&[Null, WrongType, TooLargeForLong, MalformedTimestamp, EmptyArray, EmptyObject], fails(RUNTIME, "The MaxConcurrencyPath field refers to value \"{value}\" which is not a valid integer: {path}"), LocalStack),
        (&[Negative], fails(RUNTIME, "Expected non-negative integer for MaxConcurrency, got '{value}' instead."), LocalStack),
        (&[Fractional, OutOfRange], ACCEPTED, LocalStack),
    ]);
    field(rows, Field::ToleratedFailureCountPath, json!(1_000_000), &[
        (&[Missing], NOT_FOUND, Kept),
        (NOT_LONG, fails(RUNTIME, "The ToleratedFailureCountPath field refers to value \"{value}\" which is not a valid integer: {path}"), Recorded),
        (&[Negative], fails(RUNTIME, "ToleratedFailureCount cannot be negative."), Recorded),
        (&[OutOfRange], ACCEPTED, LocalStack),
    ]);
    let between = fails(RUNTIME, "ToleratedFailurePercentage must be between 0 and 100.");
    field(rows, Field::ToleratedFailurePercentagePath, json!(100.5), &[
        (&[Missing], NOT_FOUND, Kept),
        (NOT_NUMBER, fails(RUNTIME, "The ToleratedFailurePercentagePath field refers to value \"{value}\" which is not a valid float: {path}"), LocalStack),
        (&[Negative, OutOfRange, TooLargeForLong], between, LocalStack),
        (&[Fractional], ACCEPTED, LocalStack),
    ]);
    let number = unexpected("The JSONata expression '{expr}' specified for the field '{field}' returned an unexpected result type. Expected 'number', but was '{type}' for value: {json}");
    field(rows, Field::MaxConcurrency, json!(0), &[
        (&[Missing], UNDEFINED, Family),
        (NOT_NUMBER, number, Family),
        (&[Negative], fails(RUNTIME, "Expected non-negative integer for MaxConcurrency, got '{value}' instead."), Family),
        (&[Fractional, OutOfRange, TooLargeForLong], ACCEPTED, Family),
    ]);
    field(rows, Field::ToleratedFailureCount, json!(1_000_000), &[
        (&[Missing], UNDEFINED, Family),
        (NOT_NUMBER, number, Family),
        (&[Negative], fails(RUNTIME, "ToleratedFailureCount cannot be negative."), Family),
        (&[Fractional, OutOfRange, TooLargeForLong], ACCEPTED, Kept),
    ]);
    field(rows, Field::ToleratedFailurePercentage, json!(100.5), &[
        (&[Missing], UNDEFINED, Family),
        (NOT_NUMBER, number, Family),
        (&[Negative, OutOfRange, TooLargeForLong], between, Family),
        (&[Fractional], ACCEPTED, Family),
    ]);
    field(rows, Field::ItemsPath, json!([1, 2]), &[
        (&[Missing], NO_RESULTS, Kept),
        (others(&[Missing, EmptyArray, OutOfRange]), fails(QUERY, "Map state input must be an array but was: {json}"), Recorded),
        (&[EmptyArray, OutOfRange], ACCEPTED, Kept),
    ]);
    field(rows, Field::Items, json!([1, 2]), &[
        (&[Missing], UNDEFINED, Recorded),
        (others(&[Missing, EmptyArray, OutOfRange]), unexpected("The JSONata expression '{expr}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{type}' for value: {json}"), Recorded),
        (&[EmptyArray, OutOfRange], ACCEPTED, Recorded),
    ]);
    for (f, cause) in [
        (Field::MaxItemsPerBatchPath, "The MaxItemsPerBatchPath field refers to value \"{value}\" which is not a valid integer: {path}"),
        (Field::MaxInputBytesPerBatchPath, "The MaxInputBytesPerBatchPath field refers to value \"{value}\" which is not a valid integer: {path}"),
    ] {
        field(rows, f, json!(0), &[
            (&[Missing], NO_RESULTS, Kept),
            (NOT_LONG, fails(RUNTIME, cause), Family),
            (&[Negative, OutOfRange], ACCEPTED, Kept),
        ]);
    }
}

fn paths(rows: &mut Vec<Row>) {
    for f in [Field::InputPath, Field::OutputPath] {
        field(rows, f, json!(1e300), &[(&[Missing], NO_RESULTS, Recorded), (others(&[Missing]), ACCEPTED, Recorded)]);
    }
    field(rows, Field::ResultPath, json!(1e300), &[
        (&[Missing, EmptyObject], ACCEPTED, Kept),
        (others(&[Missing, EmptyObject]), fails(RESULT_PATH_MATCH_FAILURE, "Unable to apply step \"ResultPath\" with path '{path}' to input '{input}'"), Kept),
    ]);
    // A null input under a Parameters path: AWS's answer reported by a user
    // (a Task after a Lambda that returned null, Parameters `"Input.$": "$"`);
    // the walk selects the input with InputPath, hence its Missing.
    field(rows, Field::ParametersInput, json!(1e300), &[
        (&[Missing], NO_RESULTS, Recorded),
        (&[Null], fails(RUNTIME, "Unable to apply Path transformation to null or empty input."), LocalStack),
        (others(&[Missing, Null]), ACCEPTED, Kept),
    ]);
    for (f, source) in [(Field::PayloadPath, Recorded), (Field::ErrorPath, Family), (Field::CausePath, Recorded)] {
        field(rows, f, json!(1e300), &[(&[Missing], NOT_FOUND, source), (others(&[Missing]), ACCEPTED, Kept)]);
    }
    field(rows, Field::IntrinsicArgument, json!(1e300), &[
        // A user's report of AWS's text (the input there as it was given).
        (&[Missing], fails(RUNTIME, "The function '{call}' had the following error: The JsonPath argument for the field '{path}' could not be found in the input '{input}'"), LocalStack),
        (&[Null, WrongType, MalformedTimestamp, EmptyArray, EmptyObject], fails(INTRINSIC_FAILURE, "Invalid arguments in {function}: expected an integer argument but got {type}"), Kept),
        (&[TooLargeForLong, OutOfRange], fails(INTRINSIC_FAILURE, "Invalid arguments in {function}: expected an integer argument but got {json}"), Kept),
        (&[Negative, Fractional], ACCEPTED, Kept),
    ]);
    field(rows, Field::ChoiceVariable, json!(1e300), &[
        (&[Missing], fails(RUNTIME, "Invalid path '{path}': The choice state's condition path references an invalid value."), Kept),
        (others(&[Missing]), ACCEPTED, Kept),
    ]);
}

fn jsonata(rows: &mut Vec<Row>) {
    field(rows, Field::Expression, json!(1e300), &[(&[Missing], UNDEFINED, Recorded), (others(&[Missing]), ACCEPTED, Recorded)]);
    field(rows, Field::Condition, json!(1), &[
        (&[Missing], UNDEFINED, Family),
        (others(&[Missing]), unexpected("The JSONata expression '{expr}' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was '{type}' for value: {json}"), Family),
    ]);
    for f in [Field::Error, Field::Cause] {
        field(rows, f, json!(1), &[
            (&[Missing], UNDEFINED, Family),
            (others(&[Missing, MalformedTimestamp]), unexpected("The JSONata expression '{expr}' specified for the field '{field}' returned an unexpected result type. Expected 'string', but was '{type}' for value: {json}"), Family),
            (&[MalformedTimestamp], ACCEPTED, Family),
        ]);
    }
}
