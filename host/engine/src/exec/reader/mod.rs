//! ItemReader: a Map's items read from a bucket object (`s3:getObject`:
//! JSON, JSONL, CSV or an S3 Inventory MANIFEST) or listing
//! (`s3:listObjectsV2`), through the engine's [`Objects`](crate::Objects).
//! JSONL and CSV objects are read a line at a time, up to MaxItems, each
//! item handed on as it is read.

mod csv;
mod formats;

use super::failure::Failure;
use super::io::scope;
use super::jsonata;
use super::map::Scopes;
use crate::objects::Objects;
use serde_json::{Map, Value};
use stepbox_asl::jsonata::{JsonataTemplate, template::Allowed};
use stepbox_asl::{JsonPath, RuntimeError, Template, errors};

/// AWS's ceiling on MaxItems (and what 0 means).
const MAX_ITEMS: u64 = 100_000_000;

/// A failure of the reader, named as AWS names it.
pub(super) fn failed(cause: impl Into<String>) -> Failure {
    Failure::new(errors::ITEM_READER_FAILED, cause)
}

/// Where the reader puts each item as it reads it.
pub(super) type Emit<'a> = &'a mut dyn FnMut(Value) -> Result<(), Failure>;

/// Reads the items `cfg` (the state's `ItemReader`) names, evaluated against
/// the state's input (`jsonata`: the expressions of a JSONata state), into
/// `out` one at a time.
pub(super) fn read_items(
    objects: Option<&dyn Objects>,
    cfg: &Value,
    jsonata_state: bool,
    sc: Scopes<'_>,
    out: Emit<'_>,
) -> Result<(), Failure> {
    let Some(objects) = objects else {
        return Err(failed("No buckets to read items from: start stepbox with --buckets DIR"));
    };
    let resource = cfg.get("Resource").and_then(Value::as_str).unwrap_or_default();
    let params = parameters(cfg, jsonata_state, sc, "ItemReader", |c| failed(c))?;
    let reader_config = cfg.get("ReaderConfig").and_then(Value::as_object).cloned().unwrap_or_default();
    let max = max_items(&reader_config, jsonata_state, sc)?;
    let text = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_string);
    let bucket = text("Bucket").ok_or_else(|| failed("The ItemReader's parameters name no Bucket"))?;
    match resource.rsplit(':').next().unwrap_or_default() {
        "getObject" => {
            let key = text("Key").ok_or_else(|| failed("The ItemReader's parameters name no Key"))?;
            let input_type = reader_config.get("InputType").and_then(Value::as_str).unwrap_or("JSON");
            let object = objects.open(&bucket, &key).map_err(s3_failure)?;
            match input_type {
                "JSON" => formats::json(object, max, out),
                "JSONL" => formats::jsonl(object, max, out),
                "CSV" => csv::items(object, &reader_config, max, out),
                "MANIFEST" => formats::manifest(objects, object, max, out),
                other => Err(failed(format!("InputType '{other}' is not supported"))),
            }
        }
        "listObjectsV2" => {
            let prefix = text("Prefix").unwrap_or_default();
            let listed = objects.list(&bucket, &prefix).map_err(s3_failure)?;
            listed.into_iter().take(max).try_for_each(|o| out(formats::listed(o)))
        }
        _ => Err(failed(format!("The ItemReader's resource '{resource}' is not supported"))),
    }
}

/// An S3 error as the reader reports it.
pub(super) fn s3_failure(e: crate::objects::ObjectFailure) -> Failure {
    failed(format!("{} (Service: S3, Status Code: {}, Error Code: {})", e.message, status(&e.code), e.code))
}

fn status(code: &str) -> u16 {
    match code {
        "NoSuchKey" | "NoSuchBucket" => 404,
        "InvalidRequest" => 400,
        _ => 500,
    }
}

/// The `Parameters` (JSONPath) or `Arguments` (JSONata) of an ItemReader or
/// ResultWriter (`what`), evaluated; `fail` names its failures.
pub(super) fn parameters(
    cfg: &Value,
    jsonata_state: bool,
    sc: Scopes<'_>,
    what: &str,
    fail: fn(String) -> Failure,
) -> Result<Map<String, Value>, Failure> {
    let rt = |e: RuntimeError| Failure::new(e.error, e.cause);
    let v = if jsonata_state {
        match cfg.get("Arguments") {
            None => Value::Object(Map::new()),
            Some(a) => {
                let t = JsonataTemplate::compile("Arguments", a, Allowed::default()).map_err(|e| fail(e.message))?;
                t.evaluate(&jsonata::bindings(sc.input, None, None, sc.ctx, sc.vars)).map_err(rt)?
            }
        }
    } else {
        match cfg.get("Parameters") {
            None => Value::Object(Map::new()),
            Some(p) => {
                let t = Template::compile(p).map_err(|e| fail(e.message))?;
                t.eval(&scope(sc.eff, sc.ctx, sc.vars)).map_err(rt)?
            }
        }
    };
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(fail(format!("The {what}'s parameters are not an object"))),
    }
}

/// MaxItems (a number, or a JSONata expression) or MaxItemsPath; 0 or
/// none: every item (up to AWS's 100,000,000).
fn max_items(rc: &Map<String, Value>, jsonata_state: bool, sc: Scopes<'_>) -> Result<usize, Failure> {
    let n = match (rc.get("MaxItems"), rc.get("MaxItemsPath").and_then(Value::as_str)) {
        (Some(Value::String(s)), _) if jsonata_state => {
            let t = JsonataTemplate::compile("MaxItems", &Value::String(s.clone()), Allowed::default())
                .map_err(|e| failed(e.message))?;
            let v = t
                .evaluate(&jsonata::bindings(sc.input, None, None, sc.ctx, sc.vars))
                .map_err(|e| Failure::new(e.error, e.cause))?;
            whole(&v).ok_or_else(|| failed(format!("The MaxItems field refers to value '{v}' which is not a valid integer")))?
        }
        (Some(v), _) => whole(v).ok_or_else(|| failed("field MaxItems must be positive"))?,
        (None, Some(p)) => {
            let path = JsonPath::parse(p).map_err(|e| failed(e.0))?;
            let found = scope(sc.eff, sc.ctx, sc.vars).resolve(&path);
            let v = found.as_ref().map(|v| v.as_value().clone()).unwrap_or(Value::Null);
            let shown = match &v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let n = whole(&v).ok_or_else(|| {
                failed(format!("The MaxItemsPath field refers to value '{shown}' which is not a valid integer: {p}"))
            })?;
            if n < 0 {
                return Err(failed("field MaxItems must be positive"));
            }
            n
        }
        (None, None) => 0,
    };
    if n < 0 {
        return Err(failed("field MaxItems must be positive"));
    }
    let n = n as u64;
    Ok(if n == 0 { MAX_ITEMS } else { n.min(MAX_ITEMS) } as usize)
}

/// A whole number, given as a number or as its decimal text.
fn whole(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
