//! Function invocations kept with their execution: in order, bounded, gone
//! with the execution, and not kept for executions the store lacks.

use serde_json::json;

use super::*;
use crate::INVOCATIONS_PER_EXECUTION as PER;

fn invocation(n: u64) -> serde_json::Value {
    json!({"stateName": "Work", "retryCount": n, "logTail": format!("line {n}\n")})
}

fn kept(store: &Store) -> u64 {
    store.read(|r| r.count(Table::Invocations)).unwrap()
}

#[tokio::test]
async fn invocations_are_kept_with_their_execution_in_order_and_bounded() {
    for (store, _dir) in backends() {
        let (a, b) = (execution("sm", "a", 1), execution("sm", "b", 2));
        for r in [&a, &b] {
            store.insert_execution(r.clone()).await.unwrap().unwrap();
        }
        let express = "arn:aws:states:us-east-1:1:express:sm:x:y".to_string();
        store
            .add_invocations(vec![
                (a.arn.clone(), invocation(0)),
                (express.clone(), invocation(0)),
                (b.arn.clone(), invocation(7)),
                (a.arn.clone(), invocation(1)),
            ])
            .await
            .unwrap();
        assert_eq!(store.invocations(&a.arn).unwrap(), Some(vec![invocation(0), invocation(1)]));
        assert_eq!(store.invocations(&b.arn).unwrap(), Some(vec![invocation(7)]));
        assert_eq!(store.invocations(&express).unwrap(), None, "{}", store.describe());

        // Past the bound, the oldest go.
        store.add_invocations((2..PER + 5).map(|n| (a.arn.clone(), invocation(n))).collect()).await.unwrap();
        let list = store.invocations(&a.arn).unwrap().unwrap();
        assert_eq!(list.len() as u64, PER);
        assert_eq!((list[0].clone(), list.last().cloned()), (invocation(5), Some(invocation(PER + 4))));

        // A purged execution's go with it.
        store
            .update_execution(&a.arn, |r| {
                r.status = "SUCCEEDED".into();
                r.stop_date = Some(t(3));
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(store.purge_closed_before(t(10)).await.unwrap(), 1);
        assert_eq!(store.invocations(&a.arn).unwrap(), None);
        assert_eq!(kept(&store), 1, "{}", store.describe());
    }
}
