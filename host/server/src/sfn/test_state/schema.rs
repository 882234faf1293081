//! `fieldValidationMode`: a mocked result checked against the response
//! shape of the integration, for the integrations whose shape stepbox
//! knows (below); others are not checked. STRICT: required fields present
//! and present fields of their type; PRESENT: present fields of their type;
//! NONE: nothing. Fields the shape does not list are allowed (as AWS).

use serde_json::Value;

use super::super::ApiError;

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Num,
    Array(&'static [Field]),
    Object(&'static [Field]),
    Any,
}

struct Field {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: false }
}

const fn req(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, required: true }
}

const LAMBDA_INVOKE: &[Field] =
    &[f("StatusCode", Kind::Num), f("FunctionError", Kind::Str), f("LogResult", Kind::Str), f("ExecutedVersion", Kind::Str), f("Payload", Kind::Any)];
const START_EXECUTION: &[Field] = &[req("ExecutionArn", Kind::Str), req("StartDate", Kind::Str)];
/// A `.sync` start's result is DescribeExecution's answer (what Step Functions polls).
const DESCRIBE_EXECUTION: &[Field] = &[
    req("ExecutionArn", Kind::Str),
    req("StateMachineArn", Kind::Str),
    req("Status", Kind::Str),
    req("StartDate", Kind::Any),
    f("StopDate", Kind::Any),
    f("Name", Kind::Str),
    f("Input", Kind::Any),
    f("Output", Kind::Any),
    f("Error", Kind::Str),
    f("Cause", Kind::Str),
];
const SQS_SEND: &[Field] =
    &[f("MD5OfMessageBody", Kind::Str), f("MD5OfMessageAttributes", Kind::Str), f("MessageId", Kind::Str), f("SequenceNumber", Kind::Str)];
const PUT_EVENTS_ENTRY: &[Field] = &[f("EventId", Kind::Str), f("ErrorCode", Kind::Str), f("ErrorMessage", Kind::Str)];
const PUT_EVENTS: &[Field] = &[f("FailedEntryCount", Kind::Num), f("Entries", Kind::Array(PUT_EVENTS_ENTRY))];
const SNS_PUBLISH: &[Field] = &[f("MessageId", Kind::Str), f("SequenceNumber", Kind::Str)];
const CAPACITY: &[Field] = &[f("TableName", Kind::Str), f("CapacityUnits", Kind::Num), f("ReadCapacityUnits", Kind::Num), f("WriteCapacityUnits", Kind::Num)];
const DYNAMODB_WRITE: &[Field] = &[f("Attributes", Kind::Object(&[])), f("ConsumedCapacity", Kind::Object(CAPACITY))];
const DYNAMODB_GET: &[Field] = &[f("Item", Kind::Object(&[])), f("ConsumedCapacity", Kind::Object(CAPACITY))];

/// The response shape of `resource`, when stepbox knows it.
fn shape(resource: &str) -> Option<&'static [Field]> {
    let r = resource.strip_prefix("arn:aws:states:::")?;
    let base = r.split(".sync").next().unwrap_or(r).trim_end_matches(".waitForTaskToken");
    Some(match base {
        "lambda:invoke" | "aws-sdk:lambda:invoke" if !r.contains(".waitForTaskToken") => LAMBDA_INVOKE,
        "states:startExecution" | "aws-sdk:sfn:startExecution" if r == base => START_EXECUTION,
        "states:startExecution" if r.ends_with(".sync") || r.ends_with(".sync:2") => DESCRIBE_EXECUTION,
        "sqs:sendMessage" | "aws-sdk:sqs:sendMessage" if r == base => SQS_SEND,
        "events:putEvents" | "aws-sdk:eventbridge:putEvents" if r == base => PUT_EVENTS,
        "sns:publish" | "aws-sdk:sns:publish" if r == base => SNS_PUBLISH,
        "dynamodb:putItem" | "dynamodb:updateItem" | "dynamodb:deleteItem" if r == base => DYNAMODB_WRITE,
        "dynamodb:getItem" if r == base => DYNAMODB_GET,
        _ => return None,
    })
}

/// Checks a mocked `result` for `resource` in validation mode `mode`.
pub(super) fn check(resource: &str, result: &Value, mode: &str) -> Result<(), ApiError> {
    let strict = match mode {
        "STRICT" => true,
        "PRESENT" => false,
        "NONE" => return Ok(()),
        other => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'mock.fieldValidationMode' failed to satisfy constraint: \
                 Member must satisfy enum value set: [STRICT, PRESENT, NONE]"
            )));
        }
    };
    let Some(fields) = shape(resource) else { return Ok(()) };
    object(fields, result, strict).map_err(|m| ApiError::validation(format!("Mock result schema validation error: {m}")))
}

fn object(fields: &[Field], v: &Value, strict: bool) -> Result<(), String> {
    let Some(m) = v.as_object() else { return Err("The mocked result must be a JSON object".into()) };
    for field in fields {
        match m.get(field.name) {
            None if strict && field.required => return Err(format!("Required field '{}' is missing", field.name)),
            None => {}
            Some(value) => typed(field, value, strict)?,
        }
    }
    Ok(())
}

fn typed(field: &Field, v: &Value, strict: bool) -> Result<(), String> {
    let wrong = |what: &str| Err(format!("Field '{}' must be {what}", field.name));
    match field.kind {
        Kind::Any => Ok(()),
        Kind::Str if v.is_string() => Ok(()),
        Kind::Str => wrong("a string"),
        Kind::Num if v.is_number() => Ok(()),
        Kind::Num => wrong("a number"),
        Kind::Object(inner) if v.is_object() => object(inner, v, strict),
        Kind::Object(_) => wrong("an object"),
        Kind::Array(inner) => match v.as_array() {
            Some(items) => items.iter().try_for_each(|item| object(inner, item, strict)),
            None => wrong("an array"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(resource: &str, v: Value, mode: &str) -> Option<String> {
        check(resource, &v, mode).err().map(|e| e.message)
    }

    #[test]
    fn known_shapes_are_checked_by_mode() {
        let start = "arn:aws:states:::states:startExecution";
        let missing = "Mock result schema validation error: Required field 'ExecutionArn' is missing";
        assert_eq!(message(start, json!({"StartDate": "d"}), "STRICT").as_deref(), Some(missing));
        assert_eq!(message(start, json!({"StartDate": "d"}), "PRESENT"), None);
        assert_eq!(
            message(start, json!({"ExecutionArn": "a", "StartDate": true}), "PRESENT").as_deref(),
            Some("Mock result schema validation error: Field 'StartDate' must be a string")
        );
        assert_eq!(message(start, json!({"StartDate": true}), "NONE"), None);
        let events = "arn:aws:states:::events:putEvents";
        assert_eq!(
            message(events, json!({"Entries": [{"EventId": "1"}, {"EventId": 2}]}), "STRICT").as_deref(),
            Some("Mock result schema validation error: Field 'EventId' must be a string")
        );
        assert_eq!(
            message("arn:aws:states:::lambda:invoke", json!({"StatusCode": "200"}), "STRICT").as_deref(),
            Some("Mock result schema validation error: Field 'StatusCode' must be a number")
        );
        assert_eq!(message("arn:aws:states:::lambda:invoke", json!({"random": "json"}), "STRICT"), None);
        assert_eq!(message("arn:aws:states:::glue:startJobRun.sync", json!(5), "STRICT"), None, "unknown shapes are not checked");
        assert!(message(start, json!({}), "LAX").unwrap().contains("[STRICT, PRESENT, NONE]"));
    }

    #[test]
    fn a_sync_start_is_checked_against_what_step_functions_polls() {
        let sync = "arn:aws:states:::states:startExecution.sync:2";
        let done = json!({"ExecutionArn": "a", "StateMachineArn": "s", "Status": "SUCCEEDED", "StartDate": 1700000000000_i64, "Output": {"x": 1}});
        assert_eq!(message(sync, done.clone(), "STRICT"), None);
        assert_eq!(message("arn:aws:states:::states:startExecution.sync", done, "STRICT"), None);
        assert_eq!(
            message(sync, json!({"ExecutionArn": "a", "StartDate": "d"}), "STRICT").as_deref(),
            Some("Mock result schema validation error: Required field 'StateMachineArn' is missing")
        );
        assert_eq!(
            message(sync, json!({"Status": 3}), "PRESENT").as_deref(),
            Some("Mock result schema validation error: Field 'Status' must be a string")
        );
    }
}
