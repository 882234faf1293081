//! The ItemReader's JSON, JSON Lines and MANIFEST objects, and listings.

use super::{Emit, failed, s3_failure};
use crate::exec::failure::Failure;
use crate::objects::{ObjectInfo, Objects};
use serde_json::{Value, json};
use std::io::BufRead;

/// A JSON array's elements (the object is one JSON text, parsed as it is read).
pub(super) fn json(object: Box<dyn BufRead + Send>, max: usize, out: Emit<'_>) -> Result<(), Failure> {
    let v: Value = serde_json::from_reader(object).map_err(|e| failed(format!("The object is not valid JSON: {e}")))?;
    match v {
        Value::Array(a) => a.into_iter().take(max).try_for_each(out),
        _ => Err(failed("Attempting to map over non-iterable node.")),
    }
}

/// One item per line of JSON Lines (blank lines skipped), read a line at a time.
pub(super) fn jsonl(object: Box<dyn BufRead + Send>, max: usize, out: Emit<'_>) -> Result<(), Failure> {
    let mut items = 0;
    for (n, line) in object.lines().enumerate() {
        if items >= max {
            break;
        }
        let line = line.map_err(|e| failed(format!("Reading the object failed: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let v = serde_json::from_str(&line)
            .map_err(|e| failed(format!("Line {} of the object is not valid JSON: {e}", n + 1)))?;
        out(v)?;
        items += 1;
    }
    Ok(())
}

/// A listing's entry as `s3:listObjectsV2` items are.
pub(super) fn listed(o: ObjectInfo) -> Value {
    json!({"Etag": o.etag, "Key": o.key, "LastModified": o.last_modified, "Size": o.size, "StorageClass": "STANDARD"})
}

/// An S3 Inventory `manifest.json`: one item per row of its CSV files (in
/// the destination bucket), keyed by the manifest's `fileSchema`.
pub(super) fn manifest(objects: &dyn Objects, object: Box<dyn BufRead + Send>, max: usize, out: Emit<'_>) -> Result<(), Failure> {
    let m: Value = serde_json::from_reader(object).map_err(|e| failed(format!("The manifest is not valid JSON: {e}")))?;
    let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default();
    if !text("fileFormat").eq_ignore_ascii_case("CSV") {
        return Err(failed(format!("The manifest's fileFormat '{}' is not supported (CSV is)", text("fileFormat"))));
    }
    let schema: Vec<String> = text("fileSchema").split(',').map(|s| s.trim().to_string()).collect();
    let bucket = text("destinationBucket").rsplit(":::").next().unwrap_or_default().to_string();
    let files = m.get("files").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut items = 0;
    for f in files {
        let key = f.get("key").and_then(Value::as_str).unwrap_or_default();
        let file = objects.open(&bucket, key).map_err(s3_failure)?;
        let reader: Box<dyn BufRead + Send> = if key.ends_with(".gz") {
            Box::new(std::io::BufReader::new(flate2::bufread::MultiGzDecoder::new(file)))
        } else {
            file
        };
        let mut rows = super::csv::Records::new(reader, b',');
        while items < max {
            let Some(row) = rows.next_record()? else { break };
            let mut item = serde_json::Map::new();
            for (i, name) in schema.iter().enumerate() {
                item.insert(name.clone(), Value::String(row.get(i).cloned().unwrap_or_default()));
            }
            out(Value::Object(item))?;
            items += 1;
        }
    }
    Ok(())
}
