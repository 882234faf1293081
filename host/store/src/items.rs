//! Items of the built-in DynamoDB integrations' tables (`--dynamodb-table`),
//! by table and key bytes (encoded by `stepbox_invoker::dynamodb`). A change
//! reads and writes one item inside one write transaction, so a conditional
//! write never races another write of the same item.

use async_trait::async_trait;

use crate::StoreError;
use crate::backend::Table;
use crate::store::Store;

type R<T> = Result<T, StoreError>;

/// What a change writes: the new item's bytes, its removal, or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemChange {
    Keep,
    Put(Vec<u8>),
    Delete,
}

/// Decides a change from the item's current bytes (None: absent).
pub type DecideItem = Box<dyn FnOnce(Option<&[u8]>) -> ItemChange + Send>;

#[async_trait]
pub trait Items: Send + Sync {
    async fn get_item(&self, table: &str, key: &[u8]) -> R<Option<Vec<u8>>>;
    /// Applies what `decide` answers for the item at `key`, atomically.
    async fn change_item(&self, table: &str, key: &[u8], decide: DecideItem) -> R<()>;
    /// The items whose key starts with `prefix`, in key order.
    async fn scan_items(&self, table: &str, prefix: &[u8]) -> R<Vec<Vec<u8>>>;
}

/// `table \0 key`: table names never hold a NUL.
fn item_key(table: &str, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(table.len() + 1 + key.len());
    out.extend_from_slice(table.as_bytes());
    out.push(0);
    out.extend_from_slice(key);
    out
}

#[async_trait]
impl Items for Store {
    async fn get_item(&self, table: &str, key: &[u8]) -> R<Option<Vec<u8>>> {
        let key = item_key(table, key);
        self.read(|r| r.get(Table::Items, &key))
    }

    async fn change_item(&self, table: &str, key: &[u8], decide: DecideItem) -> R<()> {
        let key = item_key(table, key);
        self.submit(move |w| {
            let current = w.get(Table::Items, &key)?;
            match decide(current.as_deref()) {
                ItemChange::Keep => Ok(()),
                ItemChange::Put(bytes) => w.put(Table::Items, &key, &bytes),
                ItemChange::Delete => w.delete(Table::Items, &key).map(|_| ()),
            }
        })
        .await
    }

    async fn scan_items(&self, table: &str, prefix: &[u8]) -> R<Vec<Vec<u8>>> {
        let prefix = item_key(table, prefix);
        self.read(|r| Ok(r.scan(Table::Items, &prefix)?.into_iter().map(|(_, v)| v).collect()))
    }
}
