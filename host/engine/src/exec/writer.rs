//! ResultWriter: a distributed Map's child results written to a bucket
//! (`s3:putObject`) as AWS lays them out, and/or reshaped (`WriterConfig`).
//!
//! Under `PREFIX/MAP_RUN_ID/`: `manifest.json` (`DestinationBucket`,
//! `MapRunArn`, `ResultFiles` by status, each `{Key, Size}`) and one file per
//! status that has children: `SUCCEEDED_0.json`, `FAILED_0.json`,
//! `PENDING_0.json` (JSON arrays; `.jsonl` with OutputType JSONL).

use super::failure::Failure;
use super::fanout::FanResults;
use super::map::Scopes;
use super::running::ts;
use crate::objects::Objects;
use serde_json::{Map, Value, json};
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
        let entries = self.entries(run, fan);
        let Some((bucket, prefix)) = &self.target else {
            return Ok(Value::Array(entries.into_iter().map(|(_, e)| e).collect()));
        };
        let Some(objects) = objects else {
            return Err(failed("No buckets to write results to: start stepbox with --buckets DIR".into()));
        };
        let put = |key: &str, body: &[u8]| {
            objects
                .put(bucket, key, body)
                .map_err(|e| failed(format!("{} (Service: S3, Error Code: {})", e.message, e.code)))
        };
        let run_id = run.arn.rsplit(':').next().unwrap_or_default();
        let dir = match prefix.as_str() {
            "" => run_id.to_string(),
            p if p.ends_with('/') => format!("{p}{run_id}"),
            p => format!("{p}/{run_id}"),
        };
        let mut files = Map::new();
        for status in ["FAILED", "PENDING", "SUCCEEDED"] {
            let these: Vec<&Value> = entries.iter().filter(|(s, _)| *s == status).map(|(_, e)| e).collect();
            let mut listed = Vec::new();
            if !these.is_empty() {
                let (key, body) = if self.jsonl {
                    (format!("{dir}/{status}_0.jsonl"), these.iter().map(|e| format!("{e}\n")).collect::<String>())
                } else {
                    (format!("{dir}/{status}_0.json"), Value::Array(these.into_iter().cloned().collect()).to_string())
                };
                put(&key, body.as_bytes())?;
                listed.push(json!({"Key": key, "Size": body.len()}));
            }
            files.insert(status.into(), Value::Array(listed));
        }
        let manifest = json!({"DestinationBucket": bucket, "MapRunArn": run.arn, "ResultFiles": files});
        let key = format!("{dir}/manifest.json");
        let body = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        put(&key, &body)?;
        Ok(json!({"MapRunArn": run.arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}}))
    }

    /// Each child's entry with its status, in item order.
    fn entries(&self, run: &MapRun<'_>, fan: FanResults) -> Vec<(&'static str, Value)> {
        let mut out = Vec::with_capacity(fan.results.len());
        for (i, (result, ran)) in fan.results.into_iter().zip(fan.runs).enumerate() {
            let input = run.inputs.get(i).unwrap_or(&Value::Null);
            match ran {
                None => out.push(("PENDING", json!({"Input": input.to_string(), "InputDetails": {"Included": true}, "Status": "PENDING"}))),
                Some((true, span)) => match (self.transformation, result) {
                    (Transformation::Compact, v) => out.push(("SUCCEEDED", v)),
                    (Transformation::Flatten, Value::Array(a)) => out.extend(a.into_iter().map(|v| ("SUCCEEDED", v))),
                    (Transformation::Flatten, v) => out.push(("SUCCEEDED", v)),
                    (Transformation::None, v) => out.push(("SUCCEEDED", run.entry(i, input, span, Ok(v)))),
                },
                Some((false, span)) => out.push(("FAILED", run.entry(i, input, span, Err(result)))),
            }
        }
        out
    }
}

/// A map run as its result entries name it.
pub(super) struct MapRun<'a> {
    pub(super) arn: &'a str,
    /// The children's state machine: `…:stateMachine:NAME/LABEL`.
    pub(super) child_sm_arn: String,
    /// The children's inputs, by index (empty when not kept).
    pub(super) inputs: &'a [Value],
    /// The children's names, by index.
    pub(super) names: Vec<String>,
}

impl MapRun<'_> {
    /// A child's full entry (Transformation NONE): its execution's
    /// description, with its output or its failure.
    fn entry(&self, i: usize, input: &Value, span: super::fanout::Span, outcome: Result<Value, Value>) -> Value {
        let name = self.names.get(i).cloned().unwrap_or_default();
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
