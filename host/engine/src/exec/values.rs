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
    Texts(Texts),
}

impl Values {
    /// None yet; `compact`: kept as text.
    pub(super) fn new(compact: bool) -> Self {
        if compact { Values::Texts(Texts::default()) } else { Values::Trees(Vec::new()) }
    }

    /// `n` nulls.
    pub(super) fn nulls(n: usize, compact: bool) -> Self {
        if compact { Values::Texts(Texts::nulls(n)) } else { Values::Trees(vec![Value::Null; n]) }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Values::Trees(v) => v.len(),
            Values::Texts(t) => t.slots.len(),
        }
    }

    pub(super) fn push(&mut self, v: Value) {
        match self {
            Values::Trees(all) => all.push(v),
            Values::Texts(all) => {
                let slot = all.add(&text(&v));
                all.slots.push(slot);
            }
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
                if i < all.slots.len() {
                    all.slots[i] = all.add(&text(&v));
                }
            }
        }
    }

    /// Value `i` (null past the end).
    pub(super) fn get(&self, i: usize) -> Cow<'_, Value> {
        match self {
            Values::Trees(all) => all.get(i).map_or(Cow::Owned(Value::Null), Cow::Borrowed),
            Values::Texts(all) => Cow::Owned(parse(all.get(i))),
        }
    }

    /// Value `i`'s JSON text, as serde_json writes it compact (`null` past
    /// the end).
    pub(super) fn json_text(&self, i: usize) -> Cow<'_, str> {
        match self {
            Values::Trees(all) => Cow::Owned(all.get(i).map_or_else(|| "null".to_string(), Value::to_string)),
            Values::Texts(all) => match all.get(i) {
                "" => Cow::Borrowed("null"),
                t => Cow::Borrowed(t),
            },
        }
    }

    pub(super) fn into_vec(self) -> Vec<Value> {
        match self {
            Values::Trees(all) => all,
            Values::Texts(all) => (0..all.slots.len()).map(|i| parse(all.get(i))).collect(),
        }
    }
}

/// Texts packed one after the other in chunks of up to [`CHUNK`] bytes (a
/// text longer than that has a chunk of its own), each slot naming its place:
/// 12 bytes a slot and the text itself, where a boxed text each cost 16
/// bytes and an allocation rounded up to its size class.
#[derive(Default)]
pub(super) struct Texts {
    chunks: Vec<Vec<u8>>,
    slots: Vec<Slot>,
}

/// A text's place: chunk, offset and length (0: null).
#[derive(Clone, Copy, Default)]
struct Slot {
    chunk: u32,
    start: u32,
    len: u32,
}

/// The largest size of a chunk: large enough that its allocations are few,
/// small enough that the last one's unused end is nothing beside a million
/// texts.
const CHUNK: usize = 1 << 20;
/// The first chunk's size; each next one is twice the last, up to [`CHUNK`].
const FIRST_CHUNK: usize = 4 << 10;

impl Texts {
    fn nulls(n: usize) -> Self {
        Texts { chunks: Vec::new(), slots: vec![Slot::default(); n] }
    }

    /// Stores `t`; returns its slot (the null slot for an empty text).
    fn add(&mut self, t: &str) -> Slot {
        if t.is_empty() {
            return Slot::default();
        }
        let last = self.chunks.last().map_or(0, Vec::capacity);
        let fits = self.chunks.last().is_some_and(|c| c.capacity() - c.len() >= t.len());
        if !fits {
            // Doubling from 4 KiB: a map of a few items holds a few KiB.
            let size = (last * 2).clamp(FIRST_CHUNK, CHUNK).max(t.len());
            self.chunks.push(Vec::with_capacity(size));
        }
        let chunk = self.chunks.len() - 1;
        let bytes = &mut self.chunks[chunk];
        let start = bytes.len();
        bytes.extend_from_slice(t.as_bytes());
        Slot { chunk: chunk as u32, start: start as u32, len: t.len() as u32 }
    }

    /// Text `i` (empty: null, or past the end).
    fn get(&self, i: usize) -> &str {
        match self.slots.get(i) {
            Some(s) if s.len > 0 => {
                let bytes = &self.chunks[s.chunk as usize][s.start as usize..][..s.len as usize];
                // Stored from a `&str` whole, so it is UTF-8.
                std::str::from_utf8(bytes).unwrap_or_default()
            }
            _ => "",
        }
    }
}

impl Default for Values {
    fn default() -> Self {
        Values::Trees(Vec::new())
    }
}

fn text(v: &Value) -> String {
    if v.is_null() { String::new() } else { v.to_string() }
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

    #[test]
    fn texts_past_a_chunk_and_longer_than_one_come_back_whole() {
        let big = json!("x".repeat(CHUNK + 5));
        let mut v = Values::nulls(40_000, true);
        for i in 0..40_000 {
            v.set(i, json!({"i": i, "pad": "é".repeat(i % 50)}));
        }
        v.set(17, big.clone());
        v.set(18, Value::Null);
        let Values::Texts(t) = &v else { panic!("kept as text") };
        assert!(t.chunks.len() >= 3, "{} chunks", t.chunks.len());
        assert_eq!(t.chunks[0].capacity(), FIRST_CHUNK, "a small map holds a few KiB");
        assert!(t.chunks.iter().all(|c| c.capacity() <= CHUNK || c.len() == CHUNK + 7), "one text past a chunk has its own");
        for i in [0, 1, 16, 19, 20_000, 39_999] {
            assert_eq!(*v.get(i), json!({"i": i, "pad": "é".repeat(i % 50)}));
        }
        assert_eq!(*v.get(17), big);
        assert_eq!((&*v.get(18), v.json_text(18).as_ref()), (&Value::Null, "null"));
    }
}
