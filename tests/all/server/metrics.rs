//! `GET /metrics`: Prometheus' text format, checked line by line as a
//! scraper parses it; counters that move after activity; served to admin
//! keys and loopback peers only.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::FunctionCode;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType, StateMachineType};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use stepbox_server::tenants::{TenantSet, TenantsConfig};
use stepbox_server::{AppState, RunningServer, ServerConfig};
use stepbox_tests::shared_sandbox;

use super::quotas::with_acme_quotas;
use super::tenants::{ACME, ADMIN, GLOBEX, TENANTS};
use super::{ROLE, component, raw};
use crate::clients::{self, Key};

/// One sample: its metric name, labels and value.
#[derive(Debug, Clone)]
pub(super) struct Sample {
    pub(super) name: String,
    pub(super) labels: Vec<(String, String)>,
    pub(super) value: f64,
}

/// Parses an exposition as a scraper does, failing on any line that is not
/// well-formed: `# HELP`/`# TYPE` lines (one TYPE per family, before its
/// samples), samples `name{k="v",…} value` with escaped label values, no
/// series twice, histogram buckets cumulative and ending at `+Inf` = `_count`.
fn parse(text: &str) -> Vec<Sample> {
    assert!(text.ends_with('\n'), "an exposition ends with a newline");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut seen = HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        assert!(!line.is_empty(), "no empty lines in: {text}");
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (keyword, name, what) = (parts.next().unwrap(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            assert!(valid_name(name), "bad metric name in {line:?}");
            match keyword {
                "HELP" => assert!(!what.is_empty(), "{line:?}"),
                "TYPE" => {
                    assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&what), "{line:?}");
                    assert!(types.insert(name.to_string(), what.to_string()).is_none(), "two TYPE lines for {name}");
                }
                _ => panic!("unknown comment {line:?}"),
            }
            continue;
        }
        let sample = parse_sample(line);
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| sample.name.strip_suffix(s).filter(|f| types.get(*f).is_some_and(|t| t == "histogram")))
            .unwrap_or(&sample.name);
        assert!(types.contains_key(family), "sample before its TYPE: {line:?}");
        if types[family] == "counter" {
            assert!(sample.name.ends_with("_total"), "a counter's name ends in _total: {line:?}");
            assert!(sample.value >= 0.0, "{line:?}");
        }
        assert!(seen.insert((sample.name.clone(), sample.labels.clone())), "series twice: {line:?}");
        samples.push(sample);
    }
    for (family, kind) in &types {
        if kind == "histogram" {
            let buckets: Vec<&Sample> = samples.iter().filter(|s| s.name == format!("{family}_bucket")).collect();
            assert!(buckets.windows(2).all(|w| w[0].value <= w[1].value), "cumulative buckets: {buckets:?}");
            let last = buckets.last().expect("buckets");
            assert_eq!(last.labels, [("le".to_string(), "+Inf".to_string())]);
            let count = samples.iter().find(|s| s.name == format!("{family}_count")).expect("_count");
            assert_eq!(last.value, count.value);
        }
    }
    samples
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("no value: {line:?}"));
    let name = &line[..name_end];
    assert!(valid_name(name), "bad metric name in {line:?}");
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            if c == '}' {
                end = Some(i);
                break;
            }
            let key_start = i;
            let eq = inner[key_start..].find('=').unwrap_or_else(|| panic!("label without '=': {line:?}")) + key_start;
            let key = &inner[key_start..eq];
            assert!(valid_name(key) && !key.starts_with("__"), "bad label name {key:?} in {line:?}");
            while chars.peek().is_some_and(|(j, _)| *j <= eq) {
                chars.next();
            }
            assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "label value unquoted: {line:?}");
            let mut value = String::new();
            loop {
                match chars.next().map(|(_, c)| c) {
                    Some('\\') => match chars.next().map(|(_, c)| c) {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => panic!("bad escape {other:?} in {line:?}"),
                    },
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => panic!("unterminated label value: {line:?}"),
                }
            }
            labels.push((key.to_string(), value));
            match chars.peek().map(|(_, c)| *c) {
                Some(',') => {
                    chars.next();
                }
                Some('}') => {}
                other => panic!("expected ',' or '}}', got {other:?}: {line:?}"),
            }
        }
        let end = end.unwrap_or_else(|| panic!("unterminated labels: {line:?}"));
        rest = &inner[end + 1..];
    }
    let value = rest.strip_prefix(' ').unwrap_or_else(|| panic!("one space before the value: {line:?}"));
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value {v:?}: {line:?}")),
    };
    assert!(!value.is_nan(), "{line:?}");
    Sample { name: name.to_string(), labels, value }
}

/// The value of `name` with every one of `labels`, summed over the series that have them.
pub(super) fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v)))
        .map(|s| s.value)
        .sum()
}

const GET_METRICS: &str = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

pub(super) async fn scrape(addr: std::net::SocketAddr) -> Vec<Sample> {
    let (status, head, body) = raw(addr, GET_METRICS).await;
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(head.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"), "{head}");
    parse(&body)
}

/// `GET /metrics` signed with `key` in the Authorization header.
fn signed_get(key: Key, host: &str) -> String {
    let identity = Credentials::new(key.id, key.secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("execute-api")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let url = format!("http://{host}/metrics");
    let signable = SignableRequest::new("GET", &url, [("host", host)].into_iter(), SignableBody::Bytes(b"")).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut text = format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in instructions.headers() {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text + "\r\n"
}

async fn start(tenants: Option<&str>, metrics_from_loopback: bool) -> RunningServer {
    let tenants = tenants.map(|t| Arc::new(TenantSet::fixed(TenantsConfig::parse(t).expect("tenants"))));
    let config = ServerConfig { tenants, metrics_from_loopback, ..ServerConfig::default() };
    let state = AppState::in_memory(config, stepbox_sandbox::Registry::new(shared_sandbox().clone()));
    RunningServer::start("127.0.0.1:0".parse().unwrap(), state).await.expect("server starts")
}

/// The execution once it has closed (within 30 s).
pub(super) async fn until_closed(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let d = sfn.describe_execution().execution_arn(arn).send().await.unwrap();
        if *d.status() != ExecutionStatus::Running {
            return d;
        }
        assert!(std::time::Instant::now() < deadline, "{d:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until execution `arn` has entered its Wait state.
async fn entered_wait(sfn: &aws_sdk_sfn::Client, arn: &str) {
    for _ in 0..500 {
        let history = sfn.get_execution_history().execution_arn(arn).send().await.unwrap();
        if history.events().iter().any(|e| *e.r#type() == HistoryEventType::WaitStateEntered) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{arn} never entered its Wait");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_count_each_tenants_activity() {
    let server = start(Some(&with_acme_quotas("open_executions = 2")), true).await;
    let endpoint = server.endpoint();
    let before = scrape(server.addr).await;
    assert_eq!(value(&before, "stepbox_invocations_total", &[("tenant", "acme")]), 0.0);
    assert!(before.iter().any(|s| s.name == "stepbox_pool_slots"), "the host's pool");

    let lambda = clients::lambda_as(&endpoint, ACME);
    for (name, code) in [("echo", "echo"), ("fails", "fail")] {
        lambda
            .create_function()
            .function_name(name)
            .role(ROLE)
            .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
            .handler("component")
            .memory_size(256)
            .code(FunctionCode::builder().zip_file(Blob::new(component(code))).build())
            .send()
            .await
            .expect("CreateFunction");
    }
    for _ in 0..2 {
        lambda.invoke().function_name("echo").payload(Blob::new("{}")).send().await.unwrap();
    }
    let failed = lambda.invoke().function_name("fails").payload(Blob::new(r#"{"error": "Boom"}"#)).send().await.unwrap();
    assert!(failed.function_error().is_some());
    let error = serde_json::from_slice::<serde_json::Value>(failed.payload().unwrap().as_ref()).unwrap()["errorType"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(error, "Boom");

    let sfn = clients::sfn_as(&endpoint, ACME);
    let flow = serde_json::json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Next": "T"},
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:echo", "End": true}}});
    let m = sfn.create_state_machine().name("flow").definition(flow.to_string()).role_arn(ROLE).send().await.unwrap();
    let run = sfn.start_execution().state_machine_arn(m.state_machine_arn()).send().await.unwrap();
    assert_eq!(*until_closed(&sfn, run.execution_arn()).await.status(), ExecutionStatus::Succeeded);
    let quick = sfn
        .create_state_machine()
        .name("quick")
        .r#type(StateMachineType::Express)
        .definition(r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    sfn.start_sync_execution().state_machine_arn(quick.state_machine_arn()).send().await.unwrap();
    let wait = r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}"#;
    let w = sfn.create_state_machine().name("waits").definition(wait).role_arn(ROLE).send().await.unwrap();
    for name in ["one", "two"] {
        let waiting = sfn.start_execution().state_machine_arn(w.state_machine_arn()).name(name).send().await.unwrap();
        // Its Wait's transition is counted once it has entered the state
        // (StartExecution answers before that).
        entered_wait(&sfn, waiting.execution_arn()).await;
    }
    let refused = sfn.start_execution().state_machine_arn(w.state_machine_arn()).name("three").send().await;
    assert!(refused.is_err(), "past open_executions");
    let globex = clients::lambda_as(&endpoint, GLOBEX);
    globex.list_functions().send().await.unwrap();

    let after = scrape(server.addr).await;
    let acme = |name: &str, extra: &[(&str, &str)]| {
        let mut labels = vec![("tenant", "acme"), ("account", "111111111111")];
        labels.extend_from_slice(extra);
        value(&after, name, &labels)
    };
    assert_eq!(acme("stepbox_invocations_total", &[]), 4.0, "three Invokes and one Task");
    assert_eq!(acme("stepbox_invocation_errors_total", &[("error", &error)]), 1.0);
    assert!(acme("stepbox_invocation_gb_seconds_total", &[]) > 0.0);
    assert_eq!(acme("stepbox_state_transitions_total", &[]), 2.0 + 1.0 + 2.0, "P and T; the Express P; two Waits");
    assert_eq!(acme("stepbox_executions_started_total", &[("type", "STANDARD")]), 3.0);
    assert_eq!(acme("stepbox_executions_started_total", &[("type", "EXPRESS")]), 1.0);
    assert_eq!(acme("stepbox_executions_closed_total", &[("status", "SUCCEEDED")]), 2.0);
    assert_eq!(acme("stepbox_throttles_total", &[("quota", "open_executions")]), 1.0);
    assert_eq!(acme("stepbox_executions_open", &[]), 2.0);
    assert_eq!(value(&after, "stepbox_invocations_total", &[("tenant", "globex")]), 0.0, "globex did nothing");
    assert!(value(&after, "stepbox_store_commit_seconds_count", &[]) > value(&before, "stepbox_store_commit_seconds_count", &[]));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_refused_to_tenant_keys_unless_loopback_or_admin() {
    // As a peer that is not loopback would be answered (loopback not trusted).
    let server = start(Some(TENANTS), false).await;
    let host = server.addr.to_string();
    let (status, head, _) = raw(server.addr, GET_METRICS).await;
    assert_eq!(status, 403, "{head}");
    assert!(head.to_ascii_lowercase().contains("x-amzn-errortype: missingauthenticationtokenexception"), "{head}");
    let (status, head, body) = raw(server.addr, &signed_get(ACME, &host)).await;
    assert_eq!(status, 403, "{head}\n{body}");
    assert!(head.to_ascii_lowercase().contains("x-amzn-errortype: accessdeniedexception"), "{head}");
    let (status, head, body) = raw(server.addr, &signed_get(ADMIN, &host)).await;
    assert_eq!(status, 200, "{head}\n{body}");
    parse(&body);
    server.shutdown().await.unwrap();

    // Single-user mode has no admin keys: loopback peers only.
    let server = start(None, false).await;
    let (status, head, _) = raw(server.addr, GET_METRICS).await;
    assert_eq!(status, 403, "{head}");
    server.shutdown().await.unwrap();
    let server = start(None, true).await;
    let samples = scrape(server.addr).await;
    assert!(samples.iter().any(|s| s.name == "stepbox_store_commit_seconds_count"));
    server.shutdown().await.unwrap();
}
