//! The request router's target: whole requests, as a client sends them,
//! answered by an in-memory server without a connection.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hyper::Request;
use stepbox_sandbox::{Registry, Sandbox, SandboxConfig};
use stepbox_server::tenants::{TenantSet, TenantsConfig};
use stepbox_server::{AppState, ServerConfig};

/// At most this many requests of one input are answered.
const MAX_REQUESTS: usize = 4;
/// How long one request may take (a long poll, a synchronous execution).
const REQUEST_TIME: Duration = Duration::from_secs(1);

/// The tenant of the `tenants` mode: requests signed with another key are refused.
const TENANTS: &str = r#"
[[tenant]]
name = "fuzz"
account = "111111111111"
keys = [{ access_key_id = "AKIDFUZZ0001", secret_access_key = "fuzz-secret" }]
[admin]
keys = [{ access_key_id = "AKIDADMIN001", secret_access_key = "admin-secret" }]
"#;

/// Requests separated by lines `%%`, each `METHOD TARGET` (path and query),
/// `NAME: VALUE` header lines, an empty line and the body; a first line
/// `tenants` serves them with a tenants file (so unsigned). They are
/// answered in order by a new in-memory server (Wait states not waiting),
/// from a loopback peer.
pub fn router(data: &[u8]) {
    crate::install_panic_hook();
    answers(data);
}

/// The status of each request [`router`] answers (None: it took over [`REQUEST_TIME`]).
pub fn answers(data: &[u8]) -> Vec<Option<u16>> {
    let text = String::from_utf8_lossy(data);
    let (tenants, text) = match text.strip_prefix("tenants\n") {
        Some(rest) => (true, rest),
        None => (false, &*text),
    };
    let requests: Vec<Request<bytes::Bytes>> = text.split("\n%%\n").take(MAX_REQUESTS).filter_map(request).collect();
    if requests.is_empty() {
        return Vec::new();
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let statuses = runtime.block_on(async {
        let mut state = AppState::in_memory(config(tenants), Registry::new(sandbox().clone()));
        state.activity_poll = Duration::from_millis(5);
        let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
        let mut statuses = Vec::new();
        for req in requests {
            let answered = tokio::time::timeout(REQUEST_TIME, stepbox_server::answer(state.clone(), req, peer)).await;
            statuses.push(answered.ok().map(|r| r.status().as_u16()));
        }
        statuses
    });
    runtime.shutdown_background();
    statuses
}

fn config(tenants: bool) -> ServerConfig {
    let tenants = tenants.then(|| Arc::new(TenantSet::fixed(TenantsConfig::parse(TENANTS).expect("the fuzz tenants file"))));
    ServerConfig { wait_time_scale: 0.0, tenants, ..ServerConfig::default() }
}

/// One sandbox for every input (its engine is costly to make).
fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| Sandbox::new(SandboxConfig::default()).expect("a sandbox"))
}

/// `METHOD TARGET\nHEADERS\n\nBODY` as a request; None when the method,
/// target or a header is not one hyper would have parsed.
fn request(text: &str) -> Option<Request<bytes::Bytes>> {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let (method, target) = lines.next()?.split_once(' ')?;
    let mut builder = Request::builder().method(method).uri(target);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        builder = builder.header(name.trim(), value.trim());
    }
    builder.body(bytes::Bytes::copy_from_slice(body.as_bytes())).ok()
}

#[cfg(test)]
mod tests {
    use super::answers;

    fn seed(name: &str) -> Vec<u8> {
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/router").join(name)).unwrap()
    }

    /// The seeds reach the operations they name: a state machine created and
    /// run synchronously, the function API, the operator endpoints; and a
    /// request with a tenants file but a stale signature is refused.
    #[test]
    fn seeds_reach_their_operations() {
        assert_eq!(answers(&seed("sfn-sync")), [Some(200); 3]);
        assert_eq!(answers(&seed("sfn-activity")), [Some(200), Some(200), Some(400)]);
        assert_eq!(answers(&seed("lambda")), [Some(200), Some(404), Some(404), Some(404)]);
        assert_eq!(answers(&seed("operator")), [Some(200); 4]);
        assert_eq!(answers(&seed("tenants")), [Some(400), Some(200)]);
    }
}
