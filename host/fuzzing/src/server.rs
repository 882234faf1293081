//! The server's targets: what a client controls before it is authenticated
//! (the SigV4 Authorization header, or a presigned query) and the code it
//! uploads (CreateFunction's zip).

use chrono::{TimeZone, Utc};
use hyper::HeaderMap;
use hyper::header::{HeaderName, HeaderValue};
use stepbox_server::tenants::sigv4::{RequestParts, claim};

/// `QUERY\nHEADER: VALUE\n…\n\nBODY`: a request's claim read, its time
/// checked and its signature verified against a fixed secret.
pub fn authorization(data: &[u8]) {
    crate::install_panic_hook();
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let query = lines.next().filter(|q| !q.is_empty());
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.trim().as_bytes()), HeaderValue::from_str(value.trim())) {
            headers.append(n, v);
        }
    }
    let req = RequestParts { method: "POST", path: "/", raw_query: query, headers: &headers };
    if let Ok(c) = claim(&req) {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("a valid time");
        let _ = c.check_time(now);
        let _ = c.verify(&req, body.as_bytes(), "secret");
    }
}

/// CreateFunction's `Code.ZipFile`: the component taken out of it, within
/// Lambda's bounds.
pub fn upload(data: &[u8]) {
    crate::install_panic_hook();
    let _ = stepbox_server::lambda::code::extract_wasm(data);
}
