//! How execution records are stored: a tag byte, then the fields in a fixed
//! order (texts length-prefixed, optional fields behind a presence byte,
//! times as seconds and nanoseconds). A record is encoded at its start and
//! its close and decoded by every Describe/List, so its input and output are
//! copied rather than escaped into JSON. The definition is stored once per
//! text in the `Definitions` table, and a record holds its SHA-256 digest
//! (tag 3, the digest right after the tag, in place of the text): every execution of a state machine carried the same text, a few
//! hundred bytes or more per record for the writer to copy into the B-tree.
//! Records of earlier versions still read: with the text inline (tag 2) or
//! as JSON (which starts with `{`).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::StoreError;
use crate::records::ExecutionRecord;

use sha2::{Digest, Sha256};

/// First byte of a binary record whose definition is in `Definitions`.
const TAG: u8 = 3;
/// First byte of a binary record with its definition inline (before format 4).
const TAG_INLINE: u8 = 2;

/// The key of a definition text in the `Definitions` table. A hash clients
/// cannot collide: executions of different tenants share the table.
pub(crate) type DefinitionDigest = [u8; 32];

pub(crate) fn definition_digest(text: &str) -> DefinitionDigest {
    Sha256::digest(text.as_bytes()).into()
}

fn put_text(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_time(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    out.extend_from_slice(&t.timestamp().to_le_bytes());
    out.extend_from_slice(&t.timestamp_subsec_nanos().to_le_bytes());
}

fn put_option<T: ?Sized>(out: &mut Vec<u8>, v: Option<&T>, put: impl FnOnce(&mut Vec<u8>, &T)) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put(out, v);
        }
    }
}

/// Encodes `r` with its definition's digest (the writer stores the text: see
/// `definition_of`).
pub(crate) fn encode(r: &ExecutionRecord) -> Result<Vec<u8>, StoreError> {
    encode_as(r, TAG)
}

/// As a store before format 4 encoded `r` (its definition inline).
#[cfg(test)]
pub(crate) fn encode_inline(r: &ExecutionRecord) -> Result<Vec<u8>, StoreError> {
    encode_as(r, TAG_INLINE)
}

fn encode_as(r: &ExecutionRecord, tag: u8) -> Result<Vec<u8>, StoreError> {
    let texts = r.arn.len()
        + r.name.len()
        + r.state_machine_arn.len()
        + r.input.len()
        + r.output.as_ref().map_or(0, String::len)
        + if tag == TAG { 32 } else { r.definition.len() };
    let mut out = Vec::with_capacity(texts + 160);
    out.push(tag);
    if tag == TAG {
        out.extend_from_slice(&definition_digest(&r.definition));
    }
    for text in [&r.arn, &r.name, &r.state_machine_arn, &r.status, &r.input] {
        put_text(&mut out, text);
    }
    for text in [&r.output, &r.error, &r.cause] {
        put_option(&mut out, text.as_deref(), put_text);
    }
    put_time(&mut out, &r.start_date);
    put_option(&mut out, r.stop_date.as_ref(), put_time);
    out.push(r.express as u8);
    put_option(&mut out, r.wake_at.as_ref(), put_time);
    if tag == TAG_INLINE {
        put_text(&mut out, &r.definition);
    }
    put_text(&mut out, &r.revision_id);
    put_option(&mut out, r.state_machine_version_arn.as_deref(), put_text);
    put_option(&mut out, r.state_machine_alias_arn.as_deref(), put_text);
    if r.extra.is_empty() {
        put_text(&mut out, "");
    } else {
        let json = serde_json::to_string(&r.extra)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode an execution record: {e}")))?;
        put_text(&mut out, &json);
    }
    Ok(out)
}

/// Decodes a record; when its definition is stored apart, the record's
/// `definition` is empty and the digest to look it up by is returned.
pub(crate) fn decode(bytes: &[u8]) -> Result<(ExecutionRecord, Option<DefinitionDigest>), StoreError> {
    match bytes.first() {
        Some(&TAG) => {
            let mut r = Reader { bytes: &bytes[1..], inline: false };
            let digest = r.array("definition digest")?;
            Ok((r.record()?, Some(digest)))
        }
        Some(&TAG_INLINE) => Ok((Reader { bytes: &bytes[1..], inline: true }.record()?, None)),
        _ => serde_json::from_slice(bytes)
            .map(|r| (r, None))
            .map_err(|e| StoreError::Corrupt(format!("unreadable execution record: {e}"))),
    }
}

/// The digest an encoded record refers to its definition by (None: the
/// definition is inline), read without decoding the rest.
pub(crate) fn definition_of(bytes: &[u8]) -> Result<Option<DefinitionDigest>, StoreError> {
    match bytes.first() {
        Some(&TAG) => Reader { bytes: &bytes[1..], inline: false }.array("definition digest").map(Some),
        _ => Ok(None),
    }
}

/// The ARN an encoded record is stored under, read without decoding the
/// rest (how a lookup by ARN tells apart records whose ARNs share a
/// `ExecutionIds` hash prefix).
pub(crate) fn arn_of(bytes: &[u8]) -> Result<String, StoreError> {
    match bytes.first() {
        Some(&TAG) => {
            let mut r = Reader { bytes: &bytes[1..], inline: false };
            r.take(32, "definition digest")?;
            r.text("arn")
        }
        Some(&TAG_INLINE) => Reader { bytes: &bytes[1..], inline: true }.text("arn"),
        _ => decode(bytes).map(|(r, _)| r.arn),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    /// The definition is a text in its place (tag 2), not a digest ahead.
    inline: bool,
}

fn bad(what: &str) -> StoreError {
    StoreError::Corrupt(format!("unreadable execution record: bad {what}"))
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], StoreError> {
        if self.bytes.len() < n {
            return Err(bad(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], StoreError> {
        self.take(N, what)?.try_into().map_err(|_| bad(what))
    }
    fn text(&mut self, what: &str) -> Result<String, StoreError> {
        let len = u32::from_le_bytes(self.array(what)?) as usize;
        let b = self.take(len, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| bad(what))
    }
    fn time(&mut self, what: &str) -> Result<DateTime<Utc>, StoreError> {
        let secs = i64::from_le_bytes(self.array(what)?);
        let nanos = u32::from_le_bytes(self.array(what)?);
        DateTime::from_timestamp(secs, nanos).ok_or_else(|| bad(what))
    }
    fn flag(&mut self, what: &str) -> Result<bool, StoreError> {
        match self.take(1, what)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(bad(what)),
        }
    }
    fn option<T>(
        &mut self,
        what: &str,
        read: impl FnOnce(&mut Self, &str) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        if self.flag(what)? {
            read(self, what).map(Some)
        } else {
            Ok(None)
        }
    }
    /// The record's fields (without its definition when stored apart).
    fn record(mut self) -> Result<ExecutionRecord, StoreError> {
        let record = ExecutionRecord {
            arn: self.text("arn")?,
            name: self.text("name")?,
            state_machine_arn: self.text("state machine arn")?,
            status: self.text("status")?,
            input: self.text("input")?,
            output: self.option("output", Self::text)?,
            error: self.option("error", Self::text)?,
            cause: self.option("cause", Self::text)?,
            start_date: self.time("start date")?,
            stop_date: self.option("stop date", Self::time)?,
            express: self.flag("express")?,
            wake_at: self.option("wake time", Self::time)?,
            definition: if self.inline { self.text("definition")? } else { String::new() },
            revision_id: self.text("revision id")?,
            state_machine_version_arn: self.option("version arn", Self::text)?,
            state_machine_alias_arn: self.option("alias arn", Self::text)?,
            extra: match self.text("extra members")? {
                t if t.is_empty() => Map::new(),
                t => match serde_json::from_str(&t) {
                    Ok(Value::Object(m)) => m,
                    _ => return Err(bad("extra members")),
                },
            },
        };
        if !self.bytes.is_empty() {
            return Err(bad("length"));
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full() -> ExecutionRecord {
        ExecutionRecord {
            arn: "arn:aws:states:us-east-1:1:execution:sm:é\"x".into(),
            name: "é\"x".into(),
            state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:sm".into(),
            status: "FAILED".into(),
            input: r#"{"a":"line\nbreak"}"#.into(),
            output: Some("[1,2]".into()),
            error: Some("E".into()),
            cause: Some(String::new()),
            start_date: DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap(),
            stop_date: DateTime::from_timestamp(1_700_000_001, 1),
            express: true,
            wake_at: DateTime::from_timestamp(-5, 0),
            definition: r#"{"StartAt":"A"}"#.into(),
            revision_id: "r1".into(),
            state_machine_version_arn: Some("arn:v:1".into()),
            state_machine_alias_arn: Some("arn:v:prod".into()),
            extra: json!({"sequence": 7, "traceHeader": "t"})
                .as_object()
                .unwrap()
                .clone(),
        }
    }

    #[test]
    fn records_round_trip_with_every_field_set_or_empty() {
        let set = full();
        let empty = ExecutionRecord {
            output: None,
            error: None,
            cause: None,
            stop_date: None,
            express: false,
            wake_at: None,
            state_machine_version_arn: None,
            state_machine_alias_arn: None,
            extra: Map::new(),
            ..full()
        };
        for r in [set, empty] {
            let bytes = encode(&r).unwrap();
            assert_eq!(bytes[0], TAG);
            let digest = definition_digest(&r.definition);
            let without_text = ExecutionRecord { definition: String::new(), ..r.clone() };
            assert_eq!(decode(&bytes).unwrap(), (without_text, Some(digest)));
            assert_eq!(definition_of(&bytes).unwrap(), Some(digest));
            assert!(!bytes.windows(r.definition.len()).any(|w| w == r.definition.as_bytes()), "no text inline");
            for cut in [1, bytes.len() / 2, bytes.len() - 1] {
                assert!(decode(&bytes[..cut]).is_err(), "cut at {cut} must not decode");
            }
        }
    }

    #[test]
    fn records_of_earlier_versions_still_read() {
        let r = full();
        assert_eq!(decode(&serde_json::to_vec(&r).unwrap()).unwrap(), (r.clone(), None));
        let inline = encode_as(&r, TAG_INLINE).unwrap();
        assert_eq!(decode(&inline).unwrap(), (r, None));
        assert_eq!(definition_of(&inline).unwrap(), None);
    }
}
