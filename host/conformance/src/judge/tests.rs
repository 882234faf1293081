//! Unit tests of the judge: verdicts, normalisation and comparison on small cases.

use super::*;
use crate::case::Comparison;
use serde_json::json;

/// A case with the given expected result and comparison settings.
fn case(expected: Value, comparison: Value) -> Case {
    let mut c = json!({
        "name": "unit",
        "source": {},
        "definition": {"StartAt": "S", "States": {"S": {"Type": "Pass", "End": true}}},
        "input": {},
        "expected": expected,
        "features": ["State:Pass"],
        "needs": [],
        "state_machine": {"name": "sm", "type": "STANDARD"},
        "execution_name": "exec",
        "comparison": {"replacements": [], "wildcards": [], "ignore_paths": []},
    });
    for (k, v) in comparison.as_object().unwrap() {
        c["comparison"][k] = v.clone();
    }
    serde_json::from_value(c).unwrap()
}

fn ok(expected_output: Value, comparison: Value, actual_output: &str) -> Verdict {
    let c = case(json!({"status": "SUCCEEDED", "output": expected_output}), comparison);
    judge(&c, &ActualResult::succeeded(actual_output))
}

#[test]
fn numbers_compare_by_value() {
    assert!(ok(json!({"a": 1.0, "b": [0]}), json!({}), r#"{"a": 1, "b": [0.0]}"#).pass);
    let v = ok(json!({"a": 1.0}), json!({}), r#"{"a": 1.5}"#);
    assert!(!v.pass);
    assert_eq!(v.reason.unwrap(), "$.output.a: expected 1.0, actual 1.5");
}

#[test]
fn missing_extra_keys_and_lengths_fail() {
    let v = ok(json!({"a": 1, "b": 2}), json!({}), r#"{"a": 1}"#);
    assert_eq!(v.reason.unwrap(), "$.output.b: missing key (expected 2)");
    let v = ok(json!({"a": 1}), json!({}), r#"{"a": 1, "c": 3}"#);
    assert_eq!(v.reason.unwrap(), "$.output.c: unexpected key (actual 3)");
    let v = ok(json!([1, 2]), json!({}), "[1, 2, 3]");
    assert!(v.reason.unwrap().starts_with("$.output: expected 2 items, actual 3"));
    assert!(!ok(json!("1"), json!({}), "1").pass, "types differ");
    assert!(!ok(json!(null), json!({}), "false").pass);
    assert!(ok(json!(null), json!({}), "null").pass);
}

#[test]
fn status_error_and_cause() {
    let c = case(json!({"status": "FAILED", "error": "MyError", "cause": "boom"}), json!({}));
    assert!(judge(&c, &ActualResult::failed(Some("MyError".into()), Some("boom".into()))).pass);
    let v = judge(&c, &ActualResult::failed(Some("Other".into()), Some("boom".into())));
    assert_eq!(v.reason.unwrap(), r#"$.error: expected "MyError", actual "Other""#);
    let v = judge(&c, &ActualResult::succeeded("{}"));
    assert!(v.reason.unwrap().starts_with("status: expected FAILED, actual SUCCEEDED"));
    assert!(!judge(&c, &ActualResult::failed(Some("MyError".into()), None)).pass, "cause missing");
    // A field the case did not record is not compared.
    let c = case(json!({"status": "FAILED", "error": "States.Timeout"}), json!({}));
    assert!(judge(&c, &ActualResult::failed(Some("States.Timeout".into()), Some("x".into()))).pass);
    let c = case(json!({"status": "TIMED_OUT"}), json!({}));
    assert!(judge(&c, &ActualResult::with_status("TIMED_OUT", None, None)).pass);
    assert!(!judge(&c, &ActualResult::with_status("ABORTED", None, None)).pass);
}

#[test]
fn json_cause_compares_structurally() {
    let c = case(
        json!({"status": "FAILED", "error": "Exception",
               "cause": {"errorMessage": "m", "errorType": "Exception", "n": 1.0}}),
        json!({}),
    );
    let cause = r#"{"errorType":"Exception","errorMessage":"m","n":1}"#;
    assert!(judge(&c, &ActualResult::failed(Some("Exception".into()), Some(cause.into()))).pass);
    let cause = r#"{"errorType":"Exception","errorMessage":"x","n":1}"#;
    let v = judge(&c, &ActualResult::failed(Some("Exception".into()), Some(cause.into())));
    assert_eq!(v.reason.unwrap(), r#"$.cause.errorMessage: expected "m", actual "x""#);
    // A string cause stays text.
    let c = case(json!({"status": "FAILED", "cause": "{not json"}), json!({}));
    assert!(judge(&c, &ActualResult::failed(None, Some("{not json".into()))).pass);
}

#[test]
fn replacements_apply_in_order_then_account_region_partition() {
    let comparison = json!({"replacements": [
        {"pattern": "sm_u0000001", "replacement": "<ArnPart_0idx>"},
        {"pattern": "<ArnPart_0idx>x", "replacement": "second"},
        {"pattern": "fn_u(\\d+)", "replacement": "fn-\\1-\\g<1>"},
    ]});
    let arn = "arn:aws:states:eu-west-1:222222222222:stateMachine:sm_u0000001";
    let c = case(
        json!({"status": "SUCCEEDED", "output": {
            "arn": "arn:<partition>:states:<region>:111111111111:stateMachine:<ArnPart_0idx>",
            "chained": "second", "groups": "fn-0000002-0000002"}}),
        comparison,
    );
    let out = json!({"arn": arn, "chained": "sm_u0000001x", "groups": "fn_u0000002"}).to_string();
    let opts = JudgeOptions { account: "222222222222".into(), region: "eu-west-1".into(), ..JudgeOptions::default() };
    let v = judge_with(&c, &ActualResult::succeeded(out.clone()), &opts);
    assert!(v.pass, "{v}");
    // With the default account/region the ARN does not normalise.
    assert!(!judge(&c, &ActualResult::succeeded(out)).pass);
}

#[test]
fn python_templates_keep_unknown_escapes() {
    // The corpus' requestId rewrite works on JSON-escaped text inside a string.
    let comparison = json!({"replacements": [{
        "pattern": "\\\\\"requestId\\\\\":\\\\\"([a-f0-9\\-]+)\\\\\"",
        "replacement": "\\\"requestId\\\":<request-id>\\\""}]});
    let c = case(json!({"status": "SUCCEEDED", "output": {"Cause": "{\"requestId\":<request-id>\",\"x\":1}"}}), comparison);
    let out = json!({"Cause": "{\"requestId\":\"0123abcd-0000-4000-8000-00000000beef\",\"x\":1}"}).to_string();
    let v = judge(&c, &ActualResult::succeeded(out));
    assert!(v.pass, "{v}");
}

#[test]
fn iso_timestamps_become_date_and_timestamp_keys_timestamp() {
    let exp = json!({"StartTime": "date", "list": ["date", "2024-01-01"], "BatchTimestamp": "date",
                     "eventTimestamp": "timestamp", "timestamp_ms": "timestamp", "other": 5});
    let out = json!({"StartTime": "2024-05-01T10:00:00.123Z", "list": ["2024-05-01T10:00:00+02:00", "2024-01-01"],
                     "BatchTimestamp": "2024-05-01T10:00:00Z", "eventTimestamp": "1700000000",
                     "timestamp_ms": 1700000000123u64, "other": 5});
    let v = ok(exp.clone(), json!({}), &out.to_string());
    assert!(v.pass, "{v}");
    // A timestamp without a zone is not rewritten.
    let out2 = json!({"StartTime": "2024-05-01T10:00:00", "list": ["date", "2024-01-01"], "BatchTimestamp": "date",
                      "eventTimestamp": "x", "timestamp_ms": 1, "other": 5});
    assert!(!ok(exp, json!({}), &out2.to_string()).pass);
}

#[test]
fn uuids_under_id_keys_become_numbered_wildcards_everywhere() {
    let u1 = "5a3f0b5e-1111-4a4a-9b9b-0123456789ab";
    let u2 = "6b3f0b5e-2222-4a4a-9b9b-0123456789ab";
    let c = Comparison::default();
    let n = Normalizer::new(&c, &JudgeOptions::default());
    let actual = json!({"output": {
        "uniqueId": u1,
        "x-amzn-RequestId": [u2],
        "mention": format!("see {u1} and {u2}"),
        "Cause": format!("{{\"requestId\":\"{u2}\"}}"),
        "plain": "7c3f0b5e-3333-4a4a-9b9b-0123456789ab",
    }});
    let got = n.normalize(actual);
    assert_eq!(got["output"]["uniqueId"], "<uuid:1>");
    assert_eq!(got["output"]["x-amzn-RequestId"][0], "<uuid:2>");
    assert_eq!(got["output"]["mention"], "see <uuid:1> and <uuid:2>");
    assert_eq!(got["output"]["Cause"], "{\"requestId\":\"<uuid:2>\"}");
    // Not under an *id key: left alone.
    assert_eq!(got["output"]["plain"], "7c3f0b5e-3333-4a4a-9b9b-0123456789ab");

    // And `<uuid:N>` tokens in expected strings are wildcards, whatever N.
    let v = ok(json!({"requestId": "<uuid:3>", "Cause": "id=<uuid:1>;"}), json!({}),
               &json!({"requestId": u1, "Cause": "id=anything;"}).to_string());
    assert!(v.pass, "{v}");
    assert!(!ok(json!({"Cause": "id=<uuid:1>;"}), json!({}), &json!({"Cause": "di=x;"}).to_string()).pass);
}

#[test]
fn quoted_json_in_causes_becomes_json_input() {
    let mut n = 0;
    assert_eq!(
        replace_quoted_json("in the input '{\"a\": {\"b\": \"it's\"}}' and '[1, 2]' but not '{x}'", &mut n),
        "in the input '<json-input:1>' and '<json-input:2>' but not '{x}'"
    );
    let cause_exp = "The JSONPath '$.x' could not be found in the input '<json-input:1>'";
    let c = case(json!({"status": "FAILED", "error": "States.Runtime", "cause": cause_exp}), json!({}));
    let cause = "The JSONPath '$.x' could not be found in the input '{\"y\":1}'";
    let norm = Normalizer::new(&c.comparison, &JudgeOptions::default())
        .normalize(json!({"cause": cause, "output": {"Cause": cause, "other": cause}}));
    assert_eq!(norm["cause"], cause_exp);
    assert_eq!(norm["output"]["Cause"].as_str().unwrap().matches("<json-input:").count(), 1);
    assert_eq!(norm["output"]["other"], cause, "only causes are rewritten");
    assert!(judge(&c, &ActualResult::failed(Some("States.Runtime".into()), Some(cause.into()))).pass);
}

#[test]
fn request_ids_are_rewritten() {
    let exp = "Function not found (Service: AWSLambda; Status Code: 404; Request ID: <request_id>; Extended Request ID: <extended_request_id>)";
    let act = "Function not found (Service: AWSLambda; Status Code: 404; Request ID: 1f2e-33aa; Extended Request ID: AbC/9+=)";
    let c = case(json!({"status": "FAILED", "cause": exp}), json!({}));
    assert!(judge(&c, &ActualResult::failed(None, Some(act.into()))).pass);
    let act = "Function not found (Service: AWSLambda; Status Code: 500; Request ID: 1f2e-33aa; Extended Request ID: x)";
    assert!(!judge(&c, &ActualResult::failed(None, Some(act.into()))).pass);
}

#[test]
fn comparison_wildcards_match_anything() {
    let cmp = json!({"wildcards": ["<LogResult:*>", "RandomNumberGenerated", "executionSucceededEventDetails.output"]});
    let v = ok(json!({"LogResult": "<LogResult:1>", "Hdr": ["<LogResult:2>"], "n": "RandomNumberGenerated",
                      "s": "value=RandomNumberGenerated!"}), cmp.clone(),
               &json!({"LogResult": "base64==", "Hdr": ["zz"], "n": 42, "s": "value=17!"}).to_string());
    assert!(v.pass, "{v}");
    assert!(!ok(json!({"s": "value=RandomNumberGenerated!"}), cmp.clone(), r#"{"s": "value=17?"}"#).pass);
    // Whole-output wildcard.
    assert!(ok(json!("executionSucceededEventDetails.output"), cmp, r#"["anything"]"#).pass);
    // Without the wildcard list, the same text is literal.
    assert!(!ok(json!({"n": "RandomNumberGenerated"}), json!({}), r#"{"n": 42}"#).pass);
}

#[test]
fn ignore_paths() {
    let cmp = json!({"ignore_paths": ["$..SdkHttpMetadata", "$..output.Cause", "$..events[4].executionFailedEventDetails.cause", "$.output.a.b[1]"]});
    let exp = json!({"SdkHttpMetadata": {"x": 1}, "nested": {"SdkHttpMetadata": 1, "keep": 1},
                     "Cause": "c", "a": {"b": [1, 2, 3]}});
    let act = json!({"SdkHttpMetadata": {"x": 2, "y": 3}, "nested": {"keep": 1},
                     "Cause": "other", "a": {"b": [1, 99, 3]}});
    let v = ok(exp.clone(), cmp.clone(), &act.to_string());
    assert!(v.pass, "{v}");
    let mut act2 = act.clone();
    act2["nested"]["keep"] = json!(2);
    assert!(!ok(exp.clone(), cmp.clone(), &act2.to_string()).pass);
    let mut act3 = act.clone();
    act3["a"]["b"][2] = json!(4);
    assert!(!ok(exp, cmp.clone(), &act3.to_string()).pass);
    // An execution-event path covers the execution's cause.
    let c = case(json!({"status": "FAILED", "error": "E", "cause": "recorded"}), cmp);
    assert!(judge(&c, &ActualResult::failed(Some("E".into()), Some("different".into()))).pass);

    let p = IgnorePath::parse("$..Key").unwrap();
    assert!(p.matches(&[Seg::Key("Key".into())]));
    assert!(p.matches(&[Seg::Key("a".into()), Seg::Index(2), Seg::Key("Key".into())]));
    assert!(!p.matches(&[Seg::Key("Key".into()), Seg::Key("x".into())]));
    let p = IgnorePath::parse("$.a.b").unwrap();
    assert!(p.matches(&[Seg::Key("a".into()), Seg::Key("b".into())]));
    assert!(!p.matches(&[Seg::Key("x".into()), Seg::Key("a".into()), Seg::Key("b".into())]));
    assert!(IgnorePath::parse("nope").is_none());
}

#[test]
fn stack_traces_only_ignored_on_request() {
    let exp_cause = "{\"errorMessage\":\"m\",\"errorType\":\"E\",\"stackTrace\":[\"  File \\\"/var/task/handler.py\\\", line 2, in [x]\\n\"]}";
    let act_cause = "{\"errorMessage\":\"m\",\"errorType\":\"E\",\"stackTrace\":[]}";
    let c = case(
        json!({"status": "FAILED", "error": "E",
               "cause": {"errorMessage": "m", "stackTrace": ["  File x"]}}),
        json!({}),
    );
    let c2 = case(json!({"status": "SUCCEEDED", "output": {"Cause": exp_cause}}), json!({}));
    let lenient = JudgeOptions { ignore_stack_traces: true, ..JudgeOptions::default() };
    let failed = ActualResult::failed(Some("E".into()), Some(r#"{"errorMessage": "m", "stackTrace": []}"#.into()));
    let caught = ActualResult::succeeded(json!({"Cause": act_cause}).to_string());
    assert!(!judge(&c, &failed).pass);
    assert!(!judge(&c2, &caught).pass);
    assert!(judge_with(&c, &failed, &lenient).pass);
    let v = judge_with(&c2, &caught, &lenient);
    assert!(v.pass, "{v}");
    // Other differences still count.
    let wrong = ActualResult::succeeded(json!({"Cause": act_cause.replace("\"m\"", "\"n\"")}).to_string());
    assert!(!judge_with(&c2, &wrong, &lenient).pass);
    let mut doc = json!({"a": "{\"x\":1,\"stackTrace\":[\"a]\\\"b\",\"c\"],\"y\":2}"});
    strip_stack_traces(&mut doc);
    assert_eq!(doc["a"], "{\"x\":1,\"y\":2}");
}

#[test]
fn expected_results_roundtrip() {
    let c = case(json!({"status": "SUCCEEDED", "output": {"a": [1, "x", null]}}), json!({}));
    let a = ActualResult::from_expected(&c);
    assert_eq!(a.output.as_deref(), Some(r#"{"a":[1,"x",null]}"#));
    assert!(judge(&c, &a).pass);
}
