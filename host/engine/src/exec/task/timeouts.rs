//! TimeoutSeconds and HeartbeatSeconds of a Task: given, read through
//! their paths (JSONPath), or evaluated (JSONata).

use crate::exec::failure::Failure;
use crate::exec::io::resolve_num;
use crate::exec::jsonata;
use crate::exec::step::Step;
use super::TaskSpec;
use serde_json::{Map, Value};
use stepbox_asl::{NumSpec, RuntimeError, compact};

/// A Task's time limits in seconds.
#[derive(Clone, Copy)]
pub(super) struct Limits {
    pub(super) timeout_s: Option<u64>,
    pub(super) heartbeat_s: Option<u64>,
}

pub(super) fn resolve(
    s: &Step<'_>,
    spec: &TaskSpec<'_>,
    input: &Value,
    ctx: &Value,
    vars: &Map<String, Value>,
) -> Result<Limits, Failure> {
    let fields = s.st.jsonata.as_deref();
    let timeout = fields.and_then(|f| f.timeout_seconds.as_ref());
    let heartbeat = fields.and_then(|f| f.heartbeat_seconds.as_ref());
    Ok(Limits {
        timeout_s: seconds(s, timeout, spec.timeout, "TimeoutSecondsPath", (input, ctx, vars))?,
        heartbeat_s: seconds(s, heartbeat, spec.heartbeat, "HeartbeatSecondsPath", (input, ctx, vars))?,
    })
}

/// One limit: the JSONata expression if there is one, else the JSONPath
/// number or path; a positive integer either way.
fn seconds(
    s: &Step<'_>,
    expression: Option<&stepbox_asl::jsonata::JsonataTemplate>,
    spec: &Option<NumSpec>,
    field: &str,
    (input, ctx, vars): (&Value, &Value, &Map<String, Value>),
) -> Result<Option<u64>, Failure> {
    let rt = |e| s.rt(e);
    if let Some(t) = expression {
        let field = field.trim_end_matches("Path");
        let x = jsonata::number(t, field, &jsonata::bindings(input, None, None, ctx, vars)).map_err(rt)?;
        return if x >= 1.0 && x.fract() == 0.0 {
            Ok(Some(x as u64))
        } else {
            Err(rt(RuntimeError::runtime(format!("The {field} value must be a positive integer: {x}"))))
        };
    }
    match spec {
        None => Ok(None),
        Some(n) => match resolve_num(n, input, ctx, vars) {
            Ok(v) => match v.as_f64() {
                Some(x) if x >= 1.0 => Ok(Some(x as u64)),
                _ => Err(rt(RuntimeError::runtime(format!(
                    "The {field} value must be a positive integer: {}",
                    compact(&v)
                )))),
            },
            Err(msg) => Err(rt(RuntimeError::runtime(msg))),
        },
    }
}
