//! CSV objects: records read a line at a time (quoted fields may hold the
//! delimiter, quotes and line breaks), one item per record keyed by the
//! header row or the given headers.

use super::failed;
use crate::exec::failure::Failure;
use serde_json::{Map, Value};
use std::io::BufRead;

/// The items of a CSV object per ReaderConfig (`CSVHeaderLocation`,
/// `CSVHeaders`, `CSVDelimiter`).
pub(super) fn items(object: Box<dyn BufRead + Send>, rc: &Map<String, Value>, max: usize, out: super::Emit<'_>) -> Result<(), Failure> {
    let delimiter = match rc.get("CSVDelimiter").and_then(Value::as_str).unwrap_or("COMMA") {
        "COMMA" => b',',
        "PIPE" => b'|',
        "SEMICOLON" => b';',
        "SPACE" => b' ',
        "TAB" => b'\t',
        other => return Err(failed(format!("CSVDelimiter '{other}' is not supported"))),
    };
    let mut records = Records::new(object, delimiter);
    let headers: Vec<String> = match rc.get("CSVHeaderLocation").and_then(Value::as_str).unwrap_or("FIRST_ROW") {
        "GIVEN" => rc
            .get("CSVHeaders")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|h| h.as_str().unwrap_or_default().to_string()).collect())
            .unwrap_or_default(),
        _ => records.next_record()?.unwrap_or_default(),
    };
    let mut seen = std::collections::HashSet::new();
    if !headers.iter().all(|h| seen.insert(h)) {
        return Err(failed("CSV headers cannot contain duplicates."));
    }
    let mut items = 0;
    while items < max {
        let Some(row) = records.next_record()? else { break };
        let mut item = Map::new();
        for (i, h) in headers.iter().enumerate() {
            item.insert(h.clone(), Value::String(row.get(i).cloned().unwrap_or_default()));
        }
        out(Value::Object(item))?;
        items += 1;
    }
    Ok(())
}

/// CSV records of a stream.
pub(super) struct Records {
    reader: Box<dyn BufRead + Send>,
    delimiter: u8,
}

impl Records {
    pub(super) fn new(reader: Box<dyn BufRead + Send>, delimiter: u8) -> Self {
        Records { reader, delimiter }
    }

    fn line(&mut self, buf: &mut Vec<u8>) -> Result<bool, Failure> {
        buf.clear();
        let n = self
            .reader
            .read_until(b'\n', buf)
            .map_err(|e| failed(format!("Reading the object failed: {e}")))?;
        Ok(n > 0)
    }

    /// The next record's fields; none at the end. An empty line is a record
    /// with no fields.
    pub(super) fn next_record(&mut self) -> Result<Option<Vec<String>>, Failure> {
        let mut buf = Vec::new();
        if !self.line(&mut buf)? {
            return Ok(None);
        }
        let mut fields = Vec::new();
        let mut field = Vec::new();
        let (mut quoted, mut i, mut any) = (false, 0usize, false);
        loop {
            if i >= buf.len() {
                if quoted && self.line(&mut buf)? {
                    i = 0;
                    continue;
                }
                break;
            }
            let c = buf[i];
            i += 1;
            any = true;
            match c {
                b'"' if quoted && buf.get(i) == Some(&b'"') => {
                    field.push(b'"');
                    i += 1;
                }
                b'"' if quoted => quoted = false,
                b'"' if field.is_empty() => quoted = true,
                b'\n' if !quoted => break,
                b'\r' if !quoted && buf.get(i) == Some(&b'\n') => {}
                c if c == self.delimiter && !quoted => fields.push(std::mem::take(&mut field)),
                c => field.push(c),
            }
        }
        let line_was_empty = fields.is_empty() && field.is_empty() && any;
        if !line_was_empty {
            fields.push(field);
        }
        let text = fields.into_iter().map(|f| String::from_utf8_lossy(&f).into_owned()).collect();
        Ok(Some(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str, d: u8) -> Vec<Vec<String>> {
        let mut r = Records::new(Box::new(std::io::Cursor::new(text.as_bytes().to_vec())), d);
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            out.push(rec);
        }
        out
    }

    #[test]
    fn records_split_on_the_delimiter_outside_quotes() {
        assert_eq!(records("a,b\n\"x,\"\"y\"\"\",z\r\n\n", b','), [vec!["a", "b"], vec!["x,\"y\"", "z"], vec![]]);
        assert_eq!(records("a|\"multi\nline\"\n", b'|'), [vec!["a", "multi\nline"]]);
        assert_eq!(records("a\tb", b'\t'), [vec!["a", "b"]]);
    }
}
