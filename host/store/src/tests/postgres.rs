//! The PostgreSQL backend's opening: migrations under a lock, a newer schema
//! refused, an unreachable server, a reopened database, group commit.

use super::*;

const SCHEMA_1: &str = include_str!("../../migrations/0001_tables.sql");

#[test]
fn a_schema_newer_than_the_binary_is_refused() {
    let url = postgres_url();
    // What a later stepbox would leave: one migration more than this one knows.
    let mut later = crate::postgres::MIGRATIONS.to_vec();
    later.push("CREATE TABLE stepbox_later (x integer)");
    let newer = later.len() as i32;
    let applied = PostgresBackend::migrate_with(&url, &later).unwrap();
    assert_eq!(applied, (1..=newer).collect::<Vec<_>>());
    let refused = PostgresBackend::open(&url).err().expect("a newer schema is refused");
    assert!(
        matches!(refused, StoreError::NewerSchema { found, known, .. } if found == newer && known == SCHEMA_VERSION),
        "{refused}"
    );
    let text = refused.to_string();
    assert!(text.contains(&format!("schema version {newer}, newer than this stepbox knows ({SCHEMA_VERSION})")), "{text}");
    assert!(!text.contains("postgres://"), "the URL (and a password) stays out of messages: {text}");
}

#[test]
fn hosts_opening_one_database_at_once_apply_each_migration_once() {
    let url = postgres_url();
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PostgresBackend::migrate_with(&url, &[SCHEMA_1]))
        })
        .collect();
    let mut applied: Vec<i32> = Vec::new();
    for t in opened {
        applied.extend(t.join().unwrap().expect("every host opens the database"));
    }
    assert_eq!(applied, [1], "exactly one host applied migration 1");
    PostgresBackend::open(&url).expect("opens at the version it knows, applying the rest");
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    // Nothing listens on port 1.
    let e = PostgresBackend::open("postgres://stepbox:secret@127.0.0.1:1/stepbox").err().expect("unreachable");
    assert!(matches!(e, StoreError::Unreachable { .. }), "{e}");
    let text = e.to_string();
    assert!(text.starts_with("cannot connect to the database at 127.0.0.1:1/stepbox: "), "{text}");
    assert!(!text.contains("secret"), "{text}");
    let e = PostgresBackend::open("mysql://x").err().expect("not a PostgreSQL URL");
    assert!(e.to_string().contains("postgres://USER[:PASS]@HOST[:PORT]/DB"), "{e}");
}

#[test]
fn any_number_of_hosts_open_one_database() {
    let url = postgres_url();
    let hosts: Vec<_> = (0..3).map(|_| PostgresBackend::open(&url).expect("every host opens it")).collect();
    drop(hosts);
}

#[tokio::test]
async fn a_reopened_database_keeps_everything() {
    let url = postgres_url();
    let e = execution("sm", "a", 1);
    {
        let store = open_postgres(&url).unwrap();
        store.insert_execution(e.clone()).await.unwrap().unwrap();
        drop(store.append_event(&e.arn, &event(1, EventType::ExecutionStarted)));
        store.append_event(&e.arn, &event(2, EventType::PassStateEntered)).await.unwrap();
        store.put_artifact("wasm-hash/engine-hash", Arc::from(&b"artifact"[..])).await.unwrap();
    }
    let store = open_postgres(&url).unwrap();
    assert_eq!(store.running_executions().unwrap().len(), 1);
    assert_eq!(store.history(&e.arn).unwrap().len(), 2);
    assert_eq!(store.get_execution(&e.arn).unwrap().map(|r| r.name), Some("a".into()));
    assert_eq!(store.artifact("wasm-hash/engine-hash").unwrap().as_deref(), Some(&b"artifact"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_writers_share_commits() {
    let backend = Arc::new(PostgresBackend::open(&postgres_url()).unwrap());
    let stats = backend.stats().clone();
    let store = Store::new(backend);
    // Opening marked the ARN index as written by each insert (one write).
    let (commits_at_open, ops_at_open) = (
        stats.commits.load(std::sync::atomic::Ordering::Relaxed),
        stats.ops.load(std::sync::atomic::Ordering::Relaxed),
    );
    let x = execution("sm", "x", 1);
    store.insert_execution(x.clone()).await.unwrap().unwrap();
    let writes: Vec<_> = (0..2000).map(|i| store.append_event(&x.arn, &event(i + 1, EventType::PassStateEntered))).collect();
    for w in writes {
        w.await.unwrap();
    }
    let commits = stats.commits.load(std::sync::atomic::Ordering::Relaxed) - commits_at_open - 1;
    assert_eq!(stats.ops.load(std::sync::atomic::Ordering::Relaxed) - ops_at_open, 2001);
    assert!(commits < 200, "2000 queued writes took {commits} commits");
    assert_eq!(store.history(&x.arn).unwrap().len(), 2000);
}
