//! Every record kind written and read back, on both backends.

use super::*;

#[tokio::test]
async fn executions_histories_and_checkpoints_round_trip() {
    for (store, _dir) in backends() {
        let a = execution("sm", "a", 1);
        let b = execution("sm", "b", 2);
        store.insert_execution(a.clone()).await.unwrap().unwrap();
        store.insert_execution(b.clone()).await.unwrap().unwrap();
        let dup = store.insert_execution(a.clone()).await.unwrap();
        assert_eq!(
            dup.map_err(|e| e.name),
            Err("a".to_string()),
            "{}",
            store.describe()
        );
        let names: Vec<String> = store
            .list_executions(&a.state_machine_arn)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["b", "a"], "newest first");
        assert_eq!(store.running_executions().unwrap().len(), 2);

        // Events out of order come back ordered by id (ids above 255 sort numerically).
        for id in [3, 1, 2, 300] {
            drop(store.append_event(&a.arn, &event(id, EventType::PassStateEntered)));
        }
        let cp = checkpoint(json!({"x": 1}), 2);
        store.save_checkpoint(&a.arn, &cp).await.unwrap();
        let h = store.history(&a.arn).unwrap();
        assert_eq!(h.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2, 3, 300]);
        assert_eq!(
            h[0].to_aws_json(),
            event(1, EventType::PassStateEntered).to_aws_json()
        );
        assert_eq!(store.last_event_id(&a.arn).unwrap(), 300);
        assert_eq!(
            store.last_event_id(&b.arn).unwrap(),
            0,
            "no bleed between executions"
        );
        assert_eq!(store.checkpoint(&a.arn).unwrap(), Some(cp));

        let closed = store
            .update_execution(&a.arn, |r| {
                r.status = "SUCCEEDED".into();
                r.stop_date = Some(t(10));
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(closed.status, "SUCCEEDED");
        assert_eq!(
            store.checkpoint(&a.arn).unwrap(),
            None,
            "a closed execution drops its checkpoint"
        );
        assert_eq!(
            store
                .running_executions()
                .unwrap()
                .iter()
                .map(|e| e.name.clone())
                .collect::<Vec<_>>(),
            ["b"]
        );
        assert!(
            store
                .update_execution("arn:nope", |_| {})
                .await
                .unwrap()
                .is_none()
        );

        // Retention: only closed executions stopped before the cutoff go.
        assert_eq!(store.purge_closed_before(t(5)).await.unwrap(), 0);
        assert_eq!(store.purge_closed_before(t(11)).await.unwrap(), 1);
        assert!(store.get_execution(&a.arn).unwrap().is_none());
        assert!(store.history(&a.arn).unwrap().is_empty());
        assert_eq!(
            store.list_executions(&a.state_machine_arn).unwrap().len(),
            1
        );
        assert!(store.get_execution(&b.arn).unwrap().is_some());
    }
}

#[tokio::test]
async fn machines_versions_aliases_tags_functions_and_tokens_round_trip() {
    for (store, _dir) in backends() {
        let sm = StateMachineRecord {
            arn: "arn:aws:states:us-east-1:1:stateMachine:m".into(),
            name: "m".into(),
            definition: "{}".into(),
            role_arn: "r".into(),
            kind: "STANDARD".into(),
            description: String::new(),
            creation_date: t(0),
            revision_id: "r1".into(),
            extra: Default::default(),
        };
        store
            .insert_state_machine(sm.clone())
            .await
            .unwrap()
            .unwrap();
        assert!(
            store
                .insert_state_machine(sm.clone())
                .await
                .unwrap()
                .is_err()
        );
        assert_eq!(store.list_state_machines().unwrap(), [sm.clone()]);
        let candidate = |revision: &str| VersionRecord {
            arn: String::new(),
            state_machine_arn: sm.arn.clone(),
            number: 0,
            definition: "{}".into(),
            role_arn: "r".into(),
            description: String::new(),
            creation_date: t(1),
            revision_id: revision.into(),
            extra: Default::default(),
        };
        let (v1, created) = store.publish_version(candidate("")).await.unwrap();
        assert!(created);
        assert_eq!((v1.number, v1.arn.clone()), (1, format!("{}:1", sm.arn)));
        let (again, created) = store.publish_version(candidate("")).await.unwrap();
        assert!(!created, "the same revision is not published twice");
        assert_eq!(again, v1);
        let (v2, _) = store.publish_version(candidate("r2")).await.unwrap();
        assert!(store.delete_version(&v2.arn).await.unwrap());
        let (v3, _) = store.publish_version(candidate("r3")).await.unwrap();
        assert_eq!(v3.number, 3, "numbers are never reused");
        for n in [4u64, 10] {
            store
                .put_version(&VersionRecord {
                    arn: format!("{}:{n}", sm.arn),
                    number: n,
                    ..candidate("x")
                })
                .await
                .unwrap();
        }
        let versions: Vec<u64> = store
            .list_versions(&sm.arn)
            .unwrap()
            .iter()
            .map(|v| v.number)
            .collect();
        assert_eq!(versions, [10, 4, 3, 1]);
        let alias = AliasRecord {
            arn: format!("{}:prod", sm.arn),
            state_machine_arn: sm.arn.clone(),
            name: "prod".into(),
            description: String::new(),
            routing: vec![Route {
                version_arn: format!("{}:1", sm.arn),
                weight: 100,
            }],
            creation_date: t(0),
            update_date: t(0),
            extra: Default::default(),
        };
        store.insert_alias(alias.clone()).await.unwrap().unwrap();
        assert!(store.insert_alias(alias.clone()).await.unwrap().is_err());
        assert!(
            store
                .update_alias(AliasRecord {
                    description: "d".into(),
                    ..alias.clone()
                })
                .await
                .unwrap()
        );
        assert_eq!(store.list_aliases(&sm.arn).unwrap()[0].description, "d");
        assert!(
            !store
                .update_alias(AliasRecord {
                    arn: "nope".into(),
                    ..alias.clone()
                })
                .await
                .unwrap()
        );
        store
            .set_tags(&sm.arn, vec![("k".into(), "v".into())])
            .await
            .unwrap();
        assert_eq!(
            store.tags(&sm.arn).unwrap(),
            [("k".to_string(), "v".to_string())]
        );
        assert!(store.delete_state_machine(&sm.arn).await.unwrap());
        assert!(store.tags(&sm.arn).unwrap().is_empty());
        assert!(
            store.list_versions(&sm.arn).unwrap().is_empty(),
            "versions go with their machine"
        );
        assert!(
            store.list_aliases(&sm.arn).unwrap().is_empty(),
            "aliases go with their machine"
        );

        let f = FunctionRecord {
            name: "echo".into(),
            arn: "arn:aws:lambda:us-east-1:1:function:echo".into(),
            sha256: "00".into(),
            configuration: json!({"FunctionName": "echo"}),
            last_modified: t(0),
        };
        store
            .put_function(&f, Arc::from(&b"\0asm"[..]))
            .await
            .unwrap();
        store
            .put_artifact("00-engine", Arc::from(&b"elf"[..]))
            .await
            .unwrap();
        assert_eq!(store.get_function("echo").unwrap(), Some(f));
        assert_eq!(
            store.function_code("echo").unwrap().as_deref(),
            Some(&b"\0asm"[..])
        );
        assert_eq!(
            store.artifact("00-engine").unwrap().as_deref(),
            Some(&b"elf"[..])
        );
        assert!(store.delete_function("echo").await.unwrap());
        assert!(store.function_code("echo").unwrap().is_none());
        for key in ["01-engine", "00-old-engine"] {
            store.put_artifact(key, Arc::from(&b"elf"[..])).await.unwrap();
        }
        assert_eq!(store.artifact_keys().unwrap(), ["00-engine", "00-old-engine", "01-engine"]);
        let keep = ["00-engine".to_string(), "01-engine".to_string()].into();
        assert_eq!(store.delete_artifacts_except(keep).await.unwrap(), 1);
        assert_eq!(store.artifact_keys().unwrap(), ["00-engine", "01-engine"]);
        assert_eq!(store.artifact("01-engine").unwrap().as_deref(), Some(&b"elf"[..]));

        let token = TaskTokenRecord {
            token: "tok".into(),
            execution_arn: "e".into(),
            state_name: "S".into(),
            entered_event_id: 4,
            created: t(0),
            extra: json!(null),
        };
        store.put_task_token(&token).await.unwrap();
        assert_eq!(store.task_tokens().unwrap(), [token.clone()]);
        assert_eq!(store.take_task_token("tok").await.unwrap(), Some(token));
        assert_eq!(
            store.take_task_token("tok").await.unwrap(),
            None,
            "a token is consumed once"
        );
    }
}

#[tokio::test]
async fn a_reopened_directory_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let e = execution("sm", "a", 1);
    {
        let store = open_dir(dir.path()).unwrap();
        store.insert_execution(e.clone()).await.unwrap().unwrap();
        drop(store.append_event(&e.arn, &event(1, EventType::ExecutionStarted)));
        store
            .append_event(&e.arn, &event(2, EventType::PassStateEntered))
            .await
            .unwrap();
    }
    let store = reopen(dir.path());
    assert_eq!(store.running_executions().unwrap().len(), 1);
    assert_eq!(store.history(&e.arn).unwrap().len(), 2);
}

#[tokio::test]
async fn many_concurrent_writers_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(RedbBackend::open(&dir.path().join("s.redb"), 8 << 20).unwrap());
    let stats = backend.stats().clone();
    let store = Store::new(backend);
    let x = execution("sm", "x", 1);
    store.insert_execution(x.clone()).await.unwrap().unwrap();
    let writes: Vec<_> = (0..2000)
        .map(|i| store.append_event(&x.arn, &event(i + 1, EventType::PassStateEntered)))
        .collect();
    for w in writes {
        w.await.unwrap();
    }
    let commits = stats.commits.load(std::sync::atomic::Ordering::Relaxed) - 1;
    assert_eq!(stats.ops.load(std::sync::atomic::Ordering::Relaxed), 2001);
    assert!(commits < 200, "2000 queued writes took {commits} commits");
    assert_eq!(store.history(&x.arn).unwrap().len(), 2000);
}

#[tokio::test]
async fn items_change_atomically_and_scan_by_table_and_prefix() {
    for (store, _dir) in backends() {
        let put = |b: &'static [u8]| -> DecideItem { Box::new(move |_| ItemChange::Put(b.to_vec())) };
        store.change_item("t", b"a1", put(b"one")).await.unwrap();
        store.change_item("t", b"a2", put(b"two")).await.unwrap();
        store.change_item("tt", b"a1", put(b"other table")).await.unwrap();
        // The decision sees the item as it is; Keep writes nothing.
        store
            .change_item("t", b"a1", Box::new(|cur| {
                assert_eq!(cur, Some(&b"one"[..]));
                ItemChange::Keep
            }))
            .await
            .unwrap();
        assert_eq!(store.get_item("t", b"a1").await.unwrap(), Some(b"one".to_vec()), "{}", store.describe());
        assert_eq!(store.scan_items("t", b"a").await.unwrap(), [b"one".to_vec(), b"two".to_vec()]);
        store.change_item("t", b"a1", Box::new(|_| ItemChange::Delete)).await.unwrap();
        assert_eq!(store.get_item("t", b"a1").await.unwrap(), None);
        assert_eq!(store.scan_items("tt", b"").await.unwrap(), [b"other table".to_vec()]);
    }
}

/// A write's prefix scans see what it (and earlier writes of the same
/// transaction) put and deleted, not yet committed, over what is stored:
/// on PostgreSQL the unsent writes are laid over the server's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_scans_its_own_puts_and_deletes_over_what_is_stored() {
    for (store, _dir) in backends() {
        let at = |k: &str| k.as_bytes().to_vec();
        store
            .submit(move |w| {
                for k in ["p1", "p2", "p3", "q1"] {
                    w.put(Table::Tags, k.as_bytes(), b"stored")?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let (seen, keys) = store
            .submit(move |w| {
                w.put(Table::Tags, b"p2", b"changed")?;
                w.delete(Table::Tags, b"p3")?;
                w.put(Table::Tags, b"p0", b"new")?;
                w.put(Table::Tags, b"q2", b"new")?;
                Ok((w.scan(Table::Tags, b"p")?, w.keys(Table::Tags, b"q")?))
            })
            .await
            .unwrap();
        let expected = [(at("p0"), b"new".to_vec()), (at("p1"), b"stored".to_vec()), (at("p2"), b"changed".to_vec())];
        assert_eq!(seen, expected, "{}", store.describe());
        assert_eq!(keys, [at("q1"), at("q2")], "{}", store.describe());
        let all = store.submit(|w| w.keys(Table::Tags, b"")).await.unwrap();
        assert_eq!(all, [at("p0"), at("p1"), at("p2"), at("q1"), at("q2")], "{}", store.describe());
    }
}
