//! Leases of running executions (schema 4): a host's liveness is one row
//! of `stepbox_hosts` it renews; a lease (`stepbox_leases`: execution key,
//! owner, epoch) whose owner's row expired is taken over by another host
//! with `SELECT … FOR UPDATE SKIP LOCKED`, bumping its epoch. The writer
//! checks a journal's epoch under `FOR SHARE` (see `write`), so a takeover
//! commits either before a write (which then finds the new epoch and is
//! refused) or after it (and resumes from what it wrote).

use std::sync::{Arc, mpsc};
use std::time::Duration;

use futures::executor::block_on;

use super::PostgresBackend;
use super::conn::{Conn, Driver, db_err};
use crate::StoreError;
use crate::backend::Leases;

/// This process as a host of the database.
pub(crate) struct Host {
    /// Unique among the hosts that ever used the database.
    pub(crate) id: String,
    pub(crate) lease: Duration,
}

/// A host id: the process id, the time and a random number.
fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut random = std::collections::hash_map::RandomState::new().build_hasher();
    random.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    format!("{}-{:016x}", std::process::id(), random.finish())
}

const RENEW_HOST: &str = "INSERT INTO stepbox_hosts (host, expires) VALUES ($1, now() + make_interval(secs => $2)) \
     ON CONFLICT (host) DO UPDATE SET expires = EXCLUDED.expires";

/// Takes over the leases of hosts whose liveness expired (or that no host
/// row names), skipping rows another transaction holds.
const TAKE_EXPIRED: &str = "WITH expired AS ( \
       SELECT l.key FROM stepbox_leases l LEFT JOIN stepbox_hosts h ON h.host = l.host \
       WHERE h.host IS NULL OR h.expires < now() \
       LIMIT $2 FOR UPDATE OF l SKIP LOCKED) \
     UPDATE stepbox_leases l SET host = $1, epoch = l.epoch + 1 FROM expired WHERE l.key = expired.key \
     RETURNING l.key, l.epoch";

/// Takes the oldest activity task of activity `$1`, skipping rows another
/// host's claim holds: each task goes to one worker.
const CLAIM_ACTIVITY_TASK: &str = "DELETE FROM stepbox_activity_tasks t WHERE t.token = ( \
       SELECT token FROM stepbox_activity_tasks WHERE activity = $1 \
       ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) \
     RETURNING t.token, t.input";

/// Hosts gone for an hour (their leases taken over) are forgotten.
const FORGET_HOSTS: &str = "DELETE FROM stepbox_hosts h WHERE h.expires < now() - interval '1 hour' \
     AND NOT EXISTS (SELECT 1 FROM stepbox_leases l WHERE l.host = h.host)";

impl Host {
    /// A new host, alive for `lease` from now.
    pub(crate) fn register(conn: &Conn, lease: Duration) -> Result<Self, StoreError> {
        let host = Host { id: new_id(), lease };
        host.renew(conn)?;
        Ok(host)
    }

    fn renew(&self, conn: &Conn) -> Result<(), StoreError> {
        block_on(conn.client.execute(RENEW_HOST, &[&self.id, &self.lease.as_secs_f64()])).map_err(db_err)?;
        Ok(())
    }
}

/// Wakes the hosts listening (see `notify`).
fn notify(c: &Conn, payload: &str) -> Result<(), StoreError> {
    block_on(c.client.execute("SELECT pg_notify($1, $2)", &[&super::notify::CHANNEL, &payload])).map_err(db_err)?;
    Ok(())
}

fn epoch_of(row: &tokio_postgres::Row, i: usize) -> Result<u64, StoreError> {
    Ok(u64::try_from(row.try_get::<_, i64>(i).map_err(db_err)?).unwrap_or(0))
}

/// Renews `host`'s liveness every third of its lease, on a thread and a
/// connection of its own: neither a busy runtime nor a busy pool can starve
/// it (a host whose liveness expired loses its executions to the others).
/// Ends once the returned sender is dropped.
pub(crate) fn keep_alive(driver: Arc<Driver>, host: Arc<Host>) -> Result<mpsc::Sender<()>, StoreError> {
    let (stop, stopped) = mpsc::channel::<()>();
    let every = (host.lease / 3).max(Duration::from_millis(30));
    std::thread::Builder::new()
        .name("stepbox-pg-alive".into())
        .spawn(move || {
            let mut conn: Option<Conn> = None;
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                let renewed = match conn.take().filter(|c| !c.is_closed()) {
                    Some(c) => Ok(c),
                    None => driver.connect(),
                }
                .and_then(|c| host.renew(&c).map(|()| c));
                match renewed {
                    Ok(c) => conn = Some(c),
                    Err(e) => tracing::warn!(error = %e, "cannot renew this host's liveness"),
                }
            }
        })
        .map_err(|e| StoreError::Database(format!("cannot start a store thread: {e}")))?;
    Ok(stop)
}

impl PostgresBackend {
    /// `f` on a pooled connection (autocommit).
    pub(super) fn on_conn<T>(&self, f: impl FnOnce(&Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let conn = self.pool.take()?;
        let result = f(&conn);
        self.pool.give(conn);
        result
    }
}

impl Leases for PostgresBackend {
    fn duration(&self) -> Duration {
        self.host.lease
    }

    fn wakeups(&self) -> Arc<crate::backend::Wakeups> {
        self.wakeups.clone()
    }

    fn moved(&self) -> Result<(), StoreError> {
        self.on_conn(|c| notify(c, "t"))
    }

    fn stop_renewing(&self) {
        self.alive.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    fn check(&self, held: &[Vec<u8>]) -> Result<Vec<(Vec<u8>, u64, bool)>, StoreError> {
        self.on_conn(|c| {
            let rows = block_on(c.client.query(
                "SELECT key, epoch, host = $2 FROM stepbox_leases WHERE key = ANY($1::bytea[])",
                &[&held, &self.host.id],
            ))
            .map_err(db_err)?;
            rows.iter()
                .map(|r| Ok((super::conn::bytes(r, 0)?, epoch_of(r, 1)?, r.try_get::<_, bool>(2).map_err(db_err)?)))
                .collect()
        })
    }

    fn take_expired(&self, limit: usize) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
        self.on_conn(|c| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = block_on(c.client.query(TAKE_EXPIRED, &[&self.host.id, &limit])).map_err(db_err)?;
            if rows.is_empty() {
                block_on(c.client.execute(FORGET_HOSTS, &[])).map_err(db_err)?;
            }
            rows.iter().map(|r| Ok((super::conn::bytes(r, 0)?, epoch_of(r, 1)?))).collect()
        })
    }

    fn abandon(&self, key: &[u8]) -> Result<(), StoreError> {
        self.on_conn(|c| {
            block_on(c.client.execute("UPDATE stepbox_leases SET host = '' WHERE key = $1 AND host = $2", &[&key, &self.host.id]))
                .map_err(db_err)?;
            notify(c, "e")
        })
    }

    fn answers(&self, key: &[u8]) -> Result<Vec<(String, String)>, StoreError> {
        self.on_conn(|c| {
            let rows = block_on(c.client.query("SELECT token, signal FROM stepbox_answers WHERE key = $1", &[&key]))
                .map_err(db_err)?;
            rows.iter().map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?))).collect()
        })
    }

    fn forget_answer(&self, token: &str) -> Result<(), StoreError> {
        self.on_conn(|c| {
            block_on(c.client.execute("DELETE FROM stepbox_answers WHERE token = $1", &[&token])).map_err(db_err)?;
            Ok(())
        })
    }

    fn owner(&self, key: &[u8]) -> Result<Option<(String, bool)>, StoreError> {
        self.on_conn(|c| {
            let row = block_on(c.client.query_opt("SELECT host FROM stepbox_leases WHERE key = $1", &[&key]))
                .map_err(db_err)?;
            let Some(row) = row else { return Ok(None) };
            let host: String = row.try_get(0).map_err(db_err)?;
            let mine = host == self.host.id;
            Ok(Some((host, mine)))
        })
    }

    fn send(&self, host: &str, request: &str) -> Result<i64, StoreError> {
        self.on_conn(|c| {
            let row = block_on(c.client.query_one(
                "INSERT INTO stepbox_requests (host, request) VALUES ($1, $2) RETURNING id",
                &[&host, &request],
            ))
            .map_err(db_err)?;
            notify(c, &format!("r:{host}"))?;
            row.try_get(0).map_err(db_err)
        })
    }

    fn answer_to(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.on_conn(|c| {
            let row = block_on(c.client.query_opt(
                "DELETE FROM stepbox_requests WHERE id = $1 AND answer IS NOT NULL RETURNING answer",
                &[&id],
            ))
            .map_err(db_err)?;
            row.map(|r| r.try_get(0).map_err(db_err)).transpose()
        })
    }

    fn readdress(&self, id: i64, host: &str) -> Result<(), StoreError> {
        self.on_conn(|c| {
            block_on(c.client.execute("UPDATE stepbox_requests SET host = $2 WHERE id = $1 AND answer IS NULL", &[&id, &host]))
                .map_err(db_err)?;
            notify(c, &format!("r:{host}"))
        })
    }

    fn withdraw(&self, id: i64) -> Result<(), StoreError> {
        self.on_conn(|c| {
            block_on(c.client.execute("DELETE FROM stepbox_requests WHERE id = $1", &[&id])).map_err(db_err)?;
            Ok(())
        })
    }

    fn requests(&self) -> Result<Vec<(i64, String)>, StoreError> {
        self.on_conn(|c| {
            let rows = block_on(c.client.query(
                "SELECT id, request FROM stepbox_requests WHERE host = $1 AND answer IS NULL ORDER BY id",
                &[&self.host.id],
            ))
            .map_err(db_err)?;
            rows.iter().map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?))).collect()
        })
    }

    fn claim_activity_task(&self, activity: &str) -> Result<Option<(String, String)>, StoreError> {
        self.on_conn(|c| {
            let row = block_on(c.client.query_opt(CLAIM_ACTIVITY_TASK, &[&activity])).map_err(db_err)?;
            row.map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?))).transpose()
        })
    }

    fn function_revisions(&self, seen: crate::backend::Revisions) -> Result<Option<(crate::backend::Revisions, Vec<(String, i64)>)>, StoreError> {
        self.revisions_since(seen)
    }

    fn answer(&self, id: i64, answer: &str) -> Result<(), StoreError> {
        self.on_conn(|c| {
            block_on(c.client.execute("UPDATE stepbox_requests SET answer = $2 WHERE id = $1", &[&id, &answer]))
                .map_err(db_err)?;
            notify(c, &format!("a:{id}"))
        })
    }
}
