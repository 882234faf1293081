//! One catalogue of the run-time errors AWS raises for a value a field
//! reads while the execution runs (a path into the input, an intrinsic's
//! argument, a JSONata expression's result): for every such field, in both
//! query languages, and every kind of bad value ([`Bad`]), the error name
//! and cause text AWS gives, or that AWS accepts the value.
//!
//! [`table::ROWS`] is the table itself, data only; [`check`] holds the
//! rules that tell which kind of bad value a value is; [`fail`] turns a
//! row into the [`RuntimeError`] the interpreter raises, filling the
//! cause's placeholders from [`Facts`] (values printed as AWS prints them:
//! [`render`]).
//!
//! Where the texts come from: the recorded AWS executions of the
//! conformance corpus, the texts LocalStack's interpreter raises (written
//! against recordings of AWS), and AWS's documentation. A row no recording
//! shows keeps the text stepbox raised before; each row says which.

pub mod check;
pub mod render;
pub mod table;
#[cfg(test)]
mod tests;

pub use table::{Outcome, ROWS, Row, Source};

use crate::error::RuntimeError;
use crate::path::JsonPath;
use serde_json::Value;

/// A field that takes a value at run time. `…Path` fields and the I/O
/// paths are JSONPath; the others are JSONata fields (an expression's
/// result).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    // JSONPath
    SecondsPath,
    TimestampPath,
    TimeoutSecondsPath,
    HeartbeatSecondsPath,
    MaxConcurrencyPath,
    ToleratedFailureCountPath,
    ToleratedFailurePercentagePath,
    ItemsPath,
    MaxItemsPerBatchPath,
    MaxInputBytesPerBatchPath,
    InputPath,
    OutputPath,
    ResultPath,
    /// A `key.$` path of Parameters, ResultSelector, ItemSelector or BatchInput.
    PayloadPath,
    /// The input (after InputPath, `$.v` in the walk) a Parameters path reads.
    ParametersInput,
    IntrinsicArgument,
    ChoiceVariable,
    ErrorPath,
    CausePath,
    // JSONata
    Seconds,
    Timestamp,
    TimeoutSeconds,
    HeartbeatSeconds,
    MaxConcurrency,
    ToleratedFailureCount,
    ToleratedFailurePercentage,
    Items,
    /// Arguments, Output, Assign, Parameters-like templates (any field a
    /// template's expression fills).
    Expression,
    Condition,
    Error,
    Cause,
}

impl Field {
    /// The field's name as AWS's causes spell it.
    pub fn name(self) -> &'static str {
        use Field::*;
        match self {
            SecondsPath => "SecondsPath",
            TimestampPath => "TimestampPath",
            TimeoutSecondsPath => "TimeoutSecondsPath",
            HeartbeatSecondsPath => "HeartbeatSecondsPath",
            MaxConcurrencyPath => "MaxConcurrencyPath",
            ToleratedFailureCountPath => "ToleratedFailureCountPath",
            ToleratedFailurePercentagePath => "ToleratedFailurePercentagePath",
            ItemsPath => "ItemsPath",
            MaxItemsPerBatchPath => "MaxItemsPerBatchPath",
            MaxInputBytesPerBatchPath => "MaxInputBytesPerBatchPath",
            InputPath => "InputPath",
            OutputPath => "OutputPath",
            ResultPath => "ResultPath",
            PayloadPath => "Parameters",
            ParametersInput => "Parameters",
            IntrinsicArgument => "intrinsic function",
            ChoiceVariable => "Variable",
            ErrorPath => "ErrorPath",
            CausePath => "CausePath",
            Seconds => "Seconds",
            Timestamp => "Timestamp",
            TimeoutSeconds => "TimeoutSeconds",
            HeartbeatSeconds => "HeartbeatSeconds",
            MaxConcurrency => "MaxConcurrency",
            ToleratedFailureCount => "ToleratedFailureCount",
            ToleratedFailurePercentage => "ToleratedFailurePercentage",
            Items => "Items",
            Expression => "Output",
            Condition => "Condition",
            Error => "Error",
            Cause => "Cause",
        }
    }

    /// Whether the field belongs to the JSONata query language.
    pub fn is_jsonata(self) -> bool {
        use Field::*;
        matches!(
            self,
            Seconds
                | Timestamp
                | TimeoutSeconds
                | HeartbeatSeconds
                | MaxConcurrency
                | ToleratedFailureCount
                | ToleratedFailurePercentage
                | Items
                | Expression
                | Condition
                | Error
                | Cause
        )
    }
}

/// A kind of bad value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bad {
    /// The path selects nothing (JSONPath) or the expression is undefined (JSONata).
    Missing,
    Null,
    /// A string, boolean, or non-empty array or object where a number (or
    /// the field's type) is wanted; a non-object where a path writes.
    WrongType,
    Negative,
    /// A number with a fraction (or any double where a long is wanted).
    Fractional,
    /// A number past the field's range (a wait over the limit, a
    /// percentage over 100, a limit of 0 where it must be positive).
    OutOfRange,
    /// An integer past 2^63 - 1.
    TooLargeForLong,
    MalformedTimestamp,
    EmptyArray,
    EmptyObject,
}

impl Bad {
    pub const ALL: [Bad; 10] = [
        Bad::Missing,
        Bad::Null,
        Bad::WrongType,
        Bad::Negative,
        Bad::Fractional,
        Bad::OutOfRange,
        Bad::TooLargeForLong,
        Bad::MalformedTimestamp,
        Bad::EmptyArray,
        Bad::EmptyObject,
    ];
}

/// What a cause's placeholders are filled from.
#[derive(Default, Clone, Copy)]
pub struct Facts<'a> {
    /// `{path}` (as written) and `{canonical}` (`$['a']['b']`).
    pub path: Option<&'a JsonPath>,
    /// `{value}` (a string as its text), `{json}` and `{type}`.
    pub value: Option<&'a Value>,
    /// `{input}`: the value the path was applied to.
    pub input: Option<&'a Value>,
    /// `{expr}`: a JSONata expression's source.
    pub expr: Option<&'a str>,
    /// `{field}`: where in the state the value is (`Output/result`, `value.$`).
    pub field: Option<&'a str>,
    /// `{function}`: an intrinsic function's name.
    pub function: Option<&'a str>,
    /// `{call}`: an intrinsic function's call as written (`States.Array($.a)`).
    pub call: Option<&'a str>,
}

impl<'a> Facts<'a> {
    pub fn path(path: &'a JsonPath) -> Self {
        Facts { path: Some(path), ..Facts::default() }
    }
    pub fn value(mut self, v: &'a Value) -> Self {
        self.value = Some(v);
        self
    }
    pub fn input(mut self, v: &'a Value) -> Self {
        self.input = Some(v);
        self
    }
    pub fn field(mut self, f: &'a str) -> Self {
        self.field = Some(f);
        self
    }
}

/// The row for `field` and `bad`.
pub fn row(field: Field, bad: Bad) -> Option<&'static Row> {
    ROWS.iter().find(|r| r.field == field && r.bad == bad)
}

/// The error AWS raises for `bad` in `field`, or `None` when AWS accepts
/// such a value (or the field cannot hold it).
pub fn fail(field: Field, bad: Bad, facts: Facts<'_>) -> Option<RuntimeError> {
    match row(field, bad)?.outcome {
        Outcome::Accepted => None,
        Outcome::Fails { error, cause } => Some(RuntimeError::new(error, fill(cause, field, &facts))),
    }
}

/// [`fail`] for a row that must fail (a missing path, say); a row that
/// accepts the value is a bug in the caller's rules.
pub fn error(field: Field, bad: Bad, facts: Facts<'_>) -> RuntimeError {
    fail(field, bad, facts).unwrap_or_else(|| {
        RuntimeError::runtime(format!("{} is not an error for the field {}", debug(bad), field.name()))
    })
}

fn debug(bad: Bad) -> String {
    format!("{bad:?}")
}

/// A cause template with its placeholders filled.
pub fn fill(template: &str, field: Field, f: &Facts<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}').and_then(|end| placeholder(&after[..end], field, f).map(|v| (end, v))) {
            Some((end, v)) => {
                out.push_str(&v);
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn placeholder(name: &str, field: Field, f: &Facts<'_>) -> Option<String> {
    let null = Value::Null;
    Some(match name {
        "path" => f.path.map(|p| p.as_str().to_string()).unwrap_or_default(),
        "canonical" => f.path.map(|p| p.canonical()).unwrap_or_default(),
        "value" => render::raw(f.value.unwrap_or(&null)),
        "json" => render::json(f.value.unwrap_or(&null)),
        "type" => crate::json_type_name(f.value.unwrap_or(&null)).to_string(),
        "input" => render::json(f.input.unwrap_or(&null)),
        "expr" => f.expr.unwrap_or_default().to_string(),
        "field" => f.field.unwrap_or(field.name()).to_string(),
        "function" => f.function.unwrap_or_default().to_string(),
        "call" => f.call.unwrap_or_default().to_string(),
        _ => return None,
    })
}
