//! The tables the built-in DynamoDB integrations serve: their key schemas
//! (`--dynamodb-table NAME=HASH[:TYPE][,RANGE[:TYPE]]`) and where their
//! items live ([`ItemStore`]: stepbox's own store on `serve`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use stepbox_engine::BoxFuture;

use super::error::DynamoError;
use super::eval::Item;
use super::value;

/// What a change of one item writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemWrite {
    Keep,
    Put(Vec<u8>),
    Delete,
}

/// Decides an item's change from the item as it is (None: absent).
pub type Decide = Box<dyn FnOnce(Option<&[u8]>) -> ItemWrite + Send>;

/// Items by table and key bytes. A change reads and writes one item in one
/// transaction, so a conditional write sees no concurrent change.
pub trait ItemStore: Send + Sync {
    fn get(&self, table: &str, key: Vec<u8>) -> BoxFuture<'static, Result<Option<Vec<u8>>, String>>;
    fn change(&self, table: &str, key: Vec<u8>, decide: Decide) -> BoxFuture<'static, Result<(), String>>;
    /// The items whose key starts with `prefix`, in key order.
    fn scan(&self, table: &str, prefix: Vec<u8>) -> BoxFuture<'static, Result<Vec<Vec<u8>>, String>>;
}

/// Items in memory, for one `stepbox run` and for tests.
#[derive(Default)]
pub struct MemoryItems(std::sync::Mutex<BTreeMap<(String, Vec<u8>), Vec<u8>>>);

impl MemoryItems {
    fn items(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, Vec<u8>), Vec<u8>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ItemStore for MemoryItems {
    fn get(&self, table: &str, key: Vec<u8>) -> BoxFuture<'static, Result<Option<Vec<u8>>, String>> {
        let found = self.items().get(&(table.to_string(), key)).cloned();
        Box::pin(async move { Ok(found) })
    }

    fn change(&self, table: &str, key: Vec<u8>, decide: Decide) -> BoxFuture<'static, Result<(), String>> {
        let mut items = self.items();
        let slot = (table.to_string(), key);
        match decide(items.get(&slot).map(Vec::as_slice)) {
            ItemWrite::Keep => {}
            ItemWrite::Put(bytes) => {
                items.insert(slot, bytes);
            }
            ItemWrite::Delete => {
                items.remove(&slot);
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn scan(&self, table: &str, prefix: Vec<u8>) -> BoxFuture<'static, Result<Vec<Vec<u8>>, String>> {
        let found = self
            .items()
            .range((table.to_string(), prefix.clone())..)
            .take_while(|((t, k), _)| t == table && k.starts_with(&prefix))
            .map(|(_, v)| v.clone())
            .collect();
        Box::pin(async move { Ok(found) })
    }
}

/// A key attribute: its name and type (S, N or B).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    pub name: String,
    pub hash: KeyAttribute,
    pub range: Option<KeyAttribute>,
}

/// A `--dynamodb-table` that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--dynamodb-table {spec}: {reason}")]
pub struct BadTable {
    pub spec: String,
    pub reason: String,
}

impl TableSchema {
    /// Parses `NAME=HASH[:TYPE][,RANGE[:TYPE]]`, TYPE one of S (default), N, B.
    pub fn parse(spec: &str) -> Result<TableSchema, BadTable> {
        let bad = |reason: &str| BadTable { spec: spec.into(), reason: reason.into() };
        let (name, keys) = spec.split_once('=').ok_or_else(|| bad("expected NAME=HASH[:TYPE][,RANGE[:TYPE]]"))?;
        let name = name.trim();
        if !valid_table_name(name) {
            return Err(bad("a table name is 3 to 255 of a-z, A-Z, 0-9, '_', '-' and '.'"));
        }
        let mut attributes = keys.split(',').map(|k| {
            let (n, t) = k.split_once(':').unwrap_or((k, "S"));
            let (n, t) = (n.trim(), t.trim().to_ascii_uppercase());
            match (n.is_empty(), t.as_str()) {
                (false, "S" | "N" | "B") => Ok(KeyAttribute { name: n.into(), kind: t }),
                (true, _) => Err(bad("a key attribute has no name")),
                _ => Err(bad("a key attribute's type is S, N or B")),
            }
        });
        let hash = attributes.next().ok_or_else(|| bad("no hash key"))??;
        let range = attributes.next().transpose()?;
        if attributes.next().is_some() {
            return Err(bad("a key has at most a hash and a range attribute"));
        }
        Ok(TableSchema { name: name.into(), hash, range })
    }

    fn attributes(&self) -> impl Iterator<Item = &KeyAttribute> {
        std::iter::once(&self.hash).chain(self.range.as_ref())
    }

    /// The store key of a request's `Key`, which must name exactly the
    /// schema's attributes.
    pub fn key_of_key(&self, key: &Item) -> Result<Vec<u8>, DynamoError> {
        if key.len() != self.attributes().count() || self.attributes().any(|a| !key.contains_key(&a.name)) {
            return Err(DynamoError::validation("The provided key element does not match the schema"));
        }
        self.key_bytes(key, |_| DynamoError::validation("The provided key element does not match the schema"))
    }

    /// The store key of an item, which must hold the schema's attributes.
    pub fn key_of_item(&self, item: &Item) -> Result<Vec<u8>, DynamoError> {
        self.key_bytes(item, |a| {
            DynamoError::validation(format!("One or more parameter values were invalid: Missing the key {} in the item", a.name))
        })
    }

    fn key_bytes(&self, item: &Item, missing: impl Fn(&KeyAttribute) -> DynamoError) -> Result<Vec<u8>, DynamoError> {
        let mut out = Vec::new();
        for a in self.attributes() {
            let v = item.get(&a.name).ok_or_else(|| missing(a))?;
            let actual = value::type_of(v).unwrap_or("?");
            if actual != a.kind {
                return Err(DynamoError::validation(format!(
                    "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {actual}",
                    a.name, a.kind
                )));
            }
            out.extend(value::key_bytes(v).ok_or_else(|| missing(a))?);
        }
        Ok(out)
    }

    /// The item's key attributes alone.
    pub fn key_part(&self, item: &Item) -> Item {
        self.attributes().filter_map(|a| item.get(&a.name).map(|v| (a.name.clone(), v.clone()))).collect()
    }

    pub fn is_key(&self, attribute: &str) -> bool {
        self.attributes().any(|a| a.name == attribute)
    }
}

/// DynamoDB's table name rule.
pub fn valid_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The tables and their items.
#[derive(Clone)]
pub struct Tables {
    schemas: Arc<BTreeMap<String, TableSchema>>,
    store: Arc<dyn ItemStore>,
    /// Whose items: the store's table name is `ACCOUNT/TABLE`.
    account: String,
}

impl Tables {
    pub fn new(schemas: Vec<TableSchema>, store: Arc<dyn ItemStore>) -> Tables {
        Tables { schemas: Arc::new(schemas.into_iter().map(|s| (s.name.clone(), s)).collect()), store, account: String::new() }
    }

    /// These tables as an account's executions see them.
    pub fn for_account(&self, account: &str) -> Tables {
        Tables { account: account.to_string(), ..self.clone() }
    }

    /// The store's name of table `name` for this account.
    fn stored(&self, name: &str) -> String {
        format!("{}/{name}", self.account)
    }

    pub(crate) async fn get(&self, table: &str, key: Vec<u8>) -> Result<Option<Vec<u8>>, DynamoError> {
        self.store.get(&self.stored(table), key).await.map_err(DynamoError::Internal)
    }

    pub(crate) async fn change(&self, table: &str, key: Vec<u8>, decide: Decide) -> Result<(), DynamoError> {
        self.store.change(&self.stored(table), key, decide).await.map_err(DynamoError::Internal)
    }

    pub(crate) async fn scan(&self, table: &str, prefix: Vec<u8>) -> Result<Vec<Vec<u8>>, DynamoError> {
        self.store.scan(&self.stored(table), prefix).await.map_err(DynamoError::Internal)
    }

    /// Parses `--dynamodb-table` specs.
    pub fn parse_specs<S: AsRef<str>>(specs: &[S]) -> Result<Vec<TableSchema>, BadTable> {
        specs.iter().map(|s| TableSchema::parse(s.as_ref())).collect()
    }

    pub fn schema(&self, name: &str) -> Result<&TableSchema, DynamoError> {
        self.schemas.get(name).ok_or(DynamoError::ResourceNotFound)
    }
}

/// Reads a stored item.
pub fn decode(bytes: &[u8]) -> Result<Item, DynamoError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(item)) => Ok(item),
        _ => Err(DynamoError::Internal("a stored item is not a JSON object".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn specs_parse_with_types() {
        let s = TableSchema::parse("Orders=pk,sk:N").unwrap();
        assert_eq!(s.hash, KeyAttribute { name: "pk".into(), kind: "S".into() });
        assert_eq!(s.range, Some(KeyAttribute { name: "sk".into(), kind: "N".into() }));
        assert!(TableSchema::parse("Orders").is_err());
        assert!(TableSchema::parse("x=pk").is_err());
        assert!(TableSchema::parse("Orders=pk:Q").is_err());
        assert!(TableSchema::parse("Orders=a,b,c").is_err());
    }

    #[test]
    fn keys_must_match_the_schema() {
        let s = TableSchema::parse("Orders=pk,sk:N").unwrap();
        let key = json!({"pk": {"S": "a"}, "sk": {"N": "1"}});
        assert!(s.key_of_key(key.as_object().unwrap()).is_ok());
        let e = s.key_of_key(json!({"pk": {"S": "a"}}).as_object().unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "The provided key element does not match the schema");
        let e = s.key_of_item(json!({"pk": {"S": "a"}, "sk": {"S": "1"}}).as_object().unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S");
        let e = s.key_of_item(json!({"sk": {"N": "1"}}).as_object().unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "One or more parameter values were invalid: Missing the key pk in the item");
    }
}
