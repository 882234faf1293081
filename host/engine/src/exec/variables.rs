//! Workflow variables of one scope (the top level, a Parallel branch or a
//! Map iteration) and AWS's size limits on them: 256 KiB per variable,
//! 256 KiB per `Assign`, 10 MiB stored per execution.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value};
use stepbox_asl::RuntimeError;

use super::size::json_size;

/// Largest single variable, and largest sum of one `Assign`'s values.
pub(super) const ASSIGN_LIMIT: usize = 256 * 1024;
/// Largest total of the variables an execution stores at once.
pub(super) const EXECUTION_LIMIT: usize = 10 * 1024 * 1024;

/// Bytes of variables stored by every live scope of one execution.
pub(super) type Budget = Arc<AtomicUsize>;

pub(super) struct Variables {
    values: Map<String, Value>,
    /// Serialised sizes of the values this scope assigned; inherited ones
    /// are counted by the scope that assigned them.
    own: HashMap<String, usize>,
    budget: Budget,
    /// What the running state assigned, for its `…StateExited` event.
    assigned: Option<Map<String, Value>>,
}

impl Deref for Variables {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Map<String, Value> {
        &self.values
    }
}

impl Variables {
    pub(super) fn new(budget: Budget) -> Self {
        Variables { values: Map::new(), own: HashMap::new(), budget, assigned: None }
    }

    /// A resumed run's variables, counted as this scope's own.
    pub(super) fn restore(values: Map<String, Value>, budget: Budget) -> Self {
        let own: HashMap<String, usize> = values.iter().map(|(k, v)| (k.clone(), json_size(v, usize::MAX))).collect();
        budget.fetch_add(own.values().sum(), Ordering::Relaxed);
        Variables { values, own, budget, assigned: None }
    }

    /// A Parallel branch's or Map iteration's scope: reads the outer
    /// variables; what it assigns stays inside.
    pub(super) fn inner(&self) -> Self {
        Variables { values: self.values.clone(), own: HashMap::new(), budget: self.budget.clone(), assigned: None }
    }

    pub(super) fn values(&self) -> &Map<String, Value> {
        &self.values
    }

    /// Applies one `Assign`'s evaluated bindings, or fails with
    /// `States.Runtime` when a limit would be exceeded (nothing applied).
    pub(super) fn assign(&mut self, bindings: Map<String, Value>) -> Result<(), RuntimeError> {
        // `"Assign": {}` assigns nothing, and AWS's history shows nothing.
        if bindings.is_empty() {
            return Ok(());
        }
        let mut sizes = Vec::with_capacity(bindings.len());
        let mut total = 0;
        for (name, v) in &bindings {
            let size = json_size(v, ASSIGN_LIMIT);
            if size > ASSIGN_LIMIT {
                return Err(RuntimeError::runtime(format!(
                    "The variable '{name}' has a size exceeding the maximum number of bytes service limit of 262144 bytes."
                )));
            }
            total += size;
            sizes.push(size);
        }
        if total > ASSIGN_LIMIT {
            return Err(RuntimeError::runtime(
                "The variables assigned by one Assign have a combined size exceeding the maximum number of bytes service limit of 262144 bytes.",
            ));
        }
        let released: usize = bindings.keys().filter_map(|k| self.own.get(k)).sum();
        let before = self.budget.fetch_add(total, Ordering::Relaxed);
        // `released` is part of `before`: the scope's own values are counted.
        if before + total - released > EXECUTION_LIMIT {
            self.budget.fetch_sub(total, Ordering::Relaxed);
            return Err(RuntimeError::runtime(
                "The variables stored by the execution have a total size exceeding the maximum number of bytes service limit of 10485760 bytes.",
            ));
        }
        self.budget.fetch_sub(released, Ordering::Relaxed);
        let assigned = self.assigned.get_or_insert_with(Map::new);
        for ((name, v), size) in bindings.into_iter().zip(sizes) {
            self.own.insert(name.clone(), size);
            assigned.insert(name.clone(), v.clone());
            self.values.insert(name, v);
        }
        Ok(())
    }

    /// The variables assigned since the last call (by the state that just ran).
    pub(super) fn take_assigned(&mut self) -> Option<Map<String, Value>> {
        self.assigned.take()
    }

    /// Forgets assignments of a state whose events are not recorded.
    pub(super) fn clear_assigned(&mut self) {
        self.assigned = None;
    }
}

impl Clone for Variables {
    /// A copy holds its own copies of this scope's values: it counts them too.
    fn clone(&self) -> Self {
        self.budget.fetch_add(self.own.values().sum(), Ordering::Relaxed);
        Variables { values: self.values.clone(), own: self.own.clone(), budget: self.budget.clone(), assigned: self.assigned.clone() }
    }
}

impl Drop for Variables {
    /// A finished scope's variables go out of scope and stop counting.
    fn drop(&mut self) {
        self.budget.fetch_sub(self.own.values().sum(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> Value {
        Value::String("x".repeat(n - 2))
    }

    fn one(name: &str, v: Value) -> Map<String, Value> {
        Map::from_iter([(name.to_string(), v)])
    }

    #[test]
    fn per_variable_and_per_assign_limits() {
        let mut vars = Variables::new(Budget::default());
        vars.assign(one("a", text(ASSIGN_LIMIT))).unwrap();
        let e = vars.assign(one("b", text(ASSIGN_LIMIT + 1))).unwrap_err();
        assert!(e.cause.contains("'b'"), "{}", e.cause);
        let two = Map::from_iter([("x".to_string(), text(ASSIGN_LIMIT / 2 + 1)), ("y".to_string(), text(ASSIGN_LIMIT / 2))]);
        assert!(vars.assign(two).unwrap_err().cause.contains("combined size"));
        assert_eq!(vars.keys().collect::<Vec<_>>(), ["a"], "a failed Assign applies nothing");
    }

    #[test]
    fn execution_total_counts_every_live_scope_and_releases_finished_ones() {
        let budget = Budget::default();
        let mut top = Variables::new(budget.clone());
        for i in 0..39 {
            top.assign(one(&format!("v{i}"), text(ASSIGN_LIMIT))).unwrap();
        }
        // Reassigning a name replaces its value rather than adding to it.
        top.assign(one("v0", text(ASSIGN_LIMIT))).unwrap();
        let mut branch = top.inner();
        branch.assign(one("w", text(ASSIGN_LIMIT))).unwrap();
        let mut sibling = top.inner();
        let e = sibling.assign(one("w", text(ASSIGN_LIMIT))).unwrap_err();
        assert!(e.cause.contains("total size"), "{}", e.cause);
        drop(branch);
        sibling.assign(one("w", text(ASSIGN_LIMIT))).unwrap();
        assert_eq!(sibling.take_assigned(), Some(one("w", text(ASSIGN_LIMIT))));
        assert_eq!(sibling.take_assigned(), None);
        drop(sibling);
        drop(top);
        assert_eq!(budget.load(Ordering::Relaxed), 0);
    }
}
