//! The Map state: its items, their inputs (ItemSelector, ItemBatcher), its
//! limits (MaxConcurrency, tolerated failures) and its retries; the
//! iterations themselves run in [`super::fanout`].

use super::children;
use super::running::Frame;
use super::failure::Failure;
use super::fanout::MapFanOut;
use super::item_inputs::ItemInputs;
use super::io::{finish_state, scope};
use super::jsonata;
use super::fan_progress::FanProgress;
use super::parts::{self, PartLog};
use super::reader;
use super::step::{StateResult, Step};
use super::variables::Variables;
use super::values::Values;
use super::writer::{MapRun, Writer};
use crate::history::EventType;
use crate::map_runs::{Continues, MapRunLimits, MapRunStatus};
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use stepbox_asl::catalogue::{self, Bad, Facts, Field, check};
use stepbox_asl::{MapMode, MapSpec, NumSpec, RuntimeError, errors, io, path::Cow as PathCow};

pub(super) async fn run_map(s: &Step<'_>, spec: &MapSpec, input: Value, frame: &mut Frame, vars: &mut Variables) -> StateResult {
    let (ex, st) = (s.ex, s.st);
    let rt = |e| s.rt(e);
    let mut ctx_slot = Value::Null;
    let ctx = s.ctx(0, &mut ctx_slot);
    // The effective input and the items stay borrowed from the state's input
    // where they can: each item is copied once, into its iteration's input,
    // not three times (input, items array, item) on the one task that runs
    // before and after the fan-out.
    let eff = match st.jsonata.as_deref() {
        Some(f) => PathCow::Owned(jsonata::arguments(f, &input, ctx, vars).map_err(rt)?),
        None => io::select(&st.input_path, &input, ctx, Some(vars.values())).map_err(rt)?,
    };
    let eff_value = eff.as_value();
    let sc = Scopes { input: &input, eff: eff_value, ctx, vars };
    // Items read by an ItemReader are read once the map run has started.
    let given = match &spec.item_reader {
        None => Some(map_items(s, spec, sc)?),
        Some(_) => None,
    };
    let distributed = spec.mode == MapMode::Distributed;
    let service = distributed && ex.services.map_runs.is_some();
    let mut progress = FanProgress::new(s, &input, vars, service);
    let mut resumed = parts::Resumed::new(s);
    let mut recorded = s.entry.started;
    loop {
        progress.resumed_back_off().await;
        let length = given.as_ref().map_or(0, |i| i.len());
        s.state_started(frame, &mut recorded, EventType::MapStateStarted, || Some(json!({"length": length})));
        let limits = Limits::resolve(s, spec, Scopes { input: &input, eff: eff_value, ctx, vars })?;
        let (run_arn, continues) = progress.next_run(|| map_run_arn(s, spec));
        match continues {
            _ if !distributed => {}
            Continues::New => {
                ex.emit(frame, EventType::MapRunStarted, || Some(json!({"mapRunArn": run_arn})));
            }
            // Recorded before the restart.
            Continues::Resumed => {}
            Continues::Redriven => {
                let count = progress.redrives();
                ex.emit(frame, EventType::MapRunRedriven, || Some(json!({"mapRunArn": run_arn, "redriveCount": count})));
            }
        }
        progress.save(service.then_some(run_arn.as_str()));
        // Each item becomes its input as it is read (a distributed Map's
        // children keep theirs as text).
        let mut inputs = ItemInputs::new(s, spec, &input, eff_value, vars, service);
        match (&given, &spec.item_reader) {
            (Some(items), _) => items.iter().try_for_each(|item| inputs.push(item.clone()))?,
            (None, Some(cfg)) => {
                let sc = Scopes { input: &input, eff: eff_value, ctx, vars };
                let mut own = None;
                let read = reader::read_items(ex.services.objects.as_deref(), cfg, st.jsonata.is_some(), sc, &mut |item| {
                    inputs.push(item).map_err(|f| own.insert(f).clone())
                });
                // An ItemSelector's failure is the state's, not the reader's.
                if let Some(f) = own {
                    return Err(f);
                }
                if let Err(f) = read {
                    let d = failed_attempt(s, frame, distributed, f, &mut progress.counts)?;
                    progress.back_off(d).await;
                    continue;
                }
            }
            (None, None) => {}
        }
        let inputs = inputs.finish()?;
        let n = inputs.len();
        let writer = match &spec.result_writer {
            None => None,
            Some(cfg) => match Writer::new(cfg, st.jsonata.is_some(), Scopes { input: &input, eff: eff_value, ctx, vars }) {
                Ok(w) => Some(w),
                Err(f) => {
                    let d = failed_attempt(s, frame, distributed, f, &mut progress.counts)?;
                    progress.back_off(d).await;
                    continue;
                }
            },
        };
        let keeps_inputs = writer.as_ref().is_some_and(Writer::needs_inputs);
        // What the result files read of the inputs (the children share it).
        let kept: Arc<Values>;
        let (mut fan, guard, limits) = match ex.services.map_runs.as_ref().filter(|_| distributed) {
            Some(runs) => {
                let attempt = progress.attempt();
                let express = spec.execution_type.as_deref() == Some("EXPRESS");
                let at = children::RunAttempt {
                    run_arn: &run_arn,
                    limits: limits.for_run(),
                    continues,
                    base_prev: frame.prev,
                    done: resumed.take(attempt, n),
                    parts: PartLog::of(s, attempt).filter(|_| express),
                };
                let inputs = Arc::new(inputs);
                kept = if keeps_inputs { inputs.clone() } else { Default::default() };
                let c = children::run_children(ex, spec, runs, inputs, at).await;
                let now = Limits::of_run(&c.guard.run.limits().borrow());
                (c.fan, Some(c.guard), now)
            }
            None => {
                let attempt = progress.attempt();
                let done = resumed.take(attempt, n);
                let inputs = inputs.into_vec();
                kept = Arc::new(if keeps_inputs { Values::Trees(inputs.clone()) } else { Values::default() });
                let queue: Vec<(usize, Value)> =
                    inputs.into_iter().enumerate().filter(|(i, _)| !done.contains_key(i)).collect();
                let runners = limits.runners.min(queue.len());
                let fan = MapFanOut {
                    ex: ex.clone(),
                    processor: spec.processor.clone(),
                    name: st.name.clone(),
                    silent: frame.silent || distributed,
                    vars: vars.inner(),
                    base_prev: frame.prev,
                    queue: std::sync::Mutex::new(queue.into_iter()),
                    stop_on_failure: !limits.tolerant(),
                    parts: PartLog::of(s, attempt),
                };
                let fan = fan.run(runners, n, done).await;
                (fan, None, limits)
            }
        };
        frame.prev = fan.last_prev.max(frame.prev);
        let end = |status| {
            if let Some(g) = guard {
                g.end(status)
            }
        };
        match limits.exceeded(fan.failed, n, fan.first_failure.take()) {
            None => {
                let results = match &writer {
                    None => Ok(Value::Array(fan.results.into_vec())),
                    Some(w) => {
                        // Off the runtime's threads: a million-child run's
                        // files take a second to write.
                        let (w, objects, arn, kept) = (w.clone(), ex.services.objects.clone(), run_arn.clone(), kept.clone());
                        let written = tokio::task::spawn_blocking(move || w.finish(objects.as_deref(), &MapRun::new(&arn, &kept), fan));
                        let failed = |e| Failure::new(errors::RESULT_WRITER_FAILED, format!("the result files were not written: {e}"));
                        written.await.unwrap_or_else(|e| Err(failed(e)))
                    }
                };
                let results = match results {
                    Ok(r) => r,
                    Err(f) => {
                        end(MapRunStatus::Failed);
                        let d = failed_attempt(s, frame, distributed, f, &mut progress.counts)?;
                        progress.back_off(d).await;
                        continue;
                    }
                };
                end(MapRunStatus::Succeeded);
                if distributed {
                    ex.emit(frame, EventType::MapRunSucceeded, || None);
                }
                ex.emit(frame, EventType::MapStateSucceeded, || None);
                return map_output(s, results, input, vars);
            }
            Some(f) => {
                end(MapRunStatus::Failed);
                let d = failed_attempt(s, frame, distributed, f, &mut progress.counts)?;
                progress.back_off(d).await;
            }
        }
    }
}

/// A failed attempt: its `MapRunFailed`, then the delay before the next
/// attempt if the state's Retry allows one, else its `MapStateFailed` and
/// the failure (only the final failure is recorded).
fn failed_attempt(s: &Step<'_>, frame: &mut Frame, distributed: bool, f: Failure, counts: &mut [u32]) -> Result<Duration, Failure> {
    if distributed {
        s.ex.emit(frame, EventType::MapRunFailed, || Some(f.as_output_lower()));
    }
    match s.ex.retry_delay(s.st, &f, counts) {
        Some(d) => Ok(d),
        None => {
            s.ex.emit(frame, EventType::MapStateFailed, || None);
            Err(f)
        }
    }
}

/// A map run's ARN: `arn:aws:states:R:A:mapRun:MACHINE/LABEL:ID`, the
/// label being the state's `Label` or else its name.
fn map_run_arn(s: &Step<'_>, spec: &MapSpec) -> String {
    let machine = s.ex.sm_arn.replacen(":stateMachine:", ":mapRun:", 1);
    let label = spec.label.as_deref().unwrap_or(&s.st.name);
    format!("{machine}/{label}:{}", stepbox_asl::uuid_v4())
}

/// The state's output from its iterations' results.
fn map_output(s: &Step<'_>, results: Value, input: Value, vars: &mut Variables) -> StateResult {
    let st = s.st;
    let rt = |e| s.rt(e);
    let mut ctx_slot = Value::Null;
    let ctx = s.ctx(0, &mut ctx_slot);
    let res = st
        .select_result(results, ctx, Some(vars.values()))
        .map_err(rt)?;
    let out = finish_state(st, input, res, ctx, vars).map_err(rt)?;
    Ok((out, st.next))
}

/// What a Map's fields are evaluated against.
#[derive(Clone, Copy)]
pub(super) struct Scopes<'a> {
    /// The state input (JSONata fields see it as `$states.input`).
    pub(super) input: &'a Value,
    /// The effective input (JSONPath fields read it).
    pub(super) eff: &'a Value,
    pub(super) ctx: &'a Value,
    pub(super) vars: &'a Map<String, Value>,
}

/// The items: ItemsPath of the effective input (JSONPath), `Items` or the
/// input (JSONata); borrowed from the input where they can be.
fn map_items<'a>(s: &Step<'_>, spec: &MapSpec, sc: Scopes<'a>) -> Result<Cow<'a, [Value]>, Failure> {
    let rt = |e| s.rt(e);
    if let Some(f) = s.st.jsonata.as_deref() {
        let b = jsonata::bindings(sc.input, None, None, sc.ctx, sc.vars);
        return Ok(jsonata::items(f, &b).map_err(rt)?.into());
    }
    let found = match &spec.items_path {
        None => PathCow::Borrowed(sc.eff),
        Some(p) => scope(sc.eff, sc.ctx, sc.vars)
            .resolve(p)
            .ok_or_else(|| rt(check::missing(Field::ItemsPath, p, sc.eff)))?,
    };
    match found {
        PathCow::Borrowed(Value::Array(a)) => Ok(a.as_slice().into()),
        PathCow::Owned(Value::Array(a)) => Ok(a.into()),
        other => Err(rt(check::not_an_array(other.as_value()))),
    }
}

/// A Map attempt's limits: how many iterations run at once and how many
/// may fail.
struct Limits {
    tol_count: Option<f64>,
    tol_pct: Option<f64>,
    /// Iterations running at once (MaxConcurrency, bounded by the engine's limit).
    runners: usize,
    /// MaxConcurrency as given (0: none).
    max_concurrency: u32,
}

impl Limits {
    fn resolve(s: &Step<'_>, spec: &MapSpec, sc: Scopes<'_>) -> Result<Limits, Failure> {
        let tol_count = match &spec.tolerated_failure_count {
            Some(n) => limit_number(s, n, LimitField::COUNT, sc)?,
            None => None,
        };
        let tol_pct = match &spec.tolerated_failure_percentage {
            Some(n) => limit_number(s, n, LimitField::PERCENTAGE, sc)?,
            None => None,
        };
        let mc = limit_number(s, &spec.max_concurrency, LimitField::CONCURRENCY, sc)?.unwrap_or(0.0);
        let most = s.ex.config.max_map_concurrency;
        let runners = if mc >= 1.0 { (mc as usize).min(most) } else { most }.max(1);
        Ok(Limits { tol_count, tol_pct, runners, max_concurrency: mc.max(0.0) as u32 })
    }

    /// What a map run starts with.
    fn for_run(&self) -> MapRunLimits {
        MapRunLimits {
            max_concurrency: self.max_concurrency,
            tolerated_failure_count: self.tol_count,
            tolerated_failure_percentage: self.tol_pct,
        }
    }

    /// A map run's limits as they are now (UpdateMapRun may have changed them).
    fn of_run(l: &MapRunLimits) -> Limits {
        Limits {
            tol_count: l.tolerated_failure_count,
            tol_pct: l.tolerated_failure_percentage,
            runners: 0,
            max_concurrency: l.max_concurrency,
        }
    }

    /// Whether failures are tolerated at all (else the first one ends the run).
    fn tolerant(&self) -> bool {
        self.tol_count.is_some() || self.tol_pct.is_some()
    }

    /// The failure `failed` of `n` iterations amount to, if any.
    fn exceeded(&self, failed: usize, n: usize, first_failure: Option<Failure>) -> Option<Failure> {
        if failed == 0 {
            return None;
        }
        if !self.tolerant() {
            return first_failure;
        }
        let over_count = self.tol_count.is_some_and(|c| failed as f64 > c);
        let over_pct = self.tol_pct.is_some_and(|p| (failed as f64) * 100.0 / (n.max(1) as f64) > p);
        let over = if self.tol_count.is_some() && self.tol_pct.is_some() {
            over_count && over_pct
        } else {
            over_count || over_pct
        };
        over.then(|| {
            Failure::new(
                errors::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                "The specified tolerated failure threshold was exceeded",
            )
        })
    }
}

/// A Map limit's field in each query language.
#[derive(Clone, Copy)]
struct LimitField {
    jsonata: Field,
    path: Field,
}

impl LimitField {
    const CONCURRENCY: LimitField = LimitField { jsonata: Field::MaxConcurrency, path: Field::MaxConcurrencyPath };
    const COUNT: LimitField = LimitField { jsonata: Field::ToleratedFailureCount, path: Field::ToleratedFailureCountPath };
    const PERCENTAGE: LimitField =
        LimitField { jsonata: Field::ToleratedFailurePercentage, path: Field::ToleratedFailurePercentagePath };
}

/// A limit given as a number, a path (JSONPath) or an expression (JSONata),
/// checked against the field's rules.
fn limit_number(s: &Step<'_>, n: &NumSpec, field: LimitField, sc: Scopes<'_>) -> Result<Option<f64>, Failure> {
    let rt = |e| s.rt(e);
    let expression = s.st.jsonata.as_deref().and_then(|f| match field.jsonata {
        Field::MaxConcurrency => f.max_concurrency.as_ref(),
        Field::ToleratedFailureCount => f.tolerated_failure_count.as_ref(),
        _ => f.tolerated_failure_percentage.as_ref(),
    });
    if let Some(t) = expression {
        let b = jsonata::bindings(sc.input, None, None, sc.ctx, sc.vars);
        let v = jsonata::number(t, field.jsonata, &b).map_err(rt)?;
        let facts = Facts { expr: t.whole_expression(), value: Some(&v), ..Facts::default() };
        return check::map_limit(field.jsonata, facts, &v).map(Some).map_err(rt);
    }
    match n {
        NumSpec::Value(x) => {
            let v = check::given(*x);
            check::map_limit(field.path, Facts::default().value(&v), &v).map(Some).map_err(rt)
        }
        NumSpec::Path(p) => {
            let found = scope(sc.eff, sc.ctx, sc.vars).resolve(p);
            let found = found.as_ref().map(|v| v.as_value());
            let facts = Facts::path(p).field(field.path.name());
            match found {
                None => Err(rt(catalogue::error(field.path, Bad::Missing, facts.input(sc.eff)))),
                Some(v) => check::map_limit(field.path, facts.value(v).input(sc.eff), v).map(Some).map_err(rt),
            }
        }
        NumSpec::Raw(_) => Err(rt(RuntimeError::new(
            errors::QUERY_EVALUATION_ERROR,
            "JSONata is not supported",
        ))),
    }
}
