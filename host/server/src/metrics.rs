//! `GET /metrics`: counters per tenant account and gauges of the host, in
//! Prometheus' text format (version 0.0.4). Served to `[admin]` keys, or to
//! anyone connecting from a loopback address; see docs/tenants.md.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use hyper::{Request, Response, StatusCode};
use stepbox_sandbox::{Invocation, RegisteredFunction, TaskContext};

use crate::{AppState, Body, ReqBody};

/// What one account did since the server started.
#[derive(Default)]
struct Account {
    invocations: u64,
    errors: BTreeMap<String, u64>,
    gb_seconds: f64,
    /// Fuel used by the invocations that count it (none: no function of the account counts fuel).
    fuel: Option<u64>,
    transitions: Arc<AtomicU64>,
    started: BTreeMap<&'static str, u64>,
    closed: BTreeMap<String, u64>,
    throttles: BTreeMap<&'static str, u64>,
}

/// The server's counters.
#[derive(Default)]
pub(crate) struct Metrics {
    /// The account of invocations and executions that name none (the server's).
    default_account: OnceLock<String>,
    /// Who owns a function (its account), for the function API's invocations.
    functions: OnceLock<Weak<crate::lambda::FunctionTable>>,
    accounts: Mutex<HashMap<String, Account>>,
}

impl Metrics {
    /// Sets the server's account and where function owners are found.
    pub(crate) fn bind(&self, default_account: &str, functions: Weak<crate::lambda::FunctionTable>) {
        let _ = self.default_account.set(default_account.to_string());
        let _ = self.functions.set(functions);
    }

    fn default_account(&self) -> &str {
        self.default_account.get().map_or("", String::as_str)
    }

    fn with<T>(&self, account: &str, f: impl FnOnce(&mut Account) -> T) -> T {
        let mut map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        f(map.entry(account.to_string()).or_default())
    }

    /// A function invocation (the function API's or a Task state's).
    pub(crate) fn invoked(&self, function: &RegisteredFunction, context: &TaskContext, inv: &Invocation) {
        let account = match crate::tenants::quota::account_of(&context.execution_arn) {
            "" => {
                let base = function.name.split(':').next().unwrap_or(&function.name);
                let owner = self.functions.get().and_then(|w| w.upgrade()).and_then(|t| t.owner(base));
                owner.unwrap_or_else(|| self.default_account().to_string())
            }
            account => account.to_string(),
        };
        let gb = function.limits.memory_bytes as f64 / f64::from(1u32 << 30);
        self.with(&account, |a| {
            a.invocations += 1;
            a.gb_seconds += gb * inv.duration.as_secs_f64();
            if let Err(e) = &inv.result {
                *a.errors.entry(e.error_name().to_string()).or_default() += 1;
            }
            if let Some(fuel) = inv.fuel_consumed {
                *a.fuel.get_or_insert(0) += fuel;
            }
        });
    }

    /// The counter of `account`'s state transitions (states entered), for an execution's options.
    pub(crate) fn transitions(&self, account: &str) -> Arc<AtomicU64> {
        self.with(account, |a| a.transitions.clone())
    }

    /// An execution started (`kind`: STANDARD or EXPRESS).
    pub(crate) fn started(&self, execution_arn: &str, kind: &'static str) {
        self.with(self.account(execution_arn), |a| *a.started.entry(kind).or_default() += 1);
    }

    /// An execution closed with `status`.
    pub(crate) fn closed(&self, execution_arn: &str, status: &str) {
        self.with(self.account(execution_arn), |a| *a.closed.entry(status.to_string()).or_default() += 1);
    }

    /// A request of `account` refused by a quota (`reason`: which).
    pub(crate) fn throttled(&self, account: &str, reason: &'static str) {
        self.with(account, |a| *a.throttles.entry(reason).or_default() += 1);
    }

    fn account<'a>(&'a self, arn: &'a str) -> &'a str {
        match crate::tenants::quota::account_of(arn) {
            "" => self.default_account(),
            account => account,
        }
    }
}

/// One metric family: its help, type and samples.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(String, String)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Self {
        Family { name, help, kind, samples: Vec::new() }
    }
    fn add(&mut self, labels: String, value: impl std::fmt::Display) {
        self.samples.push((labels, value.to_string()));
    }
    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        for (labels, value) in &self.samples {
            let _ = writeln!(out, "{}{labels} {value}", self.name);
        }
    }
}

/// A label value escaped as the text format requires.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `{tenant="…",account="…"[,key="value"]}`.
fn labels(tenant: &str, account: &str, extra: Option<(&str, &str)>) -> String {
    let mut s = format!("{{tenant=\"{}\",account=\"{}\"", escape(tenant), escape(account));
    if let Some((k, v)) = extra {
        let _ = write!(s, ",{k}=\"{}\"", escape(v));
    }
    s.push('}');
    s
}

/// The whole exposition.
pub(crate) fn render(state: &AppState) -> String {
    let tenants = state.config.tenants.as_ref().map(|t| t.current());
    let name_of = |account: &str| -> String {
        tenants.as_ref().and_then(|t| t.by_account(account)).map(|t| t.name.clone()).unwrap_or_default()
    };
    let mut fams = vec![
        Family::new("stepbox_invocations_total", "counter", "Function invocations (the function API's and Task states')."),
        Family::new("stepbox_invocation_errors_total", "counter", "Failed function invocations, by error name."),
        Family::new("stepbox_invocation_gb_seconds_total", "counter", "Invocation duration times memory size, in GB-seconds."),
        Family::new("stepbox_invocation_fuel_total", "counter", "Fuel (instructions) used by invocations that count it."),
        Family::new("stepbox_state_transitions_total", "counter", "States entered by executions."),
        Family::new("stepbox_executions_started_total", "counter", "Executions started, by type."),
        Family::new("stepbox_executions_closed_total", "counter", "Executions closed, by status."),
        Family::new("stepbox_throttles_total", "counter", "Requests refused by a quota, by quota."),
        Family::new("stepbox_executions_open", "gauge", "Standard executions RUNNING on this host."),
        Family::new("stepbox_invocations_queued", "gauge", "Invocations waiting for one of the account's slots."),
    ];
    let open = state.accounts.open_executions.counts();
    let queued = state.accounts.concurrency.waiting();
    {
        let map = state.accounts.metrics.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let mut accounts: Vec<&String> = map.keys().chain(open.keys()).chain(queued.keys()).collect();
        accounts.sort();
        accounts.dedup();
        let none = Account::default();
        for account in accounts {
            let a = map.get(account).unwrap_or(&none);
            let tenant = name_of(account);
            let l = |extra: Option<(&str, &str)>| labels(&tenant, account, extra);
            fams[0].add(l(None), a.invocations);
            for (name, n) in &a.errors {
                fams[1].add(l(Some(("error", name))), n);
            }
            fams[2].add(l(None), a.gb_seconds);
            if let Some(fuel) = a.fuel {
                fams[3].add(l(None), fuel);
            }
            fams[4].add(l(None), a.transitions.load(Ordering::Relaxed));
            for (kind, n) in &a.started {
                fams[5].add(l(Some(("type", kind))), n);
            }
            for (status, n) in &a.closed {
                fams[6].add(l(Some(("status", status))), n);
            }
            for (reason, n) in &a.throttles {
                fams[7].add(l(Some(("quota", reason))), n);
            }
            fams[8].add(l(None), open.get(account).copied().unwrap_or(0));
            fams[9].add(l(None), queued.get(account).copied().unwrap_or(0));
        }
    }
    let mut out = String::new();
    for f in &fams {
        f.render(&mut out);
    }
    host_metrics(state, &mut out);
    out
}

/// The host's pool of sandbox instances and the store's commit latency.
fn host_metrics(state: &AppState, out: &mut String) {
    let sandbox = state.registry.sandbox();
    let mut slots = Family::new("stepbox_pool_slots", "gauge", "Sandbox instances that may run at once on this host.");
    slots.add(String::new(), sandbox.config().max_concurrent_instances);
    slots.render(out);
    let mut in_use = Family::new("stepbox_pool_slots_in_use", "gauge", "Sandbox instances running now on this host.");
    in_use.add(String::new(), sandbox.instances_in_use());
    in_use.render(out);
    let latency = state.store.commit_latency();
    let name = "stepbox_store_commit_seconds";
    let _ = writeln!(out, "# HELP {name} Time from a store write's submission until it is durable.");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (le, n) in &latency.buckets {
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", latency.count);
    let _ = writeln!(out, "{name}_sum {}", latency.sum_seconds);
    let _ = writeln!(out, "{name}_count {}", latency.count);
}

/// `GET /metrics`, once its caller may read it: an admin key, or a
/// loopback peer (checked by the router).
pub(crate) fn serve(state: &AppState) -> Response<Body> {
    let mut r = Response::new(Body::from(render(state)));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// `GET /metrics` from a peer that is not loopback: admin keys only.
pub(crate) fn handle(state: &AppState, req: &Request<ReqBody>) -> Response<Body> {
    match req.extensions().get::<crate::tenants::Caller>() {
        Some(crate::tenants::Caller::Admin) => serve(state),
        _ => crate::tenants::Api::Operator
            .error("AccessDeniedException", "metrics are served to admin keys, and to loopback peers"),
    }
}
