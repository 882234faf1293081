//! The Wait state in JSONPath: when it ends (Seconds, Timestamp or their
//! paths), and suspending a durable run over a long wait.

use super::failure::Failure;
use super::running::Exec;
use super::io::{apply_assign, eval_assign, scope};
use super::step::{StateResult, Step};
use super::variables::Variables;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use stepbox_asl::catalogue::{Field, check};
use stepbox_asl::{RuntimeError, WaitSpec, compact, errors, io};

pub(super) async fn run_wait(s: &Step<'_>, spec: &WaitSpec, input: Value, vars: &mut Variables) -> StateResult {
    let (ex, st, entry) = (s.ex, s.st, s.entry);
    let rt = |e| s.rt(e);
    let mut ctx_slot = Value::Null;
    let ctx = s.ctx(0, &mut ctx_slot);
    let eff = io::select(&st.input_path, &input, ctx, Some(vars.values()))
        .map_err(rt)?
        .into_owned();
    let now = if entry.checkpointed {
        entry.at
    } else {
        ex.clock.now()
    };
    let until = wait_until(s, spec, now, &eff, ctx, vars)?;
    if (until - now).num_seconds() > i32::MAX as i64 {
        return Err(too_long(s));
    }
    let until = ex.scaled_wait(now, until);
    let wake = ex.deadline.map_or(until, |d| d.min(until));
    if entry.checkpointed
        && let Some(limit) = ex.suspend_over
        && (wake - ex.clock.now())
            .to_std()
            .is_ok_and(|left| left > limit)
    {
        ex.suspend(wake).await;
    }
    ex.clock.sleep_until(until).await;
    let pending = eval_assign(&st.assign_template, &eff, ctx, vars).map_err(rt)?;
    let out = io::select_owned(&st.output_path, eff, ctx, Some(vars.values())).map_err(rt)?;
    apply_assign(vars, pending).map_err(rt)?;
    Ok((out, st.next))
}

impl Exec {
    /// When a wait entered at `now` and due at `until` ends under the
    /// engine's [wait-time scale](super::EngineConfig::wait_time_scale).
    pub(super) fn scaled_wait(&self, now: DateTime<Utc>, until: DateTime<Utc>) -> DateTime<Utc> {
        let scale = self.config.wait_time_scale;
        let ms = (until - now).num_milliseconds();
        if scale >= 1.0 || ms <= 0 {
            return until;
        }
        now + chrono::Duration::milliseconds((ms as f64 * scale.max(0.0)) as i64)
    }
}

fn too_long(s: &Step<'_>) -> Failure {
    s.rt(check::too_long(Field::SecondsPath))
}

/// When a wait entered at `now` ends.
fn wait_until(
    s: &Step<'_>,
    spec: &WaitSpec,
    now: DateTime<Utc>,
    eff: &Value,
    ctx: &Value,
    vars: &Map<String, Value>,
) -> Result<DateTime<Utc>, Failure> {
    let rt = |e| s.rt(e);
    Ok(match spec {
        WaitSpec::Seconds(secs) => {
            if *secs > i32::MAX as f64 {
                return Err(too_long(s));
            }
            now + chrono::Duration::milliseconds((*secs * 1000.0) as i64)
        }
        WaitSpec::Timestamp(t) => t.with_timezone(&Utc),
        WaitSpec::SecondsPath(p) => {
            let found = scope(eff, ctx, vars).resolve(p);
            let n = check::seconds_path(p, found.as_ref().map(|v| v.as_value()), eff).map_err(rt)?;
            now + chrono::Duration::seconds(n)
        }
        WaitSpec::TimestampPath(p) => {
            let found = scope(eff, ctx, vars).resolve(p);
            check::timestamp_path(p, found.as_ref().map(|v| v.as_value()), eff).map_err(rt)?.with_timezone(&Utc)
        }
        WaitSpec::Raw(v) => {
            return Err(rt(RuntimeError::new(
                errors::QUERY_EVALUATION_ERROR,
                format!("JSONata is not supported: {}", compact(v)),
            )));
        }
    })
}
