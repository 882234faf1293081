//! The state machine, version and alias caches.

use super::*;

fn state_machine(revision: &str) -> StateMachineRecord {
    StateMachineRecord {
        arn: "arn:aws:states:us-east-1:1:stateMachine:cached".into(),
        name: "cached".into(),
        definition: format!(r#"{{"Comment": "{revision}"}}"#),
        role_arn: "r".into(),
        kind: "STANDARD".into(),
        description: String::new(),
        creation_date: t(0),
        revision_id: revision.into(),
        extra: Default::default(),
    }
}

/// A state machine read again is served from memory (every start reads
/// its own), and every write of it is seen once durable: update, delete,
/// create again.
#[tokio::test]
async fn state_machine_reads_are_cached_and_writes_seen_once_durable() {
    let (held, store) = held_store();
    let reads = || held.reads.load(std::sync::atomic::Ordering::Relaxed);
    let arn = state_machine("").arn;
    let revision = |store: &Store| store.get_state_machine(&arn).unwrap().map(|r| r.revision_id);

    let created = store.insert_state_machine(state_machine("r1"));
    held.release();
    created.await.unwrap().unwrap();
    assert_eq!(revision(&store).as_deref(), Some("r1"));
    let before = reads();
    for _ in 0..10 {
        assert_eq!(revision(&store).as_deref(), Some("r1"));
    }
    assert_eq!(reads(), before, "served from memory");

    let updated = store.put_state_machine(&state_machine("r2"));
    assert_eq!(revision(&store).as_deref(), Some("r1"), "not durable yet");
    held.release();
    updated.await.unwrap();
    assert_eq!(revision(&store).as_deref(), Some("r2"));

    let deleted = store.delete_state_machine(&arn);
    held.release();
    assert!(deleted.await.unwrap());
    assert_eq!(revision(&store), None);

    let again = store.insert_state_machine(state_machine("r3"));
    held.release();
    again.await.unwrap().unwrap();
    assert_eq!(revision(&store).as_deref(), Some("r3"));
}

/// A read that began before a write became durable must not fill the
/// cache with what it read: the record may be the one replaced.
#[test]
fn a_state_machine_read_from_before_a_write_does_not_fill_the_cache() {
    let cache = crate::store::RecordCache::<StateMachineRecord>::default();
    let old = state_machine("old");
    let Err(generation) = cache.get(&old.arn) else { panic!("empty") };
    cache.written(&old.arn);
    cache.fill(generation, &old.arn, &old);
    assert!(cache.get(&old.arn).is_err(), "the stale record was not kept");
    let Err(generation) = cache.get(&old.arn) else { panic!("empty") };
    cache.fill(generation, &old.arn, &old);
    assert_eq!(cache.get(&old.arn).map(|r| r.revision_id).ok().as_deref(), Some("old"));
}

fn version_of(machine: &StateMachineRecord) -> VersionRecord {
    VersionRecord {
        arn: String::new(),
        state_machine_arn: machine.arn.clone(),
        number: 0,
        definition: machine.definition.clone(),
        role_arn: machine.role_arn.clone(),
        description: String::new(),
        creation_date: t(1),
        revision_id: machine.revision_id.clone(),
        extra: Default::default(),
    }
}

fn alias_to(version_arn: &str, description: &str) -> AliasRecord {
    let machine = state_machine("").arn;
    AliasRecord {
        arn: format!("{machine}:prod"),
        state_machine_arn: machine,
        name: "prod".into(),
        description: description.into(),
        routing: vec![Route { version_arn: version_arn.into(), weight: 100 }],
        creation_date: t(2),
        update_date: t(2),
        extra: Default::default(),
    }
}

/// A start through a qualified ARN reads a version (and an alias): read
/// again, they are served from memory, and every write of them is seen
/// once durable, including deleting their state machine, after which
/// version numbers start again at 1.
#[tokio::test]
async fn version_and_alias_reads_are_cached_and_writes_seen_once_durable() {
    let (held, store) = held_store();
    let reads = || held.reads.load(std::sync::atomic::Ordering::Relaxed);
    async fn durable<T>(held: &Held, commit: crate::Commit<T>) -> T {
        held.release();
        commit.await.unwrap()
    }
    let machine = state_machine("r1");
    durable(&held, store.insert_state_machine(machine.clone())).await.unwrap();
    let (v1, created) = durable(&held, store.publish_version(version_of(&machine))).await;
    assert!(created);
    durable(&held, store.insert_alias(alias_to(&v1.arn, "first"))).await.unwrap();
    let alias_arn = alias_to(&v1.arn, "").arn;
    let version = |store: &Store| store.get_version(&v1.arn).unwrap().map(|v| v.revision_id);
    let alias = |store: &Store| store.get_alias(&alias_arn).unwrap().map(|a| a.description);

    assert_eq!(version(&store).as_deref(), Some("r1"));
    assert_eq!(alias(&store).as_deref(), Some("first"));
    let before = reads();
    for _ in 0..10 {
        assert_eq!(version(&store).as_deref(), Some("r1"));
        assert_eq!(alias(&store).as_deref(), Some("first"));
    }
    assert_eq!(reads(), before, "served from memory");

    let updated = store.update_alias(alias_to(&v1.arn, "second"));
    assert_eq!(alias(&store).as_deref(), Some("first"), "not durable yet");
    assert!(durable(&held, updated).await);
    assert_eq!(alias(&store).as_deref(), Some("second"));
    durable(&held, store.put_alias(&alias_to(&v1.arn, "third"))).await;
    assert_eq!(alias(&store).as_deref(), Some("third"));
    assert!(durable(&held, store.delete_alias(&alias_arn)).await);
    assert_eq!(alias(&store), None);
    durable(&held, store.insert_alias(alias_to(&v1.arn, "fourth"))).await.unwrap();
    assert_eq!(alias(&store).as_deref(), Some("fourth"));

    let replaced = VersionRecord { revision_id: "replaced".into(), ..v1.clone() };
    durable(&held, store.put_version(&replaced)).await;
    assert_eq!(version(&store).as_deref(), Some("replaced"));
    assert!(durable(&held, store.delete_version(&v1.arn)).await);
    assert_eq!(version(&store), None);
    let (v2, _) = durable(&held, store.publish_version(version_of(&machine))).await;
    assert_eq!(v2.number, 2, "numbers are never reused");

    // Deleting the state machine drops its versions and aliases; created
    // again, its first version has the ARN version 1 had.
    assert_eq!(store.get_version(&v2.arn).unwrap().map(|v| v.number), Some(2));
    assert_eq!(alias(&store).as_deref(), Some("fourth"));
    assert!(durable(&held, store.delete_state_machine(&machine.arn)).await);
    assert_eq!(store.get_version(&v2.arn).unwrap(), None);
    assert_eq!(alias(&store), None);
    durable(&held, store.insert_state_machine(state_machine("r2"))).await.unwrap();
    let (again, _) = durable(&held, store.publish_version(version_of(&state_machine("r2")))).await;
    assert_eq!(again.arn, v1.arn);
    assert_eq!(version(&store).as_deref(), Some("r2"));
}
