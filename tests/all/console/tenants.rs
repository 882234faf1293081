//! The console on a server with tenants: the page asks for an access key,
//! signs every request with it (SigV4 with Web Crypto, in the browser) and
//! shows only that tenant's state machines, executions and functions.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::FunctionCode;
use serde_json::json;
use stepbox_server::tenants::{TenantSet, TenantsConfig};
use stepbox_server::{AppState, RunningServer, ServerConfig};
use stepbox_tests::shared_sandbox;

use super::webdriver::Browser;
use super::{ROLE, enc, screenshot_path};
use crate::clients::{self, Key};

const ACME: Key = Key { id: "AKIDACME0001", secret: "acme-secret" };
const GLOBEX: Key = Key { id: "AKIDGLOBEX01", secret: "globex-secret" };
const TENANTS: &str = r#"
[[tenant]]
name = "acme"
account = "111111111111"
keys = [{ access_key_id = "AKIDACME0001", secret_access_key = "acme-secret" }]

[[tenant]]
name = "globex"
account = "222222222222"
keys = [{ access_key_id = "AKIDGLOBEX01", secret_access_key = "globex-secret" }]
"#;

/// Runs a machine of `key`'s tenant to its end: its ARN and its execution's.
async fn run(endpoint: &str, key: Key, account: &str, name: &str) -> (String, String) {
    let sfn = clients::sfn_as(endpoint, key);
    let function = format!("arn:aws:lambda:us-east-1:{account}:function:{name}-fn");
    let definition = json!({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Next": "Work"},
        "Work": {"Type": "Task", "Resource": function, "End": true}}});
    let m = sfn.create_state_machine().name(name).role_arn(ROLE).definition(definition.to_string()).send().await.unwrap();
    let started = sfn.start_execution().state_machine_arn(m.state_machine_arn()).input("{\"n\": 1}").send().await.unwrap();
    loop {
        let d = sfn.describe_execution().execution_arn(started.execution_arn()).send().await.unwrap();
        if *d.status() != aws_sdk_sfn::types::ExecutionStatus::Running {
            assert_eq!(*d.status(), aws_sdk_sfn::types::ExecutionStatus::Succeeded, "{d:?}");
            return (m.state_machine_arn().to_string(), started.execution_arn().to_string());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_in_with_a_tenants_key_and_shows_only_its_own() {
    let set = Arc::new(TenantSet::fixed(TenantsConfig::parse(TENANTS).expect("tenants")));
    let config = ServerConfig { tenants: Some(set), wait_time_scale: 0.0, ..ServerConfig::default() };
    let state = AppState::in_memory(config, stepbox_sandbox::Registry::new(shared_sandbox().clone()));
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state).await.expect("server starts");
    let endpoint = server.endpoint();
    for (key, name) in [(ACME, "orders-fn"), (GLOBEX, "secret-flow-fn")] {
        let wasm = stepbox_components::bytes("echo").expect("component");
        clients::lambda_as(&endpoint, key)
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
    let (machine, execution) = run(&endpoint, ACME, "111111111111", "orders").await;
    let (_, secret_execution) = run(&endpoint, GLOBEX, "222222222222", "secret-flow").await;

    let ep = endpoint.clone();
    let (machine2, execution2) = (machine.clone(), execution.clone());
    tokio::task::spawn_blocking(move || {
        let (endpoint, machine, execution) = (ep, machine2, execution2);
        let mut b = Browser::launch();
        let mut page = b.new_page();
        page.open(&mut b, &format!("{endpoint}/console/"));
        assert_eq!(page.eval(&mut b, "document.body.dataset.page"), json!("sign-in"), "asks for a key first");
        page.screenshot(&mut b, &screenshot_path("tenants-sign-in"));
        // A wrong secret is refused and asked for again.
        let sign_in = |secret: &str| {
            format!(
                "document.querySelector('#access-key-id').value = 'AKIDACME0001';\
                 document.querySelector('#secret-access-key').value = '{secret}';\
                 document.body.removeAttribute('data-ready');\
                 document.querySelector('form.sign-in button').click(); true"
            )
        };
        page.eval(&mut b, &sign_in("not-the-secret"));
        page.wait_for(&mut b, "document.body.dataset.ready === 'true'", Duration::from_secs(20));
        assert_eq!(page.eval(&mut b, "document.body.dataset.page"), json!("sign-in"));
        let said = page.eval(&mut b, "document.querySelector('.sign-in .error').textContent");
        assert!(said.as_str().unwrap_or_default().contains("InvalidSignatureException"), "{said}");
        page.problems.clear(); // the refused request's 400 is logged by the browser

        page.eval(&mut b, &sign_in("acme-secret"));
        page.wait_for(&mut b, "document.body.dataset.ready === 'true'", Duration::from_secs(20));
        assert_eq!(page.eval(&mut b, "document.body.dataset.page"), json!("home"));
        let text = page.eval(&mut b, "document.querySelector('#app').textContent").as_str().unwrap().to_string();
        assert!(text.contains("orders") && text.contains("orders-fn"), "{text}");
        assert!(!text.contains("secret-flow"), "another tenant's machines and functions are not shown: {text}");
        let stored = page.eval(&mut b, "JSON.parse(sessionStorage.getItem('stepbox.credentials')).accessKeyId");
        assert_eq!(stored, json!("AKIDACME0001"), "the key is kept for the tab (sessionStorage)");
        assert!(page.problems.is_empty(), "{:?}", page.problems);
        page.screenshot(&mut b, &screenshot_path("tenants-home"));

        for (path, shot) in [
            (format!("/console/state-machines/{}", enc(&machine)), "tenants-machine"),
            ("/console/functions/orders-fn".to_string(), "tenants-function"),
            (format!("/console/executions/{}", enc(&execution)), "tenants-execution"),
        ] {
            page.open(&mut b, &format!("{endpoint}{path}"));
            let error = page.eval(&mut b, "(document.querySelector('#app > .error') || {}).textContent || ''");
            assert_eq!(error, json!(""), "{path} shows an error");
            assert!(page.problems.is_empty(), "{path}: {:?}", page.problems);
            page.screenshot(&mut b, &screenshot_path(shot));
        }
        let statuses = page.eval(&mut b, "[...document.querySelectorAll('.graph [data-state]')].map(n => n.dataset.status)");
        assert_eq!(statuses, json!(["SUCCEEDED", "SUCCEEDED"]), "the execution page (the last one visited) read its signed history");
        let logs = page.eval(
            &mut b,
            &format!("import('/console/assets/api.js').then(m => m.consoleGet('invocations?executionArn={}'))", enc(&execution)),
        );
        assert_eq!(logs["invocations"].as_array().map(Vec::len), Some(1), "its Task's invocation: {logs}");
        let theirs = page.eval(
            &mut b,
            &format!("import('/console/assets/api.js').then(m => m.consoleGet('invocations?executionArn={}'))", enc(&secret_execution)),
        );
        assert_eq!(theirs, json!({"invocations": []}), "another tenant's invocations are not shown");

        page.eval(&mut b, "document.body.removeAttribute('data-ready'); document.querySelector('a.sign-out').click(); true");
        page.wait_for(&mut b, "document.body.dataset.ready === 'true'", Duration::from_secs(20));
        assert_eq!(page.eval(&mut b, "document.body.dataset.page"), json!("sign-in"));
        assert_eq!(page.eval(&mut b, "sessionStorage.getItem('stepbox.credentials')"), json!(null));
    })
    .await
    .unwrap();
    let _ = secret_execution;
    server.shutdown().await.unwrap();
}
