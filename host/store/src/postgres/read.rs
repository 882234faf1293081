//! Reads: the store's [`Read`] over SQL, one snapshot per `Backend::read`
//! (a REPEATABLE READ, READ ONLY transaction, begun with the first query
//! and committed without waiting: a read of one key is one round trip).

use std::cell::{Cell, RefCell};

use futures::executor::block_on;
use tokio_postgres::Row;

use super::conn::{Conn, Params, Sql, bytes, db_err, pairs};
use crate::StoreError;
use crate::backend::{Read, Table, prefix_end};

const BEGIN_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/// The queries a [`Read`] needs, on some connection (a read's snapshot, or
/// the writer's transaction).
pub(crate) trait Query {
    fn query(&self, sql: Sql, table: Table, params: Params<'_>) -> Result<Vec<Row>, StoreError>;
}

/// A snapshot on one connection.
pub(crate) struct Snapshot<'a> {
    conn: RefCell<&'a mut Conn>,
    begun: Cell<bool>,
}

impl<'a> Snapshot<'a> {
    pub(crate) fn new(conn: &'a mut Conn) -> Self {
        Snapshot { conn: RefCell::new(conn), begun: Cell::new(false) }
    }

    /// Ends the transaction, if one was begun (without waiting).
    pub(crate) fn end(self) {
        if self.begun.get() {
            self.conn.borrow().send("COMMIT");
        }
    }
}

impl Query for Snapshot<'_> {
    fn query(&self, sql: Sql, table: Table, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let mut conn = self.conn.borrow_mut();
        if self.begun.get() {
            return conn.query(sql, table, params);
        }
        let statement = conn.statement(sql, table)?;
        self.begun.set(true);
        // Sent together: the query runs inside the transaction.
        let client = &conn.client;
        let (begun, rows) = block_on(async {
            futures::join!(client.batch_execute(BEGIN_SNAPSHOT), client.query(&statement, params))
        });
        begun.map_err(db_err)?;
        rows.map_err(db_err)
    }
}

/// `Read` for anything that queries (the bounds are computed here once).
pub(crate) fn get(q: &impl Query, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    q.query(Sql::Get, table, &[&key])?.first().map(|r| bytes(r, 0)).transpose()
}

pub(crate) fn scan(q: &impl Query, table: Table, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
    let rows = match prefix_end(prefix) {
        Some(end) => q.query(Sql::Scan, table, &[&prefix, &end])?,
        None => q.query(Sql::ScanOpen, table, &[&prefix])?,
    };
    pairs(rows)
}

pub(crate) fn keys(q: &impl Query, table: Table, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
    let rows = match prefix_end(prefix) {
        Some(end) => q.query(Sql::Keys, table, &[&prefix, &end])?,
        None => q.query(Sql::KeysOpen, table, &[&prefix])?,
    };
    rows.iter().map(|r| bytes(r, 0)).collect()
}

pub(crate) fn count(q: &impl Query, table: Table) -> Result<u64, StoreError> {
    let rows = q.query(Sql::Count, table, &[])?;
    let n: i64 = rows.first().map_or(Ok(0), |r| r.try_get(0)).map_err(db_err)?;
    Ok(n.max(0) as u64)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn scan_from(
    q: &impl Query,
    table: Table,
    start: &[u8],
    n: usize,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
    pairs(q.query(Sql::ScanFrom, table, &[&start, &limit(n)])?)
}

pub(crate) fn scan_back(
    q: &impl Query,
    table: Table,
    prefix: &[u8],
    before: Option<&[u8]>,
    n: usize,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
    let end = match (before, prefix_end(prefix)) {
        (Some(b), Some(e)) => Some(if b < e.as_slice() { b.to_vec() } else { e }),
        (Some(b), None) => Some(b.to_vec()),
        (None, e) => e,
    };
    let rows = match &end {
        Some(end) if end.as_slice() <= prefix => return Ok(Vec::new()),
        Some(end) => q.query(Sql::ScanBack, table, &[&prefix, end, &limit(n)])?,
        None => q.query(Sql::ScanBackOpen, table, &[&prefix, &limit(n)])?,
    };
    pairs(rows)
}

impl Read for Snapshot<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        get(self, table, key)
    }
    fn scan(&self, table: Table, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        scan(self, table, prefix)
    }
    fn keys(&self, table: Table, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        keys(self, table, prefix)
    }
    fn count(&self, table: Table) -> Result<u64, StoreError> {
        count(self, table)
    }
    fn scan_from(&self, table: Table, start: &[u8], n: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        scan_from(self, table, start, n)
    }
    fn scan_back(
        &self,
        table: Table,
        prefix: &[u8],
        before: Option<&[u8]>,
        n: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        scan_back(self, table, prefix, before, n)
    }
}
