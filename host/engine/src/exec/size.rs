//! The serialised size of a JSON value, for AWS's payload and variable limits.

use serde_json::Value;

/// Counts the bytes written to it.
struct ByteCount(usize);

impl std::fmt::Write for ByteCount {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Serialised size of a JSON value without allocating the text; counting
/// stops soon after it passes `limit`.
pub(super) fn json_size(v: &Value, limit: usize) -> usize {
    let mut acc = 0;
    add_size(v, &mut acc, limit);
    acc
}

fn add_size(v: &Value, acc: &mut usize, limit: usize) {
    if *acc > limit {
        return;
    }
    match v {
        Value::Null => *acc += 4,
        Value::Bool(b) => *acc += if *b { 4 } else { 5 },
        Value::Number(n) => {
            // Counted through a writer: no string per number.
            let mut w = ByteCount(0);
            let _ = std::fmt::Write::write_fmt(&mut w, format_args!("{n}"));
            *acc += w.0
        }
        Value::String(s) => {
            *acc += s.len()
                + 2
                + s.bytes()
                    .filter(|b| *b == b'"' || *b == b'\\' || *b < 0x20)
                    .count()
        }
        Value::Array(a) => {
            *acc += 2 + a.len().saturating_sub(1);
            for x in a {
                add_size(x, acc, limit)
            }
        }
        Value::Object(o) => {
            *acc += 2 + o.len().saturating_sub(1);
            for (k, x) in o {
                *acc += k.len() + 3;
                add_size(x, acc, limit)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::json_size;
    use serde_json::json;

    #[test]
    fn json_size_is_the_compact_text_length() {
        for v in [
            json!(null),
            json!(true),
            json!(-12.5e-7),
            json!(18446744073709551615u64),
            json!("a\"b\\c\nd"),
            json!({"k": [1, 2.5, "x", {"n": null}], "é": false}),
        ] {
            assert_eq!(json_size(&v, usize::MAX), serde_json::to_string(&v).unwrap().len(), "{v}");
        }
    }
}
