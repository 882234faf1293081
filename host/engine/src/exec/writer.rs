//! ResultWriter: a distributed Map's child results written to a bucket
//! (`s3:putObject`) as AWS lays them out, and/or reshaped (`WriterConfig`).
//!
//! Under `PREFIX/MAP_RUN_ID/`: `manifest.json` (`DestinationBucket`,
//! `MapRunArn`, `ResultFiles` by status, each `{Key, Size}`) and one file per
//! status that has children: `SUCCEEDED_0.json`, `FAILED_0.json`,
//! `PENDING_0.json` (JSON arrays; `.jsonl` with OutputType JSONL).

use super::failure::Failure;
use super::fanout::FanResults;
use super::values::Values;
use super::map::Scopes;
use super::running::ts;
use crate::objects::Objects;
use serde_json::{Map, Value, json};
use std::borrow::Cow;
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
                out.push(e.into_owned());
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
                // Each entry is built and written on its own: a run's
                // results are never held whole as entries or as text.
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
            serde_json::to_writer(&mut *w, e.as_ref())?;
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

    /// Each child's entry (those with `only`'s status, else all), in item order.
    fn each_entry(
        &self,
        run: &MapRun<'_>,
        fan: &FanResults,
        only: Option<Status>,
        f: &mut dyn FnMut(Cow<'_, Value>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        for (i, ran) in fan.runs.iter().enumerate() {
            let ran = &ran.get();
            if only.is_some_and(|s| s != Status::of(ran)) {
                continue;
            }
            let input = run.inputs.get(i);
            let result = fan.results.get(i);
            match ran {
                None => f(Cow::Owned(json!({"Input": input.to_string(), "InputDetails": {"Included": true}, "Status": "PENDING"})))?,
                Some((true, span)) => match (self.transformation, &*result) {
                    (Transformation::Flatten, Value::Array(a)) => {
                        for v in a {
                            f(Cow::Borrowed(v))?;
                        }
                    }
                    (Transformation::Compact | Transformation::Flatten, v) => f(Cow::Borrowed(v))?,
                    (Transformation::None, v) => f(Cow::Owned(run.entry(i, &input, *span, Ok(v))))?,
                },
                Some((false, span)) => f(Cow::Owned(run.entry(i, &input, *span, Err(&result))))?,
            }
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
    pub(super) child_sm_arn: String,
    /// The children's inputs, by index (empty when not kept).
    pub(super) inputs: &'a Values,
}

impl MapRun<'_> {
    /// A child's full entry (Transformation NONE): its execution's
    /// description, with its output or its failure.
    fn entry(&self, i: usize, input: &Value, span: super::fanout::Span, outcome: Result<&Value, &Value>) -> Value {
        let name = crate::map_runs::child_name(self.arn, i);
        let exec_arn = format!("{}:{name}", self.child_sm_arn.replacen(":stateMachine:", ":execution:", 1));
        let mut e = Map::new();
        e.insert("ExecutionArn".into(), json!(exec_arn));
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
                for k in ["Error", "Cause"] {
                    if let Some(v) = f.get(k) {
                        e.insert(k.into(), v.clone());
                    }
                }
                "FAILED"
            }
        };
        e.insert("RedriveCount".into(), json!(0));
        e.insert("RedriveStatus".into(), json!("NOT_REDRIVABLE"));
        e.insert("RedriveStatusReason".into(), json!(format!("Execution is {status} and cannot be redriven")));
        e.insert("StartDate".into(), json!(ts(span.start)));
        e.insert("StateMachineArn".into(), json!(self.child_sm_arn));
        e.insert("Status".into(), json!(status));
        e.insert("StopDate".into(), json!(ts(span.stop)));
        Value::Object(e)
    }
}
