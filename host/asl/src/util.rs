//! Small helpers: compact JSON, numeric-aware equality, base64, hashes, UUIDs.

use serde_json::Value;

/// A JSON value's type as AWS's error messages name it (`null`, `boolean`,
/// `number`, `string`, `array`, `object`).
pub fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Compact JSON text (as AWS renders values inside messages).
pub fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// JSON equality comparing numbers by value (`1 == 1.0`).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(i), Some(j)) = (x.as_i64(), y.as_i64()) {
                i == j
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Java's `Math.round`: the nearest integer, a half towards positive
/// infinity (-1.5 is -1, 2.5 is 3), as AWS rounds States.MathAdd's and
/// States.MathRandom's fractional arguments. Computed from the floor, so a
/// value just below a half (0.49999999999999994) is not carried up.
pub fn java_round(x: f64) -> i64 {
    let floor = x.floor();
    (if x - floor >= 0.5 { floor + 1.0 } else { floor }) as i64
}

/// A random version-4 UUID, lower-case hyphenated.
pub fn uuid_v4() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    // Hex digits written directly: one allocation (a Lambda invocation makes
    // one of these per call, so `format!` per byte showed up in profiles).
    let mut out = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[(x >> 4) as usize] as char);
        out.push(HEX[(x & 0xf) as usize] as char);
    }
    out
}

pub mod base64 {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(data: &[u8]) -> String {
        let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
        for c in data.chunks(3) {
            let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
            let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
            out.push(T[(n >> 18) as usize & 63] as char);
            out.push(T[(n >> 12) as usize & 63] as char);
            out.push(if c.len() > 1 {
                T[(n >> 6) as usize & 63] as char
            } else {
                '='
            });
            out.push(if c.len() > 2 {
                T[n as usize & 63] as char
            } else {
                '='
            });
        }
        out
    }

    pub fn decode(s: &str) -> Option<Vec<u8>> {
        let s = s.trim_end_matches('=');
        let mut out = Vec::with_capacity(s.len() * 3 / 4);
        let mut acc = 0u32;
        let mut bits = 0;
        for c in s.bytes() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' | b'-' => 62,
                b'/' | b'_' => 63,
                _ => return None,
            } as u32;
            acc = (acc << 6) | v;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        Some(out)
    }
}

pub mod hash {
    use sha2::Digest;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Hex digest for one of AWS's algorithm names.
    pub fn hash(alg: &str, data: &[u8]) -> Option<String> {
        Some(match alg {
            "MD5" => hex(&md5::Md5::digest(data)),
            "SHA-1" => hex(&sha1::Sha1::digest(data)),
            "SHA-256" => hex(&sha2::Sha256::digest(data)),
            "SHA-384" => hex(&sha2::Sha384::digest(data)),
            "SHA-512" => hex(&sha2::Sha512::digest(data)),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn java_round_takes_a_half_upwards() {
        for (x, r) in [(1.49, 1), (1.5, 2), (2.5, 3), (-1.49, -1), (-1.5, -1), (-1.51, -2), (-2.5, -2), (-0.5, 0), (0.49999999999999994, 0)] {
            assert_eq!(super::java_round(x), r, "{x}");
        }
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn uuid_v4_shape() {
        let u = uuid_v4();
        let groups: Vec<&str> = u.split('-').collect();
        assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{u}");
        assert!(u.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)), "{u}");
        assert!(groups[2].starts_with('4'), "version 4: {u}");
        assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'), "variant: {u}");
        assert_ne!(uuid_v4(), u);
    }

    #[test]
    fn b64_roundtrip() {
        for s in ["", "a", "ab", "abc", "abcd", "Hello World"] {
            assert_eq!(
                base64::decode(&base64::encode(s.as_bytes())).unwrap(),
                s.as_bytes()
            );
        }
        assert!(base64::decode("@@").is_none());
    }

    #[test]
    fn eq_numbers() {
        assert!(json_eq(&json!({"a": [1]}), &json!({"a": [1.0]})));
        assert!(!json_eq(&json!(1), &json!("1")));
    }

    #[test]
    fn hashes() {
        assert_eq!(
            hash::hash("MD5", b"").unwrap(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert!(hash::hash("SHA-3", b"").is_none());
    }
}
