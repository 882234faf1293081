//! Functions by name: what a Task state's resource (or a Lambda-style
//! invoke) resolves to. Shared by the CLI, the engine adapter and the server.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use crate::{ArtifactStore, Function, Limits, RegisterError, Sandbox};

/// A function: a compiled component and its configured limits.
#[derive(Debug, Clone)]
pub struct RegisteredFunction {
    pub name: String,
    pub function: Arc<Function>,
    pub limits: Limits,
}

/// Name → function. Registration compiles (or loads the cached artifact);
/// lookups are cheap clones of an `Arc`.
#[derive(Clone)]
pub struct Registry {
    sandbox: Sandbox,
    functions: Arc<RwLock<HashMap<String, RegisteredFunction>>>,
    /// Where registrations look for artifacts first and keep them (set once).
    artifacts: Arc<OnceLock<Arc<dyn ArtifactStore>>>,
    /// What a lookup of a name not registered here asks (set once): a
    /// server on a database several hosts share registers a function another
    /// host created on its first use.
    loader: Arc<OnceLock<Loader>>,
}

/// Registers `name` from elsewhere (see [`Registry::load_missing_with`]).
pub type Loader = Arc<dyn Fn(&Registry, &str) -> Option<RegisteredFunction> + Send + Sync>;

impl Registry {
    pub fn new(sandbox: Sandbox) -> Self {
        Registry { sandbox, functions: Default::default(), artifacts: Default::default(), loader: Default::default() }
    }

    /// From now on, a [`get`](Self::get) of a name not registered asks
    /// `loader` (which registers it, or answers None). Only the first call
    /// has an effect.
    pub fn load_missing_with(&self, loader: Loader) -> bool {
        self.loader.set(loader).is_ok()
    }

    /// From now on, registrations of this registry (and its clones) load
    /// artifacts from `store` before the sandbox's cache directory, and keep
    /// what they compiled or found elsewhere there. Only the first call has
    /// an effect; returns whether this one did.
    pub fn keep_artifacts_in(&self, store: Arc<dyn ArtifactStore>) -> bool {
        self.artifacts.set(store).is_ok()
    }

    /// The artifact keys of every registered function (see
    /// [`Sandbox::artifact_key`]).
    pub fn artifact_keys(&self) -> std::collections::BTreeSet<String> {
        let functions = self.functions.read().unwrap_or_else(|e| e.into_inner());
        functions.values().map(|f| self.sandbox.artifact_key_of(&f.function)).collect()
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// Compile `wasm` and register it as `name`, replacing any previous
    /// version. With a fuel budget ([`Limits::fuel`]) it is compiled for
    /// the sandbox's fuel-counting engine ([`Sandbox::compile_counting`]).
    pub fn register(&self, name: &str, wasm: &[u8], limits: Limits) -> Result<RegisteredFunction, RegisterError> {
        let store = self.artifacts.get().map(|s| &**s);
        let function = match limits.fuel {
            Some(_) => self.sandbox.compile_counting(wasm, store)?,
            None => self.sandbox.compile_with(wasm, store)?,
        };
        let registered = RegisteredFunction { name: name.to_string(), function, limits };
        self.functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), registered.clone());
        Ok(registered)
    }

    /// Register an already compiled function as `name` (no compilation),
    /// replacing any previous version: one component under several names.
    pub fn insert(&self, name: &str, function: Arc<Function>, limits: Limits) -> RegisteredFunction {
        let registered = RegisteredFunction { name: name.to_string(), function, limits };
        self.functions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), registered.clone());
        registered
    }

    /// Give function `name` and its qualified names (`name:…`: versions,
    /// aliases) the fuel budget `fuel` from their next invocation on,
    /// compiling each distinct component again for the engine the budget
    /// needs (see [`Sandbox::for_counting`]). Returns how many names changed.
    pub fn set_fuel(&self, name: &str, fuel: Option<u64>) -> Result<usize, RegisterError> {
        let prefix = format!("{name}:");
        let entries: Vec<RegisteredFunction> = {
            let functions = self.functions.read().unwrap_or_else(|e| e.into_inner());
            functions.values().filter(|f| f.name == name || f.name.starts_with(&prefix)).cloned().collect()
        };
        let store = self.artifacts.get().map(|s| &**s);
        let mut compiled: Vec<(Arc<Function>, Arc<Function>)> = Vec::new();
        let mut changed = Vec::new();
        for entry in entries {
            let function = match compiled.iter().find(|(from, _)| Arc::ptr_eq(from, &entry.function)) {
                Some((_, to)) => to.clone(),
                None => {
                    let to = self.sandbox.for_counting(&entry.function, fuel.is_some(), store)?;
                    compiled.push((entry.function.clone(), to.clone()));
                    to
                }
            };
            let was = entry.function.clone();
            changed.push((was, RegisteredFunction { function, limits: Limits { fuel, ..entry.limits }, ..entry }));
        }
        // A name registered again meanwhile (new code) keeps what it got.
        let mut functions = self.functions.write().unwrap_or_else(|e| e.into_inner());
        let mut count = 0;
        for (was, f) in changed {
            if functions.get(&f.name).is_some_and(|now| Arc::ptr_eq(&now.function, &was)) {
                functions.insert(f.name.clone(), f);
                count += 1;
            }
        }
        Ok(count)
    }

    /// Register every `NAME.wasm` in `dir` as function NAME.
    pub fn register_dir(&self, dir: &std::path::Path, limits: &Limits) -> anyhow::Result<Vec<String>> {
        let mut names = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "wasm") {
                let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
                let wasm = std::fs::read(&path)?;
                self.register(&name, &wasm, limits.clone())
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                names.push(name);
            }
        }
        Ok(names)
    }

    pub fn get(&self, name: &str) -> Option<RegisteredFunction> {
        let found = self.functions.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned();
        match (found, self.loader.get()) {
            (None, Some(loader)) => loader(self, name),
            (found, _) => found,
        }
    }

    /// `name` as registered here, without asking the loader.
    pub fn peek(&self, name: &str) -> Option<RegisteredFunction> {
        self.functions.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    pub fn remove(&self, name: &str) -> Option<RegisteredFunction> {
        self.functions.write().unwrap_or_else(|e| e.into_inner()).remove(name)
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<_> = self.functions.read().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        names.sort();
        names
    }
}
