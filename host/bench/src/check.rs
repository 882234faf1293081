//! The output checks of the manifest: `[dotted.path, "eq"|"len", value]`,
//! with the semantics of the peer runner (`als_runner.mjs`): a numeric path
//! part indexes an array, `eq` compares JSON values (numbers by value), `len`
//! requires an array of that length.

use anyhow::{Context as _, bail};
use serde_json::Value;

pub struct Expect {
    path: String,
    op: Op,
    value: Value,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Len,
}

pub fn parse_expect(v: &Value) -> anyhow::Result<Vec<Expect>> {
    let list = v.as_array().context("expect must be a list of [path, op, value]")?;
    list.iter()
        .map(|e| {
            let [path, op, value] = e.as_array().map(Vec::as_slice).unwrap_or_default() else {
                bail!("bad expectation {e}: want [path, op, value]");
            };
            let path = path.as_str().with_context(|| format!("bad path in {e}"))?.to_string();
            let op = match op.as_str() {
                Some("eq") => Op::Eq,
                Some("len") => Op::Len,
                _ => bail!("bad op in {e}: want eq or len"),
            };
            Ok(Expect { path, op, value: value.clone() })
        })
        .collect()
}

fn get<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    let mut cur = v;
    for part in dotted.split('.') {
        cur = match cur {
            Value::Array(a) if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) => {
                a.get(part.parse::<usize>().ok()?)?
            }
            Value::Object(m) => m.get(part)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Failed checks, described like the peer runner does.
pub fn check(output: &Value, expect: &[Expect]) -> Vec<String> {
    let mut failures = Vec::new();
    for e in expect {
        let got = get(output, &e.path);
        let ok = match e.op {
            Op::Len => matches!(got, Some(Value::Array(a)) if e.value.as_u64() == Some(a.len() as u64)),
            Op::Eq => got.is_some_and(|g| stepbox_asl::json_eq(g, &e.value)),
        };
        if !ok {
            let shown = match (e.op, got) {
                (Op::Len, Some(Value::Array(a))) => a.len().to_string(),
                (_, Some(g)) => g.to_string(),
                (_, None) => "undefined".to_string(),
            };
            let op = if e.op == Op::Len { "len" } else { "eq" };
            failures.push(format!("{} {op} {}: got {shown}", e.path, e.value));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_ops() {
        let out = json!({"branches": [{"b": 0}, {"b": 1, "x": 42.0}], "tmp": {"label": "a"}});
        let exp = parse_expect(&json!([
            ["branches", "len", 2], ["branches.1.x", "eq", 42], ["tmp.label", "eq", "a"]
        ]))
        .unwrap();
        assert!(check(&out, &exp).is_empty());
        let bad = parse_expect(&json!([["branches", "len", 3], ["tmp.nope", "eq", 1], ["tmp.label.0", "eq", "a"]]))
            .unwrap();
        assert_eq!(
            check(&out, &bad),
            vec!["branches len 3: got 2", "tmp.nope eq 1: got undefined", "tmp.label.0 eq \"a\": got undefined"]
        );
    }
}
