//! The execution page's remaining parts in the browser: a distributed Map's
//! Map Run (item counts, child executions linked to their own pages) and
//! the Redrive button that reruns its failed child; Reject on a task
//! waiting for its token; a history longer than one page, drawn whole.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::json;

use super::webdriver::Browser;
use super::{create_function, create_machine, enc, example, run_to_end, start, state_names, visit, wait_status};

/// A child fails until its execution is redriven.
fn distributed() -> serde_json::Value {
    json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Check",
            "States": {
                "Check": {"Type": "Choice",
                          "Choices": [{"And": [{"Variable": "$.v", "StringEquals": "fail"},
                                               {"Variable": "$$.Execution.RedriveCount", "NumericEquals": 0}],
                                       "Next": "Boom"}],
                          "Default": "Done"},
                "Boom": {"Type": "Fail", "Error": "Item.Bad", "Cause": "not redriven yet"},
                "Done": {"Type": "Pass", "Parameters": {"got.$": "$.v"}, "End": true}
            }
        },
        "End": true}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_runs_redrive_reject_and_long_histories_on_the_execution_page() {
    let h = start().await;
    let machine = create_machine(&h, "fan", &distributed()).await;
    let failed = run_to_end(&h, &machine, &json!({"items": [{"v": "a"}, {"v": "fail"}, {"v": "b"}]})).await;
    assert_eq!(wait_status(&h, &failed, |_| true).await, ExecutionStatus::Failed);

    for (name, component) in [("transform", "transform"), ("notify-approver", "notify_approver")] {
        create_function(&h, name, component).await;
    }
    let approval = create_machine(&h, "approval", &example("approval/approval.asl.json")).await;
    let r = h.sfn.start_execution().state_machine_arn(&approval).input(example("approval/order.json").to_string()).send().await.unwrap();
    let waiting = r.execution_arn().to_string();

    let long_def = json!({"StartAt": "Many", "States": {"Many": {"Type": "Map", "ItemsPath": "$.items",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}});
    let long_machine = create_machine(&h, "long", &long_def).await;
    let long = run_to_end(&h, &long_machine, &json!({"items": (0..300).collect::<Vec<_>>()})).await;
    let mut long_events = 0;
    let mut token = None;
    loop {
        let page = h.sfn.get_execution_history().execution_arn(&long).max_results(1000).set_next_token(token).send().await.unwrap();
        long_events += page.events().len();
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert!(long_events > 1000, "more than one page: {long_events}");

    let (base, child_states) = (h.server.endpoint(), state_names(&distributed()["States"]["Each"]["ItemProcessor"]).len());
    let (sfn, failed_page, waiting_page) = (h.sfn.clone(), failed.clone(), waiting.clone());
    let rejected = tokio::task::spawn_blocking(move || {
        let mut b = Browser::launch();
        let mut page = b.new_page();
        let rt = tokio::runtime::Handle::current();

        // The Map Run: one row, its counts (one at a time, it stopped at the
        // failure: the third item never started), its two children.
        visit(&mut page, &mut b, &base, &format!("/console/executions/{}", enc(&failed_page)), "execution-map-run");
        page.wait_for(&mut b, "document.querySelector('tr[data-map-run]')", Duration::from_secs(30));
        let counts = "Object.fromEntries([...document.querySelectorAll('tr[data-map-run] td[data-count]')].map(td => [td.dataset.count, td.textContent]))";
        let got = page.eval(&mut b, counts);
        let want = [("total", "3"), ("succeeded", "1"), ("failed", "1"), ("pending", "1")];
        assert!(want.iter().all(|(k, v)| got[k] == json!(v)), "{got}");
        assert_eq!(page.eval(&mut b, "document.querySelector('tr[data-map-run]').dataset.status"), json!("FAILED"));
        assert_eq!(page.eval(&mut b, "document.querySelectorAll('tr[data-map-run] li[data-child]').length"), json!(2));

        // Redrive from the page: the failed child runs again, the third runs, the parent succeeds.
        page.eval(&mut b, "document.querySelector('#redrive-execution').click()");
        page.wait_for(&mut b, "document.body.dataset.executionStatus === 'SUCCEEDED'", Duration::from_secs(30));
        page.wait_for(&mut b, "document.querySelector('tr[data-map-run]').dataset.status === 'SUCCEEDED'", Duration::from_secs(30));
        let got = page.eval(&mut b, counts);
        assert_eq!((&got["succeeded"], &got["failed"]), (&json!("3"), &json!("0")), "{got}");
        let d = rt.block_on(sfn.describe_execution().execution_arn(&failed_page).send()).unwrap();
        assert_eq!((d.status(), d.redrive_count()), (&ExecutionStatus::Succeeded, Some(1)));
        page.screenshot(&mut b, &super::screenshot_path("execution-map-run-redriven"));

        // A child's link opens the child's own page, its graph the Map's processor.
        let child = page.eval(&mut b, "document.querySelector('tr[data-map-run] li[data-child] a').getAttribute('href')");
        visit(&mut page, &mut b, &base, child.as_str().unwrap(), "execution-map-run-child");
        assert_eq!(page.eval(&mut b, "document.querySelectorAll('.graph [data-state]').length"), json!(child_states));

        // Reject a waiting task: its Catch takes the error to the Fail state.
        visit(&mut page, &mut b, &base, &format!("/console/executions/{}", enc(&waiting_page)), "execution-reject");
        page.wait_for(&mut b, "document.querySelector('.approval[data-token]')", Duration::from_secs(30));
        page.eval(&mut b, "(() => { const a = document.querySelector('.approval'); a.querySelector('input[name=cause]').value = 'too dear'; a.querySelector('button.reject').click(); })()");
        page.wait_for(&mut b, "document.body.dataset.executionStatus === 'FAILED'", Duration::from_secs(30));
        page.wait_for(&mut b, "document.querySelector('[data-state=\"Rejected\"]').dataset.status === 'FAILED'", Duration::from_secs(30));
        assert_eq!(page.eval(&mut b, "document.querySelector('[data-state=\"WaitForApproval\"]').dataset.status"), json!("CAUGHT_ERROR"));
        let d = rt.block_on(sfn.describe_execution().execution_arn(&waiting_page).send()).unwrap();
        assert_eq!((d.error(), d.cause()), (Some("OrderRejected"), Some("too dear")));
        let rejected = super::page_statuses(&mut page, &mut b);

        // A history of more than one page: every event has its row.
        visit(&mut page, &mut b, &base, &format!("/console/executions/{}", enc(&long)), "execution-long");
        page.wait_for(&mut b, &format!("document.querySelectorAll('#history tbody tr').length === {long_events}"), Duration::from_secs(30));
        assert!(page.problems.is_empty(), "{:?}", page.problems);
        // The harness does see a console error (so the checks above can fail).
        page.eval(&mut b, "console.error('probe of the browser log'); true");
        assert!(page.problems.iter().any(|p| p.contains("probe of the browser log")), "{:?}", page.problems);
        rejected
    })
    .await
    .unwrap();
    let from_history = super::statuses_from_history(&h, &waiting, &example("approval/approval.asl.json")).await;
    assert_eq!(rejected, from_history);
    h.server.shutdown().await.unwrap();
}
