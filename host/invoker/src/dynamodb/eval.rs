//! Evaluating parsed expressions on an item: conditions decide, update
//! actions change the item in place.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::error::DynamoError;
use super::expr::{Action, Cmp, Cond, Operand, Path, Step};
use super::value::{self, Number, parse_number};

pub type Item = Map<String, Value>;

/// The value at `path` in `item`, if there is one.
pub fn get<'v>(item: &'v Item, path: &Path) -> Option<&'v Value> {
    let Some((Step::Name(first), rest)) = path.split_first() else { return None };
    let mut at = item.get(first)?;
    for step in rest {
        at = match step {
            Step::Name(n) => at.get("M")?.get(n)?,
            Step::Index(i) => at.get("L")?.get(*i)?,
        };
    }
    Some(at)
}

fn operand(item: &Item, o: &Operand) -> Result<Option<Value>, DynamoError> {
    Ok(match o {
        Operand::Path(p) => get(item, p).cloned(),
        Operand::Value(v) => Some(v.clone()),
        Operand::Size(p) => match get(item, p) {
            None => None,
            Some(v) => match value::size(v) {
                Some(n) => Some(json!({"N": n.to_string()})),
                None => return Err(incorrect_operand("size")),
            },
        },
        Operand::IfNotExists(p, default) => match get(item, p) {
            Some(v) => Some(v.clone()),
            None => operand(item, default)?,
        },
        Operand::ListAppend(a, b) => {
            let (a, b) = (required(item, a)?, required(item, b)?);
            match (a.get("L").and_then(Value::as_array), b.get("L").and_then(Value::as_array)) {
                (Some(x), Some(y)) => Some(json!({"L": x.iter().chain(y).cloned().collect::<Vec<_>>()})),
                _ => return Err(incorrect_operand("list_append")),
            }
        }
        Operand::Plus(a, b) | Operand::Minus(a, b) => {
            let (x, y) = (number(&required(item, a)?)?, number(&required(item, b)?)?);
            let y = if matches!(o, Operand::Minus(..)) { y.negate() } else { y };
            Some(json!({"N": x.add(y).render()}))
        }
    })
}

fn required(item: &Item, o: &Operand) -> Result<Value, DynamoError> {
    operand(item, o)?.ok_or_else(|| {
        DynamoError::validation("The provided expression refers to an attribute that does not exist in the item")
    })
}

fn number(v: &Value) -> Result<Number, DynamoError> {
    v.get("N").and_then(Value::as_str).and_then(parse_number).ok_or_else(|| incorrect_operand("+"))
}

fn incorrect_operand(operator: &str) -> DynamoError {
    DynamoError::validation(format!(
        "An operand in the update expression has an incorrect data type; operator or function: {operator}"
    ))
}

/// Whether `c` holds for `item` (None: no item).
pub fn holds(c: &Cond, item: Option<&Item>) -> Result<bool, DynamoError> {
    let empty = Item::new();
    let item = item.unwrap_or(&empty);
    Ok(match c {
        Cond::And(a, b) => holds(a, Some(item))? && holds(b, Some(item))?,
        Cond::Or(a, b) => holds(a, Some(item))? || holds(b, Some(item))?,
        Cond::Not(a) => !holds(a, Some(item))?,
        Cond::Exists(p) => get(item, p).is_some(),
        Cond::NotExists(p) => get(item, p).is_none(),
        Cond::Type(p, t) => {
            let wanted = operand(item, t)?.and_then(|v| v.get("S").and_then(Value::as_str).map(str::to_string));
            get(item, p).and_then(value::type_of).is_some_and(|t| Some(t) == wanted.as_deref())
        }
        Cond::Cmp(a, op, b) => match (operand(item, a)?, operand(item, b)?) {
            (Some(x), Some(y)) => compare(&x, *op, &y),
            _ => false,
        },
        Cond::Between(a, lo, hi) => match (operand(item, a)?, operand(item, lo)?, operand(item, hi)?) {
            (Some(x), Some(l), Some(h)) => compare(&x, Cmp::Ge, &l) && compare(&x, Cmp::Le, &h),
            _ => false,
        },
        Cond::In(a, list) => match operand(item, a)? {
            Some(x) => {
                let mut found = false;
                for o in list {
                    found |= operand(item, o)?.is_some_and(|y| value::equal(&x, &y));
                }
                found
            }
            None => false,
        },
        Cond::BeginsWith(a, b) => match (operand(item, a)?, operand(item, b)?) {
            (Some(x), Some(y)) => ["S", "B"].iter().any(|t| match (x.get(*t).and_then(Value::as_str), y.get(*t).and_then(Value::as_str)) {
                (Some(s), Some(prefix)) => s.starts_with(prefix),
                _ => false,
            }),
            _ => false,
        },
        Cond::Contains(a, b) => match (operand(item, a)?, operand(item, b)?) {
            (Some(x), Some(y)) => contains(&x, &y),
            _ => false,
        },
    })
}

fn compare(x: &Value, op: Cmp, y: &Value) -> bool {
    match op {
        Cmp::Eq => value::equal(x, y),
        Cmp::Ne => !value::equal(x, y),
        _ => value::compare(x, y).is_some_and(|o| match op {
            Cmp::Lt => o == Ordering::Less,
            Cmp::Le => o != Ordering::Greater,
            Cmp::Gt => o == Ordering::Greater,
            _ => o != Ordering::Less,
        }),
    }
}

fn contains(x: &Value, y: &Value) -> bool {
    match (value::type_of(x), value::type_of(y)) {
        (Some("S"), Some("S")) => x["S"].as_str().zip(y["S"].as_str()).is_some_and(|(s, t)| s.contains(t)),
        (Some("L"), Some(_)) => x["L"].as_array().is_some_and(|l| l.iter().any(|v| value::equal(v, y))),
        (Some(set @ ("SS" | "NS" | "BS")), Some(t)) if set.starts_with(t) && t.len() == 1 => {
            let member = y[t].as_str().unwrap_or_default();
            value::set_of(x).iter().any(|m| value::member_eq(set, m, member))
        }
        _ => false,
    }
}

/// Applies update actions to `item`; answers the names of the top-level
/// attributes they touched.
pub fn apply(actions: &[Action], item: &mut Item) -> Result<Vec<String>, DynamoError> {
    // Every SET value is computed from the item as it was before the update.
    let before = item.clone();
    let mut touched = Vec::new();
    for action in actions {
        let (path, change) = match action {
            Action::Set(p, o) => (p, Some(required(&before, o)?)),
            Action::Remove(p) => (p, None),
            Action::Add(p, v) => (p, Some(add(get(&before, p), v)?)),
            Action::Delete(p, v) => match get(&before, p) {
                None => continue,
                Some(current) => (p, delete(current, v)?),
            },
        };
        set_path(item, path, change)?;
        if let Some(Step::Name(top)) = path.first()
            && !touched.contains(top)
        {
            touched.push(top.clone());
        }
    }
    Ok(touched)
}

fn add(current: Option<&Value>, v: &Value) -> Result<Value, DynamoError> {
    let t = value::type_of(v).unwrap_or_default();
    match (current, t) {
        (None, "N" | "SS" | "NS" | "BS") => Ok(v.clone()),
        (Some(c), "N") => Ok(json!({"N": number(c)?.add(number(v)?).render()})),
        (Some(c), "SS" | "NS" | "BS") if value::type_of(c) == Some(t) => {
            let mut members = value::set_of(c);
            for m in value::set_of(v) {
                if !members.iter().any(|x| value::member_eq(t, x, &m)) {
                    members.push(m);
                }
            }
            Ok(json!({ t: members }))
        }
        _ => Err(incorrect_operand("ADD")),
    }
}

fn delete(current: &Value, v: &Value) -> Result<Option<Value>, DynamoError> {
    let t = value::type_of(v).unwrap_or_default();
    if !matches!(t, "SS" | "NS" | "BS") || value::type_of(current) != Some(t) {
        return Err(incorrect_operand("DELETE"));
    }
    let gone = value::set_of(v);
    let left: Vec<String> =
        value::set_of(current).into_iter().filter(|m| !gone.iter().any(|g| value::member_eq(t, m, g))).collect();
    Ok((!left.is_empty()).then(|| json!({ t: left })))
}

/// Sets (Some) or removes (None) the value at `path`.
fn set_path(item: &mut Item, path: &Path, new: Option<Value>) -> Result<(), DynamoError> {
    let invalid = || DynamoError::validation("The document path provided in the update expression is invalid for update");
    let Some((Step::Name(first), rest)) = path.split_first() else { return Err(invalid()) };
    let Some((last, middle)) = rest.split_last() else {
        match new {
            Some(v) => item.insert(first.clone(), v),
            None => item.remove(first),
        };
        return Ok(());
    };
    let mut at = match item.get_mut(first) {
        Some(v) => v,
        None if new.is_none() => return Ok(()),
        None => return Err(invalid()),
    };
    for step in middle {
        at = match step {
            Step::Name(n) => at.get_mut("M").and_then(|m| m.get_mut(n)),
            Step::Index(i) => at.get_mut("L").and_then(|l| l.get_mut(*i)),
        }
        .ok_or_else(invalid)?;
    }
    match (last, new) {
        (Step::Name(n), Some(v)) => {
            at.get_mut("M").and_then(Value::as_object_mut).ok_or_else(invalid)?.insert(n.clone(), v);
        }
        (Step::Name(n), None) => {
            if let Some(m) = at.get_mut("M").and_then(Value::as_object_mut) {
                m.remove(n);
            }
        }
        (Step::Index(i), new) => {
            let list = at.get_mut("L").and_then(Value::as_array_mut).ok_or_else(invalid)?;
            match new {
                Some(v) if *i < list.len() => list[*i] = v,
                Some(v) => list.push(v),
                None if *i < list.len() => {
                    list.remove(*i);
                }
                None => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::expr::{self, Placeholders};
    use super::*;

    fn item(v: Value) -> Item {
        v.as_object().unwrap().clone()
    }

    fn run_update(text: &str, values: Value, it: &mut Item) -> Result<Vec<String>, DynamoError> {
        let mut ph = Placeholders::new(None, values.as_object());
        apply(&expr::update(text, &mut ph)?, it)
    }

    fn check(text: &str, values: Value, it: &Item) -> bool {
        let mut ph = Placeholders::new(None, values.as_object());
        holds(&expr::condition(text, "ConditionExpression", &mut ph).unwrap(), Some(it)).unwrap()
    }

    #[test]
    fn conditions_read_the_item() {
        let it = item(json!({"id": {"S": "a"}, "n": {"N": "5"}, "tags": {"SS": ["x", "y"]}, "m": {"M": {"k": {"L": [{"S": "first"}]}}}}));
        assert!(check("attribute_exists(id) AND n > :three", json!({":three": {"N": "3"}}), &it));
        assert!(!check("attribute_not_exists(id)", json!({}), &it));
        assert!(check("contains(tags, :x) AND size(tags) = :two", json!({":x": {"S": "x"}, ":two": {"N": "2"}}), &it));
        assert!(check("begins_with(m.k[0], :f)", json!({":f": {"S": "fir"}}), &it));
        assert!(check("n BETWEEN :a AND :b", json!({":a": {"N": "5"}, ":b": {"N": "6"}}), &it));
        assert!(check("n IN (:a, :b)", json!({":a": {"N": "4"}, ":b": {"N": "5.0"}}), &it));
        assert!(check("attribute_type(n, :t)", json!({":t": {"S": "N"}}), &it));
        assert!(!check("missing = :a", json!({":a": {"N": "4"}}), &it));
    }

    #[test]
    fn updates_set_add_remove_and_delete() {
        let mut it = item(json!({"id": {"S": "a"}, "n": {"N": "5"}, "tags": {"SS": ["x", "y"]}, "l": {"L": [{"N": "1"}]}}));
        let touched = run_update(
            "SET n = n + :one, c = if_not_exists(c, :zero) - :one, l = list_append(l, :more) REMOVE id ADD tags :z DELETE tags :x",
            json!({":one": {"N": "1"}, ":zero": {"N": "0"}, ":more": {"L": [{"N": "2"}]}, ":z": {"SS": ["z"]}, ":x": {"SS": ["x"]}}),
            &mut it,
        )
        .unwrap();
        assert_eq!(it["n"], json!({"N": "6"}));
        assert_eq!(it["c"], json!({"N": "-1"}));
        assert_eq!(it["l"], json!({"L": [{"N": "1"}, {"N": "2"}]}));
        assert!(!it.contains_key("id"));
        assert_eq!(touched, ["n", "c", "l", "id", "tags"]);
    }

    #[test]
    fn bad_updates_say_why() {
        let mut it = item(json!({"s": {"S": "text"}}));
        let e = run_update("SET s = s + :one", json!({":one": {"N": "1"}}), &mut it).unwrap_err();
        assert!(e.to_string().contains("incorrect data type"), "{e}");
        let e = run_update("SET x = y", json!({}), &mut it).unwrap_err();
        assert!(e.to_string().contains("does not exist in the item"), "{e}");
        let e = run_update("SET a.b = :one", json!({":one": {"N": "1"}}), &mut it).unwrap_err();
        assert!(e.to_string().contains("document path provided in the update expression is invalid"), "{e}");
    }
}
