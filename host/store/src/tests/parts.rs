//! Finished iterations and branches (engine `Part`s): kept with the
//! checkpoint of their state's entry, read back with it, and deleted once
//! the checkpoint moves on or the execution ends, on every backend.

use super::*;
use stepbox_engine::{HistorySink, Part};

fn part(entered: u64, attempt: u32, index: u32) -> Part {
    Part {
        entered_event_id: entered,
        attempt,
        index,
        outcome: if index % 2 == 0 { Ok(json!({"i": index})) } else { Err(json!({"Error": "Boom"})) },
        started_at: t(1),
        stopped_at: t(2),
    }
}

/// Waits until what the journal gathered is durable (a close that changes nothing).
async fn flushed(journal: &ExecutionJournal) {
    journal.close(|_| {}).await.unwrap().unwrap();
}

#[tokio::test]
async fn parts_come_back_with_their_checkpoint_and_leave_with_it() {
    for (store, _dir) in backends() {
        let name = store.describe();
        let a = execution("sm", "a", 1);
        store.insert_execution(a.clone()).await.unwrap().unwrap();
        let journal = ExecutionJournal::new(store.clone(), a.arn.clone());
        journal.record(event(1, EventType::ExecutionStarted));
        let cp = checkpoint(json!({"items": [1, 2]}), 2);
        journal.checkpoint(&cp);
        for p in [part(2, 0, 1), part(2, 0, 0), part(2, 1, 0)] {
            journal.part(&p);
        }
        flushed(&journal).await;
        let back = store.checkpoint(&a.arn).unwrap().expect("a checkpoint");
        assert_eq!(back.parts, [part(2, 0, 0), part(2, 0, 1), part(2, 1, 0)], "{name}");
        assert_eq!(Checkpoint { parts: Vec::new(), ..back }, cp, "{name}");

        // The checkpoint moves to the next state: its parts go.
        journal.checkpoint(&checkpoint(json!({}), 9));
        journal.part(&part(9, 0, 4));
        flushed(&journal).await;
        let back = store.checkpoint(&a.arn).unwrap().expect("a checkpoint");
        assert_eq!(back.parts, [part(9, 0, 4)], "{name}: only the current state's");

        // A part of a state the same write moves on from is not kept.
        journal.part(&part(9, 0, 5));
        journal.checkpoint(&checkpoint(json!({}), 12));
        flushed(&journal).await;
        assert_eq!(store.checkpoint(&a.arn).unwrap().expect("a checkpoint").parts, [], "{name}");

        // A new run (after a restart) adds to them; the end deletes them all.
        journal.part(&part(12, 0, 0));
        flushed(&journal).await;
        let resumed = ExecutionJournal::new(store.clone(), a.arn.clone());
        resumed.part(&part(12, 0, 1));
        let closed = resumed.close(|r| {
            r.status = "SUCCEEDED".into();
            r.stop_date = Some(t(20));
        });
        closed.await.unwrap().unwrap();
        assert_eq!(store.checkpoint(&a.arn).unwrap(), None, "{name}");
        let left = store.read(|r| r.keys(crate::backend::Table::Checkpoints, b"")).unwrap();
        assert!(left.is_empty(), "{name}: {left:?}");
    }
}

/// A redrive's checkpoint replaces the checkpoint and every part before it
/// with its own parts, in one write.
#[tokio::test]
async fn a_saved_checkpoint_replaces_the_parts_with_its_own() {
    for (store, _dir) in backends() {
        let name = store.describe();
        let a = execution("sm", "a", 1);
        store.insert_execution(a.clone()).await.unwrap().unwrap();
        let journal = ExecutionJournal::new(store.clone(), a.arn.clone());
        journal.checkpoint(&checkpoint(json!({}), 2));
        for p in [part(2, 0, 0), part(2, 0, 1), part(2, 0, 2)] {
            journal.part(&p);
        }
        flushed(&journal).await;
        let redriven = Checkpoint { parts: vec![part(7, 0, 0), part(7, 0, 2)], ..checkpoint(json!({}), 7) };
        store.save_checkpoint(&a.arn, &redriven).await.unwrap();
        assert_eq!(store.checkpoint(&a.arn).unwrap(), Some(redriven), "{name}");
        let keys = store.read(|r| r.keys(crate::backend::Table::Checkpoints, b"")).unwrap();
        assert_eq!(keys.len(), 3, "{name}: the checkpoint and its two parts, no other");
    }
}
