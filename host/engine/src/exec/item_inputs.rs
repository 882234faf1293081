//! A Map's iteration (or child) inputs: each item through ItemSelector,
//! grouped by ItemBatcher, taken one at a time as the items are read (an
//! ItemReader's million items are never all held as trees).

use super::batch::Batcher;
use super::failure::Failure;
use super::io::scope;
use super::jsonata;
use super::running::{NULL, ts};
use super::step::Step;
use super::values::Values;
use serde_json::{Map, Value};
use stepbox_asl::MapSpec;

/// The ItemBatcher, resolved at the first item (its limits read the state's
/// input). A failure to resolve it is reported once every item has been
/// selected, so an ItemSelector failure comes first, as when the batches
/// were made after the selection.
enum Batching {
    None,
    Unresolved,
    Ready(Batcher),
    Failed(Failure),
}

pub(super) struct ItemInputs<'a, 's> {
    s: &'a Step<'s>,
    spec: &'a MapSpec,
    /// The state's input, its effective input and its variables.
    input: &'a Value,
    eff: &'a Value,
    vars: &'a Map<String, Value>,
    batching: Batching,
    index: usize,
    out: Values,
}

impl<'a, 's> ItemInputs<'a, 's> {
    /// `compact`: the inputs are kept as text (a distributed Map's children).
    pub(super) fn new(
        s: &'a Step<'s>,
        spec: &'a MapSpec,
        input: &'a Value,
        eff: &'a Value,
        vars: &'a Map<String, Value>,
        compact: bool,
    ) -> Self {
        let batching = if spec.item_batcher.is_some() { Batching::Unresolved } else { Batching::None };
        ItemInputs { s, spec, input, eff, vars, batching, index: 0, out: Values::new(compact) }
    }

    /// Takes the next item.
    pub(super) fn push(&mut self, item: Value) -> Result<(), Failure> {
        let v = self.select(item)?;
        self.index += 1;
        if let Batching::Unresolved = self.batching {
            self.batching = match self.batcher() {
                Ok(b) => Batching::Ready(b),
                Err(f) => Batching::Failed(f),
            };
        }
        match &mut self.batching {
            Batching::None => self.out.push(v),
            Batching::Ready(b) => {
                if let Some(batch) = b.push(v) {
                    self.out.push(batch);
                }
            }
            Batching::Unresolved | Batching::Failed(_) => {}
        }
        Ok(())
    }

    /// The inputs, the last batch closed.
    pub(super) fn finish(mut self) -> Result<Values, Failure> {
        match std::mem::replace(&mut self.batching, Batching::None) {
            Batching::None => {}
            // No item: the batcher is still read, for its errors.
            Batching::Unresolved => drop(self.batcher()?),
            Batching::Ready(b) => {
                if let Some(last) = b.finish() {
                    self.out.push(last);
                }
            }
            Batching::Failed(f) => return Err(f),
        }
        Ok(self.out)
    }

    /// Item `self.index` through ItemSelector.
    fn select(&self, item: Value) -> Result<Value, Failure> {
        let (s, i) = (self.s, self.index);
        let (ex, st) = (s.ex, s.st);
        let rt = |e| s.rt(e);
        if let Some(t) = st.jsonata.as_deref().and_then(|f| f.item_selector.as_ref()) {
            let c = ex.context(st, &ts(ex.clock.now()), 0, Some((i, &item)), None);
            return t.evaluate(&jsonata::bindings(self.input, None, None, &c, self.vars)).map_err(rt);
        }
        match &self.spec.item_selector {
            None => Ok(item),
            Some(t) => {
                let c = if t.uses_context() { ex.context(st, &ts(ex.clock.now()), 0, Some((i, &item)), None) } else { Value::Null };
                t.eval(&scope(self.eff, &c, self.vars)).map_err(rt)
            }
        }
    }

    fn batcher(&self) -> Result<Batcher, Failure> {
        let (ex, st) = (self.s.ex, self.s.st);
        let cfg = self.spec.item_batcher.as_ref().unwrap_or(&NULL);
        let c;
        let bindings = match st.jsonata {
            Some(_) => {
                c = ex.context(st, &ts(ex.clock.now()), 0, None, None);
                Some(jsonata::bindings(self.input, None, None, &c, self.vars))
            }
            None => None,
        };
        Batcher::new(cfg, self.eff, &NULL, self.vars, bindings.as_ref()).map_err(|e| self.s.rt(e))
    }
}
