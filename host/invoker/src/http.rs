//! The HTTP Task (`arn:aws:states:::http:invoke`): `Method`, `ApiEndpoint`,
//! `Headers`, `QueryParameters`, `RequestBody`, answered like AWS with
//! `{"Headers", "ResponseBody", "StatusCode", "StatusText"}`. A non-2xx
//! answer fails with `States.Http.StatusCode.NNN`, a connection problem with
//! `States.Http.Socket`. Only plain `http://` endpoints on allowed hosts are
//! reached (default: loopback only); `Authentication` is accepted and ignored.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use serde_json::{Map, Value, json};
use stepbox_engine::TaskFailure;

pub const HTTP_INVOKE: &str = "arn:aws:states:::http:invoke";

/// Largest response body read (the state result limit is 256 KiB anyway).
const MAX_RESPONSE: usize = 1 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which hosts HTTP Tasks may reach, besides loopback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpPolicy {
    /// Host names or IP addresses (exact, case-insensitive); `*` allows any.
    pub allowed_hosts: Vec<String>,
}

impl HttpPolicy {
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        loopback || self.allowed_hosts.iter().any(|h| h == "*" || h.eq_ignore_ascii_case(host))
    }
}

fn socket(cause: impl Into<String>) -> TaskFailure {
    TaskFailure::new("States.Http.Socket", cause)
}

fn runtime(cause: impl Into<String>) -> TaskFailure {
    TaskFailure::new("States.Runtime", cause)
}

/// Query string value: strings as they are, other JSON as its text.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Runs one HTTP Task with its effective parameters.
pub async fn invoke(params: &Value, policy: &HttpPolicy) -> Result<Value, TaskFailure> {
    let endpoint = params
        .get("ApiEndpoint")
        .and_then(Value::as_str)
        .ok_or_else(|| runtime("The HTTP Task needs an ApiEndpoint string."))?;
    let method = params
        .get("Method")
        .and_then(Value::as_str)
        .ok_or_else(|| runtime("The HTTP Task needs a Method string."))?
        .to_ascii_uppercase();
    if !["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"].contains(&method.as_str()) {
        return Err(runtime(format!("Unsupported HTTP Method: {method}")));
    }
    let mut url = endpoint.to_string();
    if let Some(Value::Object(q)) = params.get("QueryParameters") {
        let query: Vec<String> = q.iter().map(|(k, v)| format!("{}={}", url_encode(k), url_encode(&text(v)))).collect();
        if !query.is_empty() {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&query.join("&"));
        }
    }
    let uri: hyper::Uri = url.parse().map_err(|e| runtime(format!("Invalid ApiEndpoint '{endpoint}': {e}")))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Err(socket(format!("{endpoint}: https endpoints are not supported by this build (no TLS)"))),
        _ => return Err(runtime(format!("Invalid ApiEndpoint '{endpoint}': http:// expected"))),
    }
    let host = uri.host().unwrap_or_default().to_string();
    if !policy.allows(&host) {
        return Err(socket(format!(
            "host '{host}' is not allowed for HTTP Tasks (allowed: loopback{}; see --http-allow)",
            policy.allowed_hosts.iter().map(|h| format!(", {h}")).collect::<String>()
        )));
    }
    let port = uri.port_u16().unwrap_or(80);

    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(Value::Object(h)) = params.get("Headers") {
        for (k, v) in h {
            headers.push((k.clone(), text(v)));
        }
    }
    let body = match params.get("RequestBody") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(v) => {
            if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                headers.push(("Content-Type".into(), "application/json".into()));
            }
            v.to_string().into_bytes()
        }
    };

    let addr = format!("{}:{port}", host.trim_start_matches('[').trim_end_matches(']'));
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&addr))
        .await
        .map_err(|_| socket(format!("connecting to {addr} timed out")))?
        .map_err(|e| socket(format!("connecting to {addr}: {e}")))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| socket(format!("{addr}: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut req = hyper::Request::builder().method(method.as_str()).uri(path).header("Host", uri.authority().map(|a| a.as_str()).unwrap_or(&host));
    for (k, v) in &headers {
        req = req.header(k, v);
    }
    let req = req.body(Full::new(Bytes::from(body))).map_err(|e| runtime(format!("Invalid HTTP request: {e}")))?;
    let resp = sender.send_request(req).await.map_err(|e| socket(format!("{addr}: {e}")))?;
    let status = resp.status();
    let mut out_headers = Map::new();
    for (k, v) in resp.headers() {
        let entry = out_headers.entry(k.as_str().to_string()).or_insert_with(|| json!([]));
        if let Some(a) = entry.as_array_mut() {
            a.push(json!(v.to_str().unwrap_or_default()));
        }
    }
    let bytes = Limited::new(resp.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| socket(format!("reading the response of {addr}: {e}")))?
        .to_bytes();
    let text_body = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_str::<Value>(&text_body).unwrap_or(Value::String(text_body));
    let result = json!({
        "Headers": out_headers,
        "ResponseBody": body,
        "StatusCode": status.as_u16(),
        "StatusText": status.canonical_reason().unwrap_or_default(),
    });
    if status.is_success() {
        Ok(result)
    } else {
        Err(TaskFailure::new(format!("States.Http.StatusCode.{}", status.as_u16()), result.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_allowed_by_default_and_others_by_name() {
        let p = HttpPolicy::default();
        assert!(p.allows("127.0.0.1") && p.allows("localhost") && p.allows("[::1]"));
        assert!(!p.allows("example.com"));
        let p = HttpPolicy { allowed_hosts: vec!["api.internal".into()] };
        assert!(p.allows("API.internal") && !p.allows("example.com"));
        assert!(HttpPolicy { allowed_hosts: vec!["*".into()] }.allows("example.com"));
    }

    #[tokio::test]
    async fn refused_hosts_and_schemes_are_named_errors() {
        let p = HttpPolicy::default();
        let e = invoke(&json!({"ApiEndpoint": "http://example.com/x", "Method": "GET"}), &p).await.unwrap_err();
        assert_eq!(e.error, "States.Http.Socket");
        assert!(e.cause.contains("not allowed"), "{}", e.cause);
        let e = invoke(&json!({"ApiEndpoint": "https://127.0.0.1/x", "Method": "GET"}), &p).await.unwrap_err();
        assert_eq!(e.error, "States.Http.Socket");
        let e = invoke(&json!({"ApiEndpoint": "http://127.0.0.1/x", "Method": "BREW"}), &p).await.unwrap_err();
        assert_eq!(e.error, "States.Runtime");
    }
}
