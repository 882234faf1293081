//! The DynamoDB calls, from the state's parameters to DynamoDB's answer.

use std::cmp::Ordering;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use super::error::DynamoError;
use super::eval::{self, Item};
use super::expr::{self, Cmp, Cond, Operand, Path, Placeholders, Step};
use super::tables::{self, ItemWrite, TableSchema, Tables};
use super::value;

type R<T> = Result<T, DynamoError>;

fn null_member(member: &str) -> DynamoError {
    DynamoError::validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

/// The request's table name, checked as DynamoDB checks it (before the
/// request's other members; the table's existence is looked up after them).
fn table_name(params: &Value) -> R<&str> {
    let name = match params.get("TableName") {
        None | Some(Value::Null) => return Err(null_member("tableName")),
        Some(Value::String(s)) => s,
        Some(other) => return Err(DynamoError::validation(format!("Value {other} at 'tableName' is not a string"))),
    };
    if !tables::valid_table_name(name) {
        return Err(DynamoError::validation(format!(
            "1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )));
    }
    Ok(name)
}

/// A map member (`Item`, `Key`), checked.
fn map_member(params: &Value, field: &str, member: &str) -> R<Item> {
    match params.get(field) {
        None | Some(Value::Null) => Err(null_member(member)),
        Some(Value::Object(m)) => {
            value::check_item(m)?;
            Ok(m.clone())
        }
        Some(_) => Err(DynamoError::validation(format!("Value at '{member}' is not a map of attribute values"))),
    }
}

fn text<'p>(params: &'p Value, field: &str) -> R<Option<&'p str>> {
    match params.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(DynamoError::validation(format!("{field} is not a string"))),
    }
}

fn placeholders(params: &Value) -> Placeholders<'_> {
    Placeholders::new(
        params.get("ExpressionAttributeNames").and_then(Value::as_object),
        params.get("ExpressionAttributeValues").and_then(Value::as_object),
    )
}

fn condition(params: &Value, field: &'static str, ph: &mut Placeholders) -> R<Option<Cond>> {
    text(params, field)?.map(|t| expr::condition(t, field, ph)).transpose()
}

fn return_values(params: &Value, allowed: &[&str]) -> R<String> {
    let v = text(params, "ReturnValues")?.unwrap_or("NONE");
    if allowed.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(DynamoError::validation(format!("Return values set to invalid value: {v}")))
    }
}

/// Reads the item at `key` and writes what `decide` answers, in one
/// transaction; answers what `decide` answered besides.
async fn change<T: Send + 'static>(
    tables: &Tables,
    table: &str,
    key: Vec<u8>,
    decide: impl FnOnce(Option<Item>) -> R<(ItemWrite, T)> + Send + 'static,
) -> R<T> {
    let slot: Arc<Mutex<Option<R<T>>>> = Arc::default();
    let out = slot.clone();
    let decide = Box::new(move |bytes: Option<&[u8]>| {
        let answer = bytes.map(tables::decode).transpose().and_then(decide);
        let write = match &answer {
            Ok((w, _)) => w.clone(),
            Err(_) => ItemWrite::Keep,
        };
        *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(answer.map(|(_, t)| t));
        write
    });
    tables.change(table, key, decide).await?;
    let answer = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    answer.unwrap_or_else(|| Err(DynamoError::Internal("the item's change did not run".into())))
}

fn check(cond: &Option<Cond>, item: Option<&Item>) -> R<()> {
    match cond {
        Some(c) if !eval::holds(c, item)? => Err(DynamoError::ConditionalCheckFailed),
        _ => Ok(()),
    }
}

fn encode(item: &Item) -> R<Vec<u8>> {
    serde_json::to_vec(item).map_err(|e| DynamoError::Internal(e.to_string()))
}

fn attributes(item: Option<Item>) -> Value {
    match item {
        Some(item) if !item.is_empty() => json!({ "Attributes": item }),
        _ => json!({}),
    }
}

pub async fn get_item(tables: &Tables, params: &Value) -> R<Value> {
    let name = table_name(params)?;
    let key = map_member(params, "Key", "key")?;
    let schema = tables.schema(name)?;
    let key = schema.key_of_key(&key)?;
    let mut ph = placeholders(params);
    let projection = text(params, "ProjectionExpression")?.map(|t| expr::projection(t, &mut ph)).transpose()?;
    ph.check_all_used()?;
    let found = tables.get(&schema.name, key).await?;
    match found {
        None => Ok(json!({})),
        Some(bytes) => {
            let item = tables::decode(&bytes)?;
            Ok(json!({ "Item": project(item, projection.as_deref()) }))
        }
    }
}

pub async fn put_item(tables: &Tables, params: &Value) -> R<Value> {
    let name = table_name(params)?;
    let item = map_member(params, "Item", "item")?;
    let schema = tables.schema(name)?;
    let key = schema.key_of_item(&item)?;
    let mut ph = placeholders(params);
    let cond = condition(params, "ConditionExpression", &mut ph)?;
    ph.check_all_used()?;
    let all_old = return_values(params, &["NONE", "ALL_OLD"])? == "ALL_OLD";
    let bytes = encode(&item)?;
    let old = change(tables, &schema.name, key, move |old| {
        check(&cond, old.as_ref())?;
        Ok((ItemWrite::Put(bytes), old))
    })
    .await?;
    Ok(if all_old { attributes(old) } else { json!({}) })
}

pub async fn delete_item(tables: &Tables, params: &Value) -> R<Value> {
    let name = table_name(params)?;
    let key = map_member(params, "Key", "key")?;
    let schema = tables.schema(name)?;
    let key = schema.key_of_key(&key)?;
    let mut ph = placeholders(params);
    let cond = condition(params, "ConditionExpression", &mut ph)?;
    ph.check_all_used()?;
    let all_old = return_values(params, &["NONE", "ALL_OLD"])? == "ALL_OLD";
    let old = change(tables, &schema.name, key, move |old| {
        check(&cond, old.as_ref())?;
        let write = if old.is_some() { ItemWrite::Delete } else { ItemWrite::Keep };
        Ok((write, old))
    })
    .await?;
    Ok(if all_old { attributes(old) } else { json!({}) })
}

pub async fn update_item(tables: &Tables, params: &Value) -> R<Value> {
    let name = table_name(params)?;
    let key_item = map_member(params, "Key", "key")?;
    let schema = tables.schema(name)?;
    let key = schema.key_of_key(&key_item)?;
    let mut ph = placeholders(params);
    let actions = text(params, "UpdateExpression")?.map(|t| expr::update(t, &mut ph)).transpose()?.unwrap_or_default();
    let cond = condition(params, "ConditionExpression", &mut ph)?;
    ph.check_all_used()?;
    for action in &actions {
        let (expr::Action::Set(p, _) | expr::Action::Remove(p) | expr::Action::Add(p, _) | expr::Action::Delete(p, _)) = action;
        if let Some(Step::Name(top)) = p.first()
            && schema.is_key(top)
        {
            return Err(DynamoError::validation(format!(
                "One or more parameter values were invalid: Cannot update attribute {top}. This attribute is part of the key"
            )));
        }
    }
    let returned = return_values(params, &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"])?;
    let (old, new, touched) = change(tables, &schema.name, key, move |old| {
        check(&cond, old.as_ref())?;
        let mut new = old.clone().unwrap_or(key_item);
        let touched = eval::apply(&actions, &mut new)?;
        let bytes = encode(&new)?;
        Ok((ItemWrite::Put(bytes), (old, new, touched)))
    })
    .await?;
    let only_touched = |item: Option<Item>| item.map(|i| i.into_iter().filter(|(k, _)| touched.contains(k)).collect::<Item>());
    Ok(match returned.as_str() {
        "ALL_OLD" => attributes(old),
        "UPDATED_OLD" => attributes(only_touched(old)),
        "ALL_NEW" => attributes(Some(new)),
        "UPDATED_NEW" => attributes(only_touched(Some(new))),
        _ => json!({}),
    })
}

pub async fn query(tables: &Tables, params: &Value) -> R<Value> {
    let schema = tables.schema(table_name(params)?)?;
    let mut ph = placeholders(params);
    let Some(key_cond) = condition(params, "KeyConditionExpression", &mut ph)? else {
        return Err(DynamoError::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        ));
    };
    let filter = condition(params, "FilterExpression", &mut ph)?;
    let projection = text(params, "ProjectionExpression")?.map(|t| expr::projection(t, &mut ph)).transpose()?;
    ph.check_all_used()?;
    let hash = partition_value(&key_cond, &schema.hash.name).ok_or_else(|| {
        DynamoError::validation(format!("Query condition missed key schema element: {}", schema.hash.name))
    })?;
    let prefix = value::key_bytes(&hash).ok_or_else(|| {
        DynamoError::validation("One or more parameter values were invalid: Condition parameter type does not match schema type")
    })?;
    let mut items = read_items(tables, &schema.name, prefix).await?;
    items.retain(|item| eval::holds(&key_cond, Some(item)).unwrap_or(false));
    // A partition's items in sort-key order (backwards with ScanIndexForward false).
    let forward = params.get("ScanIndexForward") != Some(&Value::Bool(false));
    let range = schema.range.as_ref().map(|r| r.name.clone());
    let order = move |a: &Item, b: &Item| {
        let o = match &range {
            Some(r) => a.get(r).zip(b.get(r)).and_then(|(x, y)| value::compare(x, y)).unwrap_or(Ordering::Equal),
            None => Ordering::Equal,
        };
        if forward { o } else { o.reverse() }
    };
    items.sort_by(&order);
    page(schema, items, &order, params, filter, projection)
}

pub async fn scan(tables: &Tables, params: &Value) -> R<Value> {
    let schema = tables.schema(table_name(params)?)?;
    let mut ph = placeholders(params);
    let filter = condition(params, "FilterExpression", &mut ph)?;
    let projection = text(params, "ProjectionExpression")?.map(|t| expr::projection(t, &mut ph)).transpose()?;
    ph.check_all_used()?;
    let items = read_items(tables, &schema.name, Vec::new()).await?;
    // The store's order: by key bytes.
    let order = |a: &Item, b: &Item| schema.key_of_item(a).ok().cmp(&schema.key_of_item(b).ok());
    page(schema, items, &order, params, filter, projection)
}

async fn read_items(tables: &Tables, table: &str, prefix: Vec<u8>) -> R<Vec<Item>> {
    let found = tables.scan(table, prefix).await?;
    found.iter().map(|b| tables::decode(b)).collect()
}

/// The value `KeyConditionExpression` sets the partition key to.
fn partition_value(c: &Cond, hash: &str) -> Option<Value> {
    match c {
        Cond::Cmp(Operand::Path(p), Cmp::Eq, Operand::Value(v)) | Cond::Cmp(Operand::Value(v), Cmp::Eq, Operand::Path(p))
            if p.as_slice() == [Step::Name(hash.to_string())] =>
        {
            Some(v.clone())
        }
        Cond::And(a, b) => partition_value(a, hash).or_else(|| partition_value(b, hash)),
        _ => None,
    }
}

/// Applies Limit (to the items read), then the filter and projection.
/// Pages `items`, read in `order`: after ExclusiveStartKey (wherever it
/// would stand, whether or not its item still exists), then Limit.
fn page(
    schema: &TableSchema,
    mut items: Vec<Item>,
    order: &dyn Fn(&Item, &Item) -> Ordering,
    params: &Value,
    filter: Option<Cond>,
    projection: Option<Vec<Path>>,
) -> R<Value> {
    let limit = match params.get("Limit") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Some(n as usize),
            _ => return Err(DynamoError::validation(format!(
                "1 validation error detected: Value '{v}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
            ))),
        },
    };
    if let Some(start) = params.get("ExclusiveStartKey").filter(|v| !v.is_null()) {
        let start = start.as_object().ok_or_else(|| DynamoError::validation("The provided starting key is invalid"))?;
        schema.key_of_key(start)?;
        items.retain(|i| order(i, start) == Ordering::Greater);
    }
    let mut last_key = None;
    if let Some(n) = limit
        && items.len() > n
    {
        items.truncate(n);
        last_key = items.last().map(|i| schema.key_part(i));
    }
    let scanned = items.len();
    let mut kept = Vec::new();
    for item in items {
        if filter.as_ref().map_or(Ok(true), |f| eval::holds(f, Some(&item)))? {
            kept.push(Value::Object(project(item, projection.as_deref())));
        }
    }
    let mut out = json!({ "Count": kept.len(), "Items": kept, "ScannedCount": scanned });
    if let Some(key) = last_key {
        out["LastEvaluatedKey"] = Value::Object(key);
    }
    Ok(out)
}

/// The item with only the attributes `paths` name (all without projection).
fn project(item: Item, paths: Option<&[Path]>) -> Item {
    let Some(paths) = paths else { return item };
    let mut out = Map::new();
    for path in paths {
        if let Some(v) = eval::get(&item, path) {
            insert_at(&mut out, path, v.clone());
        }
    }
    out
}

/// Puts `v` at `path` in `out`, making the maps and lists on the way (list
/// elements keep their order, as DynamoDB's projections do).
fn insert_at(out: &mut Item, path: &Path, v: Value) {
    let Some((Step::Name(first), rest)) = path.split_first() else { return };
    if rest.is_empty() {
        out.insert(first.clone(), v);
        return;
    }
    let wrapper = match rest[0] {
        Step::Name(_) => json!({"M": {}}),
        Step::Index(_) => json!({"L": []}),
    };
    let slot = out.entry(first.clone()).or_insert(wrapper);
    let mut at = slot;
    for (i, step) in rest.iter().enumerate() {
        let last = i + 1 == rest.len();
        let next = if last { None } else { Some(&rest[i + 1]) };
        let fresh = match next {
            None => v.clone(),
            Some(Step::Name(_)) => json!({"M": {}}),
            Some(Step::Index(_)) => json!({"L": []}),
        };
        at = match step {
            Step::Name(n) => match at.get_mut("M").and_then(Value::as_object_mut) {
                Some(m) => m.entry(n.clone()).or_insert(fresh),
                None => return,
            },
            Step::Index(_) => match at.get_mut("L").and_then(Value::as_array_mut) {
                Some(l) => {
                    l.push(fresh);
                    match l.last_mut() {
                        Some(x) => x,
                        None => return,
                    }
                }
                None => return,
            },
        };
    }
}
