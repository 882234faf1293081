//! The built-in DynamoDB integrations keep their items in the server's
//! store: this adapts the store's [`Items`] to the invoker's [`ItemStore`].

use std::sync::Arc;

use stepbox_engine::BoxFuture;
use stepbox_invoker::dynamodb::{Decide, ItemStore, ItemWrite};
use stepbox_store::{ItemChange, Stores};

/// A store's items, as the DynamoDB integrations read and write them.
pub struct StoreItems(pub Arc<dyn Stores>);

impl ItemStore for StoreItems {
    fn get(&self, table: &str, key: Vec<u8>) -> BoxFuture<'static, Result<Option<Vec<u8>>, String>> {
        let (store, table) = (self.0.clone(), table.to_string());
        Box::pin(async move { store.get_item(&table, &key).await.map_err(|e| e.to_string()) })
    }

    fn change(&self, table: &str, key: Vec<u8>, decide: Decide) -> BoxFuture<'static, Result<(), String>> {
        let (store, table) = (self.0.clone(), table.to_string());
        let decide = Box::new(move |current: Option<&[u8]>| match decide(current) {
            ItemWrite::Keep => ItemChange::Keep,
            ItemWrite::Put(bytes) => ItemChange::Put(bytes),
            ItemWrite::Delete => ItemChange::Delete,
        });
        Box::pin(async move { store.change_item(&table, &key, decide).await.map_err(|e| e.to_string()) })
    }

    fn scan(&self, table: &str, prefix: Vec<u8>) -> BoxFuture<'static, Result<Vec<Vec<u8>>, String>> {
        let (store, table) = (self.0.clone(), table.to_string());
        Box::pin(async move { store.scan_items(&table, &prefix).await.map_err(|e| e.to_string()) })
    }
}
