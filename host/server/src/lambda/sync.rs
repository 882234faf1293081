//! Functions on a database several hosts share. A host registers a function
//! another host created on its first use there (an Invoke, a Task state, any
//! request of the function API naming it), with its published versions and
//! aliases. Every write of a function on any host gives it a new revision
//! in the database and notifies the hosts (see `stepbox_store`'s
//! `function_revisions`); each host that holds the function loads it again
//! (reusing the compiled code when the digest is unchanged) or forgets it
//! once deleted. Each host also compares the revisions every
//! [`Wakeups::fallback`](stepbox_store::Wakeups) anyway, so a missed
//! notification delays a change by that much at most.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use stepbox_sandbox::{Function, Limits, RegisteredFunction, Registry};
use stepbox_store::{Revisions, Store, StoreError};

use super::source_build::BuildStatus;
use super::versions::{self, Published};
use super::{Code, FunctionTable, environment};
use crate::AppState;

/// What a host keeps to follow the functions of a shared database.
#[derive(Default)]
pub(crate) struct Shared {
    /// The database (set on a shared store only).
    store: OnceLock<Store>,
    /// Bumped before each reload: a first load that raced one drops what it
    /// read (it may be older than the change).
    changes: AtomicU64,
    /// Held while a function is written through this host or loaded again.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The revisions this host has seen: their digest, and each function's.
    seen: Mutex<(Revisions, HashMap<String, i64>)>,
}

impl Shared {
    /// Function `name` could not be loaded again: the next look compares
    /// every revision and tries it again.
    fn look_again(&self, name: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.0 = (i64::MIN, -1);
        seen.1.remove(name);
    }

    /// Held while function `name` is written through this host (its
    /// reload after another host's write waits for it, and the reverse).
    pub(crate) async fn writing(&self, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self.locks.lock().unwrap_or_else(|e| e.into_inner()).entry(name.to_string()).or_default().clone();
        lock.lock_owned().await
    }
}

/// On a shared store: functions this host has not registered are loaded
/// from `store` on first use, and [`watch`] follows other hosts' writes.
pub(crate) fn follow(store: Store, functions: &Arc<FunctionTable>, registry: &Registry) {
    let _ = functions.shared.store.set(store);
    registry.load_missing_with(loader(Arc::downgrade(functions)));
}

/// The revisions as they are before this host loads its functions at start
/// (a change made meanwhile is then seen by [`watch`]).
pub(crate) async fn note_revisions(state: &AppState) -> Result<(), StoreError> {
    if let Some((digest, all)) = state.store.function_revisions((0, 0)).await? {
        *state.functions.shared.seen.lock().unwrap_or_else(|e| e.into_inner()) = (digest, all.into_iter().collect());
    }
    Ok(())
}

/// Until the server stops: loads again every function another host wrote
/// (woken by its notification, or looking every fallback period).
pub(crate) async fn watch(state: AppState, durability: Arc<crate::durable::Durability>) {
    let Some(wake) = state.store.wakeups() else { return };
    loop {
        tokio::select! {
            _ = wake.functions_written() => {}
            _ = durability.until_stopped() => return,
        }
        let seen = state.functions.shared.seen.lock().unwrap_or_else(|e| e.into_inner()).0;
        let changed = match state.store.function_revisions(seen).await {
            Ok(None) => continue,
            Ok(Some((digest, all))) => take_changes(&state.functions, digest, all),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read which functions changed");
                continue;
            }
        };
        for name in changed {
            if !reload(&state, &name).await {
                state.functions.shared.look_again(&name);
            }
        }
    }
}

/// Records the revisions now (`digest`, `all`), answering the functions
/// whose revision is not the one seen.
fn take_changes(functions: &FunctionTable, digest: Revisions, all: Vec<(String, i64)>) -> Vec<String> {
    let mut seen = functions.shared.seen.lock().unwrap_or_else(|e| e.into_inner());
    let changed = all.iter().filter(|(name, r)| seen.1.get(name) != Some(r)).map(|(name, _)| name.clone()).collect();
    *seen = (digest, all.into_iter().collect());
    changed
}

/// Loads function `name` again if this host holds it (forgets it once
/// deleted); not while this host builds it from source. False when the
/// store could not be read.
async fn reload(state: &AppState, name: &str) -> bool {
    let _writing = state.functions.shared.writing(name).await;
    state.functions.shared.changes.fetch_add(1, Ordering::AcqRel);
    if !holds(&state.registry, &state.functions, name) || building(&state.functions, name) {
        return true;
    }
    let Some(store) = state.functions.shared.store.get().cloned() else { return true };
    let (registry, functions, owned) = (state.registry.clone(), state.functions.clone(), name.to_string());
    match tokio::task::spawn_blocking(move || load(&store, &registry, &functions, &owned, true)).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::warn!(function = %name, error = %e, "cannot load a function another host changed");
            false
        }
        Err(e) => {
            tracing::warn!(function = %name, error = %e, "loading a changed function failed");
            false
        }
    }
}

/// On a shared database, a request naming function `name` loads it first
/// when this host does not hold it: a store that cannot be read is its
/// error (not a function that does not exist).
pub(crate) async fn ensure(state: &AppState, name: &str) -> Result<(), StoreError> {
    let Some(store) = state.functions.shared.store.get().cloned() else { return Ok(()) };
    if holds(&state.registry, &state.functions, name) || building(&state.functions, name) {
        return Ok(());
    }
    let (registry, functions, owned) = (state.registry.clone(), state.functions.clone(), name.to_string());
    match tokio::task::spawn_blocking(move || load_first(&store, &registry, &functions, &owned)).await {
        Ok(loaded) => loaded.map(drop),
        Err(e) => Err(StoreError::Database(format!("loading function {name} failed: {e}"))),
    }
}

/// The first load here of the function of registry entry `key` (`NAME` or
/// `NAME:QUALIFIER`), answering the entry. A reload that raced it (another
/// host's change seen meanwhile) makes it read again: what it keeps was
/// read after the last change this host saw.
fn load_first(store: &Store, registry: &Registry, functions: &FunctionTable, key: &str) -> Result<Option<RegisteredFunction>, StoreError> {
    let name = key.split(':').next().unwrap_or(key);
    loop {
        let before = functions.shared.changes.load(Ordering::Acquire);
        let found = load(store, registry, functions, name, false)?;
        if functions.shared.changes.load(Ordering::Acquire) == before {
            return Ok(found.then(|| registry.peek(key)).flatten());
        }
    }
}

/// Whether this host holds anything of function `name`.
fn holds(registry: &Registry, functions: &FunctionTable, name: &str) -> bool {
    registry.peek(name).is_some()
        || functions.lock().contains_key(name)
        || versions::lock_table(&functions.published).contains_key(name)
}

/// Whether this host is building function `name` from source right now.
fn building(functions: &FunctionTable, name: &str) -> bool {
    matches!(functions.builds().get(name), Some(BuildStatus::Pending | BuildStatus::Updating))
}

/// The registry's loader: `NAME` or `NAME:QUALIFIER` of a function this
/// host does not hold is loaded from the store (a qualifier of one it holds
/// does not exist).
fn loader(functions: std::sync::Weak<FunctionTable>) -> stepbox_sandbox::Loader {
    Arc::new(move |registry: &Registry, key: &str| {
        let functions = functions.upgrade()?;
        let store = functions.shared.store.get()?;
        let name = key.split(':').next().unwrap_or(key);
        if holds(registry, &functions, name) || building(&functions, name) {
            return None;
        }
        match load_first(store, registry, &functions, key) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(function = name, error = %e, "cannot read a stored function");
                None
            }
        }
    })
}

/// Loads function `name` from `store` (its configuration, code, published
/// versions and aliases), replacing what this host held of it; compiled
/// code whose digest did not change is kept. A function the store no longer
/// has is forgotten when `forget_missing`. Answers whether it exists.
fn load(store: &Store, registry: &Registry, functions: &FunctionTable, name: &str, forget_missing: bool) -> Result<bool, StoreError> {
    let Some(record) = store.get_function(name)? else {
        if forget_missing {
            forget(registry, functions, name);
        }
        return Ok(false);
    };
    let held = registry.peek(name);
    let tags = super::fuel::stored(&record.configuration);
    let counting = super::fuel::limits_with(Limits::default(), &tags, functions.default_fuel).is_ok_and(|l| l.fuel.is_some());
    let reusable = |f: &&stepbox_sandbox::RegisteredFunction| f.function.sha256 == record.sha256 && (!counting || f.function.counts_fuel());
    let code = match held.as_ref().filter(reusable) {
        Some(f) => Code::Compiled(f.function.clone()),
        None => match store.function_code(name)? {
            Some(wasm) => Code::Wasm(wasm),
            // Registered here from `--functions DIR` and configured through the API elsewhere.
            None => return Ok(held.is_some()),
        },
    };
    let Some(latest) = super::restore_function(registry, functions, &record, code) else { return Ok(false) };
    let published = store.function_versions_of(name)?.map(|v| Published::from_json(&v)).unwrap_or_default();
    load_versions(store, registry, functions, name, &published, &latest.function)?;
    for alias in &published.aliases {
        let config = match alias.version.as_str() {
            "$LATEST" => Some(record.configuration.clone()),
            v => published.versions.iter().find(|(n, _)| n.to_string() == v).map(|(_, c)| c.clone()),
        };
        let target = registry.peek(&versions::registry_key(name, Some(&alias.version)));
        if let (Some(config), Some(target)) = (config, target) {
            let limits = Limits { env: environment::of(&config, Some(&alias.name)), ..target.limits };
            registry.insert(&format!("{name}:{}", alias.name), target.function, limits);
        }
    }
    let keep: Vec<String> = published.versions.iter().map(|(n, _)| n.to_string()).chain(published.aliases.iter().map(|a| a.name.clone())).collect();
    for key in registry.names() {
        if let Some(q) = key.strip_prefix(name).and_then(|k| k.strip_prefix(':'))
            && !keep.iter().any(|k| k == q)
        {
            registry.remove(&key);
        }
    }
    versions::lock_table(&functions.published).insert(name.to_string(), published);
    Ok(true)
}

/// Registers function `name`'s published versions this host lacks (a
/// version's code and configuration never change: one held is kept, its
/// fuel budget following the function's tags), with their own limits and
/// environment; a version with `$LATEST`'s code shares its compilation.
fn load_versions(
    store: &Store,
    registry: &Registry,
    functions: &FunctionTable,
    name: &str,
    published: &Published,
    latest: &Arc<Function>,
) -> Result<(), StoreError> {
    let tags = functions.lock().get(name).map(|m| m.tags.clone()).unwrap_or_default();
    for (n, config) in &published.versions {
        let key = format!("{name}:{n}");
        let timeout = config.get("Timeout").and_then(Value::as_u64).unwrap_or(3);
        let memory_size = config.get("MemorySize").and_then(Value::as_u64).unwrap_or(128);
        let Ok(limits) = super::limits_in(registry, timeout, memory_size) else { continue };
        let Ok(limits) = super::fuel::limits_with(limits, &tags, functions.default_fuel) else { continue };
        let limits = Limits { env: environment::of(config, None), ..limits };
        let counts = |f: &Function| limits.fuel.is_none() || f.counts_fuel();
        match registry.peek(&key) {
            Some(held) if held.limits.fuel == limits.fuel => continue,
            // The function's fuel budget changed: the version's follows.
            Some(held) if counts(&held.function) => {
                registry.insert(&key, held.function, limits);
                continue;
            }
            _ => {}
        }
        let Some(wasm) = store.function_code(&key)? else { continue };
        if stepbox_sandbox::wasm_sha256(&wasm) == latest.sha256 && counts(latest) {
            registry.insert(&key, latest.clone(), limits);
        } else if let Err(e) = registry.register(&key, &wasm, limits) {
            tracing::error!(version = %key, error = %e, "cannot load a published version");
        }
    }
    Ok(())
}

/// Forgets everything this host holds of function `name` (deleted).
fn forget(registry: &Registry, functions: &FunctionTable, name: &str) {
    for key in registry.names() {
        if key == name || key.strip_prefix(name).is_some_and(|k| k.starts_with(':')) {
            registry.remove(&key);
        }
    }
    functions.lock().remove(name);
    versions::lock_table(&functions.published).remove(name);
    functions.reservations.remove(name);
    functions.builds().remove(name);
}
