//! TimeoutSeconds and HeartbeatSeconds of a Task: given, read through
//! their paths (JSONPath), or evaluated (JSONata).

use crate::exec::failure::Failure;
use crate::exec::io::scope;
use crate::exec::jsonata;
use crate::exec::step::Step;
use super::TaskSpec;
use serde_json::{Map, Value};
use stepbox_asl::catalogue::{Facts, Field, check};
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
    let scopes = (input, ctx, vars);
    Ok(Limits {
        timeout_s: seconds(s, timeout, spec.timeout, [Field::TimeoutSeconds, Field::TimeoutSecondsPath], scopes)?,
        heartbeat_s: seconds(s, heartbeat, spec.heartbeat, [Field::HeartbeatSeconds, Field::HeartbeatSecondsPath], scopes)?,
    })
}

/// One limit: the JSONata expression if there is one, else the JSONPath
/// number or path; a positive integer either way (`fields`: the JSONata
/// field and the path field).
fn seconds(
    s: &Step<'_>,
    expression: Option<&stepbox_asl::jsonata::JsonataTemplate>,
    spec: &Option<NumSpec>,
    [field, path_field]: [Field; 2],
    (input, ctx, vars): (&Value, &Value, &Map<String, Value>),
) -> Result<Option<u64>, Failure> {
    let rt = |e| s.rt(e);
    if let Some(t) = expression {
        let v = jsonata::number(t, field, &jsonata::bindings(input, None, None, ctx, vars)).map_err(rt)?;
        let e = t.whole_expression().unwrap_or_default();
        let facts = Facts { expr: Some(e), value: Some(&v), ..Facts::default() };
        return check::task_seconds_value(field, facts, &v).map(Some).map_err(rt);
    }
    match spec {
        None => Ok(None),
        Some(NumSpec::Value(x)) => {
            let v = check::given(*x);
            check::task_seconds_value(path_field, Facts::default().value(&v), &v).map(Some).map_err(rt)
        }
        Some(NumSpec::Path(p)) => {
            let found = scope(input, ctx, vars).resolve(p);
            check::task_seconds_path(path_field, p, found.as_ref().map(|v| v.as_value()), input).map(Some).map_err(rt)
        }
        Some(NumSpec::Raw(v)) => Err(rt(RuntimeError::runtime(compact(v)))),
    }
}
