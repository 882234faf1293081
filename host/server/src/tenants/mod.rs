//! Multi-tenant hosting (`stepbox serve --tenants FILE`): who may call the
//! server, with which key, as which account.
//!
//! Without tenants the server is single-user: every request acts as the
//! server's own account, unauthenticated. With tenants every request but
//! `GET /health` must be signed (AWS Signature Version 4, [`sigv4`]) with a
//! key of the file; a tenant's key acts as its account.

mod auth;
pub mod config;
pub(crate) mod quota;
pub(crate) mod scope;
pub mod sigv4;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use stepbox_types::Identity;

use crate::ServerConfig;

pub(crate) use auth::{Api, authenticate};
pub use config::{KeyOwner, Quotas, Tenant, TenantsConfig, TenantsError};

/// The tenants in force: a file's, replaced whole by [`reload`](Self::reload).
pub struct TenantSet {
    file: Option<PathBuf>,
    current: RwLock<Arc<TenantsConfig>>,
}

impl std::fmt::Debug for TenantSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantSet").field("file", &self.file).field("tenants", &self.current().tenants.len()).finish()
    }
}

impl TenantSet {
    /// Reads and checks `file` (see [`TenantsConfig::load`]).
    pub fn load(file: &Path) -> Result<Self, TenantsError> {
        let config = TenantsConfig::load(file)?;
        Ok(TenantSet { file: Some(file.to_path_buf()), current: RwLock::new(Arc::new(config)) })
    }

    /// Tenants given directly (embedding, tests); [`reload`](Self::reload) keeps them.
    pub fn fixed(config: TenantsConfig) -> Self {
        TenantSet { file: None, current: RwLock::new(Arc::new(config)) }
    }

    /// The tenants in force now.
    pub fn current(&self) -> Arc<TenantsConfig> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reads the file again; the tenants in force change only if it is
    /// valid (else they stay as they were and the error says why). Returns
    /// how many tenants are in force.
    pub fn reload(&self) -> Result<usize, TenantsError> {
        let Some(file) = &self.file else { return Ok(self.current().tenants.len()) };
        let config = TenantsConfig::load(file)?;
        let n = config.tenants.len();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        Ok(n)
    }

    /// Replaces the tenants in force (embedding, tests).
    pub fn replace(&self, config: TenantsConfig) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
    }
}

/// Who made a request (a request's extension once authenticated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Single-user mode: no authentication, the server's own account.
    Anyone,
    /// A tenant, by one of its keys.
    Tenant(Tenant),
    /// An operator, by an `[admin]` key.
    Admin,
}

/// What the server keeps per tenant account: the configuration its
/// requests run with (the server's, with the tenant's account as the
/// account of every ARN it makes), its start-rate bucket and its
/// invocation slots.
#[derive(Default)]
pub(crate) struct AccountConfigs {
    by_account: Mutex<HashMap<String, Arc<ServerConfig>>>,
    pub(crate) start_rates: quota::StartRates,
    pub(crate) concurrency: quota::Concurrency,
    pub(crate) open_executions: quota::OpenExecutions,
    /// What each account did (`GET /metrics`).
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
}

impl AccountConfigs {
    pub(crate) fn get(&self, base: &ServerConfig, account: &str) -> Arc<ServerConfig> {
        let mut map = self.by_account.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(account.to_string())
            .or_insert_with(|| {
                let identity = Identity::new(base.identity.region.clone(), account);
                Arc::new(ServerConfig { identity, ..base.clone() })
            })
            .clone()
    }
}
