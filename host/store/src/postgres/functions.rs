//! Function changes across hosts (schema 8): every transaction writing a
//! function's record, code or published versions (or deleting them) gives
//! the function a new revision in `stepbox_function_changes` and notifies
//! `f`; each host compares the revisions with the ones it saw (see
//! [`Leases::function_revisions`](crate::Leases::function_revisions)) and
//! loads the changed functions again.

use futures::executor::block_on;

use super::PostgresBackend;
use super::conn::db_err;
use super::write::Overlay;
use crate::StoreError;
use crate::backend::{Revisions, Table};

/// The functions an overlay writes: names of `functions` and
/// `function_versions` keys, and of `function_code` keys (`NAME` or `NAME:N`).
pub(super) fn changed(overlay: &Overlay) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for table in [Table::Functions, Table::FunctionVersions, Table::FunctionCode] {
        for key in overlay.get(&table).into_iter().flat_map(|t| t.keys()) {
            let key = String::from_utf8_lossy(key);
            names.insert(key.split(':').next().unwrap_or_default().to_string());
        }
    }
    names.into_iter().collect()
}

const DIGEST: &str = "SELECT coalesce(sum(revision), 0)::bigint, count(*) FROM stepbox_function_changes";
const ALL: &str = "SELECT name, revision FROM stepbox_function_changes";

impl PostgresBackend {
    /// Every function's revision unless their digest is still `seen`.
    pub(super) fn revisions_since(&self, seen: Revisions) -> Result<Option<(Revisions, Vec<(String, i64)>)>, StoreError> {
        self.on_conn(|c| {
            let row = block_on(c.client.query_one(DIGEST, &[])).map_err(db_err)?;
            let digest: Revisions = (row.try_get(0).map_err(db_err)?, row.try_get(1).map_err(db_err)?);
            if digest == seen {
                return Ok(None);
            }
            let rows = block_on(c.client.query(ALL, &[])).map_err(db_err)?;
            let all: Vec<(String, i64)> =
                rows.iter().map(|r| Ok((r.try_get(0).map_err(db_err)?, r.try_get(1).map_err(db_err)?))).collect::<Result<_, StoreError>>()?;
            let digest = (all.iter().map(|(_, r)| r).sum(), all.len() as i64);
            Ok(Some((digest, all)))
        })
    }
}
