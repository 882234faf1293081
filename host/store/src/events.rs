//! How history events are stored: a binary chunk of one or more events under
//! `execution ARN \0 largest id in the chunk` (big-endian), so a journal's
//! pending events are one B-tree entry, a history is one range scan and the
//! last key still names the execution's largest event id.
//!
//! A chunk is `CHUNK_TAG` then, per event: id, previous id (u64 LE),
//! timestamp (i64 µs LE), the type's name and the details (a tag, then
//! length-prefixed strings or JSON text). Details keep their variant, so the
//! entered/exited texts are copied, not escaped into JSON. Values written by
//! earlier versions (one JSON object per event, keyed by its id) still read.

use chrono::DateTime;
use serde_json::{Map, Value};
use stepbox_engine::{Details, EventType, HistoryEvent};

use crate::StoreError;

/// First byte of a chunk (a legacy JSON event starts with `{`).
const CHUNK_TAG: u8 = 1;

const NONE: u8 = 0;
const JSON: u8 = 1;
const ENTERED: u8 = 2;
const EXITED: u8 = 3;
const EXITED_ASSIGNED: u8 = 4;

/// Events encoded back to back, ready to be written as one entry.
#[derive(Debug, Default)]
pub(crate) struct EventChunk {
    bytes: Vec<u8>,
    last_id: u64,
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s);
}

impl EventChunk {
    /// Appends `e`; on an error the chunk is left as it was.
    pub fn push(&mut self, e: &HistoryEvent) -> Result<(), StoreError> {
        let start = self.bytes.len();
        let pushed = self.push_unchecked(e);
        if pushed.is_err() {
            self.bytes.truncate(start);
        }
        pushed
    }

    fn push_unchecked(&mut self, e: &HistoryEvent) -> Result<(), StoreError> {
        let out = &mut self.bytes;
        if out.is_empty() {
            out.push(CHUNK_TAG);
        }
        out.extend_from_slice(&e.id.to_le_bytes());
        out.extend_from_slice(&e.previous_event_id.to_le_bytes());
        out.extend_from_slice(&e.timestamp.timestamp_micros().to_le_bytes());
        let name = e.event_type.as_str().as_bytes();
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        match &e.details {
            Details::None => out.push(NONE),
            Details::Json(v) => {
                out.push(JSON);
                put_str(out, &json_text(v)?);
            }
            Details::StateEntered { name, input } => {
                out.push(ENTERED);
                put_str(out, name.as_bytes());
                put_str(out, input.as_bytes());
            }
            Details::StateExited {
                name,
                output,
                assigned,
            } => {
                out.push(if assigned.is_some() {
                    EXITED_ASSIGNED
                } else {
                    EXITED
                });
                put_str(out, name.as_bytes());
                put_str(out, output.as_bytes());
                if let Some(vars) = assigned {
                    put_str(out, &json_text(vars)?);
                }
            }
        }
        self.last_id = self.last_id.max(e.id);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The chunk's largest event id (its key).
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

fn json_text(v: &impl serde::Serialize) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(format!("cannot encode an event: {e}")))
}

/// Reads a stored entry: a chunk, or a legacy JSON event whose id is `key_id`.
pub(crate) fn decode(key_id: u64, bytes: &[u8]) -> Result<Vec<HistoryEvent>, StoreError> {
    match bytes.first() {
        Some(&CHUNK_TAG) => {
            let mut r = Reader {
                bytes: &bytes[1..],
                key_id,
            };
            let mut out = Vec::new();
            while !r.bytes.is_empty() {
                out.push(r.event()?);
            }
            Ok(out)
        }
        _ => Ok(vec![decode_legacy(key_id, bytes)?]),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    key_id: u64,
}

impl<'a> Reader<'a> {
    fn bad(&self, what: &str) -> StoreError {
        StoreError::Corrupt(format!("event chunk {}: bad {what}", self.key_id))
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], StoreError> {
        if self.bytes.len() < n {
            return Err(self.bad(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    fn u64(&mut self, what: &str) -> Result<u64, StoreError> {
        let b = self.take(8, what)?;
        Ok(u64::from_le_bytes(
            b.try_into().map_err(|_| self.bad(what))?,
        ))
    }
    fn text(&mut self, what: &str) -> Result<String, StoreError> {
        let len = u32::from_le_bytes(self.take(4, what)?.try_into().map_err(|_| self.bad(what))?);
        let b = self.take(len as usize, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.bad(what))
    }
    fn json<T: serde::de::DeserializeOwned>(&mut self, what: &str) -> Result<T, StoreError> {
        let text = self.text(what)?;
        serde_json::from_str(&text).map_err(|_| self.bad(what))
    }
    fn event(&mut self) -> Result<HistoryEvent, StoreError> {
        let id = self.u64("id")?;
        let previous_event_id = self.u64("previous id")?;
        let micros = self.u64("timestamp")? as i64;
        let timestamp =
            DateTime::from_timestamp_micros(micros).ok_or_else(|| self.bad("timestamp"))?;
        let len = self.take(1, "type")?[0] as usize;
        let event_type = std::str::from_utf8(self.take(len, "type")?)
            .ok()
            .and_then(EventType::parse)
            .ok_or_else(|| self.bad("type"))?;
        let details = match self.take(1, "details")?[0] {
            NONE => Details::None,
            JSON => Details::Json(self.json("details")?),
            ENTERED => Details::StateEntered {
                name: self.text("state name")?,
                input: self.text("input")?,
            },
            tag @ (EXITED | EXITED_ASSIGNED) => Details::StateExited {
                name: self.text("state name")?,
                output: self.text("output")?,
                assigned: match tag {
                    EXITED_ASSIGNED => Some(self.json::<Map<String, Value>>("assigned variables")?),
                    _ => None,
                },
            },
            _ => return Err(self.bad("details")),
        };
        Ok(HistoryEvent {
            id,
            previous_event_id,
            timestamp,
            event_type,
            details,
        })
    }
}

/// One event as JSON (`{"p", "t", "y", "d"}`), as stores before chunks wrote them.
fn decode_legacy(id: u64, bytes: &[u8]) -> Result<HistoryEvent, StoreError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("unreadable event record: {e}")))?;
    let bad = |what: &str| StoreError::Corrupt(format!("event {id}: bad {what}"));
    Ok(HistoryEvent {
        id,
        previous_event_id: v["p"].as_u64().ok_or_else(|| bad("previous id"))?,
        timestamp: DateTime::from_timestamp_micros(
            v["t"].as_i64().ok_or_else(|| bad("timestamp"))?,
        )
        .ok_or_else(|| bad("timestamp"))?,
        event_type: v["y"]
            .as_str()
            .and_then(EventType::parse)
            .ok_or_else(|| bad("type"))?,
        details: match &v["d"] {
            Value::Null => Details::None,
            d => Details::Json(d.clone()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn event(id: u64, event_type: EventType, details: Details) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp: DateTime::from_timestamp_micros(1_700_000_000_123_456)
                .unwrap_or_else(Utc::now),
            event_type,
            details,
        }
    }

    #[test]
    fn chunks_round_trip_every_kind_of_details() {
        let events = vec![
            event(
                1,
                EventType::ExecutionStarted,
                Details::Json(json!({"input": "{\"a\":1}", "roleArn": "r"})),
            ),
            event(
                2,
                EventType::PassStateEntered,
                Details::StateEntered {
                    name: "Prép".into(),
                    input: "{\"a\":\"\\n\"}".into(),
                },
            ),
            event(
                3,
                EventType::PassStateExited,
                Details::StateExited {
                    name: "P".into(),
                    output: "[]".into(),
                    assigned: None,
                },
            ),
            event(
                4,
                EventType::PassStateExited,
                Details::StateExited {
                    name: "Q".into(),
                    output: "1".into(),
                    assigned: json!({"x": [1, "y"]}).as_object().cloned(),
                },
            ),
            event(5, EventType::LambdaFunctionStarted, Details::None),
        ];
        let mut chunk = EventChunk::default();
        for e in &events {
            chunk.push(e).unwrap();
        }
        assert_eq!(chunk.last_id(), 5);
        assert_eq!(decode(5, chunk.bytes()).unwrap(), events);
        // A truncated chunk is an error, never a shorter history.
        let cut = &chunk.bytes()[..chunk.bytes().len() - 1];
        assert!(matches!(decode(5, cut), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn legacy_json_events_still_read() {
        let bytes = br#"{"p":2,"t":1700000000123456,"y":"TaskScheduled","d":{"resource":"x"}}"#;
        let events = decode(3, bytes).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].id, 3);
        assert_eq!(events[0].previous_event_id, 2);
        assert_eq!(events[0].event_type, EventType::TaskScheduled);
        assert_eq!(events[0].details, Details::Json(json!({"resource": "x"})));
    }
}
