//! AWS Signature Version 4, checked by signing the request again with
//! aws-sigv4 (the SDKs' own signer) and comparing in constant time.
//!
//! The signature arrives in the `Authorization` header (`AWS4-HMAC-SHA256
//! Credential=KEY/DATE/REGION/SERVICE/aws4_request, SignedHeaders=…,
//! Signature=…`) or, presigned, in the query string (`X-Amz-Algorithm`,
//! `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`,
//! `X-Amz-Signature`).

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use chrono::{DateTime, NaiveDateTime, Utc};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's time may be from the server's.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);
/// The query parameters of a presigned request's signature.
const QUERY_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

/// What a request claims about its signature, before it is checked.
#[derive(Debug, Clone)]
pub struct Claim {
    pub access_key_id: String,
    scope_date: String,
    region: String,
    service: String,
    /// Lower-case header names, as signed.
    signed_headers: Vec<String>,
    signature: String,
    time: DateTime<Utc>,
    /// Presigned: how long the signature is valid for.
    expires: Option<Duration>,
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No signature at all.
    Missing,
    /// A signature, but not one we can read (the message says what is wrong).
    Malformed(String),
    /// A key nobody has.
    UnknownKey,
    /// The signature does not match the request.
    BadSignature,
    /// The request's time is too far from ours (the message is AWS's).
    Expired(String),
}

fn malformed(m: impl Into<String>) -> AuthFailure {
    AuthFailure::Malformed(m.into())
}

/// The request line and headers a signature covers; `raw_query` as sent.
pub struct RequestParts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub raw_query: Option<&'a str>,
    pub headers: &'a hyper::HeaderMap,
}

impl RequestParts<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn query_pairs(&self) -> Vec<(String, String)> {
        form_pairs(self.raw_query.unwrap_or(""))
    }
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// Reads the signature a request claims, from its Authorization header or its query.
pub fn claim(req: &RequestParts<'_>) -> Result<Claim, AuthFailure> {
    if let Some(auth) = req.header("authorization") {
        return header_claim(req, auth);
    }
    let query = req.query_pairs();
    if query.iter().any(|(k, _)| k == "X-Amz-Signature" || k == "X-Amz-Credential") {
        return query_claim(&query);
    }
    Err(AuthFailure::Missing)
}

fn header_claim(req: &RequestParts<'_>, auth: &str) -> Result<Claim, AuthFailure> {
    let rest = auth
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| malformed(format!("Authorization header requires the {ALGORITHM} algorithm")))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => return Err(malformed(format!("Authorization header has an unknown part '{}'", before_eq(part)))),
        }
    }
    let missing = |what: &str| malformed(format!("Authorization header requires '{what}' parameter"));
    let date = req.header("x-amz-date").ok_or_else(|| missing("X-Amz-Date"))?;
    build_claim(
        credential.ok_or_else(|| missing("Credential"))?,
        signed.ok_or_else(|| missing("SignedHeaders"))?,
        signature.ok_or_else(|| missing("Signature"))?,
        date,
        None,
    )
}

/// The name of `part` (`NAME=VALUE`), never its value.
fn before_eq(part: &str) -> &str {
    part.split_once('=').map_or(part, |(k, _)| k)
}

fn query_claim(query: &[(String, String)]) -> Result<Claim, AuthFailure> {
    let get = |k: &str| {
        query
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| malformed(format!("a presigned request requires the '{k}' query parameter")))
    };
    if get("X-Amz-Algorithm")? != ALGORITHM {
        return Err(malformed(format!("X-Amz-Algorithm must be {ALGORITHM}")));
    }
    let expires = get("X-Amz-Expires")?
        .parse::<u64>()
        .ok()
        .filter(|&s| s <= 7 * 24 * 3600)
        .ok_or_else(|| malformed("X-Amz-Expires must be a number of seconds up to 604800"))?;
    build_claim(
        get("X-Amz-Credential")?,
        get("X-Amz-SignedHeaders")?,
        get("X-Amz-Signature")?,
        get("X-Amz-Date")?,
        Some(Duration::from_secs(expires)),
    )
}

fn build_claim(credential: &str, signed: &str, signature: &str, date: &str, expires: Option<Duration>) -> Result<Claim, AuthFailure> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [key, scope_date, region, service, "aws4_request"] = parts.as_slice() else {
        return Err(malformed("Credential should be scoped to KEY/DATE/REGION/SERVICE/aws4_request"));
    };
    let time = NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| malformed("X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z'"))?
        .and_utc();
    Ok(Claim {
        access_key_id: key.to_string(),
        scope_date: scope_date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers: signed.split(';').map(|h| h.trim().to_ascii_lowercase()).collect(),
        signature: signature.to_ascii_lowercase(),
        time,
        expires,
    })
}

/// AWS's basic ISO 8601 form of `t`.
fn basic(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

impl Claim {
    /// Checks the request's time against `now`: at most [`MAX_SKEW`] away,
    /// and, presigned, not past its expiry.
    pub fn check_time(&self, now: DateTime<Utc>) -> Result<(), AuthFailure> {
        let skew = chrono::Duration::from_std(MAX_SKEW).unwrap_or_default();
        if let Some(expires) = self.expires {
            let end = self.time + chrono::Duration::from_std(expires).unwrap_or_default();
            if now > end {
                return Err(AuthFailure::Expired(format!(
                    "Signature expired: the presigned request was valid until {}; it is now {}",
                    basic(end),
                    basic(now)
                )));
            }
        } else if self.time < now - skew {
            return Err(AuthFailure::Expired(format!(
                "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                basic(self.time),
                basic(now - skew),
                basic(now)
            )));
        }
        if self.time > now + skew {
            return Err(AuthFailure::Expired(format!(
                "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                basic(self.time),
                basic(now + skew),
                basic(now)
            )));
        }
        Ok(())
    }

    /// Signs the request again with `secret` and compares signatures in constant time.
    pub fn verify(&self, req: &RequestParts<'_>, body: &[u8], secret: &str) -> Result<(), AuthFailure> {
        if self.scope_date != self.time.format("%Y%m%d").to_string() {
            return Err(AuthFailure::BadSignature);
        }
        let presigned = self.expires.is_some();
        let bodies: &[SignableBody<'_>] = if presigned {
            &[SignableBody::Bytes(body), SignableBody::UnsignedPayload]
        } else {
            &[SignableBody::Bytes(body)]
        };
        for b in bodies {
            let ours = self.signature_for(req, b.clone(), secret)?;
            if constant_time_eq(ours.as_bytes(), self.signature.as_bytes()) {
                return Ok(());
            }
        }
        Err(AuthFailure::BadSignature)
    }

    fn signature_for(&self, req: &RequestParts<'_>, body: SignableBody<'_>, secret: &str) -> Result<String, AuthFailure> {
        let host = req.header("host").ok_or_else(|| malformed("a signed request needs a Host header"))?;
        let uri = format!("http://{host}{}{}", req.path, self.query_without_signature(req));
        // Exactly the headers the client signed (x-amz-date and host are added by the signer).
        let headers: Vec<(&str, &str)> = self
            .signed_headers
            .iter()
            .filter(|h| h.as_str() != "x-amz-date" || self.expires.is_some())
            .map(|h| (h.as_str(), req.header(h).unwrap_or("")))
            .collect();
        let mut settings = SigningSettings::default();
        settings.excluded_headers = Some(Vec::new());
        if let Some(expires) = self.expires {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(expires);
        }
        let identity = Credentials::new(&self.access_key_id, secret, None, None, "stepbox-tenants").into();
        let time: SystemTime = self.time.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(time)
            .settings(settings)
            .build()
            .map_err(|e| malformed(e.to_string()))?
            .into();
        let request = SignableRequest::new(req.method, uri, headers.into_iter(), body)
            .map_err(|_| malformed("the request cannot be put in canonical form"))?;
        let output = sign(request, &params).map_err(|_| malformed("the request cannot be put in canonical form"))?;
        Ok(output.signature().to_string())
    }

    /// The query string minus a presigned request's signature parameters, with its `?`.
    fn query_without_signature(&self, req: &RequestParts<'_>) -> String {
        let Some(q) = req.raw_query.filter(|q| !q.is_empty()) else { return String::new() };
        if self.expires.is_none() {
            return format!("?{q}");
        }
        let kept: Vec<&str> = q
            .split('&')
            .filter(|kv| !QUERY_PARAMS.contains(&decode(kv.split_once('=').map_or(*kv, |(k, _)| k)).as_str()))
            .collect();
        if kept.is_empty() { String::new() } else { format!("?{}", kept.join("&")) }
    }
}

/// Equal slices, compared without stopping at the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
