//! The database schema, kept in the repository (`host/store/migrations`)
//! and applied at start, inside one transaction under an advisory lock (so
//! several hosts starting at once apply each migration once). A database
//! whose schema is newer than this binary knows is refused.

use futures::executor::block_on;

use super::conn::{Conn, db_err};
use crate::StoreError;

/// Migrations in order: version `i + 1` is `MIGRATIONS[i]`.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_tables.sql"),
    include_str!("../../migrations/0002_items.sql"),
    include_str!("../../migrations/0003_execution_numbers.sql"),
    include_str!("../../migrations/0004_leases.sql"),
    include_str!("../../migrations/0005_activity_tasks.sql"),
    include_str!("../../migrations/0006_invocations.sql"),
    include_str!("../../migrations/0007_map_runs.sql"),
    include_str!("../../migrations/0008_function_changes.sql"),
];

/// The schema version this binary writes and reads.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// The advisory lock key held while migrating ("stepbox" in ASCII).
const LOCK: i64 = 0x0073_7465_7062_6f78;

const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS stepbox_schema_version (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// Applies the migrations the database lacks; refuses a newer schema.
/// Returns the versions it applied.
pub(crate) fn migrate(conn: &mut Conn, target: &str) -> Result<Vec<i32>, StoreError> {
    migrate_to(conn, target, MIGRATIONS)
}

/// [`migrate`] with `migrations` as the ones this binary knows.
pub(crate) fn migrate_to(conn: &mut Conn, target: &str, migrations: &[&str]) -> Result<Vec<i32>, StoreError> {
    conn.batch("BEGIN")?;
    let applied = apply(conn, target, migrations);
    match &applied {
        Ok(_) => conn.batch("COMMIT")?,
        Err(_) => conn.send("ROLLBACK"),
    }
    applied
}

fn apply(conn: &mut Conn, target: &str, migrations: &[&str]) -> Result<Vec<i32>, StoreError> {
    let client = conn.client.clone();
    block_on(client.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])).map_err(db_err)?;
    conn.batch(VERSION_TABLE)?;
    let row = block_on(client.query_one("SELECT coalesce(max(version), 0) FROM stepbox_schema_version", &[]))
        .map_err(db_err)?;
    let found: i32 = row.try_get(0).map_err(db_err)?;
    let known = migrations.len() as i32;
    if found > known {
        return Err(StoreError::NewerSchema { target: target.to_string(), found, known });
    }
    let mut applied = Vec::new();
    for (i, sql) in migrations.iter().enumerate().skip(found as usize) {
        let version = i as i32 + 1;
        conn.batch(sql).map_err(|e| StoreError::Database(format!("schema migration {version}: {e}")))?;
        block_on(client.execute("INSERT INTO stepbox_schema_version (version) VALUES ($1)", &[&version]))
            .map_err(db_err)?;
        applied.push(version);
    }
    Ok(applied)
}
