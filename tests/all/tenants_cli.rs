//! `stepbox serve --tenants FILE` as the real binary: the file checked at
//! start (private, valid, with line and field), the start-up line naming
//! the mode, SIGHUP reloading the file, single-user mode only on loopback
//! unless told otherwise; `serve --fuel N` giving every function a budget.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use stepbox_tests::stepbox;

use crate::clients::{self, Key};
use crate::server::tenants::{ACME, GLOBEX, TENANTS};

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Only acme of [`TENANTS`].
fn acme_only() -> String {
    TENANTS.split("[[tenant]]").take(2).collect::<Vec<_>>().join("[[tenant]]")
}

#[test]
fn a_tenants_file_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenants.toml");
    write_private(&file, TENANTS);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _out, err) = stepbox(&["serve", "--in-memory", "--addr", "127.0.0.1:0", "--tenants", file.to_str().unwrap()]);
    assert_ne!(code, ExitCode::SUCCESS);
    assert!(err.contains("readable or writable by other users (mode 644)") && err.contains("chmod 600"), "{err}");
    assert!(!err.contains("secret_access_key") && !err.contains("acme-secret"), "{err}");
}

#[test]
fn an_invalid_tenants_file_is_refused_with_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenants.toml");
    write_private(&file, &TENANTS.replace("\"222222222222\"", "\"22-22\""));
    let (code, _out, err) = stepbox(&["serve", "--in-memory", "--addr", "127.0.0.1:0", "--tenants", file.to_str().unwrap()]);
    assert_ne!(code, ExitCode::SUCCESS);
    assert!(err.contains("line 9, field `account`: '22-22' is not 12 digits"), "{err}");
}

#[test]
fn single_user_mode_needs_loopback_or_insecure_no_auth() {
    let (code, _out, err) = stepbox(&["serve", "--in-memory", "--addr", "0.0.0.0:0"]);
    assert_ne!(code, ExitCode::SUCCESS);
    assert!(err.contains("without authentication") && err.contains("--insecure-no-auth"), "{err}");
}

struct Served {
    child: Child,
    endpoint: String,
    auth_line: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(extra: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepbox-child"))
        .args(["serve", "--in-memory", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn stepbox serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut lines = [String::new(), String::new(), String::new()];
    for line in &mut lines {
        stdout.read_line(line).expect("a start-up line");
    }
    let endpoint = lines[0].trim().strip_prefix("stepbox listening on ").expect("the listening line").to_string();
    Served { child, endpoint, auth_line: lines[2].trim().to_string() }
}

#[test]
fn the_start_up_line_says_single_user_mode() {
    let served = serve(&[]);
    assert_eq!(
        served.auth_line,
        "auth: none (single-user mode: every request acts as account 111111111111, unauthenticated)"
    );
}

/// Polls `ok` for up to 30 s (a loaded machine).
async fn eventually(what: &str, mut ok: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !ok().await {
        assert!(start.elapsed() < Duration::from_secs(30), "{what} after 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn accepted(endpoint: &str, key: Key) -> bool {
    clients::sfn_as(endpoint, key).list_state_machines().send().await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_tenants_file_and_keeps_it_if_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenants.toml");
    write_private(&file, &acme_only());
    let served = serve(&["--tenants", file.to_str().unwrap()]);
    assert_eq!(served.auth_line, "auth: AWS Signature Version 4 (1 tenant; SIGHUP reloads the tenants file)");
    let endpoint = served.endpoint.clone();
    assert!(accepted(&endpoint, ACME).await);
    assert!(!accepted(&endpoint, GLOBEX).await, "globex is not a tenant yet");
    let hangup = || {
        let pid = served.child.id().to_string();
        assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    };
    write_private(&file, TENANTS);
    hangup();
    eventually("globex's key accepted", async || accepted(&endpoint, GLOBEX).await).await;
    write_private(&file, &TENANTS.replace("account = \"111111111111\"", "account = \"1\""));
    hangup();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(accepted(&endpoint, ACME).await && accepted(&endpoint, GLOBEX).await, "an invalid file changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_fuel_gives_every_untagged_function_a_budget() {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::FunctionCode;
    let (code, _out, err) = stepbox(&["serve", "--in-memory", "--addr", "127.0.0.1:0", "--fuel", "0"]);
    assert_ne!(code, ExitCode::SUCCESS, "a budget of 0 is refused");
    assert!(err.contains("--fuel"), "{err}");

    let functions = tempfile::tempdir().unwrap();
    stepbox_components::export_to(functions.path()).unwrap();
    let served = serve(&["--functions", functions.path().to_str().unwrap(), "--fuel", "3000000"]);
    let lambda = clients::lambda(&served.endpoint);
    let create = |name: &'static str, code: &str, tag: Option<&'static str>| {
        let mut create = lambda
            .create_function()
            .function_name(name)
            .role("arn:aws:iam::111111111111:role/stepbox")
            .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
            .handler("component")
            .timeout(20)
            .code(FunctionCode::builder().zip_file(Blob::new(stepbox_components::bytes(code).unwrap())).build());
        if let Some(budget) = tag {
            create = create.tags("stepbox:fuel", budget);
        }
        create.send()
    };
    create("looper", "hostile", None).await.expect("CreateFunction");
    create("roomy", "hostile", Some("9000000")).await.expect("CreateFunction");
    let error_of = async |name: &str| {
        let out = lambda.invoke().function_name(name).payload(Blob::new(r#"{"attack": "loop"}"#)).send().await.unwrap();
        let payload: serde_json::Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
        (payload["errorType"].as_str().unwrap_or_default().to_string(), payload["errorMessage"].to_string())
    };
    // `--functions`' components and the API's untagged functions get the
    // server's budget; a tag's own budget wins.
    for (name, budget) in [("hostile", "3000000"), ("looper", "3000000"), ("roomy", "9000000")] {
        let (error, message) = error_of(name).await;
        assert_eq!(error, "Sandbox.OutOfFuel", "{name}: {message}");
        assert!(message.contains(budget), "{name}: {message}");
    }
}
