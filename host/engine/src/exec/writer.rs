//! ResultWriter: a distributed Map's child results written to a bucket
//! (`s3:putObject`) as AWS lays them out, and/or reshaped (`WriterConfig`).
//!
//! Under `PREFIX/MAP_RUN_ID/`: `manifest.json` (`DestinationBucket`,
//! `MapRunArn`, `ResultFiles` by status, each `{Key, Size}`) and one file per
//! status that has children: `SUCCEEDED_0.json`, `FAILED_0.json`,
//! `PENDING_0.json` (JSON arrays; `.jsonl` with OutputType JSONL).

use super::failure::Failure;
use super::fanout::{FanResults, Span};
use super::values::Values;
use super::map::Scopes;
use super::running::ts;
use crate::objects::Objects;
use serde_json::{Map, Value, json};
use std::io::Write;
use stepbox_asl::errors;

fn failed(cause: String) -> Failure {
    Failure::new(errors::RESULT_WRITER_FAILED, cause)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Transformation {
    None,
    Compact,
    Flatten,
}

/// A Map's ResultWriter, its parameters evaluated.
#[derive(Clone)]
pub(super) struct Writer {
    /// Where to write (`Bucket`, `Prefix`); none: only reshape the output.
    target: Option<(String, String)>,
    transformation: Transformation,
    jsonl: bool,
}

impl Writer {
    /// Reads `cfg` (the state's `ResultWriter`), evaluating its
    /// `Parameters` (JSONPath) or `Arguments` (JSONata).
    pub(super) fn new(cfg: &Value, jsonata_state: bool, sc: Scopes<'_>) -> Result<Writer, Failure> {
        let wc = cfg.get("WriterConfig").and_then(Value::as_object);
        let pick = |k: &str| wc.and_then(|w| w.get(k)).and_then(Value::as_str);
        let has_resource = cfg.get("Resource").is_some();
        let transformation = match pick("Transformation") {
            Some("NONE") => Transformation::None,
            Some("COMPACT") => Transformation::Compact,
            Some("FLATTEN") => Transformation::Flatten,
            None if has_resource => Transformation::None,
            None => Transformation::Compact,
            Some(other) => return Err(failed(format!("Transformation '{other}' is not supported"))),
        };
        let jsonl = pick("OutputType") == Some("JSONL");
        let target = if has_resource {
            let p = super::reader::parameters(cfg, jsonata_state, sc, "ResultWriter", failed)?;
            let text = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
            let bucket = text("Bucket").ok_or_else(|| failed("The ResultWriter's parameters name no Bucket".into()))?;
            Some((bucket, text("Prefix").unwrap_or_default()))
        } else {
            None
        };
        Ok(Writer { target, transformation, jsonl })
    }

    /// Whether the children's inputs are needed (full entries).
    pub(super) fn needs_inputs(&self) -> bool {
        self.target.is_some() || self.transformation == Transformation::None
    }

    /// The Map's result: the map run's ARN and the manifest's place when
    /// written to a bucket, else the children's results reshaped.
    pub(super) fn finish(&self, objects: Option<&dyn Objects>, run: &MapRun<'_>, fan: FanResults) -> Result<Value, Failure> {
        let Some((bucket, prefix)) = &self.target else {
            let mut out = Vec::with_capacity(fan.results.len());
            self.each_entry(run, &fan, None, &mut |e| {
                out.push(serde_json::from_slice(e)?);
                Ok(())
            })
            .map_err(|e| failed(e.to_string()))?;
            return Ok(Value::Array(out));
        };
        let Some(objects) = objects else {
            return Err(failed("No buckets to write results to: start stepbox with --buckets DIR".into()));
        };
        let s3 = |e: crate::objects::ObjectFailure| failed(format!("{} (Service: S3, Error Code: {})", e.message, e.code));
        let run_id = run.arn.rsplit(':').next().unwrap_or_default();
        let dir = match prefix.as_str() {
            "" => run_id.to_string(),
            p if p.ends_with('/') => format!("{p}{run_id}"),
            p => format!("{p}/{run_id}"),
        };
        let mut files = Map::new();
        for status in [Status::Failed, Status::Pending, Status::Succeeded] {
            let mut listed = Vec::new();
            if fan.runs.iter().any(|r| Status::of(&r.get()) == status) {
                let ext = if self.jsonl { "jsonl" } else { "json" };
                let key = format!("{dir}/{}_0.{ext}", status.name());
                // Each entry is written as text on its own: a run's results
                // are never held whole as entries or as text.
                let size = objects.put_streamed(bucket, &key, &mut |w| self.write_file(run, &fan, status, w)).map_err(s3)?;
                listed.push(json!({"Key": key, "Size": size}));
            }
            files.insert(status.name().into(), Value::Array(listed));
        }
        let manifest = json!({"DestinationBucket": bucket, "MapRunArn": run.arn, "ResultFiles": files});
        let key = format!("{dir}/manifest.json");
        let body = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        objects.put(bucket, &key, &body).map_err(s3)?;
        Ok(json!({"MapRunArn": run.arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}}))
    }

    /// The file of the children with `status`: a JSON array, or JSON lines.
    fn write_file(&self, run: &MapRun<'_>, fan: &FanResults, status: Status, w: &mut dyn Write) -> std::io::Result<()> {
        let mut first = true;
        if !self.jsonl {
            w.write_all(b"[")?;
        }
        self.each_entry(run, fan, Some(status), &mut |e| {
            if !self.jsonl && !first {
                w.write_all(b",")?;
            }
            first = false;
            w.write_all(e)?;
            if self.jsonl {
                w.write_all(b"\n")?;
            }
            Ok(())
        })?;
        if !self.jsonl {
            w.write_all(b"]")?;
        }
        Ok(())
    }

    /// Each child's entry as compact JSON text (those with `only`'s status,
    /// else all), in item order. Written from the kept texts, never parsed
    /// into trees: a million-child run's file is most of its end.
    fn each_entry(
        &self,
        run: &MapRun<'_>,
        fan: &FanResults,
        only: Option<Status>,
        f: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(1024);
        for (i, ran) in fan.runs.iter().enumerate() {
            let ran = ran.get();
            if only.is_some_and(|s| s != Status::of(&ran)) {
                continue;
            }
            buf.clear();
            let input = run.inputs.json_text(i);
            match ran {
                None => {
                    buf.extend_from_slice(b"{\"Input\":");
                    serde_json::to_writer(&mut buf, &*input)?;
                    buf.extend_from_slice(b",\"InputDetails\":{\"Included\":true},\"Status\":\"PENDING\"}");
                }
                Some((true, span)) => match self.transformation {
                    Transformation::None => run.write_entry(&mut buf, i, &input, span, Ok(&fan.results.json_text(i)))?,
                    Transformation::Compact => buf.extend_from_slice(fan.results.json_text(i).as_bytes()),
                    Transformation::Flatten => match &*fan.results.get(i) {
                        Value::Array(a) => {
                            for v in a {
                                buf.clear();
                                serde_json::to_writer(&mut buf, v)?;
                                f(&buf)?;
                            }
                            continue;
                        }
                        v => serde_json::to_writer(&mut buf, v)?,
                    },
                },
                Some((false, span)) => run.write_entry(&mut buf, i, &input, span, Err(&fan.results.get(i)))?,
            }
            f(&buf)?;
        }
        Ok(())
    }
}

/// A child's status in the result files.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    Failed,
    Pending,
    Succeeded,
}

impl Status {
    fn of(ran: &Option<(bool, super::fanout::Span)>) -> Status {
        match ran {
            None => Status::Pending,
            Some((true, _)) => Status::Succeeded,
            Some((false, _)) => Status::Failed,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Status::Failed => "FAILED",
            Status::Pending => "PENDING",
            Status::Succeeded => "SUCCEEDED",
        }
    }
}

/// A map run as its result entries name it.
pub(super) struct MapRun<'a> {
    pub(super) arn: &'a str,
    /// The children's state machine: `…:stateMachine:NAME/LABEL`.
    child_sm_arn: String,
    /// What the children's execution ARNs start with: `…:execution:NAME/LABEL:`.
    exec_prefix: String,
    /// The children's inputs, by index (empty when not kept).
    pub(super) inputs: &'a Values,
}

impl<'a> MapRun<'a> {
    pub(super) fn new(arn: &'a str, inputs: &'a Values) -> Self {
        let child_sm_arn = super::children::child_state_machine_arn(arn);
        let exec_prefix = format!("{}:", child_sm_arn.replacen(":stateMachine:", ":execution:", 1));
        MapRun { arn, child_sm_arn, exec_prefix, inputs }
    }

    /// Appends a child's full entry (Transformation NONE) to `out`: its
    /// execution's description, with its output (`Ok`, as JSON text) or its
    /// failure (`{"Error", "Cause"}`), as serde_json writes such an object.
    fn write_entry(&self, out: &mut Vec<u8>, i: usize, input: &str, span: Span, outcome: Result<&str, &Value>) -> std::io::Result<()> {
        let name = crate::map_runs::child_name(self.arn, i);
        let status = if outcome.is_ok() { "SUCCEEDED" } else { "FAILED" };
        out.extend_from_slice(b"{\"ExecutionArn\":");
        serde_json::to_writer(&mut *out, &[self.exec_prefix.as_str(), &name].concat())?;
        out.extend_from_slice(b",\"Input\":");
        serde_json::to_writer(&mut *out, input)?;
        out.extend_from_slice(b",\"InputDetails\":{\"Included\":true},\"Name\":");
        serde_json::to_writer(&mut *out, &name)?;
        match outcome {
            Ok(output) => {
                out.extend_from_slice(b",\"Output\":");
                serde_json::to_writer(&mut *out, output)?;
                out.extend_from_slice(b",\"OutputDetails\":{\"Included\":true}");
            }
            Err(f) => {
                for k in ["Error", "Cause"] {
                    if let Some(v) = f.get(k) {
                        write!(out, ",\"{k}\":")?;
                        serde_json::to_writer(&mut *out, v)?;
                    }
                }
            }
        }
        write!(out, ",\"RedriveCount\":0,\"RedriveStatus\":\"NOT_REDRIVABLE\",")?;
        write!(out, "\"RedriveStatusReason\":\"Execution is {status} and cannot be redriven\",\"StartDate\":\"")?;
        write_ts(out, span.start);
        out.extend_from_slice(b"\",\"StateMachineArn\":");
        serde_json::to_writer(&mut *out, &self.child_sm_arn)?;
        write!(out, ",\"Status\":\"{status}\",\"StopDate\":\"")?;
        write_ts(out, span.stop);
        out.extend_from_slice(b"\"}");
        Ok(())
    }
}

/// Appends `t` as [`ts`] writes it (`2025-12-06T05:46:40.123Z`), without
/// chrono's formatter: a million-child result file has two per entry.
fn write_ts(out: &mut Vec<u8>, t: chrono::DateTime<chrono::Utc>) {
    use chrono::{Datelike, Timelike};
    let ms = t.timestamp_subsec_millis();
    if !(0..=9999).contains(&t.year()) || ms > 999 {
        // Beyond four digits, or a leap second: chrono's own words.
        out.extend_from_slice(ts(t).as_bytes());
        return;
    }
    fn digits(out: &mut Vec<u8>, mut n: u32, width: usize) {
        let mut b = [b'0'; 4];
        for d in b[..width].iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        out.extend_from_slice(&b[..width]);
    }
    digits(out, t.year() as u32, 4);
    let parts = [(b'-', t.month(), 2), (b'-', t.day(), 2), (b'T', t.hour(), 2), (b':', t.minute(), 2), (b':', t.second(), 2), (b'.', ms, 3)];
    for (sep, n, width) in parts {
        out.push(sep);
        digits(out, n, width);
    }
    out.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn span() -> Span {
        Span { start: Utc.timestamp_millis_opt(1_765_000_000_123).unwrap(), stop: Utc.timestamp_millis_opt(1_765_000_001_456).unwrap() }
    }

    /// The entry as a serde_json object in AWS's key order, written compact.
    fn expected(run: &MapRun<'_>, i: usize, input: &Value, outcome: Result<&Value, &Value>) -> String {
        let name = crate::map_runs::child_name(run.arn, i);
        let prefix = run.child_sm_arn.replacen(":stateMachine:", ":execution:", 1);
        let mut e = Map::new();
        e.insert("ExecutionArn".into(), json!(format!("{prefix}:{name}")));
        e.insert("Input".into(), json!(input.to_string()));
        e.insert("InputDetails".into(), json!({"Included": true}));
        e.insert("Name".into(), json!(name));
        let status = match outcome {
            Ok(v) => {
                e.insert("Output".into(), json!(v.to_string()));
                e.insert("OutputDetails".into(), json!({"Included": true}));
                "SUCCEEDED"
            }
            Err(f) => {
                e.insert("Error".into(), f["Error"].clone());
                e.insert("Cause".into(), f["Cause"].clone());
                "FAILED"
            }
        };
        e.insert("RedriveCount".into(), json!(0));
        e.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
        e.insert("RedriveStatusReason".into(), json!(format!("Execution is {status} and cannot be redriven")));
        e.insert("StartDate".into(), json!("2025-12-06T05:46:40.123Z"));
        e.insert("StateMachineArn".into(), json!(run.child_sm_arn));
        e.insert("Status".into(), json!(status));
        e.insert("StopDate".into(), json!("2025-12-06T05:46:41.456Z"));
        serde_json::to_string(&Value::Object(e)).unwrap()
    }

    fn written_ts(at: chrono::DateTime<Utc>) -> String {
        let mut out = Vec::new();
        write_ts(&mut out, at);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        let (mut t, mut step) = (-62_167_219_200_000i64, 1i64); // from year 0 on, in growing steps
        while t < 253_402_300_800_000 {
            let at = Utc.timestamp_millis_opt(t).unwrap();
            assert_eq!(written_ts(at), ts(at), "{t}");
            t += step;
            step = step * 3 / 2 + 7;
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let at = Utc.timestamp_millis_opt((x % 4_000_000_000_000) as i64).unwrap();
            assert_eq!(written_ts(at), ts(at));
        }
        for t in [-62_167_219_200_001, 253_402_300_800_000] {
            let at = Utc.timestamp_millis_opt(t).unwrap();
            assert_eq!(written_ts(at), ts(at), "beyond four-digit years");
        }
    }

    #[test]
    fn an_entry_written_as_text_is_the_object_serde_json_writes() {
        let input = json!({"id": 7, "name": "é \"quoted\"\n\t\u{1}", "n": 1.5e300, "list": [null, true]});
        let mut inputs = Values::new(true);
        inputs.push(input.clone());
        let run = MapRun::new("arn:aws:states:us-east-1:123456789012:mapRun:sm/Label:6b2e2bb8-48d6-3e36-9ef0-6e0e1d0f3f2a", &inputs);
        assert_eq!(run.child_sm_arn, "arn:aws:states:us-east-1:123456789012:stateMachine:sm/Label");
        let output = json!({"ok": "→ \\ /", "v": [1, -0.0, 12345678901234567890u64]});
        let mut buf = Vec::new();
        run.write_entry(&mut buf, 0, &inputs.json_text(0), span(), Ok(&output.to_string())).unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), expected(&run, 0, &input, Ok(&output)));
        let failure = json!({"Error": "States.TaskFailed", "Cause": "a \"cause\"\u{7f}"});
        let mut buf = Vec::new();
        run.write_entry(&mut buf, 3, "null", span(), Err(&failure)).unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), expected(&run, 3, &Value::Null, Err(&failure)));
    }
}
