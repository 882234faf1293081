//! Shared helpers for the integration tests in `tests/all`.

use std::sync::OnceLock;

use stepbox_sandbox::{Sandbox, SandboxConfig};

/// One sandbox shared by the tests of a binary, as a server shares one.
pub fn shared_sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| Sandbox::new(SandboxConfig::default()).expect("sandbox"))
}

/// Run a `stepbox` command line in-process; returns (exit code, stdout, stderr).
pub fn stepbox(args: &[&str]) -> (std::process::ExitCode, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = std::iter::once("stepbox").chain(args.iter().copied());
    let code = stepbox::run(argv, stepbox::Io { out: &mut out, err: &mut err });
    (code, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned())
}
