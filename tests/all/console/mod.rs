//! The web console (`/console/`) in a real browser: headless Chromium
//! driven over WebDriver (chromedriver, through fantoccini: [`webdriver`]). Each page loads without
//! console errors, exceptions or failed loads; the graph has one
//! `data-state` element per state of the definition; an execution page's
//! `data-status` values match the execution's history; a page left open on a
//! running execution follows it live; the start form refuses invalid JSON and
//! starts an execution; Approve on a task waiting for its token resumes the
//! execution, Stop aborts one. Screenshots of each page are kept under
//! `target/console-screenshots/`.

mod actions;
mod webdriver;
mod kept_logs;
mod tenants;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::FunctionCode;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use serde_json::{Value, json};
use stepbox_sandbox::Registry;
use stepbox_server::{AppState, RunningServer, ServerConfig};
use stepbox_tests::shared_sandbox;

use webdriver::{Browser, Page};

const ROLE: &str = "arn:aws:iam::111111111111:role/stepbox";

struct Harness {
    server: RunningServer,
    sfn: aws_sdk_sfn::Client,
    lambda: aws_sdk_lambda::Client,
}

async fn start() -> Harness {
    let config = ServerConfig { wait_time_scale: 0.0, ..ServerConfig::default() };
    start_on(AppState::in_memory(config, Registry::new(shared_sandbox().clone()))).await
}

async fn start_on(state: AppState) -> Harness {
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state).await.expect("server starts");
    let endpoint = server.endpoint();
    Harness { sfn: crate::clients::sfn(&endpoint), lambda: crate::clients::lambda(&endpoint), server }
}

async fn create_function(h: &Harness, name: &str, component: &str) {
    let wasm = stepbox_components::bytes(component).expect("component built by host/components");
    h.lambda
        .create_function()
        .function_name(name)
        .role(ROLE)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("component")
        .code(FunctionCode::builder().zip_file(Blob::new(wasm)).build())
        .send()
        .await
        .expect("CreateFunction");
}

async fn create_machine(h: &Harness, name: &str, definition: &Value) -> String {
    let r = h.sfn.create_state_machine().name(name).role_arn(ROLE).definition(definition.to_string()).send().await;
    r.expect("CreateStateMachine").state_machine_arn().to_string()
}

async fn run_to_end(h: &Harness, machine: &str, input: &Value) -> String {
    let r = h.sfn.start_execution().state_machine_arn(machine).input(input.to_string()).send().await.expect("StartExecution");
    let arn = r.execution_arn().to_string();
    wait_status(h, &arn, |s| *s != ExecutionStatus::Running).await;
    arn
}

async fn wait_status(h: &Harness, arn: &str, done: impl Fn(&ExecutionStatus) -> bool) -> ExecutionStatus {
    for _ in 0..1000 {
        let d = h.sfn.describe_execution().execution_arn(arn).send().await.expect("DescribeExecution");
        if done(d.status()) {
            return d.status().clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{arn} did not reach the awaited status");
}

/// Each state's status as the history says, computed here independently of
/// the page: never entered NOT_STARTED; a failure followed by its exit
/// CAUGHT_ERROR; a failure that ended the execution, or a state it ended in
/// (a Fail state), FAILED; a failure
/// followed by another attempt RETRIED (a Catch after it still makes it
/// CAUGHT_ERROR); else SUCCEEDED (the executions here do not stay running).
async fn statuses_from_history(h: &Harness, arn: &str, definition: &Value) -> BTreeMap<String, String> {
    let history = h.sfn.get_execution_history().execution_arn(arn).max_results(1000).send().await.expect("history");
    let mut out: BTreeMap<String, String> = state_names(definition).into_iter().map(|n| (n, "NOT_STARTED".to_string())).collect();
    let mut current: Option<String> = None;
    let mut failed: Option<String> = None;
    // Entered and not exited: where the execution ends if it ends in a Fail state.
    let mut open: Option<String> = None;
    for e in history.events() {
        if let Some(d) = e.state_entered_event_details() {
            out.insert(d.name().to_string(), "SUCCEEDED".into());
            current = Some(d.name().to_string());
        } else if let Some(d) = e.state_exited_event_details() {
            if failed.as_deref() == Some(d.name()) {
                out.insert(d.name().to_string(), "CAUGHT_ERROR".into());
                failed = None;
            }
        } else if matches!(
            e.r#type,
            HistoryEventType::TaskFailed | HistoryEventType::LambdaFunctionFailed | HistoryEventType::ActivityFailed
        ) {
            failed = current.clone();
        } else if matches!(e.r#type, HistoryEventType::LambdaFunctionScheduled | HistoryEventType::ActivityScheduled)
            && let Some(f) = failed.take()
        {
            out.insert(f, "RETRIED".into());
        } else if e.r#type == HistoryEventType::ExecutionFailed
            && let Some(f) = failed.take().or_else(|| open.take())
        {
            out.insert(f, "FAILED".into());
        }
        if e.state_entered_event_details().is_some() {
            open = current.clone();
        } else if e.state_exited_event_details().is_some() {
            open = None;
        }
    }
    out
}

fn state_names(definition: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (name, s) in definition["States"].as_object().into_iter().flatten() {
        out.push(name.clone());
        for inner in s.get("ItemProcessor").or_else(|| s.get("Iterator")).into_iter().chain(s["Branches"].as_array().into_iter().flatten()) {
            out.extend(state_names(inner));
        }
    }
    out
}

fn example(path: &str) -> Value {
    let full = format!("{}/examples/{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&full).unwrap()).unwrap()
}

fn screenshot_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target")));
    target.join("console-screenshots").join(format!("{name}.png"))
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// The page's `data-status` of each `data-state` element.
fn page_statuses(page: &mut Page, b: &mut Browser) -> BTreeMap<String, String> {
    let v = page.eval(b, "Object.fromEntries([...document.querySelectorAll('.graph [data-state]')].map(n => [n.dataset.state, n.dataset.status || '']))");
    serde_json::from_value(v).unwrap()
}

fn count_states(page: &mut Page, b: &mut Browser) -> usize {
    page.eval(b, "document.querySelectorAll('.graph [data-state]').length").as_u64().unwrap() as usize
}

/// Opens `path`, checks it rendered without problems, keeps a screenshot.
fn visit(page: &mut Page, b: &mut Browser, base: &str, path: &str, shot: &str) {
    page.open(b, &format!("{base}{path}"));
    let error = page.eval(b, "(document.querySelector('#app > .error') || {}).textContent || ''");
    assert_eq!(error, json!(""), "{path} shows an error");
    page.screenshot(b, &screenshot_path(shot));
    assert!(page.problems.is_empty(), "{path}: {:?}", page.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_load_and_executions_show_their_states() {
    let h = start().await;
    for (name, component) in [("transform", "transform"), ("processed", "processed"), ("logger", "logger"), ("fail", "fail")] {
        create_function(&h, name, component).await;
    }
    let order = example("workflows/order.asl.json");
    let order_arn = create_machine(&h, "order", &order).await;
    let fail = "arn:aws:lambda:us-east-1:111111111111:function:fail";
    let caught = json!({"StartAt": "Flaky", "States": {
        "Flaky": {"Type": "Task", "Resource": fail, "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 1}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}], "Next": "Never"},
        "Never": {"Type": "Pass", "End": true},
        "Recover": {"Type": "Pass", "Next": "Done"},
        "Done": {"Type": "Succeed"}}});
    let caught_arn = create_machine(&h, "caught", &caught).await;
    let failing = json!({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Next": "Boom"},
        "Boom": {"Type": "Task", "Resource": fail, "End": true}}});
    let failing_arn = create_machine(&h, "failing", &failing).await;

    // An activity whose first attempt fails and is retried.
    let activity = h.sfn.create_activity().name("work").send().await.unwrap().activity_arn().to_string();
    let retried = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity, "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2}], "End": true}}});
    let retried_arn = create_machine(&h, "retried", &retried).await;
    let r = h.sfn.start_execution().state_machine_arn(&retried_arn).send().await.unwrap();
    for answer in [Err("Boom"), Ok("{\"done\":true}")] {
        let token = loop {
            let t = h.sfn.get_activity_task().activity_arn(&activity).send().await.expect("GetActivityTask");
            if let Some(token) = t.task_token() {
                break token.to_string();
            }
        };
        match answer {
            Err(error) => _ = h.sfn.send_task_failure().task_token(token).error(error).send().await.expect("SendTaskFailure"),
            Ok(output) => _ = h.sfn.send_task_success().task_token(token).output(output).send().await.expect("SendTaskSuccess"),
        }
    }
    let retried_exec = r.execution_arn().to_string();
    assert_eq!(wait_status(&h, &retried_exec, |s| *s != ExecutionStatus::Running).await, ExecutionStatus::Succeeded);

    let runs = [
        ("retried", &retried, retried_exec),
        ("order", &order, run_to_end(&h, &order_arn, &example("workflows/order.input.json")).await),
        ("caught", &caught, run_to_end(&h, &caught_arn, &json!({"error": "Boom", "cause": "once"})).await),
        ("failing", &failing, run_to_end(&h, &failing_arn, &json!({"error": "Bad", "cause": "always"})).await),
    ];
    let mut expected = Vec::new();
    for (name, def, arn) in &runs {
        expected.push((name.to_string(), arn.clone(), state_names(def).len(), statuses_from_history(&h, arn, def).await));
    }
    // The expectations themselves cover each status these runs produce.
    assert_eq!(expected[0].3["Work"], "RETRIED");
    assert_eq!(expected[2].3["Flaky"], "CAUGHT_ERROR");
    assert_eq!(expected[3].3["Boom"], "FAILED");
    assert_eq!(expected[1].3["Rejected"], "NOT_STARTED");

    let order_exec = runs[1].2.clone();
    let order_transitions = {
        let history = h.sfn.get_execution_history().execution_arn(&order_exec).max_results(1000).send().await.unwrap();
        history.events().iter().filter(|e| e.state_entered_event_details().is_some()).count()
    };
    let failing_machine = failing_arn.clone();
    let express = h.sfn.create_state_machine().name("quick").role_arn(ROLE).r#type(aws_sdk_sfn::types::StateMachineType::Express)
        .definition(json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string()).send().await;
    let express_machine = express.expect("CreateStateMachine EXPRESS").state_machine_arn().to_string();
    let base = h.server.endpoint();
    let machines = [(order_arn.clone(), state_names(&order).len())];
    tokio::task::spawn_blocking(move || {
        let mut b = Browser::launch();
        let mut page = b.new_page();
        visit(&mut page, &mut b, &base, "/console/", "home");
        let listed = page.eval(&mut b, "[...document.querySelectorAll('#state-machines a')].map(a => a.textContent)");
        assert_eq!(listed, json!(["order", "caught", "failing", "retried", "quick"]));
        assert_eq!(page.eval(&mut b, "document.querySelectorAll('#executions tbody a').length"), json!(4));
        assert_eq!(page.eval(&mut b, "document.querySelectorAll('#functions tbody a').length"), json!(4));

        for (arn, states) in machines {
            visit(&mut page, &mut b, &base, &format!("/console/state-machines/{}", enc(&arn)), "state-machine");
            assert_eq!(count_states(&mut page, &mut b), states);
        }
        for (name, arn, states, statuses) in expected {
            visit(&mut page, &mut b, &base, &format!("/console/executions/{}", enc(&arn)), &format!("execution-{name}"));
            assert_eq!(count_states(&mut page, &mut b), states, "{name}");
            assert_eq!(page_statuses(&mut page, &mut b), statuses, "{name}");
            // Selecting a state shows its details.
            let first = statuses.iter().find(|(_, s)| *s != "NOT_STARTED").unwrap().0.clone();
            page.eval(&mut b, &format!("document.querySelector('.graph [data-state=\"{first}\"]').dispatchEvent(new MouseEvent('click', {{bubbles: true}}))"));
            page.wait_for(&mut b, &format!("document.querySelector('#state-panel').dataset.state === '{first}'"), Duration::from_secs(30));
            let panel = page.eval(&mut b, "[...document.querySelectorAll('#state-panel h3')].map(e => e.textContent)");
            assert!(panel.as_array().unwrap().contains(&json!("Input")), "{name}: {panel}");
            let rows = page.eval(&mut b, "document.querySelectorAll('#history tbody tr').length").as_u64().unwrap();
            assert!(rows >= 4, "{name}: {rows} history rows");
        }
        let failure_listed = page.eval(&mut b, "document.querySelector('#history').textContent.includes('LambdaFunctionFailed')");
        assert_eq!(failure_listed, json!(true));

        // The order execution (visited last but two): its transitions and their cost.
        visit(&mut page, &mut b, &base, &format!("/console/executions/{}", enc(&order_exec)), "execution-order-cost");
        let cost = page.eval(&mut b, "[...document.querySelectorAll('#cost td')].map(td => td.textContent)");
        assert_eq!(cost[1], json!(order_transitions.to_string()), "{cost}");
        let expected_cost = format!("{:.8}", order_transitions as f64 * 0.000025);
        let expected_cost = format!("{} USD", expected_cost.trim_end_matches('0').trim_end_matches('.'));
        assert_eq!(cost[2], json!(expected_cost), "{cost}");
        // Notify's Task logged: its attempt's log tail is on the execution page.
        page.eval(&mut b, "document.querySelector('.graph [data-state=\"Notify\"]').dispatchEvent(new MouseEvent('click', {bubbles: true}))");
        page.wait_for(&mut b, "document.querySelector('#state-panel .state-logs pre.log')", Duration::from_secs(30));
        let log = page.eval(&mut b, "document.querySelector('#state-panel .state-logs pre.log').textContent");
        assert!(log.as_str().unwrap().contains("logger: state 'Notify' attempt 1"), "{log}");

        visit(&mut page, &mut b, &base, "/console/functions/transform", "function");
        let config = page.eval(&mut b, "document.querySelector('#configuration').textContent");
        assert!(config.as_str().unwrap().contains("transform"), "{config}");
        let calls = page.eval(&mut b, "document.querySelectorAll('.invocations tbody tr').length");
        assert_eq!(calls, json!(1), "transform ran once, for the order execution");
        // Memory: what the instance held of the function's 128 MB.
        let memory = page.eval(&mut b, "document.querySelector('.invocations tbody tr').cells[2].textContent");
        let used = memory.as_str().and_then(|m| m.strip_suffix(" / 128")).and_then(|u| u.parse::<u64>().ok());
        assert!(used.is_some_and(|u| (1..=128).contains(&u)), "{memory}");
        visit(&mut page, &mut b, &base, "/console/functions/logger", "function-logger");
        let tail = page.eval(&mut b, "document.querySelector('.invocations pre.log').textContent");
        assert!(tail.as_str().unwrap().contains("logger: error line"), "{tail}");

        // Monitoring: the failing machine's one execution, failed with Bad.
        visit(&mut page, &mut b, &base, &format!("/console/state-machines/{}", enc(&failing_machine)), "monitoring");
        let counts = page.eval(&mut b, "Object.fromEntries([...document.querySelectorAll('#status-counts tbody tr')].map(r => [r.cells[0].textContent, r.cells[1].textContent]))");
        assert_eq!((counts["FAILED"].as_str(), counts["SUCCEEDED"].as_str()), (Some("1"), Some("0")), "{counts}");
        let errors = page.eval(&mut b, "[...document.querySelectorAll('#errors tbody td')].map(td => td.textContent)");
        assert_eq!(errors, json!(["Bad", "1"]));

        // An Express machine's start form runs it at once and says what it would cost.
        visit(&mut page, &mut b, &base, &format!("/console/state-machines/{}", enc(&express_machine)), "express");
        page.eval(&mut b, "(() => { const t = document.querySelector('#start-form textarea'); t.value = '{\"n\": 7}'; t.dispatchEvent(new Event('input')); })()");
        page.eval(&mut b, "document.querySelector('#start-execution').click()");
        page.wait_for(&mut b, "document.querySelector('#start-form .outcome pre')", Duration::from_secs(30));
        let outcome = page.eval(&mut b, "document.querySelector('#start-form .outcome').textContent");
        // 100 ms and 64 MB billed: $0.000001 + 0.1 s x 0.0625 GB x $0.00001667.
        assert!(outcome.as_str().unwrap().starts_with("SUCCEEDED would cost 0.0000011 USD on AWS"), "{outcome}");
        assert!(outcome.as_str().unwrap().contains("\"n\": 7"), "{outcome}");
        assert!(page.problems.is_empty(), "{:?}", page.problems);

        // An unknown page says so (and is the only error expected).
        page.open(&mut b, &format!("{base}/console/executions/{}", enc("arn:aws:states:us-east-1:111111111111:execution:order:nope")));
        let error = page.eval(&mut b, "document.querySelector('#app > .error').textContent");
        assert!(error.as_str().unwrap().contains("ExecutionDoesNotExist"), "{error}");
    })
    .await
    .unwrap();
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_execution_is_started_followed_live_approved_and_another_stopped() {
    let h = start().await;
    create_function(&h, "transform", "transform").await;
    create_function(&h, "notify-approver", "notify_approver").await;
    let machine = create_machine(&h, "approval", &example("approval/approval.asl.json")).await;
    let base = h.server.endpoint();
    let order = example("approval/order.json");
    let machine_path = format!("/console/state-machines/{}", enc(&machine));
    let arn = tokio::task::spawn_blocking(move || {
        let mut b = Browser::launch();
        let mut page = b.new_page();
        visit(&mut page, &mut b, &base, &machine_path, "start-form");
        // Invalid JSON disables the button and says why.
        page.eval(&mut b, "(() => { const t = document.querySelector('#start-form textarea'); t.value = '{\"id\": '; t.dispatchEvent(new Event('input')); })()");
        assert_eq!(page.eval(&mut b, "document.querySelector('#start-execution').disabled"), json!(true));
        let why = page.eval(&mut b, "document.querySelector('#start-form .field-error').textContent");
        assert!(why.as_str().unwrap().starts_with("Invalid JSON"), "{why}");
        let set = format!(
            "(() => {{ const t = document.querySelector('#start-form textarea'); t.value = {}; t.dispatchEvent(new Event('input')); }})()",
            serde_json::to_string(&order.to_string()).unwrap()
        );
        page.eval(&mut b, &set);
        assert_eq!(page.eval(&mut b, "document.querySelector('#start-execution').disabled"), json!(false));
        page.eval(&mut b, "document.querySelector('#start-execution').click()");
        // The form leads to the new execution's page, which follows it live.
        page.wait_for(&mut b, "document.body.dataset.page === 'executions' && document.body.dataset.ready === 'true'", Duration::from_secs(30));
        page.wait_for(&mut b, "document.querySelector('[data-state=\"WaitForApproval\"]').dataset.status === 'RUNNING'", Duration::from_secs(30));
        page.wait_for(&mut b, "document.querySelector('.approval button.approve')", Duration::from_secs(30));
        assert_eq!(page_statuses(&mut page, &mut b)["PriceOrder"], "SUCCEEDED");
        assert_eq!(page_statuses(&mut page, &mut b)["Fulfil"], "NOT_STARTED");
        page.screenshot(&mut b, &screenshot_path("execution-waiting"));
        let arn = page.eval(&mut b, "decodeURIComponent(location.pathname.split('/').pop())").as_str().unwrap().to_string();
        page.eval(&mut b, "document.querySelector('.approval button.approve').click()");
        page.wait_for(&mut b, "document.body.dataset.executionStatus === 'SUCCEEDED'", Duration::from_secs(30));
        let statuses = page_statuses(&mut page, &mut b);
        for state in ["PriceOrder", "WaitForApproval", "Fulfil"] {
            assert_eq!(statuses[state], "SUCCEEDED", "{statuses:?}");
        }
        assert_eq!(statuses["Rejected"], "NOT_STARTED");
        page.screenshot(&mut b, &screenshot_path("execution-approved"));
        assert!(page.problems.is_empty(), "{:?}", page.problems);
        arn
    })
    .await
    .unwrap();
    let d = h.sfn.describe_execution().execution_arn(&arn).send().await.unwrap();
    assert_eq!(d.status(), &ExecutionStatus::Succeeded);
    let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    assert_eq!(out["approval"], json!({"approved": true}));

    // Stop, from the page of another waiting execution.
    let r = h.sfn.start_execution().state_machine_arn(&machine).input(example("approval/order.json").to_string()).send().await.unwrap();
    let second = r.execution_arn().to_string();
    let base = h.server.endpoint();
    let path = format!("/console/executions/{}", enc(&second));
    tokio::task::spawn_blocking(move || {
        let mut b = Browser::launch();
        let mut page = b.new_page();
        visit(&mut page, &mut b, &base, &path, "execution-running");
        page.wait_for(&mut b, "document.querySelector('#stop-execution')", Duration::from_secs(30));
        page.eval(&mut b, "document.querySelector('#stop-execution').click()");
        page.wait_for(&mut b, "document.body.dataset.executionStatus === 'ABORTED'", Duration::from_secs(30));
        assert!(page.problems.is_empty(), "{:?}", page.problems);
    })
    .await
    .unwrap();
    assert_eq!(wait_status(&h, &second, |s| *s != ExecutionStatus::Running).await, ExecutionStatus::Aborted);

    // A page left open follows an execution answered elsewhere (polling, no reload).
    let r = h.sfn.start_execution().state_machine_arn(&machine).input(example("approval/order.json").to_string()).send().await.unwrap();
    let third = r.execution_arn().to_string();
    let (base, sfn) = (h.server.endpoint(), h.sfn.clone());
    let path = format!("/console/executions/{}", enc(&third));
    tokio::task::spawn_blocking(move || {
        let mut b = Browser::launch();
        let mut page = b.new_page();
        visit(&mut page, &mut b, &base, &path, "execution-live");
        page.wait_for(&mut b, "document.querySelector('.approval[data-token]')", Duration::from_secs(30));
        let token = page.eval(&mut b, "document.querySelector('.approval[data-token]').dataset.token");
        page.eval(&mut b, "window.loadedOnce = true");
        let send = sfn.send_task_success().task_token(token.as_str().unwrap()).output(r#"{"by":"cli"}"#).send();
        tokio::runtime::Handle::current().block_on(send).expect("SendTaskSuccess");
        page.wait_for(&mut b, "document.querySelector('[data-state=\"Fulfil\"]').dataset.status === 'SUCCEEDED'", Duration::from_secs(30));
        assert_eq!(page.eval(&mut b, "window.loadedOnce === true && document.body.dataset.executionStatus"), json!("SUCCEEDED"));
        assert!(page.problems.is_empty(), "{:?}", page.problems);
    })
    .await
    .unwrap();
    h.server.shutdown().await.unwrap();
}

/// `stepbox logs EXECUTION_ARN`: each Task attempt's log, from the server;
/// `-f` follows a running execution until it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_command_prints_each_task_attempts_log() {
    let h = start().await;
    for (name, component) in [("transform", "transform"), ("processed", "processed"), ("logger", "logger")] {
        create_function(&h, name, component).await;
    }
    let order = create_machine(&h, "order", &example("workflows/order.asl.json")).await;
    let arn = run_to_end(&h, &order, &example("workflows/order.input.json")).await;
    let endpoint = h.server.endpoint();
    let (code, out, err) = tokio::task::spawn_blocking(move || stepbox_tests::stepbox(&["logs", &arn, "--endpoint", &endpoint]))
        .await
        .unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    // PriceOrder (transform), three Process iterations (processed), Notify (logger).
    assert_eq!(out.matches("== ").count(), 5, "{out}");
    assert!(out.contains("== Notify attempt 1 (logger, "), "{out}");
    assert!(out.contains("logger: state 'Notify' attempt 1"), "{out}");

    // -f on a waiting execution prints until it ends.
    create_function(&h, "notify-approver", "notify_approver").await;
    let approval = create_machine(&h, "approval", &example("approval/approval.asl.json")).await;
    let r = h.sfn.start_execution().state_machine_arn(&approval).input(example("approval/order.json").to_string()).send().await.unwrap();
    let arn = r.execution_arn().to_string();
    let endpoint = h.server.endpoint();
    let follow = {
        let arn = arn.clone();
        tokio::task::spawn_blocking(move || stepbox_tests::stepbox(&["logs", &arn, "--endpoint", &endpoint, "-f"]))
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!follow.is_finished(), "-f returned while the execution waits");
    h.sfn.stop_execution().execution_arn(&arn).send().await.unwrap();
    let (code, out, err) = tokio::time::timeout(Duration::from_secs(10), follow).await.expect("-f ends with the execution").unwrap();
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    assert!(out.contains("== PriceOrder attempt 1 (transform, "), "{out}");
    assert!(out.contains("== WaitForApproval attempt 1 (notify-approver, "), "{out}");

    let (code, _out, err) = tokio::task::spawn_blocking(|| stepbox_tests::stepbox(&["logs", "x", "--endpoint", "http://127.0.0.1:1"])).await.unwrap();
    assert_eq!(code, std::process::ExitCode::from(2));
    assert!(err.contains("connecting to 127.0.0.1:1"), "{err}");
    h.server.shutdown().await.unwrap();
}
