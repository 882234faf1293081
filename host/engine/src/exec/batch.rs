//! ItemBatcher: a Map's items grouped into batches by count and size.

use super::io::scope;
use super::size::json_size;
use serde_json::{Map, Value};
use stepbox_asl::{RuntimeError, compact};

/// Groups Map items per `ItemBatcher`: `{"BatchInput": …, "Items": [...]}`.
pub(super) fn batch_items(
    cfg: &Value,
    items: Vec<Value>,
    input: &Value,
    ctx: &Value,
    vars: &Map<String, Value>,
) -> Result<Vec<Value>, RuntimeError> {
    let limit = |field: &str| batch_limit(cfg, field, input, ctx, vars);
    let max_items = limit("MaxItemsPerBatch")?
        .map(|x| x.max(1.0) as usize)
        .unwrap_or(usize::MAX);
    let max_bytes = limit("MaxInputBytesPerBatch")?
        .map(|x| x.max(1.0) as usize)
        .unwrap_or(256 * 1024);
    let batch_input = match cfg.get("BatchInput") {
        None => None,
        Some(t) => {
            let t =
                stepbox_asl::Template::compile(t).map_err(|e| RuntimeError::runtime(e.message))?;
            Some(t.eval(&scope(input, ctx, vars))?)
        }
    };
    let wrap = |batch: Vec<Value>| {
        let mut m = Map::new();
        if let Some(b) = &batch_input {
            m.insert("BatchInput".into(), b.clone());
        }
        m.insert("Items".into(), Value::Array(batch));
        Value::Object(m)
    };
    let mut out = Vec::new();
    let mut cur: Vec<Value> = Vec::new();
    let mut bytes = 0usize;
    for it in items {
        let sz = json_size(&it, max_bytes) + 1;
        if !cur.is_empty() && (cur.len() >= max_items || bytes + sz > max_bytes) {
            out.push(wrap(std::mem::take(&mut cur)));
            bytes = 0;
        }
        bytes += sz;
        cur.push(it);
    }
    if !cur.is_empty() {
        out.push(wrap(cur));
    }
    Ok(out)
}

/// A batch limit (`MaxItemsPerBatch` & co.), given or read through its path.
fn batch_limit(
    cfg: &Value,
    field: &str,
    input: &Value,
    ctx: &Value,
    vars: &Map<String, Value>,
) -> Result<Option<f64>, RuntimeError> {
    if let Some(v) = cfg.get(field) {
        return to_count(v, field, field);
    }
    let pf = format!("{field}Path");
    match cfg.get(&pf).and_then(|v| v.as_str()) {
        None => Ok(None),
        Some(p) => {
            let path = stepbox_asl::JsonPath::parse(p).map_err(|e| RuntimeError::runtime(e.0))?;
            let v = scope(input, ctx, vars).resolve(&path).ok_or_else(|| {
                RuntimeError::runtime(format!(
                    "Invalid path '{}' : No results for path: {}",
                    path.as_str(),
                    path.canonical()
                ))
            })?;
            to_count(v.as_value(), field, p)
        }
    }
}

/// A count given as a number or an integer string ("1", as AWS accepts).
pub(super) fn to_count(v: &Value, field: &str, path: &str) -> Result<Option<f64>, RuntimeError> {
    let parsed = match v {
        Value::Number(n) => n.as_f64(),
        // AWS accepts integers given as strings ("1").
        Value::String(s) => s.trim().parse::<i64>().ok().map(|i| i as f64),
        _ => None,
    };
    match parsed {
        Some(x) => Ok(Some(x)),
        _ => Err(RuntimeError::runtime(format!(
            "The {field}Path field refers to value \"{}\" which is not a valid integer: {path}",
            match v {
                Value::String(s) => s.clone(),
                other => compact(other),
            }
        ))),
    }
}
