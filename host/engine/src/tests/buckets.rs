//! ItemReader and ResultWriter on an in-memory bucket store.

use super::*;
use std::collections::BTreeMap;
use std::io::Write;

/// Buckets in memory: (bucket, key) → bytes.
#[derive(Default)]
struct MemoryObjects(Mutex<BTreeMap<(String, String), Vec<u8>>>);

impl MemoryObjects {
    fn with(objects: &[(&str, &str, &[u8])]) -> Arc<Self> {
        let m = MemoryObjects::default();
        for (b, k, v) in objects {
            m.0.lock().unwrap().insert((b.to_string(), k.to_string()), v.to_vec());
        }
        Arc::new(m)
    }

    fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.0.lock().unwrap().get(&(bucket.to_string(), key.to_string())).cloned()
    }

    fn keys(&self, bucket: &str) -> Vec<String> {
        self.0.lock().unwrap().keys().filter(|(b, _)| b == bucket).map(|(_, k)| k.clone()).collect()
    }
}

impl Objects for MemoryObjects {
    fn open(&self, bucket: &str, key: &str) -> Result<Box<dyn std::io::BufRead + Send>, ObjectFailure> {
        match self.get(bucket, key) {
            Some(v) => Ok(Box::new(std::io::Cursor::new(v))),
            None => Err(ObjectFailure::new("NoSuchKey", "The specified key does not exist.")),
        }
    }

    fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, ObjectFailure> {
        let g = self.0.lock().unwrap();
        Ok(g.iter()
            .filter(|((b, k), _)| b == bucket && k.starts_with(prefix))
            .map(|((_, k), v)| ObjectInfo { key: k.clone(), etag: "\"e\"".into(), last_modified: 1_700_000_000, size: v.len() as u64 })
            .collect())
    }

    fn put(&self, bucket: &str, key: &str, bytes: &[u8]) -> Result<(), ObjectFailure> {
        self.0.lock().unwrap().insert((bucket.to_string(), key.to_string()), bytes.to_vec());
        Ok(())
    }
}

async fn run_on(objects: Option<Arc<MemoryObjects>>, def: Value, input: Value, b: &[(&str, Behaviour)]) -> Run {
    let sm = Arc::new(StateMachine::from_value(&def).unwrap_or_else(|d| panic!("{d:?}")));
    let clock = ManualClock::auto(t0());
    let fake = Fake::new(clock.clone(), b);
    let services = Services { objects: objects.map(|o| o as Arc<dyn Objects>), ..Default::default() };
    let engine = Engine::new(fake.clone(), clock.clone()).with_services(services);
    let sink = Arc::new(VecSink::new());
    let opts = ExecutionOptions { name: "ex1".into(), state_machine_name: "sm1".into(), ..Default::default() };
    let outcome = engine.start(sm, input, opts, sink.clone()).await;
    Run { outcome, sink, clock, fake }
}

/// A distributed Map reading `reader` and passing each item through `extra`'s fields.
fn reading(reader: Value, extra: Value) -> Value {
    let mut m = json!({"Type": "Map", "End": true, "ItemReader": reader,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}});
    m.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    json!({"StartAt": "M", "States": {"M": m}})
}

fn get_object(key: &str, config: Value) -> Value {
    json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": config,
        "Parameters": {"Bucket": "in", "Key": key}})
}

#[tokio::test]
async fn jsonl_items_stop_at_max_items_path() {
    let objects = MemoryObjects::with(&[("in", "items.jsonl", b"{\"a\": 1}\n\n{\"a\": 2}\r\n{\"a\": 3}\n{\"a\": 4}\n")]);
    let def = reading(
        get_object("items.jsonl", json!({"InputType": "JSONL", "MaxItemsPath": "$.max"})),
        json!({"ItemSelector": {"v.$": "$$.Map.Item.Value.a", "i.$": "$$.Map.Item.Index"}}),
    );
    let r = run_on(Some(objects), def, json!({"max": 3}), &[]).await;
    assert_eq!(r.outcome.output, Some(json!([{"v": 1, "i": 0}, {"v": 2, "i": 1}, {"v": 3, "i": 2}])), "{:?}", r.outcome.cause);
}

#[tokio::test]
async fn csv_items_with_a_header_row_and_another_delimiter() {
    let csv = b"name;note\nann;\"says \"\"hi\"\"; twice\"\nbob;\"two\nlines\"\n";
    let objects = MemoryObjects::with(&[("in", "t.csv", csv)]);
    let def = reading(get_object("t.csv", json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "CSVDelimiter": "SEMICOLON"})), json!({}));
    let r = run_on(Some(objects), def, json!({}), &[]).await;
    assert_eq!(
        r.outcome.output,
        Some(json!([{"name": "ann", "note": "says \"hi\"; twice"}, {"name": "bob", "note": "two\nlines"}])),
        "{:?}",
        r.outcome.cause
    );
}

#[tokio::test]
async fn listed_objects_under_a_prefix() {
    let objects = MemoryObjects::with(&[("in", "a/1.json", b"{}"), ("in", "a/2.json", b"[1]"), ("in", "b/3.json", b"")]);
    let reader = json!({"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "in", "Prefix": "a/"}});
    let r = run_on(Some(objects), reading(reader, json!({})), json!({}), &[]).await;
    assert_eq!(
        r.outcome.output,
        Some(json!([
            {"Etag": "\"e\"", "Key": "a/1.json", "LastModified": 1_700_000_000, "Size": 2, "StorageClass": "STANDARD"},
            {"Etag": "\"e\"", "Key": "a/2.json", "LastModified": 1_700_000_000, "Size": 3, "StorageClass": "STANDARD"}
        ]))
    );
}

#[tokio::test]
async fn inventory_manifest_rows_keyed_by_its_schema() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"\"src\",\"k/1.txt\",\"5\"\n\"src\",\"k/2.txt\",\"7\"\n").unwrap();
    let data = gz.finish().unwrap();
    let manifest = json!({"sourceBucket": "src", "destinationBucket": "arn:aws:s3:::inv", "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size", "files": [{"key": "inv/data/part.csv.gz", "size": data.len()}]});
    let manifest = manifest.to_string();
    let objects = MemoryObjects::with(&[("in", "manifest.json", manifest.as_bytes()), ("inv", "inv/data/part.csv.gz", &data)]);
    let def = reading(get_object("manifest.json", json!({"InputType": "MANIFEST"})), json!({}));
    let r = run_on(Some(objects), def, json!({}), &[]).await;
    assert_eq!(
        r.outcome.output,
        Some(json!([{"Bucket": "src", "Key": "k/1.txt", "Size": "5"}, {"Bucket": "src", "Key": "k/2.txt", "Size": "7"}])),
        "{:?}",
        r.outcome.cause
    );
}

#[tokio::test]
async fn reader_failures_fail_the_map_run_and_can_be_caught() {
    let objects = MemoryObjects::with(&[]);
    let r = run_on(Some(objects), reading(get_object("missing.json", json!({"InputType": "JSON"})), json!({})), json!({}), &[]).await;
    assert_eq!(r.outcome.error.as_deref(), Some("States.ItemReaderFailed"));
    assert!(r.outcome.cause.as_deref().unwrap_or_default().contains("NoSuchKey"), "{:?}", r.outcome.cause);
    let types: Vec<EventType> = r.sink.events().iter().map(|e| e.event_type).collect();
    assert!(types.ends_with(&[EventType::MapRunStarted, EventType::MapRunFailed, EventType::MapStateFailed, EventType::ExecutionFailed]), "{types:?}");

    let caught = json!({"Catch": [{"ErrorEquals": ["States.ItemReaderFailed"], "Next": "Done"}], "Next": "Done"});
    let mut def = reading(get_object("x.json", json!({})), caught);
    def["States"]["M"].as_object_mut().unwrap().remove("End");
    def["States"]["Done"] = json!({"Type": "Pass", "End": true});
    let r = run_on(None, def, json!({}), &[]).await;
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded, "{:?}", r.outcome.cause);
    assert_eq!(r.outcome.output.unwrap()["Error"], "States.ItemReaderFailed");
}

#[tokio::test]
async fn results_written_as_aws_lays_them_out() {
    let objects = MemoryObjects::with(&[("out", ".keep", b"")]);
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "Label": "Run",
        "ToleratedFailureCount": 1,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": lambda("f"), "End": true}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix.$": "$.prefix"}}}}});
    let r = run_on(Some(objects.clone()), def, json!({"prefix": "jobs", "items": 0}), &[]).await;
    assert_eq!(r.outcome.status, ExecutionStatus::Failed, "an object is not an array of items");
    let def2 = |p: Value| {
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "Label": "Run", "ItemsPath": "$.items",
            "ToleratedFailureCount": 1,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": lambda("f"), "End": true}}},
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": p}}}})
    };
    let r = run_on(
        Some(objects.clone()),
        def2(json!({"Bucket": "out", "Prefix.$": "$.prefix"})),
        json!({"prefix": "jobs", "items": [1, 2, 3]}),
        &[("f", Behaviour::FailOn(json!(2)))],
    )
    .await;
    let out = r.outcome.output.clone().unwrap_or_else(|| panic!("{:?}", r.outcome.cause));
    let run_arn = out["MapRunArn"].as_str().unwrap().to_string();
    let id = run_arn.rsplit(':').next().unwrap();
    assert!(run_arn.starts_with("arn:aws:states:us-east-1:111111111111:mapRun:sm1/Run:"), "{run_arn}");
    assert_eq!(out["ResultWriterDetails"], json!({"Bucket": "out", "Key": format!("jobs/{id}/manifest.json")}));
    let read = |k: &str| -> Value { serde_json::from_slice(&objects.get("out", k).unwrap_or_else(|| panic!("no {k}"))).unwrap() };
    let manifest = read(&format!("jobs/{id}/manifest.json"));
    assert_eq!(manifest["DestinationBucket"], "out");
    assert_eq!(manifest["MapRunArn"], run_arn.as_str());
    assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
    let succeeded_key = format!("jobs/{id}/SUCCEEDED_0.json");
    let size = objects.get("out", &succeeded_key).unwrap().len();
    assert_eq!(manifest["ResultFiles"]["SUCCEEDED"], json!([{"Key": succeeded_key, "Size": size}]));
    let succeeded = read(&succeeded_key);
    let outputs: Vec<&str> = succeeded.as_array().unwrap().iter().map(|e| e["Output"].as_str().unwrap()).collect();
    assert_eq!(outputs, ["1", "3"]);
    let first = &succeeded[0];
    assert_eq!(first["Input"], "1");
    assert_eq!(first["Status"], "SUCCEEDED");
    assert_eq!(first["StateMachineArn"], "arn:aws:states:us-east-1:111111111111:stateMachine:sm1/Run");
    assert!(first["ExecutionArn"].as_str().unwrap().starts_with("arn:aws:states:us-east-1:111111111111:execution:sm1/Run:"));
    let failed = read(&format!("jobs/{id}/FAILED_0.json"));
    assert_eq!(failed[0]["Error"], "ItemError");
    assert_eq!(failed[0]["Status"], "FAILED");
    assert_eq!(failed[0]["Input"], "2");
    assert_eq!(objects.keys("out").len(), 4, "{:?}", objects.keys("out"));
}

#[tokio::test]
async fn writer_config_reshapes_the_output() {
    let def = |wc: Value| {
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "ResultWriter": {"WriterConfig": wc}}}})
    };
    let input = json!([[1, 2], [3], 4]);
    let r = run_on(None, def(json!({"Transformation": "FLATTEN", "OutputType": "JSON"})), input.clone(), &[]).await;
    assert_eq!(r.outcome.output, Some(json!([1, 2, 3, 4])), "{:?}", r.outcome.cause);
    let r = run_on(None, def(json!({"Transformation": "COMPACT", "OutputType": "JSON"})), input.clone(), &[]).await;
    assert_eq!(r.outcome.output, Some(input));
    let r = run_on(None, def(json!({"Transformation": "NONE", "OutputType": "JSON"})), json!(["a"]), &[]).await;
    let out = r.outcome.output.unwrap();
    assert_eq!((out[0]["Input"].as_str(), out[0]["Output"].as_str(), out[0]["Status"].as_str()), (Some("\"a\""), Some("\"a\""), Some("SUCCEEDED")));
}

#[tokio::test]
async fn jsonl_result_files() {
    let objects = MemoryObjects::with(&[("out", ".keep", b"")]);
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": ""},
            "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSONL"}}}}});
    let r = run_on(Some(objects.clone()), def, json!([{"a": 1}, {"b": 2}]), &[]).await;
    let key = r.outcome.output.unwrap()["ResultWriterDetails"]["Key"].as_str().unwrap().replace("manifest.json", "SUCCEEDED_0.jsonl");
    assert_eq!(String::from_utf8(objects.get("out", &key).unwrap()).unwrap(), "{\"a\":1}\n{\"b\":2}\n");
}
