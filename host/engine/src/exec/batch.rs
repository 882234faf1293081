//! ItemBatcher: a Map's items grouped into batches by count and size.

use super::io::scope;
use super::size::json_size;
use serde_json::{Map, Value};
use stepbox_asl::RuntimeError;
use stepbox_asl::jsonata::{Bindings, JsonataTemplate, template::Allowed};
use stepbox_asl::catalogue::{Facts, Field, check};

/// Groups Map items per `ItemBatcher` into `{"BatchInput": …, "Items": [...]}`,
/// an item at a time (a map run's items are never all held as trees).
pub(super) struct Batcher {
    max_items: usize,
    max_bytes: usize,
    batch_input: Option<Value>,
    cur: Vec<Value>,
    bytes: usize,
}

impl Batcher {
    /// The batcher `cfg` (the state's `ItemBatcher`) describes. `jsonata`:
    /// the bindings of a JSONata state, whose limits and BatchInput may be
    /// expressions.
    pub(super) fn new(
        cfg: &Value,
        input: &Value,
        ctx: &Value,
        vars: &Map<String, Value>,
        jsonata: Option<&Bindings<'_>>,
    ) -> Result<Batcher, RuntimeError> {
        let limit = |field: &str| match (jsonata, cfg.get(field)) {
            (Some(b), Some(v @ Value::String(_))) => {
                let v = JsonataTemplate::compile(field, v, Allowed::default())
                    .map_err(|e| RuntimeError::runtime(e.message))?
                    .evaluate(b)?;
                let checked = if field == "MaxItemsPerBatch" { Field::MaxItemsPerBatchPath } else { Field::MaxInputBytesPerBatchPath };
                check::map_limit(checked, Facts::default().value(&v), &v).map(Some)
            }
            _ => batch_limit(cfg, field, input, ctx, vars),
        };
        let max_items = limit("MaxItemsPerBatch")?.map(|x| x.max(1.0) as usize).unwrap_or(usize::MAX);
        let max_bytes = limit("MaxInputBytesPerBatch")?.map(|x| x.max(1.0) as usize).unwrap_or(256 * 1024);
        let batch_input = match cfg.get("BatchInput") {
            None => None,
            Some(t) if let Some(b) = jsonata => Some(
                JsonataTemplate::compile("BatchInput", t, Allowed::default())
                    .map_err(|e| RuntimeError::runtime(e.message))?
                    .evaluate(b)?,
            ),
            Some(t) => {
                let t = stepbox_asl::Template::compile(t).map_err(|e| RuntimeError::runtime(e.message))?;
                Some(t.eval(&scope(input, ctx, vars))?)
            }
        };
        Ok(Batcher { max_items, max_bytes, batch_input, cur: Vec::new(), bytes: 0 })
    }

    /// Adds the next item; answers the batch it closed, if it closed one.
    pub(super) fn push(&mut self, item: Value) -> Option<Value> {
        let sz = json_size(&item, self.max_bytes) + 1;
        let mut full = None;
        if !self.cur.is_empty() && (self.cur.len() >= self.max_items || self.bytes + sz > self.max_bytes) {
            full = Some(self.wrap());
        }
        self.bytes += sz;
        self.cur.push(item);
        full
    }

    /// The last batch, if any item is left.
    pub(super) fn finish(mut self) -> Option<Value> {
        (!self.cur.is_empty()).then(|| self.wrap())
    }

    fn wrap(&mut self) -> Value {
        self.bytes = 0;
        let mut m = Map::new();
        if let Some(b) = &self.batch_input {
            m.insert("BatchInput".into(), b.clone());
        }
        m.insert("Items".into(), Value::Array(std::mem::take(&mut self.cur)));
        Value::Object(m)
    }
}

/// A batch limit (`MaxItemsPerBatch` & co.), given or read through its path.
fn batch_limit(
    cfg: &Value,
    field: &str,
    input: &Value,
    ctx: &Value,
    vars: &Map<String, Value>,
) -> Result<Option<f64>, RuntimeError> {
    let checked = if field == "MaxItemsPerBatch" { Field::MaxItemsPerBatchPath } else { Field::MaxInputBytesPerBatchPath };
    if let Some(v) = cfg.get(field) {
        return check::map_limit(checked, Facts::default().value(v), v).map(Some);
    }
    match cfg.get(checked.name()).and_then(|v| v.as_str()) {
        None => Ok(None),
        Some(p) => {
            let path = stepbox_asl::JsonPath::parse(p).map_err(|e| RuntimeError::runtime(e.0))?;
            let found = scope(input, ctx, vars).resolve(&path);
            check::map_limit_path(checked, &path, found.as_ref().map(|v| v.as_value()), input).map(Some)
        }
    }
}
