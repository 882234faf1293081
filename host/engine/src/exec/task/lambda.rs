//! What the `lambda:invoke` integration returns around a function's output.

use crate::exec::running::Exec;
use crate::task::lambda_invoke_result;
use stepbox_asl::resource::Target;
use serde_json::{Value, json};

/// The `lambda:invoke` integration wraps the function's output as AWS does;
/// other resources return it as is.
pub(super) fn wrap_invoke_result(ex: &Exec, target: &Target, eff: &Value, rid: &str, v: Value) -> Value {
    if *target != Target::LambdaInvoke {
        return v;
    }
    let date = ex
        .clock
        .now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let mut r = lambda_invoke_result(v, rid, &date);
    if eff.get("LogType").and_then(|l| l.as_str()) == Some("Tail") {
        let log = format!(
            "START RequestId: {rid} Version: $LATEST\nEND RequestId: {rid}\nREPORT RequestId: {rid}\n"
        );
        let b = stepbox_asl::base64::encode(log.as_bytes());
        r["SdkHttpMetadata"]["AllHttpHeaders"]["X-Amz-Log-Result"] = json!([b]);
        r["SdkHttpMetadata"]["HttpHeaders"]["X-Amz-Log-Result"] = json!(b);
        if let Value::Object(m) = &mut r {
            // keep AWS's key order: ExecutedVersion, LogResult, Payload, ...
            let rest: Vec<(String, Value)> = std::mem::take(m).into_iter().collect();
            for (k, v) in rest {
                m.insert(k.clone(), v);
                if k == "ExecutedVersion" {
                    m.insert("LogResult".into(), json!(b));
                }
            }
        }
    }
    r
}
