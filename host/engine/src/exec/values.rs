//! Values by index, kept as serde_json trees or as their JSON text. A
//! distributed Map's children are up to millions of items and results: an
//! item such as `{"id":1}` costs ~270 bytes as a tree (an `IndexMap`, for
//! `preserve_order`) and 16 as text, so the children's inputs and results
//! are kept as text, each parsed again when its child starts or its result
//! file is written.

use serde_json::Value;
use std::borrow::Cow;

pub(super) enum Values {
    Trees(Vec<Value>),
    /// JSON texts; an empty one is null (an unset slot allocates nothing).
    Texts(Vec<Box<str>>),
}

impl Values {
    /// None yet; `compact`: kept as text.
    pub(super) fn new(compact: bool) -> Self {
        if compact { Values::Texts(Vec::new()) } else { Values::Trees(Vec::new()) }
    }

    /// `n` nulls.
    pub(super) fn nulls(n: usize, compact: bool) -> Self {
        if compact { Values::Texts(vec![Box::default(); n]) } else { Values::Trees(vec![Value::Null; n]) }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Values::Trees(v) => v.len(),
            Values::Texts(t) => t.len(),
        }
    }

    pub(super) fn push(&mut self, v: Value) {
        match self {
            Values::Trees(all) => all.push(v),
            Values::Texts(all) => all.push(text(&v)),
        }
    }

    /// Replaces value `i` (an index past the end is ignored).
    pub(super) fn set(&mut self, i: usize, v: Value) {
        match self {
            Values::Trees(all) => {
                if let Some(slot) = all.get_mut(i) {
                    *slot = v;
                }
            }
            Values::Texts(all) => {
                if let Some(slot) = all.get_mut(i) {
                    *slot = text(&v);
                }
            }
        }
    }

    /// Value `i` (null past the end).
    pub(super) fn get(&self, i: usize) -> Cow<'_, Value> {
        match self {
            Values::Trees(all) => all.get(i).map_or(Cow::Owned(Value::Null), Cow::Borrowed),
            Values::Texts(all) => Cow::Owned(all.get(i).map_or(Value::Null, |t| parse(t))),
        }
    }

    /// Value `i`'s JSON text, as serde_json writes it compact (`null` past
    /// the end).
    pub(super) fn json_text(&self, i: usize) -> Cow<'_, str> {
        match self {
            Values::Trees(all) => Cow::Owned(
                all.get(i)
                    .map_or_else(|| "null".to_string(), Value::to_string),
            ),
            Values::Texts(all) => match all.get(i) {
                Some(t) if !t.is_empty() => Cow::Borrowed(t),
                _ => Cow::Borrowed("null"),
            },
        }
    }

    pub(super) fn into_vec(self) -> Vec<Value> {
        match self {
            Values::Trees(all) => all,
            Values::Texts(all) => all.iter().map(|t| parse(t)).collect(),
        }
    }
}

impl Default for Values {
    fn default() -> Self {
        Values::Trees(Vec::new())
    }
}

fn text(v: &Value) -> Box<str> {
    if v.is_null() { Box::default() } else { v.to_string().into_boxed_str() }
}

/// A text [`text`] wrote: serde_json's own output, so it parses (to the
/// same value: floats are written shortest and read back exactly).
fn parse(t: &str) -> Value {
    if t.is_empty() { Value::Null } else { serde_json::from_str(t).unwrap_or(Value::Null) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_give_back_what_was_kept() {
        let kept = [json!({"b": 1, "a": [1.5, "é", null]}), Value::Null, json!(0.1), json!(u64::MAX), json!(-7), json!("")];
        for compact in [false, true] {
            let mut v = Values::new(compact);
            for k in &kept {
                v.push(k.clone());
            }
            assert_eq!(v.len(), kept.len());
            for (i, k) in kept.iter().enumerate() {
                assert_eq!(&*v.get(i), k, "compact {compact}");
                assert_eq!(v.json_text(i), k.to_string(), "compact {compact}");
            }
            assert_eq!(v.json_text(99), "null");
            assert_eq!(*v.get(99), Value::Null);
            v.set(1, json!({"z": true}));
            assert_eq!(*v.get(1), json!({"z": true}));
            let all = v.into_vec();
            assert_eq!(all[0].as_object().unwrap().keys().collect::<Vec<_>>(), ["b", "a"], "key order kept");
        }
        let n = Values::nulls(3, true);
        assert_eq!(n.into_vec(), vec![Value::Null; 3]);
    }
}
