//! The test PostgreSQL server: each test gets a database of its own on the
//! server of `STEPBOX_TEST_DATABASE_URL` (scripts/test.sh starts one and
//! sets it). Without it, a PostgreSQL test fails saying so (it never
//! passes without having run).

use std::sync::atomic::{AtomicUsize, Ordering};

/// The URL of a new, empty database on the test server.
pub fn fresh_database() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let admin = std::env::var("STEPBOX_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "STEPBOX_TEST_DATABASE_URL is not set: run scripts/test.sh, which starts PostgreSQL, or start \
             one and set it to postgres://USER@HOST:PORT/DB (a user who may create databases)"
        )
    });
    let name = format!("stepbox_all_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    stepbox_store::PostgresBackend::create_database(&admin, &name).expect("create a test database")
}
