//! Map run records: kept, listed by execution, replaced, and deleted with
//! their execution, on every backend.

use super::*;

fn run(execution: &ExecutionRecord, id: &str, start: i64, status: &str) -> MapRunRecord {
    MapRunRecord {
        arn: format!("arn:aws:states:us-east-1:1:mapRun:sm/Each:{id}"),
        execution_arn: execution.arn.clone(),
        state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:sm/Each".into(),
        start_date: t(start),
        stop_date: (status != "RUNNING").then(|| t(start + 1)),
        status: status.into(),
        redrive_count: 0,
        redrive_date: None,
        described: json!({"maxConcurrency": 4, "executionCounts": {"succeeded": 2, "total": 2}}),
    }
}

#[tokio::test]
async fn map_runs_are_kept_listed_by_execution_and_go_with_it() {
    for (store, _dir) in backends() {
        let name = store.describe();
        let a = execution("sm", "a", 1);
        let b = execution("sm", "b", 2);
        store.insert_execution(a.clone()).await.unwrap().unwrap();
        store.insert_execution(b.clone()).await.unwrap().unwrap();
        let (second, first, other) = (run(&a, "2", 5, "RUNNING"), run(&a, "1", 3, "FAILED"), run(&b, "3", 4, "SUCCEEDED"));
        for r in [&second, &first, &other] {
            store.put_map_run(r).await.unwrap();
        }
        let done = MapRunRecord { status: "SUCCEEDED".into(), stop_date: Some(t(9)), ..second.clone() };
        store.put_map_run(&done).await.unwrap();
        assert_eq!(store.get_map_run(&second.arn).unwrap(), Some(done.clone()), "{name}: the last one written");
        assert_eq!(store.map_runs_of(&a.arn).unwrap(), [first.clone(), done.clone()], "{name}: oldest first");
        assert_eq!(store.map_runs_of(&b.arn).unwrap(), [other.clone()], "{name}");
        assert_eq!(store.get_map_run("arn:aws:states:us-east-1:1:mapRun:sm/Each:none").unwrap(), None, "{name}");

        // Execution a closes and passes its retention: its runs go with it.
        store
            .update_execution(&a.arn, |r| {
                r.status = "SUCCEEDED".into();
                r.stop_date = Some(t(10));
            })
            .await
            .unwrap();
        assert_eq!(store.purge_closed_before(t(100)).await.unwrap(), 1, "{name}");
        assert_eq!(store.get_map_run(&first.arn).unwrap(), None, "{name}");
        assert!(store.map_runs_of(&a.arn).unwrap().is_empty(), "{name}");
        assert_eq!(store.get_map_run(&other.arn).unwrap(), Some(other.clone()), "{name}: another execution's stays");
    }
}
