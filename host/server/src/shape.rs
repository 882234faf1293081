//! The JSON shape of a request's members, checked before any handler reads
//! them, with the messages AWS's JSON protocol front end gives: a member of
//! the wrong JSON type is a serialization error, an enum member outside its
//! values a validation error. Members a request type does not declare are
//! ignored (as AWS does, so newer clients keep working); `null` is absent.

use serde_json::{Map, Value};

/// What a member holds.
#[derive(Debug)]
pub(crate) enum Shape {
    Str,
    Enum(&'static [&'static str]),
    Bool,
    Int,
    Double,
    /// A base64 string (a blob member).
    Blob,
    List(&'static Shape),
    /// A map with string keys.
    Map(&'static Shape),
    Struct(&'static [(&'static str, Shape)]),
}

/// Why a request's members do not fit their shapes.
#[derive(Debug, PartialEq)]
pub(crate) enum ShapeError {
    /// A member of the wrong JSON type (AWS: SerializationException).
    Type(String),
    /// An enum member outside its values (AWS: ValidationException).
    Enum(String),
}

impl ShapeError {
    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        match self {
            ShapeError::Type(m) | ShapeError::Enum(m) => m,
        }
    }
}

/// Check `members` against `shape`'s members (a [`Shape::Struct`]'s list).
pub(crate) fn check_members(members: &Map<String, Value>, shape: &[(&str, Shape)]) -> Result<(), ShapeError> {
    check_struct(members, shape, "")
}

fn check_struct(members: &Map<String, Value>, shape: &[(&str, Shape)], path: &str) -> Result<(), ShapeError> {
    for (name, member) in shape {
        if let Some(value) = members.get(*name) {
            let path = if path.is_empty() { lower_first(name) } else { format!("{path}.{}", lower_first(name)) };
            check(value, member, &path)?;
        }
    }
    Ok(())
}

/// AWS names members in validation messages in lowerCamelCase.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn check(value: &Value, shape: &Shape, path: &str) -> Result<(), ShapeError> {
    match (shape, value) {
        (_, Value::Null) => Ok(()),
        (Shape::Str | Shape::Blob, Value::String(_)) | (Shape::Bool, Value::Bool(_)) => Ok(()),
        (Shape::Enum(allowed), Value::String(s)) => check_enum(s, allowed, path),
        (Shape::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
        (Shape::Double, Value::Number(_)) => Ok(()),
        (Shape::List(item), Value::Array(items)) => {
            items.iter().enumerate().try_for_each(|(i, v)| check(v, item, &format!("{path}.{}", i + 1)))
        }
        (Shape::Map(item), Value::Object(m)) => m.iter().try_for_each(|(k, v)| check(v, item, &format!("{path}.{k}"))),
        (Shape::Struct(members), Value::Object(m)) => check_struct(m, members, path),
        (shape, value) => Err(ShapeError::Type(wrong_type(shape, value))),
    }
}

fn check_enum(value: &str, allowed: &[&str], path: &str) -> Result<(), ShapeError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(ShapeError::Enum(format!(
        "1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: \
         Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    )))
}

/// The message AWS's JSON front end gives for `value` where `shape` belongs.
fn wrong_type(shape: &Shape, value: &Value) -> String {
    let target = match shape {
        Shape::Str | Shape::Enum(_) => "a String",
        Shape::Bool => "a Boolean",
        Shape::Int => "an Integer",
        Shape::Double => "a Double",
        Shape::Blob => return "only base-64-encoded strings are convertible to bytes".into(),
        Shape::List(_) | Shape::Map(_) | Shape::Struct(_) => match value {
            Value::Array(_) => return "Start of list found where not expected".into(),
            _ => return "Unexpected field type".into(),
        },
    };
    let found = match value {
        Value::Array(_) => return "Start of list found where not expected".into(),
        Value::Object(_) => return "Start of structure or map found where not expected".into(),
        Value::String(_) => "STRING_VALUE",
        Value::Bool(true) => "TRUE_VALUE",
        Value::Bool(false) => "FALSE_VALUE",
        Value::Number(n) if n.is_f64() => "DECIMAL_VALUE",
        Value::Number(_) => "NUMBER_VALUE",
        Value::Null => "NULL_VALUE",
    };
    format!("{found} can not be converted to {target}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LEVEL: Shape = Shape::Enum(&["ALL", "OFF"]);
    const SHAPE: &[(&str, Shape)] = &[
        ("name", Shape::Str),
        ("logging", Shape::Struct(&[("level", LEVEL), ("on", Shape::Bool)])),
        ("tags", Shape::List(&Shape::Struct(&[("key", Shape::Str)]))),
        ("max", Shape::Int),
    ];

    fn check_json(v: Value) -> Result<(), ShapeError> {
        check_members(v.as_object().unwrap(), SHAPE)
    }

    #[test]
    fn members_of_the_wrong_type_are_named_as_aws_does() {
        let cases = [
            (json!({"name": 7}), "NUMBER_VALUE can not be converted to a String"),
            (json!({"name": true}), "TRUE_VALUE can not be converted to a String"),
            (json!({"name": {}}), "Start of structure or map found where not expected"),
            (json!({"logging": "ALL"}), "Unexpected field type"),
            (json!({"logging": {"on": "yes"}}), "STRING_VALUE can not be converted to a Boolean"),
            (json!({"tags": [{"key": []}]}), "Start of list found where not expected"),
            (json!({"max": 1.5}), "DECIMAL_VALUE can not be converted to an Integer"),
        ];
        for (request, message) in cases {
            assert_eq!(check_json(request.clone()), Err(ShapeError::Type(message.into())), "{request}");
        }
    }

    #[test]
    fn enum_values_nulls_and_unknown_members() {
        let err = check_json(json!({"logging": {"level": "SOME"}})).unwrap_err();
        assert_eq!(
            err.message(),
            "1 validation error detected: Value 'SOME' at 'logging.level' failed to satisfy constraint: \
             Member must satisfy enum value set: [ALL, OFF]"
        );
        assert!(check_json(json!({"name": null, "other": 5, "logging": {"level": "OFF"}, "max": 3})).is_ok());
    }
}
